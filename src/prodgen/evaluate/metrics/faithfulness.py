"""Faithfulness of a generated image to the map it was drawn from: edge F1, Chamfer distance, silhouette IoU.

Maps are binary (H, W) arrays or (B, 1, H, W) / (B, H, W) tensors; distances are Euclidean, in pixels, from
``scipy.ndimage.distance_transform_edt``.

- ``edge_f1(pred, truth, tolerance)``: an edge pixel of ``pred`` is correct when a ``truth`` edge pixel lies within
  ``tolerance`` px (precision), and a ``truth`` pixel is found when a ``pred`` pixel lies that close (recall); F1 is
  their harmonic mean (the boundary F-measure of BSDS, Martin et al. 2004, with a distance tolerance in place of
  their bipartite matching). Both maps empty: 1; one empty: 0.
- ``chamfer_distance(a, b)``: the symmetric Chamfer distance, the mean of (mean distance from each ``a`` pixel to
  the nearest ``b`` pixel) and the same from ``b`` to ``a``: a line shifted by k px scores k. Both empty: 0; one
  empty: NaN (no distance to measure), which the per-batch means leave out and count.
- ``silhouette_iou``: ``data.mask.mask_iou`` per image.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage

from ...data.mask import mask_iou


def _as_masks(x) -> np.ndarray:
    """(B, H, W) bool from (H, W) / (B, H, W) / (B, 1, H, W) arrays or tensors (> 0.5 is on)."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim == 4:
        if arr.shape[1] != 1:
            raise ValueError(f"maps must have one channel, got {arr.shape}")
        arr = arr[:, 0]
    elif arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise ValueError(f"maps must be (H, W), (B, H, W) or (B, 1, H, W), got {arr.shape}")
    return arr > 0.5


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest pixel of ``mask`` (which must not be empty)."""
    return ndimage.distance_transform_edt(~mask)


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    ma, mb = _as_masks(a), _as_masks(b)
    if ma.shape != mb.shape:
        raise ValueError(f"maps of different shapes: {ma.shape} and {mb.shape}")
    return ma, mb


def edge_f1(pred, truth, tolerance: float = 1.0) -> np.ndarray:
    """(B,) F1 of ``pred`` edges against ``truth`` edges within ``tolerance`` px."""
    out = []
    for p, t in zip(*_pair(pred, truth)):
        if not p.any() and not t.any():
            out.append(1.0)
            continue
        if not p.any() or not t.any():
            out.append(0.0)
            continue
        precision = float((_distance_to(t)[p] <= tolerance).mean())
        recall = float((_distance_to(p)[t] <= tolerance).mean())
        out.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return np.array(out)


def chamfer_distance(a, b) -> np.ndarray:
    """(B,) symmetric Chamfer distance in px between the edge pixels of ``a`` and ``b`` (NaN when one is empty)."""
    out = []
    for p, t in zip(*_pair(a, b)):
        if not p.any() and not t.any():
            out.append(0.0)
        elif not p.any() or not t.any():
            out.append(math.nan)
        else:
            out.append(0.5 * (float(_distance_to(t)[p].mean()) + float(_distance_to(p)[t].mean())))
    return np.array(out)


def silhouette_iou(pred, truth) -> np.ndarray:
    """(B,) intersection over union of two sets of masks (``mask_iou``: both empty is 1)."""
    return np.array([mask_iou(p.astype(np.float32), t.astype(np.float32)) for p, t in zip(*_pair(pred, truth))])


def mean_with_interval(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                       weights: np.ndarray | None = None) -> dict[str, float]:
    """Mean of per-image scores (NaN left out and counted) with a percentile bootstrap interval over the images.

    ``weights``: optional non-negative weight per image (e.g. re-balancing classes): the weighted mean, and each
    bootstrap replicate resamples the images with their weights."""
    v = np.asarray(values, dtype=np.float64)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != v.shape or (w < 0).any() or not np.isfinite(w).all():
        raise ValueError(f"weights must be {v.size} finite non-negative values")
    keep = ~np.isnan(v)
    ok, wk = v[keep], w[keep]
    if ok.size == 0 or wk.sum() <= 0:
        return {"mean": math.nan, "ci95_low": math.nan, "ci95_high": math.nan, "n": 0, "n_undefined": int(v.size)}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, ok.size, size=(n_boot, ok.size))
    wb = wk[idx]
    total = wb.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        boots = (ok[idx] * wb).sum(axis=1) / total  # a replicate that drew only zero weights is NaN, left out
    lo, hi = np.nanquantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return {"mean": float((ok * wk).sum() / wk.sum()), "ci95_low": float(lo), "ci95_high": float(hi), "n": int(ok.size),
            "n_undefined": int(v.size - ok.size)}


__all__ = ["chamfer_distance", "edge_f1", "mean_with_interval", "silhouette_iou"]
