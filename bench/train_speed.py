"""Training and sampling speed of prodgen's model families on this machine.

For gan and vae at 32 and 64 px (default model configs, batch 64):
  - training images/s (median of timed steps after warm-up),
  - achieved GFLOP/s of a training step (FLOPs counted by torch.utils.flop_counter)
    as a share of this machine's fp32 matmul peak, measured by the same script,
  - sampling images/s (EMA net in eval mode, batch 64),
  - peak resident memory of a process that only does that config.
Each config runs in its own subprocess so peak memory is its own.

    .venv/bin/python bench/train_speed.py                # all configs, writes bench/results/train_speed.{json,md}
    .venv/bin/python bench/train_speed.py --only gan:64  # one config
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
CONFIGS = ["gan:32", "gan:64", "vae:32", "vae:64"]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_peak_gflops(n: int = 2048, reps: int = 10, device: str = "cpu") -> float:
    if device.startswith("cuda"):
        n = 8192
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        times.append(time.perf_counter() - t)
    return 2 * n**3 / min(times) / 1e9


def build_step(name: str, args: dict, res: int, batch: int, device: str = "cpu"):
    """A seeded model of family ``name`` with settings ``args``, one fixed random batch, and a closure doing one
    training step of every phase: (model, step, conditions). Shared with bench/narrow_layers.py."""
    from prodgen.models import model_class

    torch.manual_seed(0)
    m = model_class(name).from_args(args, [40, 25], res).to(device).to(memory_format=torch.channels_last)
    x = (torch.rand(batch, 3, res, res) * 2 - 1).to(device).contiguous(memory_format=torch.channels_last)
    c = torch.stack([torch.randint(0, 40, (batch,)), torch.randint(0, 25, (batch,))], 1).to(device)
    opts = {p: torch.optim.Adam(m.phase_parameters(p), **m.optimizer_settings(p)) for p in m.phases}

    def step() -> None:
        for p in m.phases:
            loss = m.loss(p, x, c)["loss"]
            opts[p].zero_grad(set_to_none=True)
            loss.backward()
            opts[p].step()

    return m, step, c


def one_config(name: str, res: int, batch: int, steps: int, device: str = "cpu") -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    m, step, c = build_step(name, {}, res, batch, device)
    for _ in range(3):
        step()
    with FlopCounterMode(display=False) as fc:
        step()
    flops = fc.get_total_flops()
    times = []
    for _ in range(steps):
        _sync(device)
        t = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t)
    t_step = statistics.median(times)
    m.eval()
    net = m.sampling_net()
    for _ in range(2):
        m.sample(batch, c, net=net)
    st = []
    for _ in range(5):
        _sync(device)
        t = time.perf_counter()
        m.sample(batch, c, net=net)
        _sync(device)
        st.append(time.perf_counter() - t)
    return {
        "model": name, "resolution": res, "batch": batch,
        "params_M": round(sum(p.numel() for p in m.parameters()) / 1e6, 2),
        "train_images_per_s": round(batch / t_step, 1),
        "train_gflop_per_image": round(flops / batch / 1e9, 3),
        "train_gflops_achieved": round(flops / t_step / 1e9, 1),
        "sample_images_per_s": round(batch / statistics.median(st), 1),
        "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="one config, e.g. gan:64 (runs in this process)")
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default=str(HERE / "results" / "train_speed"))
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the GPU check runs it with cuda)")
    args = ap.parse_args()
    if args.only:
        name, res = args.only.split(":")
        print(json.dumps(one_config(name, int(res), args.batch, args.steps, args.device)))
        return
    peak = matmul_peak_gflops(device=args.device)
    rows = []
    for cfg in CONFIGS:
        out = subprocess.run([sys.executable, __file__, "--only", cfg, "--steps", str(args.steps), "--batch", str(args.batch),
                              "--device", args.device],
                             check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        row["share_of_matmul_peak"] = round(row["train_gflops_achieved"] / peak, 3)
        rows.append(row)
        print(row, flush=True)
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None
    machine = {"device": args.device, "gpu": gpu, "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
               "processor": platform.processor() or platform.machine(), "fp32_matmul_peak_gflops": round(peak, 1)}
    result = {"command": "python bench/train_speed.py" + (f" --device {args.device}" if args.device != "cpu" else ""), "machine": machine, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"Machine: {machine['cpu_threads']} torch threads, torch {machine['torch']}, fp32 matmul peak "
             f"{machine['fp32_matmul_peak_gflops']} GFLOP/s ({'8192' if gpu else '2048'}^2 sgemm, same script). Command: `{result['command']}`.", "",
             "| model | px | params (M) | train img/s | GFLOP/img (train step) | achieved GFLOP/s | share of matmul peak | sample img/s | peak RSS (MiB) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['resolution']} | {r['params_M']} | {r['train_images_per_s']} | {r['train_gflop_per_image']} | "
                     f"{r['train_gflops_achieved']} | {r['share_of_matmul_peak']:.0%} | {r['sample_images_per_s']} | {r['peak_rss_MiB']:.0f} |")
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
