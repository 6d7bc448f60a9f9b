"""Draws the hand-drawn-style test sketches in this folder (run: python tests/data/sketches/draw_sketches.py).

No paint program was available, so each sketch is a list of strokes (polylines through points placed by hand
below, in a 0..100 coordinate box), drawn the way a hand would: every stroke is resampled, bent by smooth random
wobble (a few px), starts and ends a little past or short of its target, and its pen width varies along it
(2-6 px on a 400-px canvas). Black on white, canvases of different sizes and aspect ratios. Nothing here comes
from Canny or from a catalog photo. Seeded: rerunning writes the same files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent


def ellipse(cx, cy, rx, ry, n=28, start=0.0, end=2 * math.pi):
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in np.linspace(start, end, n)]


SKETCHES = {
    "tshirt": ((400, 400), [
        [(34, 18), (20, 24), (6, 38), (16, 50), (26, 42), (27, 88), (73, 88), (74, 42), (84, 50), (94, 38), (80, 24), (66, 18)],
        [(34, 18), (40, 25), (50, 28), (60, 25), (66, 18)],
        [(26, 42), (24, 36)], [(74, 42), (76, 36)],
    ]),
    "shoe": ((480, 320), [
        [(8, 62), (10, 50), (22, 46), (38, 40), (48, 28), (56, 26), (60, 34), (70, 42), (86, 48), (94, 56), (92, 66),
         (8, 66), (8, 62)],
        [(8, 66), (10, 72), (92, 72), (92, 66)],
        [(46, 32), (52, 40)], [(42, 36), (48, 43)], [(38, 40), (44, 46)],
    ]),
    "handbag": ((400, 440), [
        [(14, 40), (86, 40), (92, 90), (8, 90), (14, 40)],
        ellipse(50, 40, 24, 26, n=22, start=math.pi, end=2 * math.pi),
        ellipse(50, 40, 18, 20, n=20, start=math.pi, end=2 * math.pi),
        [(14, 52), (86, 52)], [(46, 52), (46, 58), (54, 58), (54, 52)],
    ]),
    "watch": ((300, 460), [
        ellipse(50, 50, 22, 22, n=34),
        ellipse(50, 50, 17, 17, n=30),
        [(38, 31), (40, 4), (60, 4), (62, 31)], [(38, 69), (40, 96), (60, 96), (62, 69)],
        [(50, 50), (50, 38)], [(50, 50), (58, 54)], [(72, 47), (76, 47), (76, 53), (72, 53)],
    ]),
    "dress": ((320, 480), [
        [(38, 6), (36, 22), (30, 40), (40, 46), (18, 94), (82, 94), (60, 46), (70, 40), (64, 22), (62, 6)],
        [(38, 6), (44, 14), (56, 14), (62, 6)],
        [(40, 46), (60, 46)],
    ]),
    "sunglasses": ((480, 260), [
        ellipse(28, 52, 18, 14, n=30), ellipse(72, 52, 18, 14, n=30),
        [(46, 48), (50, 44), (54, 48)],
        [(10, 46), (2, 40)], [(90, 46), (98, 40)],
    ]),
}


def hand_stroke(points, rng, scale, size):
    """Resampled, wobbling polyline with overshoot; returns [(x, y, width)] in canvas pixels."""
    pts = np.array(points, dtype=np.float64)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    total = seg.sum()
    n = max(8, int(total * 1.5))
    t = np.concatenate([[0], np.cumsum(seg)]) / max(total, 1e-9)
    s = np.linspace(-0.02 * rng.uniform(-1, 1.5), 1 + 0.02 * rng.uniform(-1, 1.5), n)  # start/end short or long
    x = np.interp(s, t, pts[:, 0], left=None, right=None)
    y = np.interp(s, t, pts[:, 1])
    # extrapolate the overshoot along the first / last segment
    for i in range(n):
        if s[i] < 0:
            d = pts[1] - pts[0]
            x[i], y[i] = pts[0] + d / max(np.linalg.norm(d), 1e-9) * s[i] * total
        elif s[i] > 1:
            d = pts[-1] - pts[-2]
            x[i], y[i] = pts[-1] + d / max(np.linalg.norm(d), 1e-9) * (s[i] - 1) * total
    wobble = np.cumsum(rng.normal(0, 0.25, (n, 2)), axis=0)
    wobble -= np.linspace(wobble[0], wobble[-1], n)  # a wobble, not a drift
    kernel = np.ones(5) / 5
    wobble = np.stack([np.convolve(wobble[:, k], kernel, mode="same") for k in range(2)], 1)
    w = 2.0 + 3.5 * (0.5 + 0.5 * np.sin(np.linspace(0, rng.uniform(2, 6), n) + rng.uniform(0, 6)))
    sx, sy = size[0] / 100 * scale, size[1] / 100 * scale
    ox, oy = size[0] * (1 - scale) / 2, size[1] * (1 - scale) / 2
    return [(ox + (x[i] + wobble[i, 0]) * sx, oy + (y[i] + wobble[i, 1]) * sy, w[i]) for i in range(n)]


def draw(name: str, size, strokes, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.new("L", size, 255)
    d = ImageDraw.Draw(img)
    for stroke in strokes:
        pts = hand_stroke(stroke, rng, 0.9, size)
        for (x0, y0, w0), (x1, y1, _) in zip(pts[:-1], pts[1:]):
            d.line([(x0, y0), (x1, y1)], fill=int(rng.uniform(0, 40)), width=max(1, int(round(w0))))
            r = w0 / 2
            d.ellipse([x1 - r, y1 - r, x1 + r, y1 + r], fill=20)  # round pen joints
    return img


def main() -> None:
    for k, (name, (size, strokes)) in enumerate(SKETCHES.items()):
        draw(name, size, strokes, seed=100 + k).save(HERE / f"{name}.png", optimize=True)


if __name__ == "__main__":
    main()
