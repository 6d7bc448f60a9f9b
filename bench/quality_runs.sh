#!/usr/bin/env bash
# Issue 13 side-by-side runs on ../shared/data/fashion-products at 64 px, each against the run it changes, at the
# same budget (the step counts 25 idle minutes of ONE core reached on the 2-core Xeon: bench/family_runs.sh), so the
# figures do not depend on the machine's load. The baselines are runs/fam-gan and runs/fam-diffusion of
# bench/family_runs.sh (text,articleType,baseColour; trained before --title-only existed, i.e. title-only 0).
#
#   bash bench/quality_runs.sh train       # the changed runs (about 25 idle core-minutes each; run them one by one
#                                          # or side by side with --threads 1)
#   bash bench/quality_runs.sh val         # choices: every run on the VALIDATION split -> bench/results/quality/quality_val.json
#   bash bench/quality_runs.sh test        # the final rows, read once -> bench/results/quality/quality_test.json
#
# Rows:
#   fam-gan-title  the fam-gan recipe with --title-only 0.25 (a quarter of each batch: attributes unspecified,
#                  title kept), the text-steering fix
#   fam-gan-title-dfree  fam-gan-title with D's text projection not spectrally normalised (text_sn=false)
#   fam-flow       the fam-diffusion recipe with --model-arg objective=flow (flow matching, Euler 10 steps)
# Not run yet (stopped in session 8: 4 s a step on the loaded machine): the headline gan64 recipe with R3GAN's loss,
#   prodgen train --model gan --catalog $CAT --resolution 64 --steps 3166 --model-arg loss=rpgan \
#     --model-arg r1_gamma=0.05 --model-arg r2_gamma=0.05 --model-arg reg_every=4 --out runs/gan64-rpgan
set -euo pipefail
cd "$(dirname "$0")/.."
CAT=../shared/data/fashion-products
PG=.venv/bin/prodgen
PY=.venv/bin/python
OUT=bench/results/quality
mkdir -p "$OUT"
COMMON=(--catalog "$CAT" --condition text,articleType,baseColour --resolution 64 --threads 1
        --features runs/productnet64 --quiet)
ROWS=(--row fam-gan runs/fam-gan "gan, title-only 0 (fam-gan)"
      --row fam-gan-title runs/fam-gan-title "gan, title-only 0.25"
      --row fam-diffusion runs/fam-diffusion "diffusion, v-pred DPM++ 10 (fam-diffusion)"
      --row fam-flow runs/fam-flow "flow matching, Euler 10 steps (fam-flow)")
case "${1:-}" in
train)
  $PG train --model gan "${COMMON[@]}" --title-only 0.25 --steps 1854 --out runs/fam-gan-title --overwrite
  $PG train --model gan "${COMMON[@]}" --title-only 0.25 --model-arg text_sn=false --steps 1854 \
    --out runs/fam-gan-title-dfree --overwrite  # val only: not chosen
  $PG train --model diffusion --model-arg objective=flow "${COMMON[@]}" --title-only 0 --steps 1103 \
    --eval-every 300 --eval-n 250 --out runs/fam-flow --overwrite ;;
val|test)  # diffusion and flow: guidance 1 and 3 on val (3 won for both), 3 on test
  runs_=(fam-gan fam-gan-title); [ "$1" = val ] && runs_+=(fam-gan-title-dfree)
  for run in "${runs_[@]}"; do
    $PG evaluate runs/$run --features runs/productnet64 --split "$1" --quiet > "$OUT/$run-$1.txt" 2>&1
  done
  for run in fam-diffusion fam-flow; do
    [ "$1" = val ] && $PG evaluate runs/$run --features runs/productnet64 --split val --guidance 1 --quiet \
      > "$OUT/$run-val-g1.txt" 2>&1
    $PG evaluate runs/$run --features runs/productnet64 --split "$1" --guidance 3 --quiet > "$OUT/$run-$1.txt" 2>&1
  done
  $PY bench/eval_table.py --out "$OUT/quality_$1.json" --features runs/productnet64 \
    --command "bash bench/quality_runs.sh $1" "${ROWS[@]}" --highlight fam-gan-title ;;
*)
  echo "usage: bash bench/quality_runs.sh train|val|test" >&2; exit 2 ;;
esac
