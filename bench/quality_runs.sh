#!/usr/bin/env bash
# Issue 13 side-by-side runs on ../shared/data/fashion-products at 64 px, each against the run it changes, at the
# same budget (the step counts 25 idle minutes of ONE core reached on the 2-core Xeon: bench/family_runs.sh), so the
# figures do not depend on the machine's load. The baselines are runs/fam-gan and runs/fam-diffusion of
# bench/family_runs.sh (text,articleType,baseColour; trained before --title-only existed, i.e. title-only 0).
#
#   bash bench/quality_runs.sh train       # the changed runs (about 25 idle core-minutes each; run them one by one
#                                          # or side by side with --threads 1)
#   bash bench/quality_runs.sh val all     # choices: every row on the VALIDATION split -> bench/results/quality/quality_val.json
#   bash bench/quality_runs.sh val gan64   # evaluate one row again, then collect the table (latest evaluation per row)
#   bash bench/quality_runs.sh test all    # the final rows, read once -> bench/results/quality/quality_test.json
#
# Rows:
#   fam-gan-title  the fam-gan recipe with --title-only 0.25 (a quarter of each batch: attributes unspecified,
#                  title kept), the text-steering fix
#   fam-gan-title-dfree  fam-gan-title with D's text projection not spectrally normalised (text_sn=false)
#   fam-flow       the fam-diffusion recipe with --model-arg objective=flow (flow matching, Euler 10 steps)
#   fam-gan-rpgan  fam-gan-title with R3GAN's loss: relativistic pairing + R1 + R2 (gamma 1, lazily every 4th D step),
#                  equal learning rates (gamma 0.05 with TTUR let D win at once in session 8; 200-step probes of gamma 1
#                  balanced by step 150 with equal lrs, step 200 with TTUR)
#   fam-gan-sle    fam-gan-title with FastGAN's skip-layer excitation in the generator
#   fam-gan-rpgan-sle  both
#   fam-gan-r3gan  R3GAN's normalisation-free grouped-conv ResNets (arch=r3gan) with fam-gan-rpgan's loss, at the
#                  fam-gan-title's CPU time (fewer, costlier steps)
#   fam-gan-rpgan-eq  fam-gan-rpgan's loss at fam-gan-title's CPU time (1512 steps), without SLE
#   gan64-sle      the gan64 recipe (3166 steps, attributes only) with skip-layer excitation: SLE at the headline budget
#   gan64-sle-s1   the same with training seed 1
#   gan64-sle-b32, gan64-sle-lrg2  gan64-sle with batch 32 (6332 steps, the same images) / G's learning rate 2e-4
#   gan64-sle-50m, -75m, -100m  gan64-sle continued to 2x, 3x and 4x its steps (bench/long_runs.sh): the 100-minute
#                  GAN and its curve
#   fam-edm        the fam-diffusion recipe with EDM's preconditioning (--model-arg objective=edm, DPM++ 10 steps)
#   fam-vae        bench/family_runs.sh's VAE, on the same split and n as the other rows (the curve's VAE point)
#   fam-edm-25m, -50m, -75m, -100m, fam-vae-25m, -50m  fam-edm and fam-vae continued to 2x and 4x their steps (bench/long_runs.sh):
#                  the diffusion and VAE curves past the family recipe's 12.5 minutes of the 2-core machine
#   gan64          the 25-minute headline GAN (bench/headline runs; attributes only): its title prior
#                  (`prodgen title-prior`) measures title-only generation through the prior
set -euo pipefail
export PRODGEN_AUTO_PRECISION=fp32  # its rows were measured in fp32 (--precision auto is bf16 on an AMX CPU)
cd "$(dirname "$0")/.."
CAT=../shared/data/fashion-products
PG=.venv/bin/prodgen
PY=.venv/bin/python
OUT=bench/results/quality
mkdir -p "$OUT"
COMMON=(--catalog "$CAT" --condition text,articleType,baseColour --resolution 64 --threads 1
        --features runs/productnet64 --quiet)
