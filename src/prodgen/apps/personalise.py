"""``prodgen personalise``: images matching one shopper's taste, from the items they viewed or bought.

Preferences: for each conditioning attribute, the share of each value in the history
(add-one smoothed over the model's vocabulary); for text-conditioned runs also the
mean of the history's title embeddings. Each generated image draws its attribute
values from the preference distribution sharpened by ``diversity`` (0: always the
favourite value, 1: in proportion to the history, plus the smoothing's long tail).
The page shows the history photos next to the generated set and the preferences.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..atomic import write_bytes, write_json, write_text
from ..conditioning import OTHER, UNKNOWN, UNSPECIFIED
from ..errors import UserError
from ..grid import make_grid, png_bytes, save_grid


@dataclass
class Preferences:
    shares: dict[str, dict[str, float]]  # attribute -> value -> share of the history
    text: torch.Tensor | None  # mean title embedding (unit norm), text runs only
    history: list[str]  # the ids found in the catalog
    unknown_ids: list[str]


def read_history(path: str | Path) -> list[str]:
    p = Path(path)
    if p.is_dir():
        raise UserError(f"--history {p} is a folder: give a text file with one item id per line")
    if not p.is_file():
        raise UserError(f"--history {p} not found: give a text file with one item id per line")
    raw = p.read_bytes()
    try:
        if b"\0" in raw:
            raise ValueError("NUL bytes")
        text = raw.decode("utf-8-sig")
    except (UnicodeDecodeError, ValueError) as e:
        raise UserError(f"--history {p} is not a text file (binary data: {e}); give a UTF-8 text file with one "
                        "item id per line, e.g. exported from the shop's order or view log") from e
    ids = [ln.strip().split(",")[0].strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    ids = [i for i in ids if i]
    if not ids:
        raise UserError(f"--history {p} lists no item ids (one id per line)")
    return ids


def estimate_preferences(pipe, catalog, ids: list[str]) -> Preferences:
    by_id = {r.id: r for r in catalog.records}
    found = [i for i in ids if i in by_id]
    unknown = [i for i in ids if i not in by_id]
    if not found:
        raise UserError(f"none of the {len(ids)} history ids is in {catalog.name} (first: {ids[0]!r}); "
                        "check the ids and --catalog")
    shares = {}
    for a in pipe.vocab.attributes:
        counts = {v: 0.0 for v in a.values if v not in (UNSPECIFIED, UNKNOWN)}
        for i in found:
            raw = by_id[i].attributes.get(a.name)
            v = a.decode(a.encode_raw(raw))
            if v in counts:
                counts[v] += 1.0
        total = sum(counts.values())
        shares[a.name] = {v: c / total for v, c in counts.items()} if total else {}
    text = None
    if pipe.model.text_dim:
        emb = pipe.encode_text([by_id[i].title for i in found])
        m = emb.mean(0)
        text = m / m.norm().clamp_min(1e-8)
    return Preferences(shares, text, found, unknown)


def sample_conditions(pipe, prefs: Preferences, n: int, diversity: float, seed: int) -> torch.Tensor:
    """(n, A) condition ids drawn from the preferences; ``diversity`` in [0, 1]."""
    if not 0 <= diversity <= 1:
        raise UserError("--diversity must lie in [0, 1]")
    rng = np.random.default_rng(seed)
    cols = []
    for a in pipe.vocab.attributes:
        share = prefs.shares.get(a.name) or {}
        values = [v for v in a.values if v not in (UNSPECIFIED, UNKNOWN, OTHER)]
        if not share or not values:
            cols.append(np.zeros(n, dtype=np.int64))
            continue
        w = np.array([share.get(v, 0.0) + 1.0 / (len(values) * 20) for v in values])  # smoothing: a long tail
        if diversity <= 0:
            p = (w == w.max()).astype(float)
        else:
            p = w ** (1.0 / diversity)  # temperature: low diversity sharpens towards the favourite
        p = p / p.sum()
        picks = rng.choice(len(values), size=n, p=p)
        cols.append(np.array([a.values.index(values[k]) for k in picks], dtype=np.int64))
    return torch.from_numpy(np.stack(cols, axis=1))


def personalise(pipe, catalog, history: list[str], out: str | Path, n: int = 12, diversity: float = 0.5, seed: int = 0,
                sampling: dict | None = None) -> Path:
    """Generate ``n`` images for the history; writes grid, history strip, preferences.json and index.html in ``out``.
    The grid of generated images carries its provenance (``prodgen.provenance``); the history strip shows real photos."""
    from ..provenance import default_keys, stamp_bytes

    out = Path(out)
    if n < 1:
        raise UserError(f"-n {n}: ask for at least one image")
    keys = default_keys()  # a broken key folder fails before any work
    prefs = estimate_preferences(pipe, catalog, history)
    cond = sample_conditions(pipe, prefs, n, diversity, seed)
    out.mkdir(parents=True, exist_ok=True)
    text = prefs.text.expand(n, -1) if prefs.text is not None else None
    imgs = pipe.generate_batch(cond, list(range(seed, seed + n)), text=text, **(sampling or {}))
    cols = min(6, n)
    sheet = png_bytes(make_grid(imgs, cols, scale=2 if pipe.model.resolution <= 64 else 1))
    info = {"run": str(pipe.run_dir) if pipe.run_dir else None, "family": pipe.model.family, "seed": seed,
            "request": {"personalise_history_items": len(prefs.history), "n": n, "diversity": diversity,
                        "seeds": [seed, seed + n - 1]}}
    write_bytes(out / "generated.png", stamp_bytes(sheet, "generated", info, keys, "generated.png"))  # history.png: real photos
    from ..data import prepare_images

    tensors = prepare_images(catalog, pipe.model.resolution, progress=False)
    known = [i for i in prefs.history if i in set(tensors.ids)][:12]
    if known:
        hist = tensors.images[tensors.index_of(known)].float() / 127.5 - 1
        save_grid(hist, out / "history.png", min(6, len(known)), scale=2 if pipe.model.resolution <= 64 else 1)
    labels = [pipe.vocab.describe(c) for c in cond]
    write_json(out / "preferences.json", {
        "history": prefs.history, "unknown_ids": prefs.unknown_ids, "diversity": diversity, "seed": seed,
        "shares": {a: {v: round(s, 4) for v, s in sorted(d.items(), key=lambda kv: -kv[1]) if s > 0} for a, d in prefs.shares.items()},
        "uses_titles": prefs.text is not None, "generated": labels, **pipe.describe()})
    top = "".join(f"<li><b>{html.escape(a)}</b>: " + ", ".join(f"{html.escape(v)} {s:.0%}" for v, s in
                  sorted(d.items(), key=lambda kv: -kv[1])[:5] if s > 0) + "</li>" for a, d in prefs.shares.items())
    page = (f"<!doctype html><meta charset='utf-8'><title>prodgen: for this shopper</title><body style='font-family:sans-serif;"
            f"max-width:1000px;margin:2em auto'><h1>For this shopper</h1><p>{len(prefs.history)} items in the history "
            f"({len(prefs.unknown_ids)} ids not in the catalog); diversity {diversity}; model {html.escape(pipe.model.family)}"
            f"{' with the mean title' if prefs.text is not None else ''}.</p><ul>{top}</ul>"
            + ("<h2>History</h2><img src='history.png' style='image-rendering:pixelated'>" if known else "")
            + "<h2>Generated for them</h2><img src='generated.png' style='image-rendering:pixelated'></body>")
    write_text(out / "index.html", page)
    return out / "index.html"


__all__ = ["Preferences", "estimate_preferences", "personalise", "read_history", "sample_conditions"]
