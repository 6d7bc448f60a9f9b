#!/usr/bin/env bash
# Equal-budget family comparison on ../shared/data/fashion-products at 64x64 (issue 4).
# Budget: 25 minutes of ONE CPU core per run (--threads 1), two runs at a time on the
# 2-core machine (gan + diffusion, then vae). Every run is conditioned on the title text +
# articleType + baseColour, with a cheap FID/KID on the val split during training (its time
# is not counted in the budget).
#
# By default each run trains for the fixed number of steps that 25 idle minutes reached on
# the 2-core Xeon (gan 1854, diffusion 1103, vae 4082), so the table can be reproduced on any
# machine, loaded or not. BUDGET=minutes trains for 25 wall-clock minutes instead (needs an
# idle machine; the step counts then depend on the CPU).
#   bash bench/family_runs.sh           # then: bash bench/family_eval.sh sweep; ... final
set -euo pipefail
export PRODGEN_AUTO_PRECISION=fp32  # its rows were measured in fp32 (--precision auto is bf16 on an AMX CPU)
cd "$(dirname "$0")/.."
CAT=../shared/data/fashion-products
PG=.venv/bin/prodgen
[ -e runs/productnet64/productnet.json ] || bash bench/productnet.sh  # the pinned ProductNet
budget() {  # budget <steps at 25 idle minutes>
  if [ "${BUDGET:-steps}" = minutes ]; then echo --minutes 25; else echo --steps "$1"; fi
}
COMMON=(--catalog "$CAT" --condition text,articleType,baseColour --resolution 64 --threads 1
        --features runs/productnet64 --overwrite --quiet)
OLDAUG=(--model-arg diffaugment=color,translation,cutout --model-arg mode_seeking=0)  # its rows were trained when DiffAugment's
# colour transform was on by default (before session 17), and before the mode-seeking term (on by default since session 28)
$PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 "${COMMON[@]}" --model-arg sle=false $(budget 1854) --out runs/fam-gan --eval-every 400 --eval-n 500 > runs/fam-gan.log 2>&1 &
$PG train --model diffusion "${COMMON[@]}" $(budget 1103) --out runs/fam-diffusion --eval-every 300 --eval-n 250 > runs/fam-diffusion.log 2>&1 &
wait
$PG train --model vae "${COMMON[@]}" $(budget 4082) --out runs/fam-vae --eval-every 400 --eval-n 500 > runs/fam-vae.log 2>&1
