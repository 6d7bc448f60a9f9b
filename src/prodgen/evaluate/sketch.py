"""Sketch -> product figures: faithfulness of generated photos to their input map, and the flood-fill baseline.

- ``faithfulness(images, maps, kind)``: the same map is derived from each generated photo (Canny edges or the
  product mask, conditioning/maps.py) and compared with the map it was drawn from: edge F1 within 1 px and the
  symmetric Chamfer distance (edges), or IoU (silhouettes).
- ``flood_fill_baseline``: the trivial baseline of the issue. The region inside the map (a silhouette itself; for
  edges, every pixel enclosed by a contour after a 3x3 closing that bridges 1-px gaps, plus the edges) is filled
  with the mean product colour of the requested condition in the training split, white elsewhere. The colour of a
  condition is the mean over the product pixels (``product_mask``) of the training photos with that exact
  condition; conditions with fewer than ``MIN_PHOTOS`` photos use their first attribute's (the article type's),
  then the whole split's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from ..conditioning.maps import derive_maps
from .metrics.faithfulness import chamfer_distance, edge_f1, silhouette_iou

MIN_PHOTOS = 5
EDGE_TOLERANCE = 1.0  # px, for edge F1


def _float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, R, R) or float in [-1, 1] -> float in [-1, 1]."""
    return images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()


def faithfulness(images: torch.Tensor, maps: torch.Tensor, kind: str) -> dict[str, np.ndarray]:
    """Per-image agreement of generated ``images`` with the (B, 1, R, R) ``maps`` they were drawn from."""
    derived = derive_maps(kind, _float(images))
    if kind == "edges":
        return {"edge_f1": edge_f1(derived, maps, EDGE_TOLERANCE), "chamfer_px": chamfer_distance(derived, maps)}
    return {"silhouette_iou": silhouette_iou(derived, maps)}


def fill_region(image_map: np.ndarray, kind: str) -> np.ndarray:
    """(R, R) bool: the area a map encloses (see the module doc)."""
    m = image_map > 0.5
    if kind == "silhouette":
        return m
    closed = ndimage.binary_closing(m, structure=np.ones((3, 3)), border_value=0)
    return ndimage.binary_fill_holes(closed) | m


@dataclass
class MeanColours:
    """Mean product colour (uint8 RGB as floats) per condition, per first attribute and overall."""

    by_condition: dict[tuple[int, ...], np.ndarray]
    by_first: dict[int, np.ndarray]
    overall: np.ndarray

    @classmethod
    def fit(cls, images: torch.Tensor, cond: torch.Tensor, batch: int = 256) -> MeanColours:
        """From training photos: uint8 (N, 3, R, R) and their (N, A) condition ids."""
        sums: dict[tuple[int, ...], np.ndarray] = {}
        counts: dict[tuple[int, ...], int] = {}
        for i in range(0, len(images), batch):
            x = images[i : i + batch]
            masks = derive_maps("silhouette", _float(x))[:, 0].numpy() > 0.5  # (b, R, R)
            arr = x.numpy().astype(np.float64)
            for k in range(len(x)):
                if not masks[k].any():
                    continue
                key = tuple(int(v) for v in cond[i + k].tolist())
                sums[key] = sums.get(key, 0) + arr[k][:, masks[k]].mean(axis=1)
                counts[key] = counts.get(key, 0) + 1
        by_condition = {k: sums[k] / counts[k] for k in sums if counts[k] >= MIN_PHOTOS}
        first_sums: dict[int, np.ndarray] = {}
        first_counts: dict[int, int] = {}
        for k, s in sums.items():
            first_sums[k[0]] = first_sums.get(k[0], 0) + s
            first_counts[k[0]] = first_counts.get(k[0], 0) + counts[k]
        by_first = {k: first_sums[k] / first_counts[k] for k in first_sums}
        overall = sum(sums.values()) / max(1, sum(counts.values()))
        return cls(by_condition, by_first, np.asarray(overall, dtype=np.float64))

    def colour(self, cond_row: torch.Tensor) -> np.ndarray:
        key = tuple(int(v) for v in cond_row.tolist())
        if key in self.by_condition:
            return self.by_condition[key]
        return self.by_first.get(key[0], self.overall)


def flood_fill_baseline(maps: torch.Tensor, cond: torch.Tensor, colours: MeanColours, kind: str) -> torch.Tensor:
    """uint8 (B, 3, R, R): each map's enclosed area in its condition's mean colour, white elsewhere."""
    out = np.full((len(maps), 3, *maps.shape[2:]), 255, dtype=np.uint8)
    for k in range(len(maps)):
        region = fill_region(maps[k, 0].numpy(), kind)
        out[k][:, region] = np.round(colours.colour(cond[k])).astype(np.uint8)[:, None]
    return torch.from_numpy(out)


__all__ = ["EDGE_TOLERANCE", "MeanColours", "faithfulness", "fill_region", "flood_fill_baseline"]