NOSLE=(--model-arg sle=false)  # rows trained before skip-layer excitation became the default (session 10) had none
OLDAUG=(--model-arg diffaugment=color,translation,cutout --model-arg mode_seeking=0)  # its rows were trained when DiffAugment's
# colour transform was on by default (before session 17), and before the mode-seeking term (on by default since session 28)
# (and every GAN row below passes G's learning rate: 1e-4 unless it says otherwise, the default until session 14)
label() {  # row name -> table label
  case "$1" in
    fam-gan) echo "gan, title-only 0 (fam-gan)" ;;
    fam-gan-title) echo "gan, title-only 0.25 (fam-gan-title)" ;;
    fam-gan-title-dfree) echo "gan, title-only 0.25, D text term not normalised (fam-gan-title-dfree)" ;;
    fam-gan-rpgan) echo "gan, RpGAN + R1/R2 (gamma 1, every 4th D step), equal lr 2e-4, 1854 steps: 1.23x the CPU time (fam-gan-rpgan)" ;;
    fam-gan-sle) echo "gan, skip-layer excitation (fam-gan-sle)" ;;
    fam-gan-sle-s1) echo "gan, skip-layer excitation, training seed 1 (fam-gan-sle-s1)" ;;
    fam-gan-title-s1) echo "gan, title-only 0.25, training seed 1 (fam-gan-title-s1)" ;;
    fam-gan-rpgan-sle) echo "gan, RpGAN + R1/R2 and skip-layer excitation, 1512 steps: equal CPU time (fam-gan-rpgan-sle)" ;;
    fam-gan-r3gan) echo "gan, R3GAN networks + RpGAN + R1/R2, 1490 steps: equal CPU time (fam-gan-r3gan)" ;;
    fam-diffusion*) echo "diffusion, v-pred, DPM++ (fam-diffusion)" ;;
    fam-flow*) echo "flow matching, Euler 10 steps (fam-flow)" ;;
    fam-gan-rpgan-eq) echo "gan, RpGAN + R1/R2 (gamma 1, every 4th D step), equal lr 2e-4, 1512 steps: equal CPU time (fam-gan-rpgan-eq)" ;;
    gan64-sle) echo "gan64 recipe + skip-layer excitation (gan64-sle)" ;;
    gan64-sle-s1) echo "gan64-sle, training seed 1 (gan64-sle-s1)" ;;
    gan64-sle-b32) echo "gan64-sle with batch 32 for 6332 steps: the same images (gan64-sle-b32)" ;;
    gan64-sle-lrg2) echo "gan64-sle with G's learning rate 2e-4 (gan64-sle-lrg2)" ;;
    gan64-sle-50m) echo "gan64-sle at 50 minutes (6332 steps)" ;;
    gan64-sle-75m) echo "gan64-sle at 75 minutes (9498 steps)" ;;
    gan64-sle-100m) echo "gan64-sle at 100 minutes (12664 steps)" ;;
    fam-edm-25m) echo "fam-edm at 25 minutes (2206 steps)" ;;
    fam-edm-50m) echo "fam-edm at 50 minutes (4412 steps)" ;;
    fam-edm-75m) echo "fam-edm at 75 minutes (6618 steps)" ;;
    fam-edm-100m) echo "fam-edm at 100 minutes (8824 steps)" ;;
    fam-edm*) echo "diffusion, EDM preconditioning, DPM++ (fam-edm)" ;;
    fam-vae-25m) echo "fam-vae at 25 minutes (8164 steps)" ;;
    fam-vae-50m) echo "fam-vae at 50 minutes (16328 steps)" ;;
    fam-vae) echo "vae (fam-vae)" ;;
    gan64) echo "gan64: the 25-minute headline GAN (attributes only; titles through its title prior)" ;;
  esac
}
source_of() {  # row name, split -> eval_table source: the run's latest evaluation with the row's settings
  case "$1" in
    fam-diffusion-g1) echo "runs/fam-diffusion::split=$2,steps=10,guidance=1" ;;
    fam-flow-g1|fam-edm-g1) echo "runs/${1%-g1}::split=$2,sampling=default" ;;
    fam-diffusion|fam-flow|fam-edm|fam-edm-[0-9]*m) echo "runs/$1::split=$2,guidance=3" ;;
    fam-vae|fam-vae-[0-9]*m) echo "runs/$1::split=$2,sampling=default" ;;
    *) echo "runs/$1::split=$2,truncation=1" ;;
  esac
}
evaluate_row() {  # row name, split: one `prodgen evaluate` with the row's settings
  case "$1" in
    fam-diffusion-g1) $PG evaluate runs/fam-diffusion --features runs/productnet64 --split "$2" --guidance 1 --quiet ;;
    fam-flow-g1|fam-edm-g1) $PG evaluate runs/${1%-g1} --features runs/productnet64 --split "$2" --quiet ;;
    fam-diffusion|fam-flow|fam-edm|fam-edm-[0-9]*m) $PG evaluate runs/$1 --features runs/productnet64 --split "$2" --guidance 3 --quiet ;;
    *) $PG evaluate runs/$1 --features runs/productnet64 --split "$2" --quiet ;;
  esac > "$OUT/$1-$2.txt" 2>&1
}
VAL_ROWS=(fam-gan fam-gan-title fam-gan-title-s1 fam-gan-title-dfree fam-gan-rpgan fam-gan-rpgan-eq fam-gan-sle fam-gan-sle-s1 fam-gan-rpgan-sle fam-gan-r3gan
          gan64 gan64-sle gan64-sle-s1 gan64-sle-b32 gan64-sle-lrg2 gan64-sle-50m gan64-sle-75m gan64-sle-100m
          fam-diffusion-g1 fam-flow-g1 fam-edm-g1 fam-diffusion fam-flow fam-edm fam-vae
          fam-edm-25m fam-edm-50m fam-edm-75m fam-edm-100m fam-vae-25m fam-vae-50m)
