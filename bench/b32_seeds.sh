#!/usr/bin/env bash
# Session 15: batch 32 on top of G's learning rate 2e-4 (the default since session 14) at 25 minutes of CPU time.
# A batch-32 step costs 1.11x half a batch-64 step (session 13: 59.0 against 65.3 images/s side by side), so the
# 25-minute budget of the recipe (3166 batch-64 steps) buys 5700 batch-32 steps. Seeds 0-2, each trained to 5700 steps
# on one core, two side by side; compared on the VALIDATION split (n=796, truncation 1, each run's own EMA) with
# the recipe's seeds 0-2 (bench/recipe_variants.sh's gan64-sle-lrg2 and bench/lr_g_seeds.sh's -lrg2-s1/-s2: the same
# pinned ProductNet, and training is bit-reproducible at fixed threads, so their rows stand). If it wins there,
# seeds 1 and 2 are read once on the TEST split beside the recipe's test rows (bench/results/quality/lr_g_test.json).
#
#   bash bench/productnet.sh           # the pinned ProductNet
#   bash bench/b32_seeds.sh train      # seeds 0 and 1 side by side (~37 min on 2 cores), then seed 2
#   bash bench/b32_seeds.sh val        # -> bench/results/quality/b32_lrg2_val.json
#   bash bench/b32_seeds.sh test       # -> bench/results/quality/b32_lrg2_test.json
set -euo pipefail
export PRODGEN_AUTO_PRECISION=fp32  # its rows were measured in fp32 (--precision auto is bf16 on an AMX CPU)
STEPS=5700
source "$(dirname "$0")/seed_runs.sh"
train_run() { train_seed "gan64-sle-b32-lrg2-s$1" "$1" --batch-size 32; }  # seed
collect() {  # split seeds...
  collect_seeds "$1" gan64-sle-b32-lrg2 b32 b32_lrg2 \
    "batch 32 and G's learning rate 2e-4, $STEPS steps (25 CPU-minutes)" b32_seeds.sh "${@:2}"
}
case "${1:-}" in
train) train_run 0 & train_run 1; wait; train_run 2 ;;
train-seed) train_run "$2" ;;
val) collect val 0 1 2 ;;
test) collect test 1 2 ;;
*) echo "usage: bash bench/b32_seeds.sh train|train-seed SEED|val|test" >&2; exit 2 ;;
esac
