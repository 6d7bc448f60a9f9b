#!/usr/bin/env bash
# Session 22: balanced consistency regularisation (bCR, Zhao et al. 2021; --model-arg bcr_real=10 bcr_fake=10, the
# paper's weights) against the recipe at equal CPU time, the same short screen as bench/grow_screen.sh (2-core AMD EPYC
# without AMX: both arms in fp32; validation split only, n=796, pinned ProductNet).
#   recipe: bench/grow_screen.sh's recipe arm (runs/grow-screen-recipe-s<seed>, 1200 fp32 steps; its rows are
#           bench/results/quality/grow_screen_recipe_val.json).
#   bcr:    the same recipe with D's loss + 10 E(D(T1 x) - D(T2 x))^2 over real and over generated images (two draws
#           of DiffAugment's translation + cutout; one D pass of batch 4B). Side by side on one core each (fp32, this
#           EPYC) it trains at 0.681x the recipe's images/s (bench/results/quality/bcr_speed_fp32.json), so the recipe's
#           1200 steps of CPU time buy 817 steps.
#
#   bash bench/bcr_screen.sh train SEEDS...   # the bCR arm, two seeds side by side, one core each (~25 min)
#   bash bench/bcr_screen.sh val SEEDS...     # -> bench/results/quality/bcr_screen_val.json
set -euo pipefail
DIFFAUG=translation,cutout
STEPS=817
source "$(dirname "$0")/seed_runs.sh"
BCR=(--model-arg bcr_real=10 --model-arg bcr_fake=10)
case "${1:-}" in
train) for s in "${@:2}"; do
    train_seed "bcr-screen-s$s" "$s" --precision fp32 --batch-size 64 "${BCR[@]}" &
  done
  wait ;;
val) SEEDS_COMMAND="bash bench/bcr_screen.sh train ${*:2} && bash bench/bcr_screen.sh val ${*:2}"
  collect_seeds val bcr-screen bcr_screen bcr_screen "fp32, bCR real 10 + fake 10, $STEPS steps (equal CPU time)" \
    bcr_screen.sh "${@:2}" ;;
*) echo "usage: bash bench/bcr_screen.sh train|val SEEDS..." >&2; exit 2 ;;
esac
