#!/usr/bin/env bash
# The whole CLI once on a CUDA GPU, in one go (issues 10 and 12): every command on the
# built-in synthetic catalog with the GPU as the device, the device tests (CPU vs GPU, same seeds),
# a training-speed figure, then the test suite. Writes $OUT/gpu_check.json (one row per step: command,
# exit code, seconds) and $OUT/gpu_check.log. Meant for a lent GPU machine (image with torch + CUDA,
# no network): the packages its image lacks travel as wheels in .whl/ (see the device tool's README: diffusers,
# kornia, c2pa-python and their needs, 40 MB; the studio's FastAPI stack does not fit beside the tree in one call's
# 64 MiB, so the suite there leaves out tests/studio), prodgen from src/.
#
#   bash bench/gpu_check.sh            # then: python bench/gpu_check_table.py results.json (README table)
#
# Budget: about 9 minutes on one H100 (the suite runs beside the CLI steps); run it with the device tool's
# timeout_s=590, and S=200 if time is short.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-check}"
mkdir -p "$OUT"
W=$(mktemp -d)
LOG="$OUT/gpu_check.log"
ROWS="$OUT/rows.jsonl"
: > "$ROWS"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PRODGEN_CACHE="$W/cache"
if [ -z "${NO_WHL:-}" ] && ls .whl/*.whl > /dev/null 2>&1; then  # NO_WHL=1: use $PY's own packages (a dry run here)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl >> "$LOG" 2>&1
  export PYTHONPATH="/tmp/site:$PWD/src"
else
  export PYTHONPATH="$PWD/src"
fi
PY=${PY:-python3}
DEV=${DEV:-cuda}   # DEV=cpu S=20 bash bench/gpu_check.sh: a dry run of this script on a machine without a GPU
S=${S:-300}
PG=("$PY" -m prodgen)

step() {  # step NAME CMD...: run, time, record (each step at most $T seconds)
  local name=$1; shift
  local t0=$(date +%s%N)
  echo "=== $name: $*" >> "$LOG"
  timeout "${T:-240}" "$@" >> "$LOG" 2>&1
  local rc=$?
  local dt=$(( ($(date +%s%N) - t0) / 1000000 ))
  dt="$((dt / 1000)).$(printf '%03d' $((dt % 1000)))"
  printf '{"step": "%s", "rc": %d, "seconds": %.1f, "command": "%s"}\n' "$name" "$rc" "$dt" "$(echo "$*" | sed "s#$W#\$W#g; s/\"/'/g")" >> "$ROWS"
  echo "$name rc=$rc ${dt}s"
}

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; $PY -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'gpu', torch.cuda.is_available())"; } > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

# a shop folder: styles.csv with some rows lacking a photo (fill), a photo to edit, a history
$PY - "$W" <<'EOF' >> "$LOG" 2>&1
import csv, sys
from pathlib import Path
import numpy as np
from prodgen.data.synthetic import CATEGORIES, COLOURS, render
w = Path(sys.argv[1]); (w / "shop" / "images").mkdir(parents=True)
rows = []
for i in range(12):
    cat, col = CATEGORIES[i % len(CATEGORIES)], list(COLOURS)[i % 5]
    rows.append({"id": f"s{i}", "category": cat, "colour": col, "productDisplayName": f"{col} {cat}"})
    if i % 3 == 0:
        render(cat, col, "plain", np.random.default_rng(i)).save(w / "shop" / "images" / f"s{i}.jpg")
with open(w / "shop" / "styles.csv", "w", newline="") as f:
    wr = csv.DictWriter(f, fieldnames=list(rows[0])); wr.writeheader(); wr.writerows(rows)
render("handbag", "red", "striped", np.random.default_rng(7)).save(w / "photo.png")
(w / "history.txt").write_text("s0\ns3\ns6\n")
EOF

# the test suite (less tests/studio) runs beside the CLI steps on the machine's other cores (PARALLEL_SUITE=0: at
# the end instead); its seconds overlap theirs, and the speed figure waits for it
suite() {
  T=${SUITE_SECONDS:-300} LOG="$OUT/suite.log" step test-suite "$PY" -m pytest -q -p no:cacheprovider -n ${SUITE_WORKERS:-6} \
    --timeout=120 --ignore=tests/studio --continue-on-collection-errors tests/
}
SUITE_PID=
if [ -z "${SKIP_SUITE:-}" ] && [ "${PARALLEL_SUITE:-1}" = 1 ]; then suite & SUITE_PID=$!; fi
# the device tests (CPU vs GPU, same seeds) and the distributed/precision tests are in the suite; alone otherwise
[ -n "$SUITE_PID" ] || step device-tests "$PY" -m pytest -q -p no:cacheprovider tests/test_devices.py
for fam in gan vae diffusion; do
  step "train-$fam" "${PG[@]}" train --model $fam --catalog synthetic --resolution 32 --steps $S --device $DEV --out "$W/$fam" --quiet
  step "generate-$fam" "${PG[@]}" generate "$W/$fam" -n 64 --attr category=handbag --attr colour=red --device $DEV --out "$W/gen-$fam" --quiet
  step "vary-edit-$fam" "${PG[@]}" vary "$W/$fam" --image "$W/photo.png" --attr colour=green --keep category=handbag --out "$W/edit-$fam.png"
done
for fam in gan vae diffusion; do  # issue 12: bf16 autocast at 64 px
  step "train-bf16-$fam-64" "${PG[@]}" train --model $fam --catalog synthetic --resolution 64 --steps $((S / 2)) --precision bf16 --device $DEV --out "$W/bf16-$fam" --quiet
done
# session 24: the GAN's feature discriminator (frozen EfficientNet-Lite0 moved to the GPU on first use), bf16
step train-gan-feature-d "${PG[@]}" train --model gan --catalog synthetic --resolution 64 --steps $((S / 2)) --precision bf16 --model-arg feature_d=0.1 --device $DEV --out "$W/gan-fd" --quiet
# issue 12: 256 px, bf16 (GAN; latent diffusion in a catalog autoencoder's space)
step train-gan-256 "${PG[@]}" train --model gan --catalog synthetic --resolution 256 --steps $((S / 5)) --batch-size 32 --precision bf16 --device $DEV --out "$W/gan256" --quiet
step train-autoencoder-256 "${PG[@]}" train --model autoencoder --catalog synthetic --resolution 256 --steps $((S / 5)) --batch-size 32 --precision bf16 --device $DEV --out "$W/ae256" --quiet
step train-latent-diffusion-256 "${PG[@]}" train --model diffusion --catalog synthetic --resolution 256 --model-arg autoencoder="$W/ae256" --steps $((S / 5)) --batch-size 32 --precision bf16 --device $DEV --out "$W/ld256" --quiet
step generate-latent-diffusion-256 "${PG[@]}" generate "$W/ld256" -n 16 --attr category=handbag --device $DEV --out "$W/gen-ld256" --quiet
NGPU=$($PY -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
if [ "${NGPU:-0}" -ge 2 ]; then  # DDP over NCCL: 2 processes, one GPU each
  step train-ddp-2gpu "$PY" -m torch.distributed.run --nproc-per-node 2 -m prodgen train --model diffusion --catalog synthetic --resolution 32 --steps $S --batch-size 64 --device cuda --out "$W/ddp" --quiet
fi
[ -n "$SUITE_PID" ] || step test-distributed "$PY" -m pytest -q -p no:cacheprovider tests/test_distributed.py tests/test_precision.py
step vary-interpolate "${PG[@]}" vary "$W/gan" --interpolate "category=handbag,colour=red" "category=cap,colour=blue" --frames 6 --out "$W/morph.gif"
step vary-photo "${PG[@]}" vary "$W/photo.png" --background gradient:#ffffff:#d9d9d9 --shadow --recolour Green --out "$W/bg.png"
step train-text-gan "${PG[@]}" train --model gan --catalog "$W/shop" --condition text,category,colour --min-count 1 --text-encoder hashing --resolution 32 --steps 50 --batch-size 8 --device $DEV --out "$W/textgan" --quiet
step generate-prompt "${PG[@]}" generate "$W/textgan" --prompt "red handbag" -n 8 --device $DEV --out "$W/prompt" --quiet
step features-fit "${PG[@]}" features fit --catalog synthetic --resolution 32 --epochs 2 --out "$W/pn" --quiet
step generate-best-of "${PG[@]}" generate "$W/gan" -n 8 --best-of 4 --features "$W/pn" --attr colour=blue --device $DEV --out "$W/best" --quiet
step evaluate "${PG[@]}" evaluate "$W/gan" --features "$W/pn" -n 500 --quiet
step compare "${PG[@]}" compare "$W/gan" "$W/vae" --features "$W/pn" -n 300 --out "$W/compare" --quiet
step fill "${PG[@]}" fill "$W/gan" --catalog "$W/shop" --out "$W/filled" --quiet
step personalise "${PG[@]}" personalise "$W/gan" --catalog "$W/shop" --history "$W/history.txt" -n 6 --out "$W/for-user"
step augment "${PG[@]}" augment "$W/gan" --per-class 16 --evaluate --seeds 0 --epochs 1 --out "$W/aug" --quiet
step enhance-train "${PG[@]}" enhance-train --catalog synthetic --steps 60 --eval-n 16 --out "$W/restore" --quiet
step enhance-upscale "${PG[@]}" enhance "$W/photo.png" --model "$W/restore" --task upscale --scale 2 --out "$W/x2.png"
step enhance-denoise "${PG[@]}" enhance "$W/photo.png" --model "$W/restore" --task denoise --out "$W/dn.png"
step report "${PG[@]}" report "$W/gan"
[ -z "$SUITE_PID" ] || wait "$SUITE_PID"
step train-speed "$PY" bench/train_speed.py --device $DEV --steps ${SPEED_STEPS:-20} --out "$OUT/train_speed_cuda"
cp "$W/gen-gan/grid.png" "$OUT/gen-gan-grid.png" 2>/dev/null || true
[ -n "${SKIP_SUITE:-}" ] || [ "${PARALLEL_SUITE:-1}" = 1 ] || suite
$PY - "$ROWS" "$OUT/machine.txt" "$OUT/gpu_check.json" <<'EOF'
import json, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump({"command": "bash bench/gpu_check.sh", "machine": "; ".join(open(sys.argv[2]).read().split("\n")).strip("; "),
           "date": datetime.date.today().isoformat(), "steps": rows,
           "passed": sum(r["rc"] == 0 for r in rows), "failed": [r["step"] for r in rows if r["rc"] != 0]},
          open(sys.argv[3], "w"), indent=1)
print("passed", sum(r["rc"] == 0 for r in rows), "of", len(rows), "failed:", [r["step"] for r in rows if r["rc"] != 0])
EOF
