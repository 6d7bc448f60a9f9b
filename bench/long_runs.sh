#!/usr/bin/env bash
# Runs past their recipe's budget (issue 13): a finished run continued with `prodgen train --resume` to multiples of
# its steps, with a copy of the run (weights, config, split; no optimiser state) kept at each budget for
# `prodgen evaluate`. The learning rates are constant and no schedule depends on the total steps, so a continued run
# is the longer run. Step counts, not wall time, define the budget, so the figures do not depend on the machine's load.
#
#   bash bench/long_runs.sh [RUN BASE_MINUTES MINUTES...]     # THREADS=2 by default; rerunning continues where it stopped
#   TAG=-decay RESUME_ARGS="--lr-decay 0.5" bash bench/long_runs.sh RUN 25 100   # another schedule for the extension:
#     runs/RUN-decay-long, copy runs/RUN-decay-100m (RESUME_ARGS go to `prodgen train --resume`)
#
# Default: runs/gan64-sle (the 25-minute recipe, 3166 steps = 25 idle minutes of the 2-core Xeon) to 50, 75 and 100
# minutes: runs/gan64-sle-50m (6332 steps), runs/gan64-sle-75m (9498), runs/gan64-sle-100m (12664), via runs/gan64-sle-long.
# The other families' curves: the family recipe (bench/family_runs.sh) is 12.5 minutes of the 2-core machine (25 idle
# minutes of one core), so side by side, one core each:
#   THREADS=1 bash bench/long_runs.sh fam-edm 12.5 25 50 & THREADS=1 bash bench/long_runs.sh fam-vae 12.5 25 50
# then: bash bench/quality_runs.sh val <the new rows>; python bench/long_curve.py
set -euo pipefail
export PRODGEN_AUTO_PRECISION=fp32  # its rows were measured in fp32 (--precision auto is bf16 on an AMX CPU)
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
THREADS=${THREADS:-2}
NAME=${1:-gan64-sle}
BASE=${2:-25}
shift $(( $# >= 2 ? 2 : $# ))
BUDGETS=("$@")
[ ${#BUDGETS[@]} -gt 0 ] || BUDGETS=(50 75 100)
SRC=runs/$NAME
TAG=${TAG:-}
read -r -a RESUME_ARGS <<< "${RESUME_ARGS:-}"
LONG=runs/$NAME$TAG-long
[ -e "$SRC/training_state.pt" ] || { echo "missing $SRC (with its training_state.pt): train it first (bench/quality_runs.sh train)" >&2; exit 1; }
base_steps=$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['train']['steps'])" "$SRC/config.json")
[ -d "$LONG" ] || cp -r "$SRC" "$LONG"
for minutes in "${BUDGETS[@]}"; do
  steps=$(.venv/bin/python -c "import sys; print(round(int(sys.argv[1]) * float(sys.argv[2]) / float(sys.argv[3])))" "$base_steps" "$minutes" "$BASE")
  snap=runs/$NAME$TAG-${minutes}m
  [ -e "$snap/ema.safetensors" ] && continue
  $PG train --resume "$LONG" --steps "$steps" --threads "$THREADS" --quiet ${RESUME_ARGS[@]+"${RESUME_ARGS[@]}"}
  rm -rf "$snap.tmp" && mkdir -p "$snap.tmp"
  for f in "$LONG"/*; do
    case "$(basename "$f")" in training_state.pt|eval) ;; *) cp -r "$f" "$snap.tmp/" ;; esac
  done
  mv "$snap.tmp" "$snap"
  echo "$snap: $(grep -c . "$snap/metrics.jsonl") metric lines, step $steps"
done
