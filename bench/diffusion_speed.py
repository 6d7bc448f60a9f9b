"""Sampling speed of the diffusion model at 64x64 on this machine: images/s per (steps, guidance).

Times ``Pipeline.generate_batch`` (batch 64, per-image seeds, EMA net, eval mode) after
one warm-up batch; median of 3 batches. Also prints the U-Net's forward GFLOP per image.

    .venv/bin/python bench/diffusion_speed.py runs/fam-diffusion      # writes bench/results/diffusion_speed.{json,md}
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from prodgen.sample import Pipeline

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import command_line, machine_info, machine_line  # noqa: E402

GRID = [(5, 1.0), (10, 1.0), (20, 1.0), (10, 2.0), (10, 3.0), (20, 2.0)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default=str(HERE / "results" / "diffusion_speed"))
    ap.add_argument("--note", help="machine note (default: the detected background load)")
    args = ap.parse_args()
    info = machine_info(args.note)
    pipe = Pipeline.from_pretrained(args.run, device="cpu")
    b = args.batch
    cond = torch.stack([pipe.condition({}) for _ in range(b)])
    text = torch.zeros(b, pipe.model.text_dim) if pipe.model.text_dim else None
    r = pipe.model.resolution
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        pipe.net(torch.zeros(1, 3, r, r), torch.tensor([500]), cond[:1], text[:1] if text is not None else None)
    gflop = fc.get_total_flops() / 1e9
    rows = []
    for steps, guidance in GRID:
        pipe.generate_batch(cond, list(range(b)), text=text, steps=steps, guidance=guidance)  # warm-up
        times = []
        for k in range(3):
            t = time.perf_counter()
            pipe.generate_batch(cond, list(range(b * k, b * (k + 1))), text=text, steps=steps, guidance=guidance)
            times.append(time.perf_counter() - t)
        ips = b / statistics.median(times)
        evals = steps * (2 if guidance != 1.0 else 1)
        rows.append({"steps": steps, "guidance": guidance, "images_per_s": round(ips, 1),
                     "network_evals_per_image": evals, "gflop_per_image": round(gflop * evals, 2)})
        print(json.dumps(rows[-1]), flush=True)
    machine = machine_line(info)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"command": command_line(), "machine": info, "run": args.run,
                                                    "unet_gflop_per_eval": gflop,
                                                    "rows": rows}, indent=2) + "\n")
    lines = [f"# Diffusion sampling speed at {r}x{r}\n", f"Command: `{command_line()}`  ",
             f"Machine: {machine}; batch {b}; one U-Net evaluation = {gflop:.2f} GFLOP an image.\n",
             "| steps | guidance | network evaluations / image | GFLOP / image | images/s |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {x['steps']} | {x['guidance']} | {x['network_evals_per_image']} | {x['gflop_per_image']} | {x['images_per_s']} |"
              for x in rows]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
