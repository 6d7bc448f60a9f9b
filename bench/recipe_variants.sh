#!/usr/bin/env bash
# Session 13's two changes of the 25-minute GAN recipe against gan64-sle (two training seeds), on the VALIDATION split
# (n=796, truncation 1, each run's own EMA). Trained by bench/quality_runs.sh train, side by side on one core each.
#
#   bash bench/recipe_variants.sh     -> bench/results/quality/recipe_val.json
#
# gan64-sle-b32 trained batch 32 for 6332 steps: the same images as gan64-sle's 3166 of 64. A batch-32 step costs
# more than half a batch-64 one, so its equal-CPU-time point is read from its snapshots: the trainer's own average
# rebuilt at the step where it had used gan64-sle's CPU time (prodgen ema --decay 0.999 --steps S). S comes from the
# median training images/s of gan64-sle-b32 and gan64-sle-lrg2 (a batch-64 run that trained beside it, at the same
# cost a step as gan64-sle).
set -euo pipefail
export PRODGEN_AUTO_PRECISION=fp32  # its rows were measured in fp32 (--precision auto is bf16 on an AMX CPU)
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
PY=.venv/bin/python
OUT=bench/results/quality
EQ=$($PY - <<'PY'
import json, statistics
def ips(run):
    rows = [json.loads(l) for l in open(f"runs/{run}/metrics.jsonl") if '"images_per_s"' in l]
    return statistics.median(r["images_per_s"] for r in rows if "images_per_s" in r)
b32, b64 = ips("gan64-sle-b32"), ips("gan64-sle-lrg2")
print(int(round(6332 * b32 / b64 / 50)) * 50, round(b32, 1), round(b64, 1))
PY
)
read -r STEPS IPS32 IPS64 <<<"$EQ"
echo "batch 32: $IPS32 images/s, batch 64: $IPS64 -> equal CPU time at step $STEPS of 6332"
[ -f runs/gan64-sle-b32-eq/posthoc_ema.json ] && grep -q "\"total_steps\": $STEPS" runs/gan64-sle-b32-eq/posthoc_ema.json ||
  $PG ema runs/gan64-sle-b32 --decay 0.999 --steps "$STEPS" --out runs/gan64-sle-b32-eq --overwrite
# (gan64-sle-lrg2-s1-half and gan64-sle-b32-s1-half: second seeds trained only to the 12.5-minute step counts, which
# with constant learning rates is the same as a longer run's average rebuilt there)
# the same runs at half their CPU time (12.5 minutes), each one's own average rebuilt there: does a gain hold along
# the run, or only at its end?
HALF=$(( (STEPS / 2 + 25) / 50 * 50 ))
for run in gan64-sle gan64-sle-s1 gan64-sle-lrg2 gan64-sle-b32; do
  at=1575; [ $run = gan64-sle-b32 ] && at=$HALF
  [ -f "runs/$run-half/posthoc_ema.json" ] && grep -q "\"total_steps\": $at," "runs/$run-half/posthoc_ema.json" ||
    $PG ema "runs/$run" --decay 0.999 --steps "$at" --out "runs/$run-half" --overwrite
done
args=()
for run in gan64-sle gan64-sle-s1 gan64-sle-lrg2 gan64-sle-b32 gan64-sle-b32-eq \
           gan64-sle-half gan64-sle-s1-half gan64-sle-lrg2-half gan64-sle-lrg2-s1-half gan64-sle-b32-half \
           gan64-sle-b32-s1-half; do
  [ -d "runs/$run" ] || { echo "skipping $run: not trained (yet)" >&2; continue; }
  $PY bench/eval_table.py --find "runs/$run::split=val,truncation=1" >/dev/null 2>&1 ||
    $PG evaluate "runs/$run" --features runs/productnet64 --split val --quiet > "$OUT/recipe-$run-val.txt" 2>&1
  case $run in
    gan64-sle) label="gan64-sle (the 25-minute recipe), seed 0" ;;
    gan64-sle-s1) label="gan64-sle, seed 1" ;;
    gan64-sle-lrg2) label="G's learning rate 2e-4 (1e-4), seed 0" ;;
    gan64-sle-b32) label="batch 32 for 6332 steps: the same images, more CPU time (${IPS32} vs ${IPS64} images/s), seed 0" ;;
    gan64-sle-b32-eq) label="batch 32 at equal CPU time: its average at step $STEPS, seed 0" ;;
    gan64-sle-half) label="12.5 minutes: gan64-sle's average at step 1575, seed 0" ;;
    gan64-sle-s1-half) label="12.5 minutes: gan64-sle's average at step 1575, seed 1" ;;
    gan64-sle-lrg2-half) label="12.5 minutes: G's learning rate 2e-4 at step 1575, seed 0" ;;
    gan64-sle-b32-half) label="12.5 minutes: batch 32 at step $HALF, seed 0" ;;
    gan64-sle-lrg2-s1-half) label="12.5 minutes: G's learning rate 2e-4, 1575 steps, seed 1" ;;
    gan64-sle-b32-s1-half) label="12.5 minutes: batch 32, 2850 steps, seed 1" ;;
  esac
  args+=(--row "$run" "runs/$run::split=val,truncation=1" "$label")
done
$PY bench/eval_table.py --out "$OUT/recipe_val.json" --features runs/productnet64 --command "bash bench/recipe_variants.sh" \
  "${args[@]}" --highlight gan64-sle
