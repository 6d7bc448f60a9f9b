"""``make demo``: the whole path on the built-in synthetic catalog, in a few minutes.

synthetic catalog -> conditional GAN trained within a time budget (with a cheap
FID/KID every 250 steps) -> a grid of every category in several colours ->
``<out>/index.html`` with the grids, the quality-vs-time curve and loss curves.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .config import ConditionConfig, DataConfig, RunConfig, TrainConfig
from .evaluate import write_run_report
from .grid import save_grid
from .sample import Pipeline
from .train import train

DEMO_COLOURS = 8


def demo_config(minutes: float | None, steps: int | None, eval_every: int = 250) -> RunConfig:
    return RunConfig(
        model="gan",
        data=DataConfig(catalog="synthetic", resolution=32, synthetic_size=3000),
        condition=ConditionConfig(attributes=["category", "colour"], min_count=5),
        train=TrainConfig(minutes=minutes, steps=steps, batch_size=64, sample_every=200, checkpoint_every=500, log_every=20,
                          eval_every=eval_every),
    )


def category_colour_grid(pipe: Pipeline, out_png: Path, per_cell: int = 1, seed: int = 0) -> Path:
    """Rows: every category; columns: the first colours of the vocabulary (same noise per column)."""
    cats = pipe.vocab["category"].choices
    colours = [c for c in pipe.vocab["colour"].choices if c not in ("other", "unknown")][:DEMO_COLOURS]
    cond = torch.stack([pipe.condition({"category": c, "colour": k}) for c in cats for k in colours])
    seeds = [seed + (i % len(colours)) for i in range(len(cond))]
    imgs = pipe.generate_batch(cond, seeds)
    save_grid(imgs, out_png, len(colours), row_labels=cats, col_labels=colours, scale=2)
    return out_png


def run_demo(out: str | Path = "runs/demo", minutes: float | None = 4.0, steps: int | None = None,
             progress: bool = True, console=None, eval_every: int = 250) -> Path:
    """``eval_every``: steps between cheap FID/KID (fits the synthetic catalog's ProductNet first, ~15 s); 0: off."""
    out = Path(out)
    cfg = demo_config(minutes, steps, eval_every)
    train(cfg, out, overwrite=True, progress=progress, console=console)
    pipe = Pipeline.from_pretrained(out)
    grid = category_colour_grid(pipe, out / "category-colour.png")
    return write_run_report(out, extra_images=[("every category (rows) in several colours (columns), generated", grid)])
