"""What every model drawn from an image condition shares: the map derived from each training photo (Canny edges or
the product mask, conditioning/maps.py), its training jitter, the preview maps saved with the weights, and the check
of a given map. Used by the pix2pix GAN (models/pix2pix.py) and by the diffusion U-Net with the map as extra input
channels (models/diffusion.py, ``image_condition=``).

A model using it has ``config.image_condition`` ("edges" | "silhouette"), ``config.map_dilate``,
``config.map_drop``, ``config.map_outline``, ``config.map_warp`` and ``config.map_coarse``, and calls
``init_maps(resolution)`` in its constructor.

``map_outline`` (edges): the share of training photos whose map is the product's outline (``outline_map``: the
boundary of its mask) instead of its Canny edges. People draw a product as an outline with few inner lines
(bench/quickdraw_sketches.py: doodles from Quick, Draw!), where Canny maps of photos are full of inner edges.
``map_warp`` (edges): the standard deviation, as a share of the frame, of a smooth random displacement bending every
training map (``warp_maps``), so that the lines are taken as approximate, as a person's are.
``map_coarse`` (silhouette): every mask the model sees, in training and when sampling, is first seen through a
G x G raster (``coarsen_masks``; G = ``map_coarse``, 0 = off), so that the model would have to draw a product's true
outline (straps, heels, collars) from its rough shape and the asked type, and depart from a quick drawing's line
where the type's photos do. Measured on people's doodles (bench/quickdraw_silhouette.sh, README "Doodles drawn by
people"), it does not: even a coarse mask says what the product is, the run ignores the type, and FID-P rises. Off
by default; the drawing is pulled towards the type before the model instead (``ShapeIndex.project``,
``generate --sketch-shape``).
"""

from __future__ import annotations

import torch

from .. import noise
from ..errors import UserError
from ..conditioning.maps import coarsen_masks, derive_maps, jitter_edges, outline_map, warp_maps

WARP_POINTS = 4  # control points a side of the random displacement field (map_warp)

PREVIEW_MAPS = 8


def check_map_coarse(grid: int, image_condition: str) -> None:
    """``map_coarse`` is 0 (off) or a raster of at least 4 x 4 cells, and only for silhouettes (a 1-px line through a
    coarse raster is not a line any more)."""
    if grid and (int(grid) != grid or grid < 4):
        raise UserError(f"map_coarse = {grid} must be 0 (off) or a whole number of cells, at least 4 (16 at 64 px: "
                        "4-px detail)")
    if grid and image_condition != "silhouette":
        raise UserError(f"map_coarse is for silhouette runs; this run's image condition is {image_condition!r}")


class MapConditioned:
    """Mixin for ``GenerativeModel`` subclasses conditioned on an edge map or a silhouette."""

    def init_maps(self, resolution: int) -> None:
        # Maps of the first training batch: what sample() uses when given none (the Trainer's grids).
        self.register_buffer("preview_maps", torch.zeros(PREVIEW_MAPS, 1, resolution, resolution))
        self.register_buffer("preview_filled", torch.zeros((), dtype=torch.bool))
        self._maps_of: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def image_condition(self) -> str | None:
        return self.config.image_condition

    def training_maps(self, images: torch.Tensor) -> torch.Tensor:
        """The (jittered) map of each training photo; the phases of one step share it."""
        if self._maps_of is not None and self._maps_of[0] is images:
            return self._maps_of[1]
        maps = self.coarse(derive_maps(self.config.image_condition, images))  # (B, 1, R, R)
        if not bool(self.preview_filled):
            k = min(PREVIEW_MAPS, maps.shape[0])
            self.preview_maps[:k] = maps[:k].to(self.preview_maps)
            self.preview_filled.fill_(True)
        if self.config.image_condition == "edges":
            b = maps.shape[0]
            if self.config.map_outline > 0:  # drawn only then: runs without it keep their random stream
                use = (noise.rand(b) < self.config.map_outline).to(maps.device)
                if bool(use.any()):
                    maps = maps.clone()
                    maps[use] = outline_map(images[use])
            if self.config.map_warp > 0:
                maps = warp_maps(maps, noise.randn(b, 2, WARP_POINTS, WARP_POINTS), self.config.map_warp)
            maps = jitter_edges(maps, noise.rand(b), noise.rand(b, 1, *maps.shape[2:]), self.config.map_dilate,
                                self.config.map_drop)
        self._maps_of = (images, maps)
        return maps

    def coarse(self, maps: torch.Tensor) -> torch.Tensor:
        """``maps`` through the model's ``map_coarse`` raster (unchanged when it is 0 or absent: older configs)."""
        grid = getattr(self.config, "map_coarse", 0)
        return coarsen_masks(maps, grid) if grid else maps

    def check_map(self, image_map: torch.Tensor, n: int) -> torch.Tensor:
        r = self.resolution
        if image_map.dim() != 4 or image_map.shape[1:] != (1, r, r) or image_map.shape[0] not in (1, n):
            raise ValueError(f"image_map must be (1 or {n}, 1, {r}, {r}), got {tuple(image_map.shape)}")
        return image_map.expand(n, -1, -1, -1)

    def maps_for(self, image_map: torch.Tensor | None, n: int) -> torch.Tensor:
        """``image_map`` checked and expanded to ``n`` rows, through the model's ``map_coarse`` raster; None: the
        preview maps, in contiguous blocks (one outline per grid row)."""
        if image_map is None:
            idx = torch.arange(n) * PREVIEW_MAPS // max(n, 1)
            image_map = self.preview_maps[idx.to(self.preview_maps.device)]
        return self.coarse(self.check_map(image_map, n))


__all__ = ["MapConditioned", "PREVIEW_MAPS", "check_map_coarse"]
