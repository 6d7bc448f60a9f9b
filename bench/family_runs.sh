#!/usr/bin/env bash
# Equal-budget family comparison on ../shared/data/fashion-products at 64x64 (issue 4).
# Budget: 25 minutes of ONE CPU core per run (--threads 1), two runs at a time on the
# 2-core machine (gan + diffusion, then vae), nothing else heavy running. Every run is
# conditioned on the title text + articleType + baseColour, with a cheap FID/KID on the
# val split during training (its time is not counted in --minutes).
#   bash bench/family_runs.sh           # then: bash bench/family_eval.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CAT=../shared/data/fashion-products
COMMON=(--catalog "$CAT" --condition text,articleType,baseColour --resolution 64 --minutes 25 --threads 1
        --features runs/productnet64 --overwrite --quiet)
.venv/bin/prodgen train --model gan "${COMMON[@]}" --out runs/fam-gan --eval-every 400 --eval-n 500 > runs/fam-gan.log 2>&1 &
.venv/bin/prodgen train --model diffusion "${COMMON[@]}" --out runs/fam-diffusion --eval-every 300 --eval-n 250 > runs/fam-diffusion.log 2>&1 &
wait
.venv/bin/prodgen train --model vae "${COMMON[@]}" --out runs/fam-vae --eval-every 400 --eval-n 500 > runs/fam-vae.log 2>&1
