#!/usr/bin/env bash
# The README's headline quality figures: fit ProductNet, evaluate runs/gan64 and runs/vae64
# (bench/real_catalog_runs.sh) on the held-out test split, collect them with the DCGAN peer's
# metrics into bench/results/headline.json, and re-render the README tables from it.
#
#   bash bench/headline_eval.sh            # runs/productnet64, or the pinned one there (bench/productnet.sh)
#   FIT=1 bash bench/headline_eval.sh      # fit a new ProductNet first (about 2-6 idle minutes)
#
# The DCGAN row is re-measured when its samples are still in /tmp/dcgan-peer (written by
# bench/peers/run_dcgan_peer.py); otherwise the checked-in real-catalog/dcgan-peer-metrics.json
# is used. Run nothing else meanwhile if the evaluation times are to be quoted.
set -euo pipefail
cd "$(dirname "$0")/.."
CAT=../shared/data/fashion-products
PG=.venv/bin/prodgen
PY=.venv/bin/python
OUT=bench/results
if [ "${FIT:-0}" = 1 ]; then  # FIT=1: a new ProductNet (not comparable with the checked-in figures)
  rm -rf runs/productnet64 && bash bench/productnet.sh refit
elif [ ! -e runs/productnet64/config.json ]; then
  bash bench/productnet.sh  # the pinned one
fi
$PG evaluate runs/gan64 --features runs/productnet64 --quiet > "$OUT/real-catalog/gan64-eval.txt" 2>&1
if [ -e /tmp/dcgan-peer/samples.safetensors ]; then
  $PY bench/evaluate_images.py /tmp/dcgan-peer/samples.safetensors --split-from runs/gan64 \
    --features runs/productnet64 --name dcgan-peer --out "$OUT/real-catalog" > /dev/null
fi
$PY bench/eval_table.py --out "$OUT/headline.json" --features runs/productnet64 --command "bash bench/headline_eval.sh" \
  --row gan64 runs/gan64 "prodgen gan, 25 min" \
  --row dcgan "$OUT/real-catalog/dcgan-peer-metrics.json" "pytorch/examples DCGAN, 25 min" \
  --highlight gan64 --unconditional dcgan
$PY bench/render_readme.py
