#!/usr/bin/env bash
# Session 24: a second discriminator on frozen ImageNet features (--model-arg feature_d=1: EfficientNet-Lite0's
# blocks 2/4/10/15 at 64 px, trainable 1x1 + 3x3 heads with projection terms, hinge loss added to D's and G's;
# Projected GAN, Sauer et al. 2021; Vision-aided GAN, Kumari et al. 2022) against the recipe at equal CPU time, the
# same short screen as bench/grow_screen.sh (2-core AMD EPYC without AMX: both arms in fp32; validation split only,
# n=796, pinned ProductNet).
#   recipe:    bench/grow_screen.sh's recipe arm (runs/grow-screen-recipe-s<seed>, 1200 fp32 steps; its rows are
#              bench/results/quality/grow_screen_recipe_val.json).
#   feature D: the same recipe with the feature discriminator (weight 1). Side by side on one core each (fp32, this
#              EPYC) it trains at 0.450x the recipe's images/s (24.0 against 53.3;
#              bench/results/quality/feature_d_speed_fp32.json), so the recipe's 1200 steps of CPU time buy 540 steps.
#
#   bash bench/feature_d_screen.sh train SEEDS...   # the feature-D arm, two seeds side by side, one core each (~25 min)
#   bash bench/feature_d_screen.sh val SEEDS...     # -> bench/results/quality/feature_d_screen_val.json
#   bash bench/feature_d_screen.sh grids SEED STEP  # the recipe's (left) and the feature-D arm's training sample grids
#                                                   # at STEP -> bench/results/quality/<NAME>-s<SEED>-step<STEP>.png
# WEIGHT=0.1 NAME=feature-d01-screen bash bench/feature_d_screen.sh train|val|grids ...: the same at weight 0.1.
set -euo pipefail
DIFFAUG=translation,cutout
STEPS=${STEPS:-540}
WEIGHT=${WEIGHT:-1}
NAME=${NAME:-feature-d-screen}
source "$(dirname "$0")/seed_runs.sh"
ENVS=""  # the settings a results file's command must repeat
[ "$WEIGHT" = 1 ] || ENVS+="WEIGHT=$WEIGHT "
[ "$NAME" = feature-d-screen ] || ENVS+="NAME=$NAME "
case "${1:-}" in
train) for s in "${@:2}"; do
    train_seed "$NAME-s$s" "$s" --precision fp32 --batch-size 64 --model-arg "feature_d=$WEIGHT" &
  done
  wait ;;
val) SEEDS_COMMAND="${ENVS}bash bench/feature_d_screen.sh train ${*:2} && ${ENVS}bash bench/feature_d_screen.sh val ${*:2}"
  collect_seeds val "$NAME" feature_d_screen "${NAME//-/_}" "fp32, feature D (Lite0, weight $WEIGHT), $STEPS steps (equal CPU time)" \
    feature_d_screen.sh "${@:2}" ;;
grids) side_by_side "runs/grow-screen-recipe-s$2/samples/step-$(printf "%06d" "$3").png" \
    "runs/$NAME-s$2/samples/step-$(printf "%06d" "$3").png" "$OUT/$NAME-s$2-step$3.png" ;;
*) echo "usage: bash bench/feature_d_screen.sh train|val SEEDS...|grids SEED STEP" >&2; exit 2 ;;
esac
