"""Write generated images to disk: PNGs, a grid, labels.csv and a JSON sidecar.

Streams: images are written batch by batch, so 10,000 images never sit in memory,
and the files already written survive an interruption.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..atomic import write_json, write_text
from ..grid import make_grid, save_png, to_uint8
from .pipeline import Pipeline


@dataclass
class Job:
    """One image to generate."""

    name: str  # file stem, e.g. "000000" or a catalog id
    cond: torch.Tensor  # (A,)
    seed: int
    meta: dict = field(default_factory=dict)  # extra sidecar fields (row notes, ...)
    text: torch.Tensor | None = None  # (T,) title/prompt vector for text-conditioned runs


@dataclass
class GenerationResult:
    out_dir: Path
    files: list[Path]
    grid: Path | None
    seconds: float


def safe_name(s: str) -> str:
    """A file stem from an id or label: letters, digits, '-', '_' and '.' kept, anything else '_'."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s) or "row"


def _batches(jobs: list[Job], size: int) -> Iterator[list[Job]]:
    for i in range(0, len(jobs), size):
        yield jobs[i : i + size]


def _best_of(pipe: Pipeline, batch: list[Job], cond, text, k: int, scorer, truncation: float, sampling: dict) -> torch.Tensor:
    """Candidate c of a job with seed s uses seed s * k + c; keeps the best, notes every candidate's score."""
    from .best_of import pick_best

    cands, scores = [], []
    parts: list[dict[str, torch.Tensor]] = []
    for c in range(k):
        x = pipe.generate_batch(cond, [j.seed * k + c for j in batch], truncation, text, **sampling)
        sc = scorer.score(x, cond)
        cands.append(x)
        scores.append(sc["score"])
        parts.append(sc)
    cands_t, scores_t = torch.stack(cands), torch.stack(scores)
    best = pick_best(cands_t, scores_t)
    for i, j in enumerate(batch):
        b = int(best[i])
        j.meta["best_of"] = {"kept_candidate": b, "kept_seed": j.seed * k + b,
                             **{name: round(float(parts[b][name][i]), 4) for name in parts[b]},
                             "candidate_scores": [round(float(scores_t[c, i]), 4) for c in range(k)]}
    return cands_t[best, torch.arange(len(batch))]


def write_generation(
    pipe: Pipeline,
    jobs: Iterable[Job],
    out_dir: str | Path,
    truncation: float = 1.0,
    batch_size: int = 64,
    grid_cols: int = 8,
    grid_max: int = 64,
    request: dict | None = None,
    progress: bool = True,
    console=None,
    sampling: dict | None = None,
    best_of: int = 1,
    scorer=None,
) -> GenerationResult:
    """Generate every job (``best_of`` candidates each when > 1, scored by ``scorer``) and write the results."""
    sampling = dict(sampling or {})
    if best_of < 1:
        raise ValueError("best_of must be at least 1")
    if best_of > 1 and scorer is None:
        raise ValueError("best_of > 1 needs a scorer (sample/best_of.py)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = list(jobs)
    names = pipe.vocab.names
    files: list[Path] = []
    grid_imgs: list[np.ndarray] = []
    rows: list[list[str]] = []
    t0 = time.monotonic()
    bar = Progress(TextColumn("generate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                   TimeRemainingColumn(), console=console, disable=not progress)
    with bar:
        task = bar.add_task("generate", total=len(jobs))
        for batch in _batches(jobs, batch_size):
            cond = torch.stack([j.cond for j in batch])
            text = torch.stack([j.text for j in batch]) if batch[0].text is not None else None
            if best_of == 1:
                x = pipe.generate_batch(cond, [j.seed for j in batch], truncation, text, **sampling)
            else:
                x = _best_of(pipe, batch, cond, text, best_of, scorer, truncation, sampling)
            imgs = to_uint8(x)
            for j, img in zip(batch, imgs):
                path = out / f"{j.name}.png"
                save_png(img, path)
                files.append(path)
                values = [pipe.vocab.attributes[a].decode(int(j.cond[a])) for a in range(len(names))]
                rows.append([path.name, *["" if v == "<unspecified>" else v for v in values], str(j.seed)])
                if len(grid_imgs) < grid_max:
                    grid_imgs.append(img)
            bar.advance(task, len(batch))
    seconds = time.monotonic() - t0
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", *names, "seed"])
    w.writerows(rows)
    write_text(out / "labels.csv", buf.getvalue())
    grid = None
    if grid_imgs:
        grid = out / "grid.png"
        save_png(make_grid(np.stack(grid_imgs), min(grid_cols, len(grid_imgs)), scale=2 if pipe.model.resolution <= 32 else 1), grid)
    sidecar = {
        **pipe.describe(),
        "request": request or {},
        "truncation": truncation,
        "sampling": sampling,
        "best_of": best_of,
        "count": len(files),
        "seconds": round(seconds, 3),
        "images": [{"file": f.name, "seed": j.seed, "condition": pipe.vocab.describe(j.cond), **j.meta} for f, j in zip(files, jobs)],
    }
    write_json(out / "generation.json", sidecar)
    return GenerationResult(out, files, grid, seconds)


__all__ = ["GenerationResult", "Job", "safe_name", "write_generation"]
