#!/usr/bin/env bash
# Evaluate the equal-budget family runs of bench/family_runs.sh on the test split (idle machine, 2 threads).
#   bash bench/family_eval.sh        # results: runs/fam-*/eval/<stamp>/{metrics.json,report.html}, bench/results/families/
set -euo pipefail
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
OUT=bench/results/families
mkdir -p "$OUT"
# 1. Which diffusion sampler settings to ship: FID/accuracy at n=1000 for a few (steps, guidance).
for sg in "10 1" "20 1" "10 2" "20 2" "10 3"; do
  set -- $sg
  $PG evaluate runs/fam-diffusion --features runs/productnet64 --n 1000 --steps "$1" --guidance "$2" --quiet \
    > "$OUT/diffusion-steps$1-guidance$2.txt" 2>&1
done
# 2. The comparison: every family with its shipped sampling settings, n=2000.
$PG compare runs/fam-gan runs/fam-vae runs/fam-diffusion runs/gan64 --features runs/productnet64 --n 2000 \
  --out "$OUT/compare" --quiet > "$OUT/compare.txt" 2>&1
.venv/bin/python bench/diffusion_speed.py runs/fam-diffusion > /dev/null
.venv/bin/python bench/sample_grids.py --help > /dev/null 2>&1 || true
