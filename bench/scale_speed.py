"""Training throughput on this machine by precision, torch.compile and data-parallel processes (issue 12).

    python bench/scale_speed.py                      # all rows (about 6 minutes on an idle 2-core machine)
    python bench/scale_speed.py --families vae --steps 20

Each row is a real ``prodgen train`` on the built-in synthetic catalog at 32 px (default model sizes, global
batch 32): fp32 / bf16 / fp16 autocast and ``--compile`` with 2 torch threads in one process, and the same fp32
run as 2 processes x 1 thread under ``torchrun`` (gloo). Images/s is training time only (metrics.jsonl's
``images_per_s``), averaged over the logged windows after the first (warm-up, compilation). The final loss of
each row is reported too: low precision must not change what is learnt. Writes
``bench/results/scale_speed.json`` (command and machine inside) and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402

VARIANTS = [  # (name, extra train options, processes, threads per process)
    ("fp32", [], 1, 2),
    ("bf16", ["--precision", "bf16"], 1, 2),
    ("fp16", ["--precision", "fp16"], 1, 2),
    ("fp32 + compile", ["--compile"], 1, 2),
    ("fp32, 2 processes (torchrun, gloo)", [], 2, 1),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(family: str, extra: list[str], procs: int, threads: int, steps: int, out: Path) -> dict:
    args = ["-m", "prodgen", "train", "--model", family, "--catalog", "synthetic", "--resolution", "32", "--batch-size",
            "32", "--steps", str(steps), "--log-every", str(max(1, steps // 4)), "--sample-every", "100000",
            "--checkpoint-every", "100000", "--threads", str(threads), "--quiet", "--out", str(out), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT / "src")}
    if procs > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs), "--master-addr",
               "127.0.0.1", "--master-port", str(free_port()), *args]
    else:
        cmd = [sys.executable, *args]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout)[-800:], "wall_s": round(wall, 1)}
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [m["images_per_s"] for m in recs if "images_per_s" in m]
    losses = [m for m in recs if any(k.endswith("loss") for k in m)]
    key = next(k for k in losses[-1] if k.endswith("loss"))
    return {"images_per_s": round(sum(rates[1:]) / max(len(rates[1:]), 1), 1) if len(rates) > 1 else rates[0],
            "final_loss_key": key, "final_loss": losses[-1][key], "wall_s": round(wall, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", default="gan,vae,diffusion")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "scale_speed.json")
    args = ap.parse_args()
    machine = machine_info()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            base = None
            for name, extra, procs, threads in VARIANTS:
                res = run(family, extra, procs, threads, args.steps, Path(tmp) / f"{family}-{len(rows)}")
                if base is None and "images_per_s" in res:
                    base = res["images_per_s"]
                row = {"family": family, "variant": name, "processes": procs, "threads_per_process": threads, **res}
                if "images_per_s" in res and base:
                    row["speedup_vs_fp32"] = round(res["images_per_s"] / base, 2)
                rows.append(row)
                print(json.dumps(row), flush=True)
    out = {"command": command_line(), "machine": machine, "steps": args.steps, "resolution": 32, "batch": 32, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    md = ["| family | variant | images/s | vs fp32 | final loss |", "|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            md.append(f"| {r['family']} | {r['variant']} | failed: {r['error'].splitlines()[-1][:80]} | | |")
        else:
            md.append(f"| {r['family']} | {r['variant']} | {r['images_per_s']} | {r.get('speedup_vs_fp32', '')} | "
                      f"{r['final_loss']:.4f} |")
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
