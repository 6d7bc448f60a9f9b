#!/usr/bin/env bash
# Session 26: MSGAN's mode-seeking term (Mao et al. 2019; --model-arg mode_seeking=1, the paper's weight: G's batch is
# two halves with the same conditions, and 1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5) joins G's loss) against
# the recipe, the same short screen as bench/grow_screen.sh and bench/bcr_screen.sh (fp32, 1200 steps, validation
# split only, n=796, pinned ProductNet).
#   recipe: bench/grow_screen.sh's recipe arm (runs/grow-screen-recipe-s<seed>, 1200 fp32 steps, trained in session 21;
#           its rows are bench/results/quality/grow_screen_recipe_val.json).
#   ms:     the same recipe with the mode-seeking term. It costs no pass of its own: side by side on one core each it
#           trains at the recipe's images/s within a short pair's noise (bench/results/quality/mode_seeking_speed_fp32.json),
#           so the same 1200 steps.
#
#   The recipe arm was retrained on this session's machine too (a Zen 4 EPYC; `STEPS=1200 bash
#   bench/recipe_steps_screen.sh train 0 1`): fp32 kernels differ between CPUs, and seed 0 read 155.4 here against
#   161.9 in session 21, so the screen compares with these rows (recipe_1200_screen_val.json).
#
#   WEIGHT=1 bash bench/mode_seeking_screen.sh train SEEDS...   # two seeds side by side, one core each (~18 min)
#   WEIGHT=1 bash bench/mode_seeking_screen.sh val SEEDS...     # -> bench/results/quality/mode_seeking_screen_val.json
#   (WEIGHT=0.1: runs ms0.1-screen-s*, results mode_seeking_0.1_screen_val.json; WEIGHT 1 keeps its first names)
#   Session 28: CENTRED=1 measures the image distance after each image's mean colour is taken away
#   (--model-arg mode_seeking_centred=true; runs ms<W>-centred-screen-s*, results mode_seeking_<W>_centred_screen_val.json):
#   at 0.1 and the full budget the colours came out paler and baseColour accuracy fell.
#   Session 29: POOL=P measures the image distance after a P x P average pool (--model-arg mode_seeking_pool=P; runs
#   ms<W>-pool<P>-screen-s*, results mode_seeking_<W>_pool<P>_screen_val.json): at 0.1 and the full budget seed 2's
#   Black items came out printed and checked, a fine pattern being the cheapest pixel distance.
#   Session 30: COLOUR=C adds the colour-keeping term at weight C (--model-arg colour_keep=C: the L1 distance between
#   the mean colour of each fake's product pixels and that of the real image of its condition; runs
#   ms<W>-colour<C>-screen-s*, results mode_seeking_<W>_colour<C>_screen_val.json), for the baseColour accuracy lost.
#   FADE=N lowers the weight linearly to 0 over N G steps (--model-arg mode_seeking_fade=N; runs ms<W>-fade<N>-screen-s*,
#   results mode_seeking_<W>_fade<N>_screen_val.json): variety early, the recipe's colours late.
#   Session 33: AUX=W adds an auxiliary classifier on D (AC-GAN, Odena et al. 2017; --model-arg aux_cls=W, one weight
#   or one per attribute, e.g. AUX=0,1 for baseColour only; runs ms<W>-aux<W's, commas as dashes>-screen-s*, results
#   mode_seeking_<W>_aux<...>_screen_val.json): G is told directly to paint the colour it is asked for, the accuracy
#   mode seeking costs.
#   Session 33 (an Ice Lake Xeon, family 6 model 106: fp32 kernels differ from the Zen 4's): TAG=icx names this
#   machine's runs and results apart (ms<W>-...-screen-icx-s*, ..._screen_icx_val.json), so that each arm is
#   compared only with arms trained on the same machine.
set -euo pipefail
DIFFAUG=translation,cutout
STEPS=1200
WEIGHT=${WEIGHT:-1}
source "$(dirname "$0")/seed_runs.sh"
MS=(--model-arg "mode_seeking=$WEIGHT")
if [ "$WEIGHT" = 1 ]; then prefix=ms-screen; stem=mode_seeking_screen; else prefix=ms$WEIGHT-screen; stem=mode_seeking_${WEIGHT}_screen; fi
what="mode seeking (weight $WEIGHT)"
if [ "${CENTRED:-0}" = 1 ]; then
  MS+=(--model-arg mode_seeking_centred=true); prefix=ms$WEIGHT-centred-screen; stem=mode_seeking_${WEIGHT}_centred_screen
  what="mode seeking (weight $WEIGHT, colour-centred distance)"
fi
if [ "${POOL:-1}" != 1 ]; then
  MS+=(--model-arg "mode_seeking_pool=$POOL"); prefix=ms$WEIGHT-pool$POOL-screen; stem=mode_seeking_${WEIGHT}_pool${POOL}_screen
  what="mode seeking (weight $WEIGHT, distance after ${POOL}x$POOL pooling)"
fi
if [ "${COLOUR:-0}" != 0 ]; then
  MS+=(--model-arg "colour_keep=$COLOUR"); prefix=ms$WEIGHT-colour$COLOUR-screen; stem=mode_seeking_${WEIGHT}_colour${COLOUR}_screen
  what="mode seeking (weight $WEIGHT) and colour keeping (weight $COLOUR)"
fi
if [ "${FADE:-0}" != 0 ]; then
  MS+=(--model-arg "mode_seeking_fade=$FADE"); prefix=ms$WEIGHT-fade$FADE-screen; stem=mode_seeking_${WEIGHT}_fade${FADE}_screen
  what="mode seeking (weight $WEIGHT, falling to 0 over $FADE steps)"
fi
if [ -n "${AUX:-}" ]; then
  a=${AUX//,/-}
  MS+=(--model-arg "aux_cls=$AUX"); prefix=ms$WEIGHT-aux$a-screen; stem=mode_seeking_${WEIGHT}_aux${a}_screen
  what="mode seeking (weight $WEIGHT) and an auxiliary classifier on D (weights $AUX)"
fi
if [ -n "${TAG:-}" ]; then  # TAG=T: this machine's rows beside another's (runs <prefix>-T-s*, results <stem>_T_val.json)
  prefix=$prefix-$TAG; stem=${stem}_$TAG
fi
case "${1:-}" in
train|val) again="bash bench/mode_seeking_screen.sh"
  [ "$WEIGHT" = 1 ] || again="WEIGHT=$WEIGHT $again"
  [ "${CENTRED:-0}" = 1 ] && again="CENTRED=1 $again"
  [ "${POOL:-1}" != 1 ] && again="POOL=$POOL $again"
  [ "${COLOUR:-0}" != 0 ] && again="COLOUR=$COLOUR $again"
  [ "${FADE:-0}" != 0 ] && again="FADE=$FADE $again"
  [ -n "${AUX:-}" ] && again="AUX=$AUX $again"
  [ -n "${TAG:-}" ] && again="TAG=$TAG $again"
  screen_arm "$1" "$prefix" "$stem" "fp32, $what, $STEPS steps" "$again" "${@:2}" -- \
    --precision fp32 --batch-size 64 "${MS[@]}" ;;
*) echo "usage: WEIGHT=W bash bench/mode_seeking_screen.sh train|val SEEDS..." >&2; exit 2 ;;
esac
