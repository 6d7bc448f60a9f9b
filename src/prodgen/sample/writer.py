"""Write generated images to disk: PNGs, a grid, labels.csv and a JSON sidecar.

Streams: images are written batch by batch, so 10,000 images never sit in memory,
and the files already written survive an interruption.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..atomic import write_bytes, write_json, write_text
from ..errors import UserError
from ..grid import make_grid, png_bytes, to_uint8
from ..progress import progress_bar
from .pipeline import Pipeline


@dataclass
class Job:
    """One image to generate."""

    name: str  # file stem, e.g. "000000" or a catalog id
    cond: torch.Tensor  # (A,)
    seed: int
    meta: dict = field(default_factory=dict)  # extra sidecar fields (row notes, ...)
    text: torch.Tensor | None = None  # (T,) title/prompt vector for text-conditioned runs
    image_map: torch.Tensor | None = None  # (1, R, R) edge map / silhouette for runs trained with an image condition


@dataclass
class GenerationResult:
    out_dir: Path
    files: list[Path]
    grid: Path | None
    seconds: float
    removed: list[str] = field(default_factory=list)  # stale images of an earlier request in the folder (replace_previous)


MAX_STEM_BYTES = 120  # file names stay well under the usual 255-byte limit, with room for suffixes


def _short_hash(s: str, n: int = 8) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:n]


def safe_name(s: str) -> str:
    """A file stem from an id or label: letters, digits, '-', '_' and '.' kept, anything else '_'.

    Over-long stems are cut and end in a hash of the whole id, so they stay distinct.
    """
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s) or "row"
    if len(stem.encode("utf-8")) > MAX_STEM_BYTES:
        while len(stem.encode("utf-8")) > MAX_STEM_BYTES - 9:
            stem = stem[:-1]
        stem = f"{stem}-{_short_hash(s)}"
    return stem


def unique_names(ids: Sequence[str]) -> list[str]:
    """One file stem per id, never the same for two ids (compared case-insensitively, as macOS and Windows do).

    An id keeps its ``safe_name`` unless another id maps to the same stem (``a/b`` and ``a_b``); then each id of
    the clash gets ``-`` + 8 hex digits of its sha256, except the one id (if any) that is its own stem. The result
    depends only on the set of ids, not their order. Duplicate ids raise ValueError.
    """
    if len(set(ids)) != len(ids):
        raise ValueError("unique_names needs distinct ids")
    stems = [safe_name(i) for i in ids]
    groups: dict[str, list[int]] = defaultdict(list)
    for k, st in enumerate(stems):
        groups[st.casefold()].append(k)
    out = list(stems)
    for members in groups.values():
        if len(members) < 2:
            continue
        exact = [k for k in members if stems[k] == ids[k]]
        keep = exact[0] if len(exact) == 1 else None
        for k in members:
            if k != keep:
                out[k] = f"{stems[k]}-{_short_hash(ids[k])}"
    seen = Counter(n.casefold() for n in out)
    for k, name in enumerate(out):
        if seen[name.casefold()] > 1:  # a suffixed stem met another id's plain stem: use the whole hash
            out[k] = f"{stems[k]}-{_short_hash(ids[k], 64)}"
    return out


def check_out_folder(out: str | Path, flag: str = "--out") -> Path:
    """Fail unless ``out`` can be (or already is) a folder: not a file, and no file where a parent folder should be."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{flag} {out} is a file, not a folder; give a folder path for the images (it is created if needed).")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise UserError(f"{flag} {out}: {parent} is a file, not a folder; choose another {flag} path.")
    return out


def _batches(jobs: list[Job], size: int) -> Iterator[list[Job]]:
    for i in range(0, len(jobs), size):
        yield jobs[i : i + size]


def _best_of(pipe: Pipeline, batch: list[Job], cond, text, k: int, scorer, truncation: float, sampling: dict,
             image_map: torch.Tensor | None = None) -> torch.Tensor:
    """Candidate c of a job with seed s uses seed s * k + c; keeps the best, notes every candidate's score."""
    from .best_of import best_of_batch

    kept, best, parts, scores_t = best_of_batch(pipe, cond, [j.seed for j in batch], k, scorer, truncation, text,
                                                **_map_arg(image_map), **sampling)
    for i, j in enumerate(batch):
        b = int(best[i])
        j.meta["best_of"] = {"kept_candidate": b, "kept_seed": j.seed * k + b,
                             **{name: round(float(parts[b][name][i]), 4) for name in parts[b]},
                             "candidate_scores": [round(float(scores_t[c, i]), 4) for c in range(k)]}
    return kept


def _map_arg(image_map: torch.Tensor | None) -> dict:
    """``image_map=`` only when there is one (an ONNX pipeline takes none)."""
    return {} if image_map is None else {"image_map": image_map}


def render_batch(pipe: Pipeline, batch: list[Job], truncation: float = 1.0, sampling: dict | None = None,
                 best_of: int = 1, scorer=None) -> np.ndarray:
    """One batch of jobs -> (B, R, R, 3) uint8 images (the best of ``best_of`` candidates each when > 1)."""
    sampling = dict(sampling or {})
    cond = torch.stack([j.cond for j in batch])
    text = torch.stack([j.text for j in batch]) if batch[0].text is not None else None
    image_map = torch.stack([j.image_map for j in batch]) if batch[0].image_map is not None else None
    if best_of == 1:
        x = pipe.generate_batch(cond, [j.seed for j in batch], truncation, text, **_map_arg(image_map), **sampling)
    else:
        x = _best_of(pipe, batch, cond, text, best_of, scorer, truncation, sampling, image_map)
    return to_uint8(x)


