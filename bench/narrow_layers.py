"""Narrow high-resolution layers: GAN training speed at 64 px with the default widths
(16 generator channels at 64x64, a 32-wide first discriminator stage) against twice
as wide (32 / 64), everything else default (batch 64, channels_last).

    .venv/bin/python bench/narrow_layers.py [--steps 8] [--threads 1]

Both models are built in one process and their training steps (D then G, as the
trainer runs them) are timed alternately, so a background load slows both alike.
Each step is timed twice: wall clock (images/s) and the process's CPU time
(images per CPU-second). With one thread the CPU time barely depends on what
else runs on the machine, so the speed-up is taken from it; on an idle machine
both agree. Also records the FLOPs of a training step (torch's flop counter).
Writes bench/results/narrow_layers.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info  # noqa: E402

VARIANTS = [("narrow (default)", {}), ("wide", {"g_base": 32, "d_base": 64})]


def build(args: dict, res: int, batch: int):
    from train_speed import build_step

    m, step, _ = build_step("gan", args, res, batch)
    return m, step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time is load-independent)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--out", default=str(HERE / "results" / "narrow_layers.json"))
    ap.add_argument("--note")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = machine_info(args.note)
    from torch.utils.flop_counter import FlopCounterMode

    from prodgen.models.blocks import conv_encoder_widths, decoder_widths

    built = []
    for label, model_args in VARIANTS:
        m, step = build(model_args, args.resolution, args.batch)
        for _ in range(2):
            step()
        with FlopCounterMode(display=False) as fc:
            step()
        built.append((label, model_args, m, step, fc.get_total_flops(), [], []))
    for _ in range(args.steps):
        for *_, step, _, wall, cpu in built:
            t, c = time.perf_counter(), time.process_time()
            step()
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    rows = []
    for label, model_args, m, _, flops, times, cpu in built:
        cfg = m.config
        rows.append({"variant": label, "model_args": model_args,
                     "generator_widths": decoder_widths(args.resolution, cfg.g_base, cfg.g_cap),
                     "discriminator_widths": conv_encoder_widths(args.resolution, cfg.d_base, cfg.d_cap),
                     "params_M": round(sum(p.numel() for p in m.parameters()) / 1e6, 2),
                     "train_gflop_per_image": round(flops / args.batch / 1e9, 3),
                     "train_images_per_s": round(args.batch / statistics.median(times), 1),
                     "train_images_per_cpu_s": round(args.batch / statistics.median(cpu), 1),
                     "step_ms_median": round(1000 * statistics.median(times), 1)})
        print(rows[-1], flush=True)
    result = {"command": command_line(), "machine": machine, "resolution": args.resolution, "batch": args.batch,
              "threads": args.threads, "steps_timed": args.steps, "rows": rows,
              "speedup": round(rows[0]["train_images_per_cpu_s"] / rows[1]["train_images_per_cpu_s"], 2),
              "speedup_wall": round(rows[0]["train_images_per_s"] / rows[1]["train_images_per_s"], 2),
              "flop_ratio": round(rows[1]["train_gflop_per_image"] / rows[0]["train_gflop_per_image"], 2)}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print("speed-up (CPU time)", result["speedup"], "wall", result["speedup_wall"], "FLOP ratio", result["flop_ratio"])


if __name__ == "__main__":
    main()
