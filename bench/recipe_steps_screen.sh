#!/usr/bin/env bash
# Session 24: the fp32 EPYC screen's recipe arm (bench/grow_screen.sh: runs/grow-screen-recipe-s<seed>, 1200 steps)
# stopped at a variant's step count, to tell "learns slower per step" from "costs more per step": the learning rates
# are constant and nothing depends on the total steps, so the run at N steps is the 1200-step run at its step N.
#   STEPS=540 bash bench/recipe_steps_screen.sh train SEEDS...   # two seeds side by side, one core each
#   STEPS=540 bash bench/recipe_steps_screen.sh val SEEDS...     # -> bench/results/quality/recipe_540_screen_val.json
set -euo pipefail
DIFFAUG=translation,cutout
STEPS=${STEPS:?set STEPS, e.g. STEPS=540: the feature discriminator steps at equal CPU time}
source "$(dirname "$0")/seed_runs.sh"
case "${1:-}" in
train) for s in "${@:2}"; do
    train_seed "recipe-$STEPS-screen-s$s" "$s" --precision fp32 --batch-size 64 &
  done
  wait ;;
val) SEEDS_COMMAND="STEPS=$STEPS bash bench/recipe_steps_screen.sh train ${*:2} && STEPS=$STEPS bash bench/recipe_steps_screen.sh val ${*:2}"
  collect_seeds val "recipe-$STEPS-screen" recipe_steps_screen "recipe_${STEPS}_screen" "fp32, $STEPS steps (EPYC screen)" \
    recipe_steps_screen.sh "${@:2}" ;;
*) echo "usage: STEPS=N bash bench/recipe_steps_screen.sh train|val SEEDS..." >&2; exit 2 ;;
esac
