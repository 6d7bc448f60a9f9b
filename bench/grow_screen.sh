#!/usr/bin/env bash
# Session 21: progressive growing (--model-arg low_res_steps=N fade_steps=M; ProGAN, Karras et al. 2018) against the
# recipe at equal CPU time, a short screen on a 2-core AMD EPYC without AMX or AVX-512 (there bf16 autocast is
# emulated: 2.5 against 54 images/s, so both arms train in fp32). Validation split only (n=796, pinned ProductNet).
#   recipe: the 25-minute recipe's settings (G 2e-4, batch 64, SLE, DiffAugment translation + cutout) in fp32,
#           1200 steps (one sixth of the Xeon recipe's 7171 steps; about 24 minutes of one EPYC core).
#   grow:   the same, the first 600 steps at 32 px (G's 32-px RGB head, D's 1x1 input layer on the image pooled to
#           32 px), then 64 px fading in over 150 steps. Side by side on one core each (fp32, this EPYC) the 32-px
#           phase runs at 1.18x the recipe's images/s and the fade at 0.965x
#           (bench/results/quality/grow_low_speed_fp32.json, grow_fade_speed_fp32.json), so the recipe's 1200 steps
#           of CPU time buy 600 + 150 + (1200 - 600 / 1.18 - 150 / 0.965) = 1286 steps.
#
#   bash bench/grow_screen.sh train SEEDS...   # per seed, the two arms side by side, one core each (~25 min a seed)
#   bash bench/grow_screen.sh val SEEDS...     # -> bench/results/quality/grow_screen_{recipe,grow}_val.json
#   bash bench/grow_screen.sh grids SEED STEP  # the two arms' training sample grids at STEP, side by side (recipe
#                                              # left) -> bench/results/quality/grow-screen-s<SEED>-step<STEP>.png
set -euo pipefail
DIFFAUG=translation,cutout
STEPS=1200
source "$(dirname "$0")/seed_runs.sh"
GROW=(--model-arg low_res_steps=600 --model-arg fade_steps=150)
GROW_STEPS=1286
case "${1:-}" in
train) for s in "${@:2}"; do
    train_seed "grow-screen-recipe-s$s" "$s" --precision fp32 --batch-size 64 &
    STEPS=$GROW_STEPS train_seed "grow-screen-grow-s$s" "$s" --precision fp32 --batch-size 64 "${GROW[@]}"
    wait
  done ;;
val) SEEDS_COMMAND="bash bench/grow_screen.sh train ${*:2} && bash bench/grow_screen.sh val ${*:2}"
  collect_seeds val grow-screen-recipe grow_screen grow_screen_recipe "fp32, $STEPS steps (EPYC screen)" grow_screen.sh "${@:2}"
  STEPS=$GROW_STEPS collect_seeds val grow-screen-grow grow_screen grow_screen_grow \
    "fp32, 32 px for 600 steps, fade 150, $GROW_STEPS steps (equal CPU time)" grow_screen.sh "${@:2}" ;;
grids) side_by_side "runs/grow-screen-recipe-s$2/samples/step-$(printf "%06d" "$3").png" \
    "runs/grow-screen-grow-s$2/samples/step-$(printf "%06d" "$3").png" "$OUT/grow-screen-s$2-step$3.png"
  ;;
*) echo "usage: bash bench/grow_screen.sh train|val SEEDS...|grids SEED STEP" >&2; exit 2 ;;
esac
