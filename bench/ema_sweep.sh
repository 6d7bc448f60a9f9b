#!/usr/bin/env bash
# How long should the GAN's weights be averaged at the 25-minute budget? Post-hoc EMA (prodgen ema, Karras et al.
# 2024): the gan64-sle recipe trained with --snapshot-every 25 (two training seeds, bench/quality_runs.sh train), its
# average rebuilt with several lengths afterwards, each evaluated on the VALIDATION split (n=796, truncation 1).
#
#   bash bench/ema_sweep.sh [RUN...]     # default: gan64-sle gan64-sle-s1 -> bench/results/quality/ema_sweep_val.json
#   PROFILES="" OUT_NAME=recipe_val bash bench/ema_sweep.sh RUN...   # the runs as trained, one table
#
# Profiles: "trainer" is the run's own EMA (ema_decay 0.999 with the warm-up (1+t)/(10+t), which at these step counts
# is about EDM2's power profile with sigma_rel 0.09); "last" the final weights, not averaged (half-life 0.001 steps);
# hlN an exponential average with a half-life of N steps; pX EDM2's power-function average of relative width 0.X.
set -euo pipefail
export PRODGEN_AUTO_PRECISION=fp32  # its rows were measured in fp32 (--precision auto is bf16 on an AMX CPU)
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
PY=.venv/bin/python
OUT=bench/results/quality
THREADS=${THREADS:-2}
PROFILES=(${PROFILES-last hl100 hl200 hl400 hl800 p05 p15 p20})  # PROFILES="" : each run's own EMA only
OUT_NAME=${OUT_NAME:-ema_sweep_val}
RUNS=("$@"); [ ${#RUNS[@]} -gt 0 ] || RUNS=(gan64-sle gan64-sle-s1)
mkdir -p "$OUT"
args=()
for run in "${RUNS[@]}"; do
  [ -d "runs/$run/snapshots" ] || { echo "runs/$run has no snapshots: train it first (bench/quality_runs.sh train)" >&2; exit 2; }
  for p in trainer "${PROFILES[@]}"; do
    dst=runs/$run-ema-$p
    case $p in
      trainer) dst=runs/$run ;;
      last) opt=(--half-life 0.001) ;;
      hl*) opt=(--half-life "${p#hl}") ;;
      p*) opt=(--sigma-rel "0.${p#p}") ;;
    esac
    if [ "$p" != trainer ] && [ ! -f "$dst/posthoc_ema.json" ]; then
      $PG ema "runs/$run" --out "$dst" --threads "$THREADS" "${opt[@]}" --overwrite
    fi
    if ! $PY bench/eval_table.py --find "$dst::split=val,truncation=1" >/dev/null 2>&1; then
      $PG evaluate "$dst" --features runs/productnet64 --split val --quiet > "$OUT/ema-$run-$p-val.txt" 2>&1
    fi
    case $p in
      trainer) what="its own EMA (decay 0.999 with the warm-up: about power 0.09)" ;;
      last) what="the last weights, not averaged" ;;
      hl*) what="exponential, half-life ${p#hl} steps" ;;
      p*) what="power profile, sigma_rel 0.${p#p}" ;;
    esac
    args+=(--row "$run-$p" "$dst::split=val,truncation=1" "$run: $what")
  done
done
$PY bench/eval_table.py --out "$OUT/$OUT_NAME.json" --features runs/productnet64 \
  --command "PROFILES=\"${PROFILES[*]}\" OUT_NAME=$OUT_NAME bash bench/ema_sweep.sh ${RUNS[*]}" "${args[@]}"
