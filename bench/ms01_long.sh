#!/usr/bin/env bash
# Session 29: today's default GAN recipe (bf16, G 2e-4, batch 64, SLE, DiffAugment translation + cutout, mode seeking
# 0.1; 25 minutes = 7171 steps on the 2-core CPU) past 25 minutes, for the 100-minute target (best family within 1.3x
# the real-vs-real floor): runs/gan64-sle-ms01-s1 (bench/recipe_variants25.sh ms01) continued with
# `prodgen train --resume` (bench/long_runs.sh: constant learning rates, nothing depends on the total steps, so a
# continued run is the longer run) to 2x, 3x and 4x its steps, with a copy kept at 50, 75 and 100 minutes. Seed 1 is a
# fixed choice (the seed every test read uses), as in bench/noclr_long.sh (the same curve without mode seeking).
# Step counts define the budget, so the figures do not depend on the machine's load.
#
#   bash bench/ms01_long.sh train     # THREADS=2 by default (~2 h alone on a 2-core Zen 4); rerunning continues
#   bash bench/ms01_long.sh val       # the 25/50/75/100-minute copies -> bench/results/quality/ms01_long_val.json
#   bash bench/ms01_long.sh test      # the 100-minute copy, read once -> bench/results/quality/ms01_long_test.json
#   bash bench/ms01_long.sh grids     # the 100-minute copy's category x colour sheet -> bench/results/quality/
#
# Session 30: the same 100 minutes with the learning rates falling linearly toward 0 over its second half (the val
# curve above is flat after 50 minutes at constant rates): the 25-minute run continued with
# `prodgen train --resume --steps 28684 --lr-decay 0.5`, which is the run trained with --lr-decay 0.5 from its start
# (the decay begins at step 14,342, after the 25-minute run's last step; tests/test_trainer.py checks the equality).
#   bash bench/ms01_long.sh decay-train   # runs/gan64-sle-ms01-s1-decay-100m (~95-110 min alone, THREADS=2)
#   bash bench/ms01_long.sh decay-val     # -> bench/results/quality/ms01_decay_val.json (decay-test: read once)
#
# Session 31: the rates falling over the last three quarters instead (from the 25-minute run's last step, 7,171, to 0
# at 28,684): `--lr-decay 0.75`, the same verbs with decay75 (runs/gan64-sle-ms01-s1-decay75-100m, ms01_decay75_*.json)
#   bash bench/ms01_long.sh decay75-train && bash bench/ms01_long.sh decay75-val   # decay75-test: read once
set -euo pipefail
STEPS=7171
source "$(dirname "$0")/seed_runs.sh"
BASE=gan64-sle-ms01-s1
label() { echo "today's default recipe (bf16, mode seeking 0.1), seed 1, $1 minutes ($2 steps)"; }
PRIOR_AT=100  # the 100-minute copy gets a title prior, for the title-only figure
case "${1:-}" in
train) THREADS=${THREADS:-2} bash bench/long_runs.sh "$BASE" 25 50 75 100 ;;
val) long_collect val ms01_long ms01_long.sh 25 50 75 100 ;;
test) long_collect test ms01_long ms01_long.sh 100 ;;
grids) grid_sheets "$BASE-100m" ;;  # its category x colour sheet -> bench/results/quality/
decay-*|decay75-*)  # the schedule (decay: over the second half; decay75: the last three quarters), then the verb
  tag=${1%%-*} verb=${1#*-}
  case "$tag" in decay) share=0.5 over="the second half" ;; decay75) share=0.75 over="the last three quarters" ;; esac
  case "$verb" in
  train) TAG=-$tag RESUME_ARGS="--lr-decay $share" THREADS=${THREADS:-2} bash bench/long_runs.sh "$BASE" 25 100 ;;
  val|test)
    label() { echo "today's default recipe (bf16, mode seeking 0.1), seed 1, $1 minutes ($2 steps), learning rates to 0 over $over"; }
    BASE=$BASE-$tag VERB_PREFIX=$tag- long_collect "$verb" "ms01_$tag" ms01_long.sh 100 ;;
  grids) grid_sheets "$BASE-$tag-100m" ;;
  *) echo "usage: bash bench/ms01_long.sh $tag-train|$tag-val|$tag-test|$tag-grids" >&2; exit 2 ;;
  esac ;;
*) echo "usage: bash bench/ms01_long.sh train|val|test|grids|decay-train|decay-val|decay-test|decay-grids (or decay75-...)" >&2; exit 2 ;;
esac
