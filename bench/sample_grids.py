"""Grids for the README from trained runs: categories x colours, and a per-category sheet.

    .venv/bin/python bench/sample_grids.py runs/gan64 runs/vae64 --out bench/results/real-catalog

For each run: ``<name>-category-colour.png`` (rows: the 8 most frequent
categories, columns: the 8 most frequent colours, one seed per column) and
``<name>-categories.png`` (rows: 16 categories, 8 seeds each, colour
unspecified), plus ``<name>-loss.png``. Also writes ``real-categories.png``
from the run's held-out test split for comparison.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from prodgen.conditioning import UNSPECIFIED, condition_grid
from prodgen.config import RunConfig
from prodgen.data import load_catalog, prepare_images
from prodgen.grid import save_grid
from prodgen.sample import Pipeline


PROMPTS = ["Puma Men Black Running Shoes", "red leather handbag for women", "navy blue check shirt",
           "Women White Kurta", "Men Brown Leather Belt", "Titan Men Silver Watch", "Nike Women Pink Sports Bra",
           "blue denim jeans for men"]


def run_grids(run: Path, out: Path, seed: int = 0, sampling: dict | None = None, truncation: float = 1.0) -> None:
    pipe = Pipeline.from_pretrained(run, device="cpu")
    sampling = sampling if pipe.model.family == "diffusion" else {}
    if truncation != 1.0:  # the GAN's and VAE's noise scale (generate_batch's third argument)
        sampling = {**sampling, "truncation": truncation}
    name = run.name + (f"-t{truncation:g}" if truncation != 1.0 else "")
    g = condition_grid(pipe.vocab, rows=8, cols=8)
    seeds = [seed + (i % g.cols) for i in range(len(g.cond))]
    save_grid(pipe.generate_batch(g.cond, seeds, **(sampling or {})), out / f"{name}-category-colour.png", g.cols,
              row_labels=g.row_labels, col_labels=g.col_labels)
    first = pipe.vocab.attributes[0]
    cats = [v for v in first.values if v not in (UNSPECIFIED, "other", "unknown")][:16]
    cond = torch.stack([pipe.condition({first.name: c}) for c in cats for _ in range(8)])
    save_grid(pipe.generate_batch(cond, [seed + 100 + i % 8 for i in range(len(cond))], **(sampling or {})),
              out / f"{name}-categories.png", 8, row_labels=cats)
    if pipe.model.text_dim:  # rows: prompts (words the vocabulary knows become attributes too), 8 seeds each
        pcs = [pipe.prompt_condition(p) for p in PROMPTS]
        cond = torch.stack([pc.cond for pc in pcs for _ in range(8)])
        text = torch.stack([pc.text for pc in pcs for _ in range(8)])
        save_grid(pipe.generate_batch(cond, [seed + 200 + i % 8 for i in range(len(cond))], text=text, **(sampling or {})),
                  out / f"{name}-prompts.png", 8, row_labels=PROMPTS)
    if (run / "loss.png").exists():
        shutil.copy(run / "loss.png", out / f"{name}-loss.png")


def real_grid(run: Path, out: Path) -> None:
    cfg = RunConfig.load(run / "config.json")
    cat = load_catalog(cfg.data)
    tensors = prepare_images(cat, cfg.data.resolution, progress=False)
    split = json.loads((run / "split.json").read_text())
    by_id = {r.id: r for r in cat.records}
    attr = cfg.condition.attributes[0]
    vocab = json.loads((run / "vocab.json").read_text())["attributes"][0]["values"]
    cats = [v for v in vocab if v not in (UNSPECIFIED, "other", "unknown")][:16]
    pos = {i: k for k, i in enumerate(tensors.ids)}
    picks = []
    for c in cats:
        ids = [i for i in split["test"] if by_id[i].attributes.get(attr) == c][:8]
        picks += [tensors.images[pos[i]] for i in ids] + [torch.full_like(tensors.images[0], 200)] * (8 - len(ids))
    save_grid(torch.stack(picks).float() / 127.5 - 1, out / "real-categories.png", 8, row_labels=cats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=None, help="diffusion sampling steps (default: the run's)")
    ap.add_argument("--guidance", type=float, default=None, help="diffusion guidance (default: the run's)")
    ap.add_argument("--truncation", type=float, default=1.0, help="GAN/VAE noise scale (files get -tT in their names)")
    ap.add_argument("--no-real", action="store_true", help="skip the grid of held-out real photos")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sampling = {k: v for k, v in {"steps": args.steps, "guidance": args.guidance}.items() if v is not None}
    for run in args.runs:
        run_grids(run, args.out, sampling=sampling, truncation=args.truncation)
    if not args.no_real:
        real_grid(args.runs[0], args.out)
    print(f"grids in {args.out}")


if __name__ == "__main__":
    main()
