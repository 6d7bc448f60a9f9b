#!/usr/bin/env bash
# Session 15: bf16 autocast for the GAN on a CPU with AMX (Intel's matrix units; `torch.cpu._is_amx_tile_supported()`).
# The default 25-minute recipe (gan64-sle, batch 64, G 2e-4: 3166 fp32 steps) with --precision bf16. The runs were
# trained for 4700 steps, from a first speed reading taken beside another training (1.47x); `speed` (bench/pair_speed.py:
# fp32 and bf16 side by side on one core each, nothing else running) then measured 1.76x at batch 64, so equal CPU
# time would be 5575 steps and these runs had 84% of fp32's CPU time (21 of its 25 minutes): the comparison favours
# fp32. Seeds 0-2 on the VALIDATION split (n=796, truncation 1, each run's own EMA) against the fp32 recipe's seeds
# 0-2 (recipe_val.json's gan64-sle-lrg2, lr_g_val.json's gan64-sle-lrg2-s1/-s2: same pinned ProductNet,
# bit-reproducible training); seeds 1 and 2 read once on the TEST split beside lr_g_test.json's fp32 rows.
#
#   bash bench/productnet.sh          # the pinned ProductNet
#   bash bench/bf16_cpu.sh speed      # -> bench/results/quality/bf16_speed{,_b32}.json (~4 min)
#   bash bench/bf16_cpu.sh train      # seed 0 (beside b32_seeds.sh's seed 2), then seeds 1 and 2 side by side
#   bash bench/bf16_cpu.sh val        # -> bench/results/quality/bf16_val.json
#   bash bench/bf16_cpu.sh test       # -> bench/results/quality/bf16_test.json
#   bash bench/bf16_cpu.sh grids      # -> bench/results/quality/bf16-s1-categories.png
set -euo pipefail
STEPS=4700
source "$(dirname "$0")/seed_runs.sh"
train_run() { train_seed "gan64-sle-bf16-s$1" "$1" --precision bf16; }  # seed
collect() {  # split seeds...
  collect_seeds "$1" gan64-sle-bf16 bf16 bf16 "bf16 autocast, $STEPS steps (84% of the fp32 recipe's CPU time)" \
    bf16_cpu.sh "${@:2}"
}
case "${1:-}" in
speed)
  $PY bench/pair_speed.py --a fp32 "--batch-size 64 --precision fp32" --b bf16 "--batch-size 64 --precision bf16" \
    --steps 250 --out "$OUT/bf16_speed.json"
  $PY bench/pair_speed.py --a fp32 "--precision fp32" --b bf16 "--precision bf16" --steps 250 \
    --out "$OUT/bf16_speed_b32.json" ;;
train) train_run 0 & bash bench/b32_seeds.sh train-seed 2; wait; train_run 1 & train_run 2; wait ;;  # (b32's seed 2 kept)
train-seed) train_run "$2" ;;
val) collect val 0 1 2 ;;
test) collect test 1 2 ;;
grids)  # bench/sample_grids.py's category sheet of seed 1 (16 categories x 8 noise seeds), beside lr_g_seeds.sh's fp32 one
  tmp=$(mktemp -d)
  $PY bench/sample_grids.py runs/gan64-sle-bf16-s1 --out "$tmp" > /dev/null
  cp "$tmp/gan64-sle-bf16-s1-categories.png" "$OUT/bf16-s1-categories.png"
  rm -r "$tmp" ;;
*) echo "usage: bash bench/bf16_cpu.sh speed|train|train-seed SEED|val|test|grids" >&2; exit 2 ;;
esac
