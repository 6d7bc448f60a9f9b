"""Studio-photo presentation: cut the product out, put it on a new background, add a shadow, relight, mirror.

Works on the white-background product photos catalogs are made of:
- ``product_mask``: pixels that differ from the backdrop colour (estimated from the
  image border) by more than a threshold, closed, holes filled, specks removed
  (scipy.ndimage), then a soft edge band of ``feather`` pixels.
- ``composite``: alpha blend onto the background; pixels inside the product and
  farther than the edge band from its outline keep their exact input values.
- backgrounds: ``solid:#rrggbb``, ``gradient:#top:#bottom``, ``studio:#rrggbb``
  (a generated backdrop: radial light fall-off and fine grain, seeded),
  or ``image:path``.
- ``drop_shadow``: the mask squashed onto the floor, blurred and darkening the
  background (never the product).
- ``relight``: brightness and colour temperature of the product pixels.
The mask quality is measured against the exact masks of the synthetic catalog
(bench/results/background_mask.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..data.mask import Cutout, mask_iou, product_mask
from ..errors import UserError

HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_colour(s: str) -> np.ndarray:
    m = HEX.match(s.strip())
    if not m:
        raise UserError(f"colour {s!r} is not #rrggbb (e.g. #ffffff)")
    h = m.group(1)
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float32) / 255.0


def make_background(spec: str, h: int, w: int, seed: int = 0) -> np.ndarray:
    """(3, H, W) background in [0, 1] from a spec (see module doc)."""
    kind, _, rest = spec.partition(":")
    if kind == "solid":
        return np.broadcast_to(parse_colour(rest)[:, None, None], (3, h, w)).copy()
    if kind == "gradient":
        parts = rest.split(":")
        if len(parts) != 2:
            raise UserError(f"--background {spec!r}: a gradient is gradient:#top:#bottom")
        top, bottom = parse_colour(parts[0]), parse_colour(parts[1])
        t = np.linspace(0, 1, h, dtype=np.float32)[None, :, None]
        return np.broadcast_to(top[:, None, None] * (1 - t) + bottom[:, None, None] * t, (3, h, w)).copy()
    if kind == "studio":
        base = parse_colour(rest or "#eeeeee")
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.sqrt(((xx - w / 2) / w) ** 2 + ((yy - h * 0.4) / h) ** 2)
        fall = 1.0 - 0.35 * np.clip(r / 0.75, 0, 1) ** 2
        grain = np.random.default_rng(seed).normal(0, 0.006, (h, w)).astype(np.float32)
        return np.clip(base[:, None, None] * (fall + grain)[None], 0, 1)
    if kind == "image":
        from ..data.images import ImageError, letterbox, open_image

        path = Path(rest)
        if not rest:
            raise UserError("--background image: needs a path, e.g. image:backdrop.jpg")
        if path.is_dir():
            raise UserError(f"--background image:{path} is a folder; give an image file, e.g. image:backdrop.jpg")
        if not path.is_file():
            raise UserError(f"--background image:{path} not found; give an existing PNG/JPEG/WebP file")
        try:
            im = open_image(path)
        except ImageError as e:
            raise UserError(f"--background image:{path} cannot be used: {e}. Give a readable PNG/JPEG/WebP file, "
                            "or a colour background (solid:#rrggbb, gradient:#top:#bottom, studio:#rrggbb).") from e
        arr = np.asarray(letterbox(im, max(h, w)), dtype=np.float32).transpose(2, 0, 1) / 255.0
        return arr[:, :h, :w].copy()
    raise UserError(f"--background {spec!r}: use solid:#rrggbb, gradient:#top:#bottom, studio:#rrggbb or image:PATH")


def drop_shadow(alpha: np.ndarray, strength: float = 0.35, blur: float = 0.03, squash: float = 0.25) -> np.ndarray:
    """(H, W) shadow darkness in [0, strength]: the silhouette squashed towards its base, blurred."""
    h, w = alpha.shape
    rows = np.flatnonzero(alpha.max(axis=1) > 0.5)
    if rows.size == 0:
        return np.zeros_like(alpha)
    bottom = rows[-1]
    # Squash vertically around the bottom edge: a floor shadow, as if lit from the front and above.
    src_y = bottom - (bottom - np.arange(h)) / max(squash, 1e-3)
    src = np.clip(np.round(src_y).astype(int), 0, h - 1)
    flat = np.where(((src_y >= 0) & (src_y < h))[:, None], alpha[src, :], 0.0)
    flat = np.roll(flat, max(1, int(0.01 * h)), axis=0)
    return strength * np.clip(ndimage.gaussian_filter(flat, sigma=blur * max(h, w)), 0, 1)


def relight(img: np.ndarray, brightness: float = 1.0, temperature: float = 0.0) -> np.ndarray:
    """Scale brightness; ``temperature`` in [-1, 1]: warmer (+, more red, less blue) or cooler (-)."""
    gains = np.array([1 + 0.12 * temperature, 1.0, 1 - 0.12 * temperature], dtype=np.float32) * brightness
    return np.clip(img * gains[:, None, None], 0, 1)


def composite(img: np.ndarray, cut: Cutout, background: np.ndarray, shadow: np.ndarray | None = None) -> np.ndarray:
    """Product over the background (darkened by ``shadow``); ``cut.core`` pixels are the input's, exactly."""
    bg = background if shadow is None else background * (1 - shadow)[None]
    out = cut.alpha[None] * img + (1 - cut.alpha[None]) * bg
    return np.where(cut.core[None], img, out)


def restage(img: np.ndarray, background: str = "solid:#ffffff", shadow: bool = False, brightness: float = 1.0,
            temperature: float = 0.0, mirror: bool = False, seed: int = 0, threshold: float = 0.08) -> tuple[np.ndarray, Cutout]:
    """The whole ``prodgen vary PHOTO --background ...`` path on a (3, H, W) float image in [0, 1]."""
    cut = product_mask(img, threshold=threshold)
    if cut.alpha.max() == 0:
        raise UserError("no product found: the photo looks like plain backdrop (try a lower --threshold)")
    prod = relight(img, brightness, temperature) if (brightness != 1.0 or temperature != 0.0) else img
    h, w = cut.alpha.shape
    bg = make_background(background, h, w, seed)
    out = composite(prod, cut, bg, drop_shadow(cut.alpha) if shadow else None)
    if mirror:
        out = out[:, :, ::-1].copy()
    return out, cut


__all__ = ["Cutout", "composite", "drop_shadow", "make_background", "mask_iou", "parse_colour", "product_mask",
           "relight", "restage"]
