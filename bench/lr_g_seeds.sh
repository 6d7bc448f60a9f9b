#!/usr/bin/env bash
# Session 14: G's learning rate in the 25-minute recipe (gan64-sle: attributes only, 3166 steps, batch 64, D 4e-4),
# over training seeds. Session 13 measured seed 0 of 1e-4 (the recipe) and 2e-4 (bench/recipe_variants.sh); this
# script trains seeds 1 and 2 of 1e-4, 2e-4 and 4e-4, each pair side by side on one core each (both members of a pair
# under the same conditions), evaluates them on the VALIDATION split (n=796, truncation 1, each run's own EMA) and,
# once the choice is made there, the chosen rate and the recipe on the TEST split, read once.
#
#   bash bench/productnet.sh              # the pinned ProductNet (session 13's tables were measured with the same one)
#   bash bench/lr_g_seeds.sh train        # three pairs of 1-thread trainings, about 37 minutes a pair on 2 cores
#   bash bench/lr_g_seeds.sh val          # -> bench/results/quality/lr_g_val.json
#   bash bench/lr_g_seeds.sh test         # -> bench/results/quality/lr_g_test.json
#   bash bench/lr_g_seeds.sh grids        # -> bench/results/quality/lr_g-{1e-4,2e-4}-s1-categories.png (same noise)
#   bash bench/lr_g_seeds.sh combo        # batch 32 + G 2e-4 to 12.5 minutes, seeds 0 and 1 (side by side, 2850 steps
#                                         # as session 13's batch-32 half runs) -> quality/b32_lrg2_half_val.json
#
# Run names: gan64-sle-s<seed> (1e-4, the recipe), gan64-sle-lrg2-s<seed> (2e-4), gan64-sle-lrg4-s<seed> (4e-4).
# The recipe's default is now 2e-4 (chosen on val by this script), so the 1e-4 runs pass lr_g=1e-4 explicitly.
set -euo pipefail
export PRODGEN_AUTO_PRECISION=fp32  # its rows were measured in fp32 (--precision auto is bf16 on an AMX CPU)
STEPS=3166
source "$(dirname "$0")/seed_runs.sh"
SEEDS=(1 2)
recipe=(--model gan --catalog "$CAT" --resolution 64 --steps 3166 --threads 1 --model-arg sle=true --quiet "${OLDAUG[@]}")
lr_of() { case $1 in gan64-sle-lrg2-*) echo 2e-4 ;; gan64-sle-lrg4-*) echo 4e-4 ;; *) echo 1e-4 ;; esac; }
train_run() {  # a finished run is kept; anything else is trained anew
  trained "$1" && { echo "runs/$1 is trained; kept" >&2; return; }
  $PG train "${recipe[@]}" --model-arg lr_g="$(lr_of "$1")" --seed "${1##*-s}" --out "runs/$1" --overwrite
}
evaluate() { evaluate_once "$1" "$2" "$OUT/lr_g-$1-$2.txt"; }  # run, split
label() { echo "G's learning rate $(lr_of "$1")$([ "$(lr_of "$1")" = 1e-4 ] && echo " (the session-13 recipe)"), seed ${1##*-s}"; }
collect() {  # split, runs...: evaluate each, then one results file
  split=$1; shift
  args=()
  for run in "$@"; do
    trained "$run" || { echo "skipping $run: not trained (yet)" >&2; continue; }
    evaluate "$run" "$split"
    args+=(--row "$run" "runs/$run::split=$split,truncation=1" "$(label "$run")")
  done
  $PY bench/eval_table.py --out "$OUT/lr_g_$split.json" --features "$FEATURES" \
    --command "bash bench/lr_g_seeds.sh train && bash bench/lr_g_seeds.sh $split" "${args[@]}"
}
case "${1:-}" in
train)
  for s in "${SEEDS[@]}"; do  # (session 14 ran the first two pairs as bench/lrg2_seeds.sh, with the same commands)
    train_run "gan64-sle-s$s" & train_run "gan64-sle-lrg2-s$s"; wait
  done
  train_run gan64-sle-lrg4-s1 & train_run gan64-sle-lrg4-s2; wait ;;
val)
  runs=()
  for s in "${SEEDS[@]}"; do runs+=("gan64-sle-s$s" "gan64-sle-lrg2-s$s" "gan64-sle-lrg4-s$s"); done
  collect val "${runs[@]}" ;;
test)  # the recipe and the rate chosen on val, read once
  collect test gan64-sle-s1 gan64-sle-s2 gan64-sle-lrg2-s1 gan64-sle-lrg2-s2 ;;
combo)  # compared with session 13's 12.5-minute rows of each change alone (bench/recipe_variants.sh, same ProductNet)
  for s in 0 1; do
    run=gan64-sle-b32-lrg2-s$s-half
    trained "$run" 2850 ||
      $PG train --model gan "${OLDAUG[@]}" --catalog "$CAT" --resolution 64 --steps 2850 --batch-size 32 --threads 1 --model-arg sle=true \
        --model-arg lr_g=2e-4 --seed $s --quiet --out "runs/$run" --overwrite &
  done
  wait
  args=()
  for s in 0 1; do
    run=gan64-sle-b32-lrg2-s$s-half
    evaluate "$run" val
    args+=(--row "$run" "runs/$run::split=val,truncation=1" "12.5 minutes: batch 32 and G's learning rate 2e-4, 2850 steps, seed $s")
  done
  $PY bench/eval_table.py --out "$OUT/b32_lrg2_half_val.json" --features "$FEATURES" \
    --command "bash bench/lr_g_seeds.sh combo" "${args[@]}" ;;
grids)  # bench/sample_grids.py's category sheet (16 categories x 8 noise seeds) of seed 1 at 1e-4 and at 2e-4
  tmp=$(mktemp -d)
  $PY bench/sample_grids.py runs/gan64-sle-s1 runs/gan64-sle-lrg2-s1 --out "$tmp" > /dev/null
  cp "$tmp/gan64-sle-s1-categories.png" "$OUT/lr_g-1e-4-s1-categories.png"
  cp "$tmp/gan64-sle-lrg2-s1-categories.png" "$OUT/lr_g-2e-4-s1-categories.png"
  rm -r "$tmp" ;;
*) echo "usage: bash bench/lr_g_seeds.sh train|val|test|combo|grids" >&2; exit 2 ;;
esac
