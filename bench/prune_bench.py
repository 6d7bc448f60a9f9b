"""Channel pruning of the GAN generator: the full generator vs pruned ones, speed and quality side by side.

    python bench/prune_bench.py                           # runs/gan64, keep 0.5 and 0.75, 600 distillation steps each

For each ``--keep`` fraction, ``prodgen.export.prune_gan`` prunes ``--run``'s generator (channel importance from the
run's training conditions) and distils it from the full EMA generator for ``--steps`` steps of batch 64 (L1 to the
full generator's images), into a temporary run folder. Then, for the full generator and each pruned one, in
this one process: images/s of the network alone (batch 64, median of 5 after a warm-up) and of ``Pipeline.generate_batch``
(noise, network, 8-bit conversion: what ``prodgen generate`` pays), and on the test split at the floor's n (as
``bench/export_bench.py``): FID-P with its bootstrap 95% interval, coverage and conditional accuracy. Distillation
steps, not minutes, fix the budget, so a busy machine changes the seconds recorded, not the result. Writes
``bench/results/prune.json`` (command and machine inside) and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from export_bench import Reference, score  # noqa: E402
from machine import command_line, machine_info  # noqa: E402

from prodgen.export.prune import prune_gan  # noqa: E402
from prodgen.sample import Pipeline  # noqa: E402


@torch.no_grad()
def network_speed(pipe, cond: torch.Tensor, batch: int = 64, repeats: int = 5) -> float:
    c = cond[:batch]
    z = pipe.model.latent_noise(batch, torch.Generator().manual_seed(0))
    pipe.net(z, c)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pipe.net(z, c)
        times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def gflops(pipe) -> float:
    """Multiply-adds x 2 of one image through the generator, counted by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    z = pipe.model.latent_noise(1, torch.Generator().manual_seed(0))
    c = torch.zeros(1, len(pipe.vocab.sizes), dtype=torch.long)
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        pipe.net(z, c)
    return fc.get_total_flops() / 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=Path("runs/gan64"))
    ap.add_argument("--features", type=Path, default=Path("runs/productnet64"))
    ap.add_argument("--keep", type=float, nargs="+", default=[0.5, 0.75])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "prune.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = machine_info()
    ref = Reference.load(args.run, args.features)
    full, real, n, net, pn_vocab, real_f, first = ref.pipe, ref.real, ref.n, ref.net, ref.pn_vocab, ref.real_f, ref.first
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pipes = [("full generator", full, None)]
        for keep in args.keep:
            folder = Path(tmp) / f"keep{keep}"
            rec = prune_gan(args.run, folder, keep=keep, minutes=None, steps=args.steps, progress=False)
            pipes.append((f"pruned, keep {keep:g}", Pipeline.from_pretrained(folder, device="cpu"), rec))
        for name, pipe, rec in pipes:
            row, _ = score(pipe, real, real_f, n, net, pn_vocab, first, args.seed)
            row = {"generator": name, **row,
                   "network_images_per_s": round(network_speed(pipe, real.cond), 1),
                   "gflop_per_image": round(gflops(pipe), 3),
                   "params_m": round(sum(p.numel() for p in pipe.net.parameters()) / 1e6, 3)}
            if rec is not None:
                row["pruning"] = rec
                row["widths"] = rec["widths_after"]
            else:
                row["widths"] = rec_widths(pipe)
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = {"command": command_line(), "machine": machine, "run": str(args.run), "features": str(args.features),
           "threads": args.threads, "batch": 64, "split": "test", "distil_steps": args.steps, "rows": rows,
           "note": "distillation settings (lr 2e-4, batch 64, L1) are prune_gan's defaults, not tuned"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    args.out.with_suffix(".md").write_text("\n".join(table(out)) + "\n")
    print("\n".join(table(out)))
    return 0


def rec_widths(pipe) -> list[int]:
    from prodgen.models.blocks import decoder_widths

    c = pipe.model.config
    return decoder_widths(pipe.model.resolution, c.g_base, c.g_cap)


def table(out: dict) -> list[str]:
    rows = out["rows"]
    attrs = list(rows[0]["cond_acc"])
    md = ["| generator | widths | GFLOP / image | params M | network images/s | generate images/s | FID-P (95% CI) | "
          "coverage | " + " | ".join(f"acc. {a.split('/')[-1]}" for a in attrs) + " |", "|---" * (8 + len(attrs)) + "|"]
    for r in rows:
        md.append(f"| {r['generator']} | {'-'.join(map(str, r['widths']))} | {r['gflop_per_image']:.3f} | "
                  f"{r['params_m']:.2f} | {r['network_images_per_s']:.0f} | {r['images_per_s']:.0f} | {r['fid_p']:.1f} "
                  f"({r['fid_ci95'][0]:.1f}-{r['fid_ci95'][1]:.1f}) | {r['coverage']:.2f} | "
                  + " | ".join(f"{r['cond_acc'][a]:.2f}" for a in attrs) + " |")
    return md


if __name__ == "__main__":
    raise SystemExit(main())
