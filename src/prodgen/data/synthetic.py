"""The built-in synthetic catalog: seeded, procedural product photos on white.

Seven categories with clearly different silhouettes, twelve named colours, four
patterns, titles made from the attributes ("Red striped t-shirt"). Each image is
rendered from its own RNG seeded by (seed, index), so any one image can be drawn
alone and the same seed always gives the same bytes.
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image, ImageDraw

from .catalog import Catalog, Record

VERSION = 1
SIZE = 128  # rendered size; the cache letterboxes/resizes to the run's resolution
SS = 2  # supersampling factor for anti-aliasing

CATEGORIES = ("t-shirt", "trousers", "dress", "shoe", "handbag", "watch", "cap")
COLOURS = {
    "red": (200, 30, 35), "blue": (35, 75, 200), "green": (35, 150, 60), "yellow": (235, 200, 30),
    "black": (25, 25, 28), "white": (245, 245, 245), "navy": (25, 35, 90), "pink": (235, 130, 175),
    "orange": (240, 120, 25), "purple": (120, 50, 160), "brown": (120, 75, 40), "grey": (130, 130, 135),
}
PATTERNS = ("plain", "striped", "dotted", "checked")


def _poly(points, s: float, dx: float, dy: float) -> list[tuple[float, float]]:
    """Unit-square polygon (0..1) -> supersampled pixel coordinates with scale and offset."""
    c = SIZE * SS / 2
    return [((x - 0.5) * s * SIZE * SS + c + dx * SS, (y - 0.5) * s * SIZE * SS + c + dy * SS) for x, y in points]


SHAPES = {
    "t-shirt": [(0.30, 0.15), (0.42, 0.12), (0.50, 0.18), (0.58, 0.12), (0.70, 0.15), (0.92, 0.32), (0.82, 0.44),
                (0.72, 0.37), (0.72, 0.88), (0.28, 0.88), (0.28, 0.37), (0.18, 0.44), (0.08, 0.32)],
    "trousers": [(0.30, 0.08), (0.70, 0.08), (0.76, 0.92), (0.57, 0.92), (0.50, 0.35), (0.43, 0.92), (0.24, 0.92)],
    "dress": [(0.40, 0.06), (0.46, 0.06), (0.50, 0.12), (0.54, 0.06), (0.60, 0.06), (0.62, 0.38), (0.84, 0.94),
              (0.16, 0.94), (0.38, 0.38)],
    "shoe": [(0.10, 0.42), (0.30, 0.40), (0.40, 0.52), (0.62, 0.56), (0.86, 0.62), (0.92, 0.72), (0.90, 0.76),
             (0.10, 0.76)],
    "handbag": [(0.18, 0.40), (0.82, 0.40), (0.88, 0.86), (0.12, 0.86)],
    "watch": [(0.43, 0.05), (0.57, 0.05), (0.57, 0.95), (0.43, 0.95)],
    "cap": [(0.18, 0.62), (0.22, 0.42), (0.35, 0.30), (0.50, 0.27), (0.65, 0.30), (0.78, 0.42), (0.80, 0.62),
            (0.95, 0.66), (0.95, 0.72), (0.18, 0.72)],
}


def _outline(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(v * 0.55) for v in rgb) if sum(rgb) > 200 else tuple(min(255, v + 60) for v in rgb)


def _contrast(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return (250, 250, 250) if sum(rgb) < 450 else (40, 40, 45)


def render(category: str, colour: str, pattern: str, rng: np.random.Generator, with_mask: bool = False):
    """One product photo, SIZE x SIZE RGB on white; with ``with_mask`` also its exact (SIZE, SIZE) bool mask."""
    s = float(rng.uniform(0.85, 1.0))
    dx, dy = (float(v) for v in rng.uniform(-5, 5, size=2))
    base = np.array(COLOURS[colour], dtype=float) * float(rng.uniform(0.9, 1.1))
    rgb = tuple(int(v) for v in np.clip(base, 0, 255))
    big = SIZE * SS
    img = Image.new("RGB", (big, big), (255, 255, 255))
    mask = Image.new("L", (big, big), 0)
    md = ImageDraw.Draw(mask)
    pts = _poly(SHAPES[category], s, dx, dy)
    md.polygon(pts, fill=255)
    if category == "handbag":  # handle
        (x0, y0), (x1, _) = _poly([(0.32, 0.16), (0.68, 0.16)], s, dx, dy)
        md.arc([x0, y0, x1, y0 + (x1 - x0) * 0.9], 180, 360, fill=255, width=int(6 * SS * s))
    if category == "watch":  # round face over the strap
        (cx, cy), = _poly([(0.5, 0.5)], s, dx, dy)
        r = 0.2 * s * big
        md.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    fill = Image.new("RGB", (big, big), rgb)
    fd = ImageDraw.Draw(fill)
    alt = _contrast(rgb)
    step = int(14 * SS * s)
    if pattern == "striped":
        for y in range(0, big, step):
            fd.rectangle([0, y, big, y + step // 3], fill=alt)
    elif pattern == "dotted":
        for y in range(step // 2, big, step):
            for x in range(step // 2, big, step):
                fd.ellipse([x - step // 5, y - step // 5, x + step // 5, y + step // 5], fill=alt)
    elif pattern == "checked":
        for y in range(0, big, step):
            for x in range(0, big, step):
                if (x // step + y // step) % 2 == 0:
                    fd.rectangle([x, y, x + step - 1, y + step - 1], fill=tuple((a + b) // 2 for a, b in zip(rgb, alt)))
    img.paste(fill, (0, 0), mask)
    d = ImageDraw.Draw(img)
    d.polygon(pts, outline=_outline(rgb), width=2 * SS)
    if category == "watch":
        d.ellipse([cx - r * 0.7, cy - r * 0.7, cx + r * 0.7, cy + r * 0.7], fill=(240, 240, 235), outline=_outline(rgb), width=SS)
        d.line([cx, cy, cx, cy - r * 0.5], fill=(20, 20, 20), width=SS * 2)
        d.line([cx, cy, cx + r * 0.4, cy], fill=(20, 20, 20), width=SS * 2)
    if category == "shoe":  # sole
        sole = _poly([(0.10, 0.72), (0.90, 0.72), (0.90, 0.78), (0.10, 0.78)], s, dx, dy)
        d.polygon(sole, fill=(235, 235, 230) if sum(rgb) < 450 else (60, 60, 60))
    out = img.resize((SIZE, SIZE), Image.LANCZOS)
    if not with_mask:
        return out
    truth = mask.copy()  # the product's pixels: body, handle/face, outline and sole
    td = ImageDraw.Draw(truth)
    td.polygon(pts, outline=255, width=2 * SS)
    if category == "shoe":
        td.polygon(sole, fill=255)
    return out, np.asarray(truth.resize((SIZE, SIZE), Image.BILINEAR)) >= 128


def _title(category: str, colour: str, pattern: str) -> str:
    words = [colour.capitalize()] + ([] if pattern == "plain" else [pattern]) + [category]
    return " ".join(words)


def synthetic_catalog(n: int = 3000, seed: int = 0) -> Catalog:
    rng = np.random.default_rng(seed)
    colours = list(COLOURS)
    cats = rng.integers(len(CATEGORIES), size=n)
    cols = rng.integers(len(colours), size=n)
    pats = rng.choice(len(PATTERNS), size=n, p=[0.55, 0.15, 0.15, 0.15])
    records = []
    for i in range(n):
        c, k, p = CATEGORIES[cats[i]], colours[cols[i]], PATTERNS[pats[i]]
        records.append(Record(f"syn-{i:05d}", {"category": c, "colour": k, "pattern": p}, _title(c, k, p)))
    index = {r.id: i for i, r in enumerate(records)}

    def loader(rec: Record) -> Image.Image:
        a = rec.attributes
        return render(a["category"], a["colour"], a["pattern"], np.random.default_rng([seed, index[rec.id]]))

    fp = hashlib.sha256(repr(("synthetic", VERSION, n, seed)).encode()).hexdigest()
    return Catalog("synthetic", "synthetic", records, ["category", "colour", "pattern"], loader, fp,
                   default_condition=("category", "colour"))