TEST_ROWS=(fam-gan fam-gan-title fam-gan-sle gan64 gan64-sle gan64-sle-100m fam-diffusion fam-flow fam-edm)
case "${1:-}" in
train)
  $PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 "${COMMON[@]}" "${NOSLE[@]}" --title-only 0.25 --steps 1854 --out runs/fam-gan-title --overwrite
  $PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 "${COMMON[@]}" "${NOSLE[@]}" --title-only 0.25 --model-arg text_sn=false --steps 1854 \
    --out runs/fam-gan-title-dfree --overwrite  # val only: not chosen
  $PG train --model diffusion --model-arg objective=flow "${COMMON[@]}" --title-only 0 --steps 1103 \
    --eval-every 300 --eval-n 250 --out runs/fam-flow --overwrite
  $PG train --model gan "${OLDAUG[@]}" "${COMMON[@]}" "${NOSLE[@]}" --title-only 0.25 --steps 1854 --model-arg loss=rpgan --model-arg r1_gamma=1 \
    --model-arg r2_gamma=1 --model-arg reg_every=4 --model-arg lr_d=0.0002 --model-arg lr_g=0.0002 \
    --out runs/fam-gan-rpgan --overwrite
  $PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 "${COMMON[@]}" --title-only 0.25 --steps 1854 --model-arg sle=true --out runs/fam-gan-sle --overwrite
  $PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 "${COMMON[@]}" --title-only 0.25 --steps 1854 --model-arg sle=true --seed 1 \
    --out runs/fam-gan-sle-s1 --overwrite  # a second training seed
  $PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 "${COMMON[@]}" "${NOSLE[@]}" --title-only 0.25 --steps 1854 --seed 1 \
    --out runs/fam-gan-title-s1 --overwrite  # and of the run it changes
  # RpGAN + SLE at fam-gan-title's CPU time: 1854 x 0.919 / 1.127 s a step (dcgan hinge / dcgan rpgan,
  # bench/gan_arch_speed.py); fam-gan-rpgan above ran 1854 steps, i.e. about 1.23x the CPU time
  $PG train --model gan "${OLDAUG[@]}" "${COMMON[@]}" --title-only 0.25 --steps 1512 --model-arg loss=rpgan --model-arg r1_gamma=1 \
    --model-arg r2_gamma=1 --model-arg reg_every=4 --model-arg lr_d=0.0002 --model-arg lr_g=0.0002 --model-arg sle=true \
    --out runs/fam-gan-rpgan-sle --overwrite
  # R3GAN's networks at equal CPU time: 1854 x 0.919 / 1.143 s a step (dcgan hinge / r3gan rpgan, bench/gan_arch_speed.py)
  $PG train --model gan "${OLDAUG[@]}" "${COMMON[@]}" --title-only 0.25 --steps 1490 --model-arg arch=r3gan --model-arg loss=rpgan \
    --model-arg r1_gamma=1 --model-arg r2_gamma=1 --model-arg reg_every=4 --model-arg lr_d=0.0002 --model-arg lr_g=0.0002 \
    --out runs/fam-gan-r3gan --overwrite
  # RpGAN alone at fam-gan-title's CPU time (the 1512 steps of fam-gan-rpgan-sle above)
  $PG train --model gan "${OLDAUG[@]}" "${COMMON[@]}" "${NOSLE[@]}" --title-only 0.25 --steps 1512 --model-arg loss=rpgan --model-arg r1_gamma=1 \
    --model-arg r2_gamma=1 --model-arg reg_every=4 --model-arg lr_d=0.0002 --model-arg lr_g=0.0002 \
    --out runs/fam-gan-rpgan-eq --overwrite
  # SLE at the headline recipe: bench/real_catalog_runs.sh's gan64 (attributes only, 3166 steps) + sle=true
  # (session 13: retrained with --snapshot-every 25, which leaves training as it was, for bench/ema_sweep.sh; and a
  # second training seed, side by side on one core each)
  $PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 --catalog "$CAT" --resolution 64 --steps 3166 --threads 1 --model-arg sle=true --quiet \
    --snapshot-every 25 --out runs/gan64-sle --overwrite &
  $PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 --catalog "$CAT" --resolution 64 --steps 3166 --threads 1 --model-arg sle=true --quiet \
    --snapshot-every 25 --seed 1 --out runs/gan64-sle-s1 --overwrite
  wait
  # EDM's preconditioning at fam-diffusion's budget (and title-only 0, as fam-flow)
  $PG train --model diffusion --model-arg objective=edm "${COMMON[@]}" --title-only 0 --steps 1103 \
    --eval-every 300 --eval-n 250 --out runs/fam-edm --overwrite
  # session 13, two single changes of the 25-minute recipe side by side on one core each, with snapshots: batch 32 for
  # twice the steps (the same images; CPU time compared through the images/s of the side-by-side runs), and G's
  # learning rate 2e-4 (D keeps 4e-4)
  $PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 --catalog "$CAT" --resolution 64 --steps 6332 --batch-size 32 --threads 1 --model-arg sle=true \
    --quiet --snapshot-every 50 --out runs/gan64-sle-b32 --overwrite &
  $PG train --model gan "${OLDAUG[@]}" --catalog "$CAT" --resolution 64 --steps 3166 --threads 1 --model-arg sle=true \
    --model-arg lr_g=2e-4 --quiet --snapshot-every 25 --out runs/gan64-sle-lrg2 --overwrite
  wait
  # and their second seeds to the 12.5-minute step counts only (the time left in session 13)
  $PG train --model gan "${OLDAUG[@]}" --catalog "$CAT" --resolution 64 --steps 1575 --threads 1 --model-arg sle=true \
    --model-arg lr_g=2e-4 --seed 1 --quiet --out runs/gan64-sle-lrg2-s1-half --overwrite &
  $PG train --model gan "${OLDAUG[@]}" --model-arg lr_g=1e-4 --catalog "$CAT" --resolution 64 --steps 2850 --batch-size 32 --threads 1 --model-arg sle=true \
    --seed 1 --quiet --out runs/gan64-sle-b32-s1-half --overwrite
  wait
  # the 100-minute GAN: gan64-sle continued (snapshots at 50, 75 and 100 minutes)
  bash bench/long_runs.sh
  # the EDM and VAE curves past the family recipe: 25 and 50 minutes, side by side on one core each
  THREADS=1 bash bench/long_runs.sh fam-edm 12.5 25 50 & THREADS=1 bash bench/long_runs.sh fam-vae 12.5 25 50; wait
  THREADS=2 bash bench/long_runs.sh fam-edm 12.5 75 100  # (session 12 left this running; next: evaluate the rows)
  # title priors for runs trained before text runs fitted their own (and for gan64, which has no text input)
  $PG title-prior runs/fam-gan-title
  $PG title-prior runs/gan64
  $PG title-prior runs/gan64-sle ;;
