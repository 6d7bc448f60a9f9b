# Sourced (not run) by the seed-sweep scripts of the 25-minute GAN recipe (lr_g_seeds.sh, b32_seeds.sh,
# bf16_cpu.sh): their shared settings and the helpers that keep finished work (a trained run is never retrained, an
# evaluation with the same settings is never redone).
#
#   STEPS=5700; source bench/seed_runs.sh
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PG=.venv/bin/prodgen
PY=.venv/bin/python
CAT=${CAT:-../shared/data/fashion-products}
OUT=bench/results/quality
FEATURES=runs/productnet64
OLDAUG=(--model-arg diffaugment=color,translation,cutout --model-arg mode_seeking=0)  # its rows were trained when DiffAugment's
# colour transform was on by default (before session 17), and before the mode-seeking term (on by default since session 28)
# the DiffAugment policies train_seed trains with: its callers' rows were trained with all three (diffaug_color.sh sets
# translation,cutout, the default since session 17)
DIFFAUG=${DIFFAUG:-color,translation,cutout}
LR_G=${LR_G:-2e-4}  # G's learning rate train_seed trains with (the default since session 14)
MS=${MS:-0}  # the mode-seeking weight train_seed trains with unless its options name one: its callers' rows were
# trained without the term (prodgen's default since session 28 is 0.1, for the hinge loss)

trained() {  # run [steps]: its metrics reached its last step (a run folder holds a checkpoint mid-training too)
  grep -q "\"step\":${2:-$STEPS}," "runs/$1/metrics.jsonl" 2>/dev/null
}

train_seed() {  # run seed [train options...]: the recipe (gan64-sle, G $LR_G, one thread, $DIFFAUG) to $STEPS; a finished run is kept
  local run=$1 seed=$2
  shift 2
  trained "$run" && { echo "runs/$run is trained; kept" >&2; return; }
  local ms=(--model-arg "mode_seeking=$MS")
  [[ " $* " == *" mode_seeking="* ]] && ms=()  # the caller names its own weight
  $PG train --model gan --catalog "$CAT" --resolution 64 --steps "$STEPS" --threads 1 --model-arg sle=true \
    --model-arg "lr_g=$LR_G" --model-arg "diffaugment=$DIFFAUG" "${ms[@]}" "$@" --seed "$seed" --quiet \
    --out "runs/$run" --overwrite
}

evaluate_once() {  # run split text-file: its evaluation (truncation 1, pinned ProductNet), unless it has one
  $PY bench/eval_table.py --find "runs/$1::split=$2,truncation=1" >/dev/null 2>&1 ||
    $PG evaluate "runs/$1" --features "$FEATURES" --split "$2" --quiet > "$3" 2>&1
}

long_collect() {  # split stem script budgets...: $BASE's copies at those minutes ($STEPS steps per 25; rows named by
  # the caller's `label MINUTES STEPS`), evaluated once -> $OUT/<stem>_<split>.json; the copy at $PRIOR_AT minutes (if
  # set) gets a title prior first (prodgen title-prior), so its evaluations report title-only accuracy too; the
  # results file's command is "bash bench/<script> ${VERB_PREFIX}train && bash bench/<script> ${VERB_PREFIX}<split>"
  local split=$1 stem=$2 script=$3 m run steps args=()
  shift 3
  for m in "$@"; do
    run=$BASE; [ "$m" = 25 ] || run=$BASE-${m}m
    steps=$((STEPS * m / 25))
    trained "$run" "$steps" || { echo "skipping $run: not trained (yet)" >&2; continue; }
    [ "$m" != "${PRIOR_AT:-}" ] || [ -e "runs/$run/title_prior.json" ] || $PG title-prior "runs/$run" > /dev/null
    evaluate_once "$run" "$split" "$OUT/${stem//_/-}-$run-$split.txt"
    args+=(--row "$run" "runs/$run::split=$split,truncation=1" "$(label "$m" "$steps")")
  done
  $PY bench/eval_table.py --out "$OUT/${stem}_$split.json" --features "$FEATURES" \
    --command "bash bench/$script ${VERB_PREFIX:-}train && bash bench/$script ${VERB_PREFIX:-}$split" "${args[@]}"
}

collect_seeds() {  # split prefix tag results-stem label script seeds...: evaluate runs <prefix>-s<seed>, one results file
  # (its command: $SEEDS_COMMAND if set, else "bash bench/<script> train && bash bench/<script> <split>")
  local split=$1 prefix=$2 tag=$3 stem=$4 label=$5 script=$6 s run
  shift 6
  local args=()
  for s in "$@"; do
    run=$prefix-s$s
    trained "$run" || { echo "skipping $run: not trained (yet)" >&2; continue; }
    evaluate_once "$run" "$split" "$OUT/$tag-$run-$split.txt"
    args+=(--row "$run" "runs/$run::split=$split,truncation=1" "$label, seed $s")
  done
  $PY bench/eval_table.py --out "$OUT/${stem}_$split.json" --features "$FEATURES" \
    --command "${SEEDS_COMMAND:-bash bench/$script train && bash bench/$script $split}" "${args[@]}"
}

screen_arm() {  # train|val prefix stem label again seeds... -- train options: one arm of a fixed-step screen ($STEPS),
  # its seeds trained side by side (one core each) as runs <prefix>-s<seed>, or evaluated on val into <stem>_val.json;
  # "again" is the command that reruns the arm (the results file records "again train SEEDS && again val SEEDS")
  local action=$1 prefix=$2 stem=$3 label=$4 again=$5 s seeds=()
  shift 5
  while (($#)) && [ "$1" != -- ]; do seeds+=("$1"); shift; done
  (($#)) && shift
  case "$action" in
  train) for s in "${seeds[@]}"; do train_seed "$prefix-s$s" "$s" "$@" & done
    wait ;;
  val) SEEDS_COMMAND="$again train ${seeds[*]} && $again val ${seeds[*]}" \
      collect_seeds val "$prefix" "$stem" "$stem" "$label" "$again" "${seeds[@]}" ;;
  *) echo "screen_arm: train or val, not $action" >&2; return 2 ;;
  esac
}

grid_sheets() {  # run...: bench/sample_grids.py's category x colour sheet (8 categories x 8 colours, one noise seed) of
  local tmp run  # each run -> $OUT/<run>-category-colour.png
  tmp=$(mktemp -d)
  for run in "$@"; do
    $PY bench/sample_grids.py "runs/$run" --out "$tmp" > /dev/null
    cp "$tmp/$run-category-colour.png" "$OUT/$run-category-colour.png"
  done
  rm -r "$tmp"
}

side_by_side() {  # left.png right.png out.png: two sample grids side by side (left first), 16 px apart, as a palette PNG
  $PY - "$1" "$2" "$3" <<'PYEOF'
import sys
from PIL import Image
a, b = (Image.open(p).convert("RGB") for p in sys.argv[1:3])
out = Image.new("RGB", (a.width + b.width + 16, max(a.height, b.height)), "white")
out.paste(a, (0, 0))
out.paste(b, (a.width + 16, 0))
out.quantize(colors=256).save(sys.argv[3], optimize=True)
print(sys.argv[3])
PYEOF
}
