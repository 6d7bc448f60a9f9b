#!/usr/bin/env bash
# Session 17: DiffAugment translation only (no cutout), against the default since session 17 (translation + cutout,
# bench/diffaug_color.sh's rows), at the bf16 recipe's equal-CPU-time budget (5575 steps, G 2e-4, batch 64, SLE).
# Why: dropping the colour transform lowered FID-P at three seeds on val and two on test; cutout (a zeroed square half
# the image's side, on every image D sees) is the other transform that changes what a product looks like, so it is the
# next one to ablate. Seeds on the VALIDATION split (n=796, truncation 1, own EMA, pinned ProductNet).
#
#   bash bench/diffaug_cutout.sh train-seed SEED [--threads 2]   # ~42 min on one core
#   bash bench/diffaug_cutout.sh val SEEDS...       # -> bench/results/quality/tronly_val.json
#   bash bench/diffaug_cutout.sh grids RUN...       # category x colour sheets (bench/sample_grids.py) -> bench/results/quality/
set -euo pipefail
STEPS=5575
DIFFAUG=translation  # train_seed's policies (bench/seed_runs.sh)
source "$(dirname "$0")/seed_runs.sh"
case "${1:-}" in
train-seed) train_seed "gan64-sle-tronly-s$2" "$2" --precision bf16 "${@:3}" ;;
val|test) collect_seeds "$1" gan64-sle-tronly tronly tronly "bf16, DiffAugment translation only, $STEPS steps" \
  diffaug_cutout.sh "${@:2}" ;;
grids) grid_sheets "${@:2}" ;;  # category x colour sheets (bench/seed_runs.sh)
*) echo "usage: bash bench/diffaug_cutout.sh train-seed SEED|val SEEDS...|test SEEDS...|grids RUN..." >&2; exit 2 ;;
esac