def stamped_png(pipe: Pipeline, job: Job, img: np.ndarray, about: dict, keys, title: str) -> bytes:
    """The PNG file of one generated image, with its provenance (``about`` + the job's seed, condition, id)."""
    from ..provenance import stamp_bytes

    info = {**about, "seed": job.seed, "condition": pipe.vocab.describe(job.cond),
            **{k: job.meta[k] for k in ("id", "best_of", "shape_of") if k in job.meta}}
    return stamp_bytes(png_bytes(Image.fromarray(img)), "generated", info, keys, title)


def write_grid(pipe: Pipeline, out: Path, imgs: np.ndarray, files: list[str], about: dict, keys, cols: int = 8) -> Path:
    """``out/grid.png``: ``imgs`` (B, R, R, 3) uint8 tiled ``cols`` wide, stamped like the images (``files``: theirs)."""
    from ..provenance import stamp_bytes

    grid = out / "grid.png"
    sheet = make_grid(imgs, min(cols, len(imgs)), scale=2 if pipe.model.resolution <= 32 else 1)
    write_bytes(grid, stamp_bytes(png_bytes(sheet), "generated", {**about, "contact_sheet": files}, keys, grid.name))
    return grid


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
    replace_previous: bool = False,
    keys=None,
) -> GenerationResult:
    """Generate every job (``best_of`` candidates each when > 1, scored by ``scorer``) and write the results.

    ``replace_previous``: images an earlier request wrote into ``out_dir`` (listed in its generation.json) and not
    written again now are removed at the end, so the folder holds one request's images, all listed in labels.csv.
    Files the earlier generation.json does not list are never touched.

    Every image, and the grid, carries its provenance (``prodgen.provenance.stamp_bytes``): the IPTC source type
    trainedAlgorithmicMedia and a C2PA manifest signed with ``keys`` (default: the default key folder's).
    """
    sampling = dict(sampling or {})
    if best_of < 1:
        raise ValueError("best_of must be at least 1")
    if best_of > 1 and scorer is None:
        raise ValueError("best_of > 1 needs a scorer (sample/best_of.py)")
    out = Path(out_dir)
    jobs = list(jobs)
    clash = [n for n, c in Counter(j.name.casefold() for j in jobs).items() if c > 1]
    if clash:
        raise ValueError(f"two jobs would write the same file {clash[0]!r}.png; name them with unique_names()")
    check_out_folder(out)
    from ..provenance import default_keys

    keys = keys or default_keys()  # a broken key folder fails before any work
    about = {"run": str(pipe.run_dir) if pipe.run_dir else None, "family": pipe.model.family,
             "weights_sha256": pipe.weights_hash, "request": request or {}}
    out.mkdir(parents=True, exist_ok=True)
    previous, manifests = _previous_images(out) if replace_previous else (set(), [])
    names = pipe.vocab.names
    with_ids = any("id" in j.meta for j in jobs)  # rows of a CSV: labels.csv maps each id to its file
    files: list[Path] = []
    grid_imgs: list[np.ndarray] = []
    rows: list[list[str]] = []
    t0 = time.monotonic()
    bar = progress_bar("generate", len(jobs), console=console, enabled=progress)
    with bar:
        for batch in _batches(jobs, batch_size):
            imgs = render_batch(pipe, batch, truncation, sampling, best_of, scorer)
            for j, img in zip(batch, imgs):
                path = out / f"{j.name}.png"
                write_bytes(path, stamped_png(pipe, j, img, about, keys, path.name))
                files.append(path)
                values = [pipe.vocab.attributes[a].decode(int(j.cond[a])) for a in range(len(names))]
                rows.append([path.name, *([str(j.meta.get("id", ""))] if with_ids else []),
                             *["" if v == "<unspecified>" else v for v in values], str(j.seed)])
                if len(grid_imgs) < grid_max:
                    grid_imgs.append(img)
            bar.advance(len(batch))
    seconds = time.monotonic() - t0
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", *(["id"] if with_ids else []), *names, "seed"])
    w.writerows(rows)
    write_text(out / "labels.csv", buf.getvalue())
    grid = None
    if grid_imgs:
        grid = write_grid(pipe, out, np.stack(grid_imgs), [f.name for f in files[:grid_max]], about, keys, grid_cols)
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
    removed = sorted(previous - {f.name for f in files})
    for name in removed:
        (out / name).unlink(missing_ok=True)
    for m in manifests:  # they would list images that are gone
        m.unlink(missing_ok=True)
    return GenerationResult(out, files, grid, seconds, removed)


def _previous_images(out: Path) -> tuple[set[str], list[Path]]:
    """PNG names an earlier ``generate`` left in ``out``: listed by its generation.json, or recorded by the manifests of
    a streamed ``generate --from-csv`` (sample/stream.py), with those manifests (removed with the images)."""
    from .stream import generated_manifests

    manifests, names = generated_manifests(out)
    return _listed_images(out) | {n for n in names if n.endswith(".png") and n != "grid.png"}, manifests


def _listed_images(out: Path) -> set[str]:
    """PNG names listed by the generation.json of an earlier ``generate`` in ``out`` (none when absent or unreadable;
    never those of ``fill`` or ``augment``, whose tables point at their images)."""
    import json

    try:
        d = json.loads((out / "generation.json").read_bytes().decode("utf-8"))
        if {"fill", "augment"} & set(d.get("request") or {}):
            return set()
        names = {str(img["file"]) for img in d.get("images", [])}
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, KeyError, TypeError):
        return set()
    return {n for n in names if n.endswith(".png") and Path(n).name == n and n != "grid.png"}


__all__ = ["GenerationResult", "Job", "check_out_folder", "render_batch", "safe_name", "stamped_png", "unique_names",
           "write_generation", "write_grid"]
