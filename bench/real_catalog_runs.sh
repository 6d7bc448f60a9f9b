#!/usr/bin/env bash
# The real-catalog runs behind the README's results (issue 2): a 25-minute GAN,
# an 8-minute VAE (the README's figures come from 8 minutes under load), and the pytorch/examples DCGAN peer for the same 25 minutes,
# all at 64x64 on ../shared/data/fashion-products, one after another on the same
# machine (run nothing else meanwhile). Run folders go to runs/ (not in git);
# the grids copied into bench/results/ are the ones the README shows.
#
#   bash bench/real_catalog_runs.sh [PATH_TO_PYTORCH_EXAMPLES_CHECKOUT]
set -euo pipefail
cd "$(dirname "$0")/.."
CAT=../shared/data/fashion-products
BIN=.venv/bin
OUT=bench/results/real-catalog
mkdir -p "$OUT" runs

$BIN/prodgen train --model gan --catalog $CAT --resolution 64 --out runs/gan64 --minutes 25 --quiet
$BIN/prodgen train --model vae --catalog $CAT --resolution 64 --out runs/vae64 --minutes 8 --quiet
$BIN/python bench/sample_grids.py runs/gan64 runs/vae64 --out "$OUT"
# then: bash bench/headline_eval.sh (ProductNet, evaluation, bench/results/headline.json, README)

if [ $# -ge 1 ]; then
  $BIN/python bench/peers/run_dcgan_peer.py --examples "$1" --catalog $CAT --minutes 25 --out /tmp/dcgan-peer
  cp "/tmp/dcgan-peer/$(python3 -c 'import json;print(json.load(open("/tmp/dcgan-peer/peer_summary.json"))["last_grid"])')" "$OUT/dcgan-peer-25min.png"
  cp /tmp/dcgan-peer/peer_summary.json "$OUT/dcgan-peer-summary.json"
fi
