#!/usr/bin/env bash
# Truncation (the GAN's noise scale at sampling) against fidelity, conditional accuracy, within-condition diversity
# and near copies, on the VALIDATION split: the setting is chosen here, and the test split is read once afterwards
# with the chosen value. Every evaluation uses the same seed, n and ProductNet features as bench/quality_runs.sh.
#
#   bash bench/truncation_sweep.sh RUN [T ...]      # default T: 1.0 0.8 0.6
#   REUSE=1 bash bench/truncation_sweep.sh RUN T... # evaluate only the T that have no val evaluation yet (seeded:
#                                                   # a repeat gives the same figures), then collect them all
#   -> bench/results/quality/truncation_<RUN name>_val.json (one row per T; the latest evaluation with that T)
set -euo pipefail
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
PY=.venv/bin/python
OUT=bench/results/quality
run=${1:?usage: bash bench/truncation_sweep.sh RUN [T ...]}
shift
ts=("$@"); [ ${#ts[@]} -eq 0 ] && ts=(1.0 0.8 0.6)
name=$(basename "$run")
mkdir -p "$OUT"
args=()
for t in "${ts[@]}"; do
  if [ "${REUSE:-0}" = 1 ] && $PY bench/eval_table.py --find "$run::split=val,truncation=$t" > /dev/null 2>&1; then
    echo "truncation $t: evaluated before, reused"
  else
    $PG evaluate "$run" --features runs/productnet64 --split val --truncation "$t" --quiet > "$OUT/truncation_$name-$t.txt" 2>&1
  fi
  args+=(--row "t$t" "$run::split=val,truncation=$t" "$name, truncation $t")
done
$PY bench/eval_table.py --out "$OUT/truncation_${name}_val.json" --features runs/productnet64 \
  --command "bash bench/truncation_sweep.sh $run ${ts[*]}" "${args[@]}"
