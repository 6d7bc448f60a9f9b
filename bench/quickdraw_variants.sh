#!/usr/bin/env bash
# pix2pix variants screened on the val doodles of bench/quickdraw_sketches.py (issue 13): training maps that look more
# like a person's drawing, and the plain recipe trained 4x longer (2,000 steps). Each is the edges pix2pix recipe of
# bench/sketch_bench.py (500 steps, one thread) with one model argument; two train at a time, one core each, then each
# is scored on the val doodles (fit lines).
#
#   bash bench/quickdraw_variants.sh      # trains what is missing (also the plain runs), scores; then render_readme.py
set -euo pipefail
cd "$(dirname "$0")/.."
PG=.venv/bin/prodgen
declare -A ARGS=([p2p]=adv_weight=1 [l1]=adv_weight=0 [p2p-outline05]=map_outline=0.5 [p2p-outline025]=map_outline=0.25
                 [p2p-warp03]=map_warp=0.03 [p2p-warp05]=map_warp=0.05 [p2p-2000]=adv_weight=1)
train() {  # train <run suffix> [steps]: runs/sketch-edges-<suffix>; adv_weight=1 is the default (the plain pix2pix)
  local run=runs/sketch-edges-$1
  [ -e "$run/ema.safetensors" ] && return 0
  $PG train --catalog ../shared/data/fashion-products --condition edges,articleType,baseColour --resolution 64 \
    --steps "${2:-500}" --threads 1 --sample-every 250 --out "$run" --quiet --model-arg "${ARGS[$1]}"
}
train p2p & train l1 & wait
[ -e bench/results/sketch/quickdraw-val.json ] || OMP_NUM_THREADS=2 .venv/bin/python bench/quickdraw_sketches.py --split val --threads 2
train p2p-outline05 & train p2p-outline025 & wait
train p2p-warp03 & train p2p-warp05 & wait
train p2p-2000 2000  # the plain recipe trained 4x longer
for v in outline05:outline05 outline025:outline025 warp03:warp03 warp05:warp05 2000:steps2000; do
  OMP_NUM_THREADS=1 .venv/bin/python bench/quickdraw_sketches.py --split val --fit lines --p2p "runs/sketch-edges-p2p-${v%%:*}" \
    --out "bench/results/sketch/quickdraw-val-${v##*:}.json" --no-grid
done
