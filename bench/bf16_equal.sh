#!/usr/bin/env bash
# Session 16: the bf16 recipe at truly equal CPU time, and ADA against always-on DiffAugment at that budget.
# bench/bf16_cpu.sh's runs had 4700 bf16 steps, 84% of the fp32 recipe's CPU time; bench/pair_speed.py measured
# bf16 1.76x fp32's images/s at batch 64 side by side on one core each (bench/results/quality/bf16_speed.json), so
# the fp32 recipe's 3166 steps are worth 5575 bf16 steps.
#   equal: each 4700-step run copied (with its optimiser state) to runs/gan64-sle-bf16eq-s<seed> and continued with
#          `prodgen train --resume` to 5575 steps (constant learning rates, nothing depends on the total: a continued
#          run is the longer run, only its random stream differs from an uninterrupted one).
#   ada:   the same recipe trained from scratch to 5575 steps with --model-arg ada_target=0.6 (StyleGAN2-ADA's target:
#          each image is augmented with a probability p that rises while D's E[sign D(real)] is above 0.6).
# On the VALIDATION split (n=796, truncation 1, each run's own EMA, pinned ProductNet): equal at seeds 0-2; ADA at
# seeds 0 and 1 (both lost FID-P, by 5.6 and 13.9, and half the same-condition variety, so seed 2 was stopped at step
# 2550 to give its core to bench/diffaug_color.sh). The equal-time runs' seeds 1 and 2 read once on the TEST split.
#
#   bash bench/productnet.sh; bash bench/bf16_cpu.sh train   # the 4700-step runs
#   bash bench/bf16_equal.sh train                           # the three continuations, then ADA seeds 0 and 1 side by side
#   bash bench/bf16_equal.sh equal-seed SEED                 # ~6 min on one core
#   bash bench/bf16_equal.sh ada-seed SEED                   # ~40 min on one core
#   bash bench/bf16_equal.sh val                             # -> bench/results/quality/bf16eq_val.json, bf16ada_val.json
#   bash bench/bf16_equal.sh test                            # read once -> bench/results/quality/bf16eq_test.json
set -euo pipefail
STEPS=5575
source "$(dirname "$0")/seed_runs.sh"
equal_seed() {  # seed
  local src=runs/gan64-sle-bf16-s$1 run=gan64-sle-bf16eq-s$1
  trained "$run" && { echo "runs/$run is trained; kept" >&2; return; }
  [ -e "$src/training_state.pt" ] || { echo "missing $src: bash bench/bf16_cpu.sh train-seed $1" >&2; exit 1; }
  [ -d "runs/$run" ] || { rm -rf "runs/$run.tmp"; cp -r "$src" "runs/$run.tmp"; rm -rf "runs/$run.tmp/eval"; mv "runs/$run.tmp" "runs/$run"; }
  $PG train --resume "runs/$run" --steps "$STEPS" --threads 1 --quiet
}
ada_seed() { train_seed "gan64-sle-bf16ada-s$1" "$1" --precision bf16 --model-arg ada_target=0.6; }
equal() {  # split seeds...
  collect_seeds "$1" gan64-sle-bf16eq bf16eq bf16eq "bf16, $STEPS steps (equal CPU time), continued from 4700" \
    bf16_equal.sh "${@:2}"
}
ada() {  # split seeds...
  collect_seeds "$1" gan64-sle-bf16ada bf16ada bf16ada "bf16 + ADA (target 0.6), $STEPS steps" bf16_equal.sh "${@:2}"
}
case "${1:-}" in
train) for s in 0 1 2; do equal_seed $s; done; ada_seed 0 & ada_seed 1; wait ;;
equal-seed) equal_seed "$2" ;;
ada-seed) ada_seed "$2" ;;
val) equal val 0 1 2; ada val 0 1 ;;
test) equal test 1 2 ;;
*) echo "usage: bash bench/bf16_equal.sh train|equal-seed SEED|ada-seed SEED|val|test" >&2; exit 2 ;;
esac
