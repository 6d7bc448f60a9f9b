#!/usr/bin/env bash
# Session 18: variants of today's 25-minute GAN recipe (bf16, G 2e-4, batch 64, SLE, DiffAugment translation + cutout,
# 5575 steps), each at the same CPU time, seeds trained on one core (two side by side) and compared on the VALIDATION
# split (n=796, truncation 1, own EMA, pinned ProductNet) with bench/diffaug_color.sh's rows (gan64-sle-noclr-s0..2).
#   b128: batch 128. Side by side on one core each a batch-128 step runs at 193.7 images/s against batch 64's 177.3
#         (1.092x; bench/results/quality/b128_speed.json), so the 5575 batch-64 steps' CPU time buys
#         5575 * 1.092 / 2 = 3044 batch-128 steps. Learning rates unchanged.
#   lrdecay: both learning rates fall linearly toward 0 over the last half of the 5575 steps (train --lr-decay 0.5;
#         budgeted training, Li et al. 2020; pix2pix decays over its second half too). Same steps, same cost a step.
#   lrdecay-hi: lrdecay with 1.5x both peak rates (G 3e-4, D 6e-4): with a decay the best peak rate is often higher.
#   w15: G and D 1.5x as wide (g_base 24, d_base 48, caps 384). Side by side on one core each it trains at 93.6
#         images/s against the default widths' 173.5 (0.539x; bench/results/quality/width15_speed.json), so the
#         budget buys 5575 * 0.539 = 3005 steps.
#   w075: G and D 0.75x as wide (g_base 12, d_base 24, caps 192): 222.1 against 179.9 images/s (1.235x;
#         bench/results/quality/width075_speed.json), so the budget buys 5575 * 1.235 = 6885 steps.
#
#   recon: FastGAN's self-supervised discriminator (--model-arg d_recon=1: two small decoders rebuild the augmented
#         real image and a random quadrant of it from D's 8x8 and 16x16 maps, L1). Side by side on one core each it
#         trains at 134.9 images/s against the recipe's 152.7 (0.883x; bench/results/quality/recon_speed.json), so
#         the budget buys 5575 * 0.883 = 4923 steps.
#   lecam: LeCam regularisation (Tseng et al. 2021) at the paper's BigGAN weight (--model-arg lecam=0.3): a few
#         scalar operations a step, so the same 5575 steps.
#
# Session 20 (the recipe now: 25 minutes = 7171 steps, after the faster kernels and D's one pass over real and fake,
# bench/results/quality/kernels_speed.json and onepass_speed.json; its rows are bench/frozen_steps.sh's
# gan64-sle-noclr-s*-6166-6733-7171, compared on val):
#   shared: G's step reuses the fakes D's step drew (--model-arg shared_fake=true; the pytorch/examples DCGAN order).
#         Side by side on one core each it trains at 240.1 images/s against the recipe's 212.9 (1.128x;
#         bench/results/quality/shared_fake_speed.json), so the budget buys 7171 * 1.128 = 8089 steps.
#
# Session 25 (a 2-core AMD EPYC with AVX-512 bf16, no AMX: bf16 1.56x fp32 there, bf16_speed_avx512.json, so the
# Xeon's 25-minute step count is this machine's too, within its speed):
#   recipe25: today's recipe itself, 7171 steps, trained on this machine (its rows beside the Xeon's say whether bf16
#         here trains as it did there).
#   bcrreal: bCR on real images only (--model-arg bcr_real=10; bench/bcr_screen.sh had both halves, at 1200 fp32
#         steps). Side by side on one core each it trains at 120.6 images/s against the recipe's 139.4 (0.865x;
#         bench/results/quality/bcr_real_speed_bf16.json), so the budget buys 7171 * 0.865 = 6203 steps.
#
# Session 26 (a 2-core AMD EPYC of family 25, AVX-512 bf16, no AMX; "auto" probes and picks bf16):
#   topk: top-k training (Sinha et al. 2020; --model-arg topk_keep=0.5 topk_steps=3585): G learns only from the
#         fakes D rates most real, k falling geometrically from the batch to half of it over the first half of the
#         run. Same work a step (a top-k of 64 logits): 108.6 against 110.6 images/s side by side, 0.982x, within
#         the noise of a 100-step pair (bench/results/quality/topk_speed_bf16.json), so the same 7171 steps.
#   topk75: the same with the floor at 0.75 of the batch (the paper's other setting).
#   ms01: MSGAN's mode-seeking term at weight 0.1 (--model-arg mode_seeking=0.1), the one bench/mode_seeking_screen.sh
#         variant that lowered FID-P at both screen seeds. No pass of its own (1.034x side by side, fp32,
#         bench/results/quality/mode_seeking_speed_fp32.json: noise), so the same 7171 steps.
#   ms005: the same at weight 0.05 (--model-arg mode_seeking=0.05), for the case where ms01 buys FID-P with accuracy.
#         Trained in session 32 (seeds 1, 2): val passed its rule, test lost (colour as 0.1's, FID-P higher).
#
# Session 28 (session 26/27's Zen 4 again):
#   noms: the recipe without mode seeking (--model-arg mode_seeking=0), retrained on the machine that trained ms01's
#         rows (recipe25's rows came from session 25's Zen 5); the same settings as recipe25. Its seeds trained as
#         `recipe25 train 1 2` (that is what the command was when they started) and were renamed to gan64-sle-noms-s*.
# Session 29:
#   ms01p4: mode seeking at 0.1 with its distance after a 4x4 average pool (--model-arg mode_seeking_pool=4), so that
#         fine patterns buy G no variety (seed 2 of ms01 painted its Black items with prints and checks). One average
#         pool of G's images a step (not timed: next to a step's convolutions it is nothing), so the same 7171 steps.
#         Not trained: its 1,200-step screen lost (POOL=4 in bench/mode_seeking_screen.sh: FID-P higher at both seeds
#         than plain weight 0.1, baseColour not back).
#   Session 33 (an Ice Lake Xeon, no fast bf16; not trained yet):
#   acgan: mode seeking 0.1 with an auxiliary baseColour classifier on D at weight 0.05 (--model-arg aux_cls=0,0.05;
#         AC-GAN), the one weight of four that passed the 1,200-step screen (AUX=0,0.05 TAG=icx in
#         bench/mode_seeking_screen.sh). One linear layer on D's pooled features: no pass of its own, so the same 7171
#         steps. The default's attributes are articleType,baseColour, so 0,0.05 heads baseColour only.
#   ms01 is prodgen's default since session 28 (its rows are today's recipe). train_seed (bench/seed_runs.sh) keeps
#   mode seeking off unless a variant names a weight, so every other variant here trains as its rows did.
#
#   bash bench/recipe_variants25.sh VARIANT train SEEDS...   # two at a time side by side, one core each (~34 min a pair)
#   bash bench/recipe_variants25.sh VARIANT train-seed SEED [--threads 2]   # one seed
#   bash bench/recipe_variants25.sh VARIANT val|test SEEDS...   # -> bench/results/quality/<variant>_<split>.json
#   bash bench/recipe_variants25.sh VARIANT grids SEEDS...      # category x colour sheets -> bench/results/quality/
#   bash bench/recipe_variants25.sh VARIANT pair-grids BASE SEED # BASE's sheet beside VARIANT's -> <BASE>-vs-<VARIANT>-s<SEED>.png
set -euo pipefail
variant=${1:-}
DIFFAUG=translation,cutout  # train_seed's policies (bench/seed_runs.sh): the default since session 17
case "$variant" in
b128) STEPS=3044; ARGS=(--batch-size 128); LABEL="bf16, batch 128, $STEPS steps (equal CPU time)" ;;
lrdecay) STEPS=5575; ARGS=(--lr-decay 0.5); LABEL="bf16, learning rates to 0 over the last half, $STEPS steps" ;;
lrdecay-hi) STEPS=5575; LR_G=3e-4; ARGS=(--lr-decay 0.5 --model-arg lr_d=6e-4)
  LABEL="bf16, G 3e-4 and D 6e-4 falling to 0 over the last half, $STEPS steps" ;;
