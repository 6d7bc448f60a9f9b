"""The product mask of a photo on a plain backdrop, shared by every layer that needs one.

``product_mask`` cuts the product out for ``prodgen vary`` (apps/background.py), the studio's fidelity check and
the silhouette condition of image-conditioned models (conditioning/maps.py); ``mask_iou`` scores a mask against
another. Its quality against the synthetic catalog's exact masks: bench/results/background_mask.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage


@dataclass
class Cutout:
    alpha: np.ndarray  # (H, W) float in [0, 1]; 1 inside the product
    core: np.ndarray  # (H, W) bool: inside the product and outside the edge band (pixels kept exactly)
    backdrop: np.ndarray  # (3,) estimated backdrop colour in [0, 1]


def _border_colour(img: np.ndarray) -> np.ndarray:
    border = np.concatenate([img[:, 0], img[:, -1], img[:, :, 0], img[:, :, -1]], axis=1)  # (3, 2H+2W)
    return np.median(border, axis=1)


MASK_THRESHOLD = 0.08  # a pixel this far from the backdrop (largest channel difference, in [0, 1]) is the product's


def backdrop_masks(images: torch.Tensor, threshold: float = MASK_THRESHOLD) -> torch.Tensor:
    """(B, 3, H, W) images in [0, 1] -> (B, 1, H, W) masks in {0, 1}, 1 where a pixel differs from its image's
    backdrop (the median of its border) by more than ``threshold``: the first step of ``product_mask``, on a whole batch
    in torch and without its closing and hole filling (cheap enough for every training step; no gradient)."""
    with torch.no_grad():
        border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], dim=-1)
        bg = border.median(dim=-1).values  # (B, 3)
        return ((images - bg[..., None, None]).abs().amax(dim=1, keepdim=True) > threshold).to(images.dtype)


def product_mask(img: np.ndarray, threshold: float = MASK_THRESHOLD, feather: int = 1, min_area: float = 0.002) -> Cutout:
    """Soft product mask of a (3, H, W) float image in [0, 1] photographed on a plain backdrop."""
    if img.ndim != 3 or img.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) image, got {img.shape}")
    bg = _border_colour(img)
    diff = np.abs(img - bg[:, None, None]).max(axis=0)
    fg = diff > threshold
    fg = ndimage.binary_closing(fg, structure=np.ones((3, 3)), iterations=1)
    fg = ndimage.binary_fill_holes(fg)
    labels, n = ndimage.label(fg)
    if n:
        sizes = ndimage.sum(fg, labels, range(1, n + 1))
        keep = np.isin(labels, 1 + np.flatnonzero(sizes >= min_area * fg.size))
        fg = keep
    if feather > 0:
        core = ndimage.binary_erosion(fg, iterations=feather, border_value=1)
        soft = ndimage.gaussian_filter(fg.astype(np.float32), sigma=feather * 0.75)
        alpha = np.where(core, 1.0, np.where(ndimage.binary_dilation(fg, iterations=feather), soft, 0.0))
    else:
        core, alpha = fg, fg.astype(np.float32)
    return Cutout(alpha.astype(np.float32), core, bg)


def mask_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    p, t = pred > 0.5, truth > 0.5
    union = np.logical_or(p, t).sum()
    return float(np.logical_and(p, t).sum() / union) if union else 1.0


__all__ = ["Cutout", "mask_iou", "product_mask"]
