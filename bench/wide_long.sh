#!/usr/bin/env bash
# Session 32: the 100-minute target (best family within 1.3x the real-vs-real floor) with a wider G and D. Today's
# default recipe at 100 minutes plateaus (bench/ms01_long.sh: val FID-P 26.6 / 26.8 / 27.0 at 50 / 75 / 100 minutes at
# constant rates; 24.7 with the rates falling over the second half, test 22.4 = 1.35x the floor), which reads as a
# model that has stopped learning rather than one short of steps. So: G and D 1.5x as wide (g_base 24, d_base 48, caps
# 384; session 18's w15, which lost at 25 minutes, 51.0 / 55.8 val against the recipe's ~45 then, when it got 0.54x
# the steps), trained from scratch to 100 minutes' CPU time with the best schedule at 100 minutes (learning rates to 0
# over the second half), seed 1 (the seed of every 100-minute row).
#
# The budget: 100 minutes of the default recipe is 4 x 7171 = 28,684 steps. The wider model's step count at that CPU
# time is 28,684 x the ratio of its training speed to the default's, measured side by side on one core each on the
# machine that trains it (`speed`; bench/pair_speed.py, today's recipe: bf16, batch 64, SLE, DiffAugment translation +
# cutout, mode seeking 0.1).
#
#   bash bench/wide_long.sh speed   # -> bench/results/quality/w15_speed_ms01.json (both cores idle, ~5 min)
#   bash bench/wide_long.sh train   # runs/gan64-sle-ms01-w15-s1-decay-100m, THREADS=2 (~3 h alone on the 2-core Zen 4);
#                                   # rerunning continues from its last checkpoint (every 1,000 steps and on Ctrl-C)
#   bash bench/wide_long.sh val     # -> bench/results/quality/ms01_w15_decay_val.json, beside ms01_decay_val.json
#   bash bench/wide_long.sh test    # read once -> bench/results/quality/ms01_w15_decay_test.json
#   bash bench/wide_long.sh grids   # its category x colour sheet -> bench/results/quality/
set -euo pipefail
STEPS=7171
source "$(dirname "$0")/seed_runs.sh"
RUN=gan64-sle-ms01-w15-s1-decay-100m
SPEED=$OUT/w15_speed_ms01.json
WIDE=(--model-arg g_base=24 --model-arg d_base=48 --model-arg g_cap=384 --model-arg d_cap=384)
TODAY="--precision bf16 --batch-size 64 --model-arg mode_seeking=0.1"
wide_steps() {  # 100 minutes of the default (4 x $STEPS steps) in the wider model's steps, from the speed file
  [ -e "$SPEED" ] || { echo "missing $SPEED: run bash bench/wide_long.sh speed first (both cores idle)" >&2; exit 1; }
  $PY -c "import json,sys; print(round(4 * int(sys.argv[2]) * json.load(open(sys.argv[1]))['b_over_a']))" "$SPEED" "$STEPS"
}
collect() {  # split: evaluate once, one row -> $OUT/ms01_w15_decay_<split>.json
  local steps
  steps=$(wide_steps)
  trained "$RUN" "$steps" || { echo "runs/$RUN is not trained to $steps steps yet: bash bench/wide_long.sh train" >&2; exit 1; }
  [ "$1" != test ] || [ -e "runs/$RUN/title_prior.json" ] || $PG title-prior "runs/$RUN" > /dev/null
  evaluate_once "$RUN" "$1" "$OUT/ms01-w15-decay-$RUN-$1.txt"
  $PY bench/eval_table.py --out "$OUT/ms01_w15_decay_$1.json" --features "$FEATURES" \
    --command "bash bench/wide_long.sh speed && bash bench/wide_long.sh train && bash bench/wide_long.sh $1" \
    --row "$RUN" "runs/$RUN::split=$1,truncation=1" \
    "today's default recipe with G and D 1.5x as wide, seed 1, 100 minutes ($steps steps), learning rates to 0 over the second half"
}
case "${1:-}" in
speed) $PY bench/pair_speed.py --steps 150 --diffaugment translation,cutout --out "$SPEED" \
    --a "today's default widths (G 16 / D 32 at 64 px, caps 256)" "$TODAY" \
    --b "1.5x widths (g_base 24, d_base 48, caps 384)" "$TODAY ${WIDE[*]}" ;;
train) steps=$(wide_steps)
  if trained "$RUN" "$steps"; then echo "runs/$RUN is trained; kept" >&2
  elif [ -e "runs/$RUN/training_state.pt" ]; then
    $PG train --resume "runs/$RUN" --steps "$steps" --threads "${THREADS:-2}" --quiet
  else
    $PG train --model gan --catalog "$CAT" --resolution 64 --steps "$steps" --threads "${THREADS:-2}" --precision bf16 \
      --model-arg sle=true --model-arg "lr_g=$LR_G" --model-arg diffaugment=translation,cutout \
      --model-arg mode_seeking=0.1 "${WIDE[@]}" --lr-decay 0.5 --checkpoint-every 1000 --seed 1 --quiet \
      --out "runs/$RUN"
  fi ;;
val|test) collect "$1" ;;
grids) grid_sheets "$RUN" ;;
*) echo "usage: bash bench/wide_long.sh speed|train|val|test|grids" >&2; exit 2 ;;
esac
