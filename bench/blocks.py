"""Upsampling block variants of the decoder: forward+backward time per batch of 64.

Nearest-upsample + 3x3 conv against a transposed 4x4 stride-2 conv, in the
default and the channels_last memory format, for the decoder's last two blocks
at 64 px (128->64 channels to 32x32, 64->32 channels to 64x64).

    .venv/bin/python bench/blocks.py [--reps 5] [--threads 1]

Each variant is timed by wall clock and by the process's CPU time (median of
--reps); with one thread the CPU time barely depends on other jobs on the
machine. Writes bench/results/blocks.json (why the decoder uses transposed
convolutions).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info  # noqa: E402

BATCH = 64
SHAPES = [(128, 64, 32), (64, 32, 64)]  # (in channels, out channels, output size)


def timed(fn, reps: int) -> tuple[float, float]:
    """(wall ms, CPU ms), medians."""
    fn()
    wall, cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def variants(cin: int, cout: int, size: int, channels_last: bool):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(BATCH, cin, size // 2, size // 2).contiguous(memory_format=fmt).requires_grad_()
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False).to(memory_format=fmt)
    convt = nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False).to(memory_format=fmt)

    def up_conv() -> None:
        conv(F.interpolate(x, scale_factor=2.0, mode="nearest")).sum().backward()

    def conv_t() -> None:
        convt(x).sum().backward()

    return up_conv, conv_t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time is load-independent)")
    ap.add_argument("--out", default=str(HERE / "results" / "blocks.json"))
    ap.add_argument("--note")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = machine_info(args.note)
    torch.manual_seed(0)
    rows = []
    for cin, cout, size in SHAPES:
        row = {"in_channels": cin, "out_channels": cout, "output_size": size, "batch": BATCH}
        for cl in (False, True):
            up_conv, conv_t = variants(cin, cout, size, cl)
            suffix = "_channels_last_ms" if cl else "_ms"
            for name, fn in (("upsample_conv", up_conv), ("convT", conv_t)):
                wall, cpu = timed(fn, args.reps)
                row[name + suffix], row[name + suffix.replace("_ms", "_cpu_ms")] = round(wall, 1), round(cpu, 1)
        rows.append(row)
        print(row, flush=True)
    result = {"command": command_line(), "machine": machine, "threads": args.threads,
              "measure": "median forward+backward ms per batch (wall; *_cpu_ms: process CPU time)", "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
