#!/usr/bin/env bash
# Evaluate the equal-budget family runs of bench/family_runs.sh.
#   bash bench/family_eval.sh sweep          # diffusion sampler settings, judged on the VALIDATION split
#   DIFF_STEPS=10 DIFF_GUIDANCE=3 bash bench/family_eval.sh final    # every family on the TEST split, read once
# n is prodgen evaluate's default: as many generated images as the real-vs-real floor uses, so the model,
# floor and class-mean rows are compared at the same n (the CLI prints n beside every row).
# Results: runs/fam-*/eval/<stamp>/{metrics.json,report.html}; bench/results/families/{families,diffusion_sweep}.json
# (collected by bench/eval_table.py), the prodgen evaluate tables as .txt, grids; then the README is re-rendered.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
PY=.venv/bin/python
OUT=bench/results/families
mkdir -p "$OUT"
case "${1:-final}" in
sweep)
  rows=()
  for sg in "10 1" "20 1" "10 2" "10 3"; do
    set -- $sg
    $PG evaluate runs/fam-diffusion --features runs/productnet64 --split val --n-text 500 --steps "$1" --guidance "$2" --quiet \
      > "$OUT/diffusion-steps$1-guidance$2.txt" 2>&1
    latest=$(ls -d runs/fam-diffusion/eval/*/ | sort | tail -1)
    rows+=(--row "steps$1-guidance$2" "$latest" "$1 steps, guidance $2")
  done
  $PY bench/eval_table.py --out "$OUT/diffusion_sweep.json" --features runs/productnet64 \
    --command "bash bench/family_eval.sh sweep" "${rows[@]}"
  $PY bench/render_readme.py ;;
final)
  for run in fam-gan fam-vae; do
    $PG evaluate runs/$run --features runs/productnet64 --quiet > "$OUT/$run.txt" 2>&1
  done
  $PG evaluate runs/fam-diffusion --features runs/productnet64 --steps "${DIFF_STEPS:-10}" \
    --guidance "${DIFF_GUIDANCE:-1}" --quiet > "$OUT/fam-diffusion.txt" 2>&1
  $PY bench/eval_table.py --out "$OUT/families.json" --features runs/productnet64 \
    --command "DIFF_STEPS=${DIFF_STEPS:-10} DIFF_GUIDANCE=${DIFF_GUIDANCE:-1} bash bench/family_eval.sh final" \
    --row fam-gan runs/fam-gan "gan (fam-gan)" --row fam-vae runs/fam-vae "vae (fam-vae)" \
    --row fam-diffusion runs/fam-diffusion "diffusion (fam-diffusion)"
  .venv/bin/python bench/sample_grids.py runs/fam-gan runs/fam-vae runs/fam-diffusion --out "$OUT" \
    --steps "${DIFF_STEPS:-10}" --guidance "${DIFF_GUIDANCE:-1}"
  $PY bench/render_readme.py ;;
esac