w15) STEPS=3005; ARGS=(--model-arg g_base=24 --model-arg d_base=48 --model-arg g_cap=384 --model-arg d_cap=384)
  LABEL="bf16, G and D 1.5x as wide, $STEPS steps (equal CPU time)" ;;
w075) STEPS=6885; ARGS=(--model-arg g_base=12 --model-arg d_base=24 --model-arg g_cap=192 --model-arg d_cap=192)
  LABEL="bf16, G and D 0.75x as wide, $STEPS steps (equal CPU time)" ;;
recon) STEPS=4923; ARGS=(--model-arg d_recon=1)
  LABEL="bf16, FastGAN's D reconstruction (weight 1), $STEPS steps (equal CPU time)" ;;
lecam) STEPS=5575; ARGS=(--model-arg lecam=0.3); LABEL="bf16, LeCam regularisation (weight 0.3), $STEPS steps" ;;
shared) STEPS=8089; ARGS=(--model-arg shared_fake=true)
  LABEL="bf16, G's step reuses D's step's fakes, $STEPS steps (equal CPU time)" ;;
recipe25) STEPS=7171; ARGS=(); LABEL="bf16, today's recipe, $STEPS steps" ;;  # session 25's; mode seeking off (train_seed)
bcrreal) STEPS=6203; ARGS=(--model-arg bcr_real=10)
  LABEL="bf16, bCR on real images (weight 10), $STEPS steps (equal CPU time)" ;;
