#!/usr/bin/env bash
# Session 27 (issue 13, sketch -> product): a LEARNED departure from a person's caricatured line, next to snapping's
# retrieval. A doodle filled into a mask (sketch_map's silhouette) is drawn by silhouette pix2pix runs; with
# --model-arg map_coarse=G every mask the run sees (training photos' masks and the user's) goes through a G x G
# raster first (conditioning/maps.coarsen_masks), so it learns to draw a product's true outline from a rough shape and
# the asked type. Every run is bench/sketch_bench.py's pix2pix recipe (500 steps, one thread, batch 64, 64 px);
# the edges pair (p2p, l1) is retrained here so the doodle rows of one results file come from one machine.
# Beside them, on the plain silhouette run: snapping (the nearest training mask of the asked type) and the doodle's
# mask projected onto the asked type's linear shape model of K components (ShapeIndex.project, generate
# --sketch-shape K; K = 0 is the type's mean mask, the drawing ignored: the control). Val screens K = 0, 1, 3, 2, 5;
# test reads K = 0 and the K chosen on val (1: the highest type accuracy).
#
#   bash bench/quickdraw_silhouette.sh train              # what is missing, two at a time, one core each
#   bash bench/quickdraw_silhouette.sh val                # -> bench/results/sketch/quickdraw-val-silhouette.json (+ grids)
#   bash bench/quickdraw_silhouette.sh test               # the final figures, once
#
# Session 28: open outlines (a doodle whose strokes do not meet fills to its line; generate --sketch-close joins the
# stroke ends and fills what they enclose, conditioning/maps.close_outline), on the plain silhouette run, as drawn and
# snapped; the doodles it changes are also scored alone (type and colour accuracy; too few for FID-P):
#   bash bench/quickdraw_silhouette.sh close-val          # -> bench/results/sketch/quickdraw-val-close.json (+ grids)
#   bash bench/quickdraw_silhouette.sh close-test         # once
set -euo pipefail
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
declare -A KIND=([edges-p2p]=edges [edges-l1]=edges [silhouette-p2p]=silhouette [silhouette-p2p-coarse16]=silhouette
                 [silhouette-p2p-coarse8]=silhouette)
declare -A ARG=([edges-p2p]=adv_weight=1 [edges-l1]=adv_weight=0 [silhouette-p2p]=adv_weight=1
                [silhouette-p2p-coarse16]=map_coarse=16 [silhouette-p2p-coarse8]=map_coarse=8)
train() {  # train <name>: runs/sketch-<name>
  local run=runs/sketch-$1
  [ -e "$run/ema.safetensors" ] && return 0
  OMP_NUM_THREADS=1 $PG train --catalog ../shared/data/fashion-products --condition "${KIND[$1]},articleType,baseColour" \
    --resolution 64 --steps 500 --threads 1 --sample-every 250 --out "$run" --quiet --model-arg "${ARG[$1]}"
}
case "${1:-}" in
train) train edges-p2p & train silhouette-p2p & wait
       train edges-l1 & train silhouette-p2p-coarse16 & wait
       train silhouette-p2p-coarse8 ;;
val|test) OMP_NUM_THREADS=2 .venv/bin/python bench/quickdraw_sketches.py --split "$1" --fit lines --threads 2 \
            --silhouette runs/sketch-silhouette-p2p runs/sketch-silhouette-p2p-coarse16 runs/sketch-silhouette-p2p-coarse8 \
            --shape-prior $([ "$1" = val ] && echo 0 1 3 2 5 || echo 0 1) \
            --out "bench/results/sketch/quickdraw-$1-silhouette.json" ;;
close-val|close-test) split=${1#close-}
  OMP_NUM_THREADS=2 .venv/bin/python bench/quickdraw_sketches.py --split "$split" --fit lines --threads 2 \
    --silhouette runs/sketch-silhouette-p2p --close --out "bench/results/sketch/quickdraw-$split-close.json" ;;
*) echo "usage: bash bench/quickdraw_silhouette.sh train|val|test|close-val|close-test" >&2; exit 2 ;;
esac
