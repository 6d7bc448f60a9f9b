#!/usr/bin/env bash
# Session 16: DiffAugment without its colour transform, at the bf16 recipe's equal-CPU-time budget (5575 steps).
# Why: bench/bf16_equal.sh's ADA run (augmentation probability p stayed below 0.05, so it trained almost without
# augmentation) reached baseColour accuracy 0.770 on val against 0.69 with always-on DiffAugment (colour, translation,
# cutout). DiffAugment's colour transform (random brightness, saturation 0-2x, contrast) shows D a "Red" shirt desaturated
# to grey under its "Red" label, which may weaken the colour condition. Here the recipe keeps translation and cutout.
# Seeds on the VALIDATION split (n=796, truncation 1, own EMA, pinned ProductNet) against bench/bf16_equal.sh's rows.
#
#   bash bench/diffaug_color.sh train-seed SEED [--threads 2]   # ~40 min on one core (seeds 0 and 1 side by side);
#                                                   # seed 2 ran alone with --threads 2 (~29 min): same steps, same recipe
#   bash bench/diffaug_color.sh val SEEDS...        # -> bench/results/quality/noclr_val.json
#   bash bench/diffaug_color.sh grids RUN...        # category x colour sheets (bench/sample_grids.py) -> bench/results/quality/
set -euo pipefail
STEPS=5575
DIFFAUG=translation,cutout  # train_seed's policies (bench/seed_runs.sh)
source "$(dirname "$0")/seed_runs.sh"
case "${1:-}" in
train-seed) train_seed "gan64-sle-noclr-s$2" "$2" --precision bf16 "${@:3}" ;;
val|test) collect_seeds "$1" gan64-sle-noclr noclr noclr "bf16, DiffAugment translation + cutout (no colour), $STEPS steps" \
  diffaug_color.sh "${@:2}" ;;
grids) grid_sheets "${@:2}" ;;  # category x colour sheets (bench/seed_runs.sh)
*) echo "usage: bash bench/diffaug_color.sh train-seed SEED|val SEEDS...|test SEEDS...|grids RUN..." >&2; exit 2 ;;
esac
