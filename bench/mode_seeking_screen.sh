#!/usr/bin/env bash
# Session 26: MSGAN's mode-seeking term (Mao et al. 2019; --model-arg mode_seeking=1, the paper's weight: G's batch is
# two halves with the same conditions, and 1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5) joins G's loss) against
# the recipe, the same short screen as bench/grow_screen.sh and bench/bcr_screen.sh (fp32, 1200 steps, validation
# split only, n=796, pinned ProductNet).
#   recipe: bench/grow_screen.sh's recipe arm (runs/grow-screen-recipe-s<seed>, 1200 fp32 steps, trained in session 21;
#           its rows are bench/results/quality/grow_screen_recipe_val.json).
#   ms:     the same recipe with the mode-seeking term. It costs no pass of its own: side by side on one core each it
#           trains at the recipe's images/s within a short pair's noise (bench/results/quality/mode_seeking_speed_fp32.json),
#           so the same 1200 steps.
#
#   bash bench/mode_seeking_screen.sh train SEEDS...   # two seeds side by side, one core each (~18 min)
#   bash bench/mode_seeking_screen.sh val SEEDS...     # -> bench/results/quality/mode_seeking_screen_val.json
set -euo pipefail
DIFFAUG=translation,cutout
STEPS=1200
source "$(dirname "$0")/seed_runs.sh"
MS=(--model-arg mode_seeking=1)
case "${1:-}" in
train) for s in "${@:2}"; do
    train_seed "ms-screen-s$s" "$s" --precision fp32 --batch-size 64 "${MS[@]}" &
  done
  wait ;;
val) SEEDS_COMMAND="bash bench/mode_seeking_screen.sh train ${*:2} && bash bench/mode_seeking_screen.sh val ${*:2}"
  collect_seeds val ms-screen mode_seeking_screen mode_seeking_screen "fp32, mode seeking (weight 1), $STEPS steps" \
    mode_seeking_screen.sh "${@:2}" ;;
*) echo "usage: bash bench/mode_seeking_screen.sh train|val SEEDS..." >&2; exit 2 ;;
esac
