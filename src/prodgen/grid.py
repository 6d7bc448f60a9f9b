"""Tensors in [-1, 1] -> uint8 images, PNG files and labelled grids (atomic writes)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .atomic import write_bytes


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [-1, 1] -> (B, H, W, 3) uint8."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) images, got {tuple(images.shape)}")
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def save_png(image: Image.Image | np.ndarray, path: str | Path) -> None:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    write_bytes(path, png_bytes(image))


def make_grid(
    images: torch.Tensor | np.ndarray,
    ncol: int,
    row_labels: list[str] | None = None,
    col_labels: list[str] | None = None,
    pad: int = 2,
    scale: int = 1,
) -> Image.Image:
    """Tile images row-major on a light grey canvas, with optional row/column captions."""
    arr = to_uint8(images) if isinstance(images, torch.Tensor) else images
    n, h, w, _ = arr.shape
    nrow = (n + ncol - 1) // ncol
    font = ImageFont.load_default()
    left = (max((len(s) for s in row_labels), default=0) * 6 + 6) if row_labels else 0
    top = 14 if col_labels else 0
    hs, ws = h * scale, w * scale
    canvas = Image.new("RGB", (left + ncol * (ws + pad) + pad, top + nrow * (hs + pad) + pad), (200, 200, 200))
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        r, c = divmod(i, ncol)
        tile = Image.fromarray(arr[i])
        if scale != 1:
            tile = tile.resize((ws, hs), Image.NEAREST)
        canvas.paste(tile, (left + pad + c * (ws + pad), top + pad + r * (hs + pad)))
    for r, label in enumerate(row_labels or []):
        draw.text((2, top + pad + r * (hs + pad) + hs // 2 - 5), label, fill=(0, 0, 0), font=font)
    for c, label in enumerate(col_labels or []):
        max_chars = max(1, (ws + pad) // 6)
        draw.text((left + pad + c * (ws + pad), 1), label[:max_chars], fill=(0, 0, 0), font=font)
    return canvas


def save_grid(images: torch.Tensor | np.ndarray, path: str | Path, ncol: int, **kwargs) -> None:
    save_png(make_grid(images, ncol, **kwargs), path)
