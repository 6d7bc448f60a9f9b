#!/usr/bin/env bash
# The real-catalog runs behind the README's headline table (issue 2): prodgen's GAN and the
# pytorch/examples DCGAN peer at the same budget, at 64x64 on ../shared/data/fashion-products.
#
# Budget: 25 idle minutes of the 2-core machine each. By default both train for the amount of
# work 25 idle minutes reached there (prodgen gan: 3166 steps of 64; DCGAN peer: 15 epochs), so
# the runs are reproducible on a loaded or different machine; BUDGET=minutes trains for 25
# wall-clock minutes instead (run nothing else meanwhile). THREADS sets torch's CPU threads
# (default 2; the step counts do not depend on it).
#
#   bash bench/real_catalog_runs.sh [PATH_TO_PYTORCH_EXAMPLES_CHECKOUT]
#   then: bash bench/headline_eval.sh (ProductNet, evaluation, bench/results/headline.json, README)
set -euo pipefail
export PRODGEN_AUTO_PRECISION=fp32  # its rows were measured in fp32 (--precision auto is bf16 on an AMX CPU)
cd "$(dirname "$0")/.."
CAT=../shared/data/fashion-products
BIN=.venv/bin
OUT=bench/results/real-catalog
THREADS=${THREADS:-2}
mkdir -p "$OUT" runs
if [ "${BUDGET:-steps}" = minutes ]; then GAN=(--minutes 25); PEER=(--minutes 25); else GAN=(--steps 3166); PEER=(--epochs 15); fi

# --model-arg sle=false and lr_g=1e-4: the headline gan64 predates the skip-layer-excitation default (bench/quality_runs.sh
# gan64-sle) and G's learning rate 2e-4 (session 14, bench/lr_g_seeds.sh)
$BIN/prodgen train --model gan --model-arg lr_g=1e-4 --model-arg diffaugment=color,translation,cutout --catalog $CAT --resolution 64 --out runs/gan64 "${GAN[@]}" --model-arg sle=false --model-arg mode_seeking=0 --threads "$THREADS" \
  --overwrite --quiet
$BIN/python bench/sample_grids.py runs/gan64 --out "$OUT"

if [ $# -ge 1 ]; then
  rm -rf /tmp/dcgan-peer
  OMP_NUM_THREADS=$THREADS $BIN/python bench/peers/run_dcgan_peer.py --examples "$1" --catalog $CAT "${PEER[@]}" \
    --out /tmp/dcgan-peer
  cp "/tmp/dcgan-peer/$(python3 -c 'import json;print(json.load(open("/tmp/dcgan-peer/peer_summary.json"))["last_grid"])')" "$OUT/dcgan-peer-25min.png"
  $BIN/python - <<'PY'
import json, platform, subprocess
s = json.load(open("/tmp/dcgan-peer/peer_summary.json"))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
s["command"] = "bash bench/real_catalog_runs.sh /tmp/pytorch-examples (bench/peers/run_dcgan_peer.py)"
s["machine"] = {"cpu": cpu, "cores": len(open("/proc/cpuinfo").read().split("processor")) - 1,
                "date": subprocess.run(["date", "-I"], capture_output=True, text=True).stdout.strip()}
json.dump(s, open("bench/results/real-catalog/dcgan-peer-summary.json", "w"), indent=2)
PY
  $BIN/python bench/peers/dcgan_peer_samples.py --examples "$1" --peer-out /tmp/dcgan-peer --n 2000 \
    --out /tmp/dcgan-peer/samples.safetensors
fi
