#!/usr/bin/env bash
# Session 19: the 25-minute budget after the trainer stopped computing D's weight gradients in G's phase. Side by
# side on one core each the recipe now trains at 1.106x the images/s (bench/results/quality/freeze_speed.json), so
# the 5575 bf16 steps' CPU time buys 5575 * 1.106 = 6166 steps. The learning rates are constant and no schedule
# depends on the total steps, so a finished 5575-step run continued with `prodgen train --resume` to 6166 steps is
# the 6166-step run; each is continued in a copy, runs/<run>-6166 (its evaluations left behind).
#
# The 100-minute copy likewise: 4 x 6166 = 24664 steps, continuing runs/gan64-sle-noclr-s1-long (bench/noclr_long.sh,
# 22300 steps): STEPS=24664 bash bench/frozen_steps.sh train gan64-sle-noclr-s1-long
#
#   bash bench/frozen_steps.sh train RUN...            # one after another, one thread each
#   bash bench/frozen_steps.sh val|test STEM LABEL RUN...   # -> bench/results/quality/<STEM>_<split>.json
set -euo pipefail
STEPS=${STEPS:-6166}
source "$(dirname "$0")/seed_runs.sh"
case "${1:-}" in
train) for run in "${@:2}"; do
    trained "$run-$STEPS" && { echo "runs/$run-$STEPS is trained; kept" >&2; continue; }
    [ -e "runs/$run/training_state.pt" ] || { echo "missing runs/$run (with its training_state.pt): train it first" >&2; exit 1; }
    if [ ! -d "runs/$run-$STEPS" ]; then
      rm -rf "runs/$run-$STEPS.tmp" && mkdir -p "runs/$run-$STEPS.tmp"
      for f in "runs/$run"/*; do
        case "$(basename "$f")" in eval) ;; *) cp -r "$f" "runs/$run-$STEPS.tmp/" ;; esac
      done
      mv "runs/$run-$STEPS.tmp" "runs/$run-$STEPS"
    fi
    $PG train --resume "runs/$run-$STEPS" --steps "$STEPS" --threads 1 --quiet
  done ;;
val|test) split=$1 stem=$2 label=$3 args=()
  for run in "${@:4}"; do
    trained "$run-$STEPS" || { echo "skipping $run-$STEPS: not trained (yet)" >&2; continue; }
    evaluate_once "$run-$STEPS" "$split" "$OUT/$stem-$run-$STEPS-$split.txt"
    seed=$(grep -oE -- '-s[0-9]+' <<< "$run" | tail -1 | cut -c3-)
    args+=(--row "$run-$STEPS" "runs/$run-$STEPS::split=$split,truncation=1" "$label, seed $seed")
  done
  $PY bench/eval_table.py --out "$OUT/${stem}_$split.json" --features "$FEATURES" \
    --command "STEPS=$STEPS bash bench/frozen_steps.sh train ${*:4} && STEPS=$STEPS bash bench/frozen_steps.sh $split $stem '$label' ${*:4}" "${args[@]}" ;;
*) echo "usage: bash bench/frozen_steps.sh train RUN...|val STEM LABEL RUN...|test STEM LABEL RUN..." >&2; exit 2 ;;
esac
