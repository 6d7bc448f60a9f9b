#!/usr/bin/env bash
# Evaluate the equal-budget family runs of bench/family_runs.sh on the test split.
#   bash bench/family_eval.sh sweep          # diffusion sampler settings (n=1000), to choose what to ship
#   DIFF_STEPS=10 DIFF_GUIDANCE=2 bash bench/family_eval.sh final    # every family, n=2000, then the table
# Results: runs/fam-*/eval/<stamp>/{metrics.json,report.html}; bench/results/families/.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
OUT=bench/results/families
mkdir -p "$OUT"
case "${1:-final}" in
sweep)
  for sg in "10 1" "20 1" "10 2" "10 3"; do
    set -- $sg
    $PG evaluate runs/fam-diffusion --features runs/productnet64 --n 1000 --n-text 500 --steps "$1" --guidance "$2" --quiet \
      > "$OUT/diffusion-steps$1-guidance$2.txt" 2>&1
  done ;;
final)
  for run in fam-gan fam-vae; do
    $PG evaluate runs/$run --features runs/productnet64 --n 2000 --quiet > "$OUT/$run.txt" 2>&1
  done
  $PG evaluate runs/fam-diffusion --features runs/productnet64 --n 2000 --steps "${DIFF_STEPS:-10}" \
    --guidance "${DIFF_GUIDANCE:-1}" --quiet > "$OUT/fam-diffusion.txt" 2>&1
  .venv/bin/python bench/family_table.py runs/fam-gan runs/fam-vae runs/fam-diffusion > "$OUT/table.md"
  .venv/bin/python bench/sample_grids.py runs/fam-gan runs/fam-vae runs/fam-diffusion --out "$OUT" \
    --steps "${DIFF_STEPS:-10}" --guidance "${DIFF_GUIDANCE:-1}" ;;
esac
