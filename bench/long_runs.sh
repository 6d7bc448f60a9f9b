#!/usr/bin/env bash
# The 100-minute GAN (issue 13): runs/gan64-sle (the 25-minute headline recipe, 3166 steps of 64 = 25 idle minutes
# of the 2-core Xeon) continued with `prodgen train --resume` to 2x, 3x and 4x its steps. The GAN's learning rates are
# constant (no schedule depends on the total), so a continued run is the longer run. A copy of the run is taken at
# each budget (weights, config, split; no optimiser state) for `prodgen evaluate`:
#   runs/gan64-sle-50m (6332 steps), runs/gan64-sle-75m (9498), runs/gan64-sle-100m (12664).
# Step counts, not wall time, define the budget, so the figures do not depend on the machine's load.
#   bash bench/long_runs.sh                 # THREADS=2 by default; rerunning continues where it stopped
#   then: bash bench/quality_runs.sh val gan64-sle-50m gan64-sle-75m gan64-sle-100m; python bench/long_curve.py
set -euo pipefail
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
SRC=runs/gan64-sle
LONG=runs/gan64-sle-long
THREADS=${THREADS:-2}
[ -e "$SRC/training_state.pt" ] || { echo "missing $SRC: run bash bench/quality_runs.sh train gan64-sle first" >&2; exit 1; }
[ -d "$LONG" ] || cp -r "$SRC" "$LONG"
for minutes in 50 75 100; do
  steps=$((3166 * minutes / 25))
  snap=runs/gan64-sle-${minutes}m
  [ -e "$snap/ema.safetensors" ] && continue
  $PG train --resume "$LONG" --steps "$steps" --threads "$THREADS" --quiet
  rm -rf "$snap.tmp" && mkdir -p "$snap.tmp"
  for f in "$LONG"/*; do
    case "$(basename "$f")" in training_state.pt|eval) ;; *) cp -r "$f" "$snap.tmp/" ;; esac
  done
  mv "$snap.tmp" "$snap"
  echo "$snap: $(grep -c . "$snap/metrics.jsonl") metric lines, step $steps"
done