val|test)  # bash bench/quality_runs.sh val [ROW... | all]: evaluate those rows, then collect every row's latest
  split=$1; shift  # evaluation with its settings (diffusion and flow: guidance 1 and 3 on val, 3 won for both)
  if [ "$split" = val ]; then rows_=("${VAL_ROWS[@]}"); else rows_=("${TEST_ROWS[@]}"); fi
  todo=("$@"); [ "${1:-}" = all ] && todo=("${rows_[@]}")
  for row in "${todo[@]}"; do evaluate_row "$row" "$split"; done
  args=()
  for row in "${rows_[@]}"; do
    src=$(source_of "$row" "$split")
    if [ ! -d "${src%%::*}" ]; then
      # a row the checked-in table has would be dropped: runs/ does not carry between checkouts, so stop instead
      if grep -q "\"name\": \"$row\"" "$OUT/quality_$split.json" 2>/dev/null; then
        echo "runs/${row} is missing but $OUT/quality_$split.json has its row: retrain it (bench/quality_runs.sh" \
             "train) or restore runs/ before collecting; nothing written" >&2; exit 1
      fi
      echo "skipping $row: ${src%%::*} is not trained (yet)" >&2; continue
    fi
    args+=(--row "$row" "$src" "$(label "$row")")
  done
  $PY bench/eval_table.py --out "$OUT/quality_$split.json" --features runs/productnet64 \
    --command "bash bench/quality_runs.sh $split (rows evaluated by earlier calls: each row's latest evaluation)" \
    "${args[@]}" --highlight gan64 ;;
*)
  echo "usage: bash bench/quality_runs.sh train | val [ROW...|all] | test [ROW...|all]" >&2; exit 2 ;;
esac