topk) STEPS=7171; ARGS=(--model-arg topk_keep=0.5 --model-arg topk_steps=3585)
  LABEL="bf16, top-k training (k from 64 to 32 over 3585 steps), $STEPS steps" ;;
topk75) STEPS=7171; ARGS=(--model-arg topk_keep=0.75 --model-arg topk_steps=3585)
  LABEL="bf16, top-k training (k from 64 to 48 over 3585 steps), $STEPS steps" ;;
ms01) STEPS=7171; ARGS=(--model-arg mode_seeking=0.1); LABEL="bf16, mode seeking (weight 0.1), $STEPS steps" ;;
noms) STEPS=7171; ARGS=(--model-arg mode_seeking=0); LABEL="bf16, the recipe without mode seeking, $STEPS steps" ;;
ms005) STEPS=7171; ARGS=(--model-arg mode_seeking=0.05); LABEL="bf16, mode seeking (weight 0.05), $STEPS steps" ;;
acgan) STEPS=7171; ARGS=(--model-arg mode_seeking=0.1 --model-arg aux_cls=0,0.05)
  LABEL="bf16, mode seeking (weight 0.1) and a baseColour head on D (weight 0.05), $STEPS steps" ;;
ms01p4) STEPS=7171; ARGS=(--model-arg mode_seeking=0.1 --model-arg mode_seeking_pool=4)
  LABEL="bf16, mode seeking (weight 0.1, distance after 4x4 pooling), $STEPS steps" ;;
*) echo "usage: bash bench/recipe_variants25.sh b128|lrdecay|lrdecay-hi|w15|w075|recon|lecam|shared|recipe25|bcrreal|topk|topk75|ms01|ms005|ms01p4|noms|acgan train SEEDS...|train-seed SEED|val SEEDS...|test SEEDS...|grids SEEDS..." >&2
   exit 2 ;;
esac
source "$(dirname "$0")/seed_runs.sh"
prefix=gan64-sle-$variant
case "${2:-}" in
train-seed) train_seed "$prefix-s$3" "$3" --precision bf16 "${ARGS[@]}" "${@:4}" ;;
train) set -- "${@:3}"
  while (($#)); do
    train_seed "$prefix-s$1" "$1" --precision bf16 "${ARGS[@]}" &
    (($# > 1)) && train_seed "$prefix-s$2" "$2" --precision bf16 "${ARGS[@]}"
    wait; shift $(($# > 1 ? 2 : 1))
  done ;;
val|test) SEEDS_COMMAND="bash bench/recipe_variants25.sh $variant train ${*:3} && bash bench/recipe_variants25.sh $variant $2 ${*:3}" \
  collect_seeds "$2" "$prefix" "$variant" "$variant" "$LABEL" "recipe_variants25.sh $variant" "${@:3}" ;;
grids) seeds=("${@:3}"); grid_sheets "${seeds[@]/#/$prefix-s}" ;;
pair-grids) base=$3 seed=$4  # another variant's sheet (left) beside this one's (right), one seed -> $OUT/<base>-vs-<variant>-s<seed>.png
  keep=$OUT; OUT=$(mktemp -d)
  grid_sheets "gan64-sle-$base-s$seed" "$prefix-s$seed"
  side_by_side "$OUT/gan64-sle-$base-s$seed-category-colour.png" "$OUT/$prefix-s$seed-category-colour.png" \
    "$keep/$base-vs-$variant-s$seed.png"
  rm -r "$OUT" ;;
*) echo "usage: bash bench/recipe_variants25.sh $variant train SEEDS...|train-seed SEED|val SEEDS...|test SEEDS...|grids SEEDS...|pair-grids BASE SEED" >&2
   exit 2 ;;
esac
