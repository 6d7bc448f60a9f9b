#!/usr/bin/env bash
# Truncation (the GAN's noise scale at sampling) against fidelity, conditional accuracy, within-condition diversity
# and near copies, on the VALIDATION split: the setting is chosen here, and the test split is read once afterwards
# with the chosen value. Every evaluation uses the same seed, n and ProductNet features as bench/quality_runs.sh.
#
#   bash bench/truncation_sweep.sh RUN [T ...]      # default T: 1.0 0.8 0.6
#   REUSE=1 bash bench/truncation_sweep.sh RUN T... # evaluate only the T that have no val evaluation yet (seeded:
#                                                   # a repeat gives the same figures), then collect them all
#   -> bench/results/quality/truncation_<RUN name>_val.json (one row per T; the latest evaluation with that T)
#   SPLIT=test bash bench/truncation_sweep.sh RUN 1.0 T   # the chosen T (and 1.0) read once on the TEST split
#   -> bench/results/quality/truncation_<RUN name>_test.json
set -euo pipefail
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
PY=.venv/bin/python
OUT=bench/results/quality
run=${1:?usage: bash bench/truncation_sweep.sh RUN [T ...]}
shift
ts=("$@"); [ ${#ts[@]} -eq 0 ] && ts=(1.0 0.8 0.6)
name=$(basename "$run")
split=${SPLIT:-val}
mkdir -p "$OUT"
args=()
for t in "${ts[@]}"; do
  sfx=$([ "$split" = val ] && echo "" || echo "-$split")
  if [ "${REUSE:-0}" = 1 ] && $PY bench/eval_table.py --find "$run::split=$split,truncation=$t" > /dev/null 2>&1; then
    echo "truncation $t: evaluated on $split before, reused"
  else
    $PG evaluate "$run" --features runs/productnet64 --split "$split" --truncation "$t" --quiet \
      > "$OUT/truncation_$name-$t$sfx.txt" 2>&1
  fi
  args+=(--row "t$t" "$run::split=$split,truncation=$t" "$name, truncation $t")
done
$PY bench/eval_table.py --out "$OUT/truncation_${name}_$split.json" --features runs/productnet64 \
  --command "SPLIT=$split bash bench/truncation_sweep.sh $run ${ts[*]}" "${args[@]}"
