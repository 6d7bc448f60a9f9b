#!/usr/bin/env bash
# Session 14: does G's learning rate 2e-4 (D keeps 4e-4) beat the 25-minute recipe (gan64-sle, G 1e-4) over training
# seeds? Session 13 measured seed 0 of each (bench/recipe_variants.sh, under its own ProductNet); this script trains
# seeds 1 and 2 of both, each pair side by side on one core each (the same conditions for both members of a pair), and
# evaluates them on the VALIDATION split (n=796, truncation 1, each run's own EMA) under one ProductNet.
#
#   bash bench/lrg2_seeds.sh train   # two pairs of 1-thread trainings, about 50 minutes a pair on 2 cores
#   bash bench/lrg2_seeds.sh val     # -> bench/results/quality/lrg2_seeds_val.json
set -euo pipefail
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
PY=.venv/bin/python
CAT=${CAT:-../shared/data/fashion-products}
OUT=bench/results/quality
FEATURES=${FEATURES:-runs/productnet64}
SEEDS=(1 2)
recipe=(--model gan --catalog "$CAT" --resolution 64 --steps 3166 --threads 1 --model-arg sle=true --quiet)
case "${1:-}" in
train)
  for s in "${SEEDS[@]}"; do
    $PG train "${recipe[@]}" --seed "$s" --out "runs/gan64-sle-s$s" --overwrite &
    $PG train "${recipe[@]}" --model-arg lr_g=2e-4 --seed "$s" --out "runs/gan64-sle-lrg2-s$s" --overwrite
    wait
  done ;;
val)
  args=()
  for s in "${SEEDS[@]}"; do
    for run in "gan64-sle-s$s" "gan64-sle-lrg2-s$s"; do
      [ -d "runs/$run" ] || { echo "skipping $run: not trained (yet)" >&2; continue; }
      $PY bench/eval_table.py --find "runs/$run::split=val,truncation=1" >/dev/null 2>&1 ||
        $PG evaluate "runs/$run" --features "$FEATURES" --split val --quiet > "$OUT/lrg2-$run-val.txt" 2>&1
      case $run in
        gan64-sle-s*) label="gan64-sle (the 25-minute recipe: G's learning rate 1e-4), seed $s" ;;
        gan64-sle-lrg2-s*) label="G's learning rate 2e-4, seed $s" ;;
      esac
      args+=(--row "$run" "runs/$run::split=val,truncation=1" "$label")
    done
  done
  $PY bench/eval_table.py --out "$OUT/lrg2_seeds_val.json" --features "$FEATURES" \
    --command "bash bench/lrg2_seeds.sh train && bash bench/lrg2_seeds.sh val" "${args[@]}" ;;
*) echo "usage: bash bench/lrg2_seeds.sh train|val" >&2; exit 2 ;;
esac
