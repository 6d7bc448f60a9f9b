"""Restoring a user's photo of any size, with a restoration network or with the cheap classical method alone.

Nothing is built for the whole photo at once: the output is cut into tiles of ``tile`` x
``tile`` px; for each, the network's input planes (degraded photo, classical start, mask)
are made from the matching part of the user's photo with the context they need (a
``MARGIN``-px band for the network, ``START_MARGIN`` px for the local classical starts, 3
small-photo px for bicubic upscaling), and only the tile's centre is kept. The harmonic fill
of an inpainting hole is solved once per hole (``degrade.hole_boxes``), before the tiles. A
tiled result therefore equals the whole-image one (tested).

Peak memory, with ``tile`` = T px and the user's photo of h x w px upscaled by s (s = 1 for
the other tasks), H = s h, W = s w, on top of the process itself (Python and torch, about 0.6 GB):

- the photo, 3 h w bytes (kept as 8-bit; 4 h w more while PIL decodes it; for inpainting also
  the mask);
- the result: 4 H W bytes as a PIL image (``restore_image``, ``enhance_file``, what
  ``prodgen enhance`` uses), or 12 H W bytes as a float tensor (``restore``);
- one tile's work, independent of the photo's size: at most about 604 (T + 256)^2 bytes (input
  planes plus the network's activations; 1 GB at T = 1024); measured about 0.5 GB at T = 1024
  and 0.25 GB at T = 512, against 2.6 GB for an 8-megapixel result in one piece.

Measured (``bench/restore_memory.py``, ``bench/results/restore-memory.md``): a 50-megapixel
photo upscaled x4 (an 800-megapixel result) peaks at 3.7 GB, where the planes and the
classical result built for the whole photo took about 30 GB; an 8-megapixel photo at x2 with
the network peaks at 1.4 GB. Smaller tiles lower the per-tile part only, at some speed (more
overlap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import UserError
from ..degrade import START, START_MARGIN, TASKS, classical_start, harmonic_fill, hole_boxes, task_scale, upscale_input
from .network import ALIGN, RestoreNet, task_index

MARGIN = 128  # context around each tile for the network: more than its receptive radius (about 110 px)
MIN_TILE = 64  # smaller tiles would spend most of their work on the context band
DEFAULT_TILE = 1024
UP_MARGIN = 3  # small-photo px of context for bicubic upscaling (its taps reach 2 px)

Box = tuple[int, int, int, int]  # y0, y1, x0, x1 in result pixels


def check_tile(tile: int) -> int:
    """``tile`` if usable, else a UserError that says what is."""
    if not isinstance(tile, int) or isinstance(tile, bool) or tile < MIN_TILE or tile % ALIGN:
        raise UserError(f"--tile must be a multiple of {ALIGN} of at least {MIN_TILE} px (got {tile!r}); "
                        f"{DEFAULT_TILE} suits most machines, smaller tiles use less memory and run slower.")
    return tile


def _tiles(fn: Callable[[torch.Tensor], torch.Tensor], planes_of: Callable[[int, int, int, int], torch.Tensor],
           size: tuple[int, int], tile: int, margin: int) -> Iterator[tuple[Box, torch.Tensor]]:
    """Run ``fn`` on overlapping windows: yields (box, fn's result for the box) covering an H x W result.

    Windows are ``tile`` px plus ``margin`` on each side, on a grid aligned to ``ALIGN``; the result is padded to a
    multiple of ``ALIGN`` by repeating its last row and column (as if the whole padded photo were processed), so
    every window's size is a multiple of ``ALIGN`` and a tiled result equals a whole one.
    """
    check_tile(tile)
    if margin % ALIGN or margin < 0:
        raise ValueError(f"margin must be a multiple of {ALIGN}, got {margin}")
    h, w = size
    hp, wp = -(-h // ALIGN) * ALIGN, -(-w // ALIGN) * ALIGN
    for y0 in range(0, hp, tile):
        for x0 in range(0, wp, tile):
            y1, x1 = min(y0 + tile, hp), min(x0 + tile, wp)
            cy0, cx0 = max(0, y0 - margin), max(0, x0 - margin)
            cy1, cx1 = min(hp, y1 + margin), min(wp, x1 + margin)
            p = planes_of(cy0, min(cy1, h), cx0, min(cx1, w))
            if cy1 > h or cx1 > w:
                p = F.pad(p, (0, cx1 - min(cx1, w), 0, cy1 - min(cy1, h)), mode="replicate")
            res = fn(p)
            ye, xe = min(y1, h), min(x1, w)
            yield (y0, ye, x0, xe), res[:, :, y0 - cy0 : ye - cy0, x0 - cx0 : xe - cx0]


@torch.no_grad()
def tiled(fn: Callable[[torch.Tensor], torch.Tensor], planes: torch.Tensor, tile: int = DEFAULT_TILE,
          margin: int = MARGIN) -> torch.Tensor:
    """Apply ``fn`` ((1, C, h, w) -> (1, 3, h, w), h and w multiples of ``ALIGN``) to (1, C, H, W) ``planes`` in
    tiles with a context ``margin``; equals ``fn`` on the whole (padded) image."""
    _, _, h, w = planes.shape
    out = torch.empty(1, 3, h, w, dtype=planes.dtype)
    for (y0, y1, x0, x1), res in _tiles(fn, lambda a, b, c, d: planes[:, :, a:b, c:d], (h, w), tile, margin):
        out[:, :, y0:y1, x0:x1] = res
    return out


class PhotoSource:
    """The input planes of any box of the result, made from the user's photo on demand.

    ``img``: (3, h, w), uint8 (0-255) or float (0-1); ``mask`` (h, w), 1 = fill (inpainting only). The photo is
    kept as given (8-bit photos stay 8-bit); each box converts only the part it needs.
    """

    def __init__(self, img: torch.Tensor, task: str, mask: torch.Tensor | None = None) -> None:
        if task not in TASKS:
            raise UserError(f"unknown task {task!r}; choose upscale (--scale 2/4), denoise, deblur, jpeg or inpaint")
        if img.dim() != 3 or img.shape[0] != 3:
            raise ValueError(f"expected a (3, H, W) photo, got {tuple(img.shape)}")
        self.img, self.task, self.scale = img, task, task_scale(task)
        h, w = img.shape[1:]
        self.size = (h * self.scale, w * self.scale)
        self.mask = None
        self.fills: list[tuple[Box, torch.Tensor]] = []
        if task == "inpaint":
            if mask is None:
                raise UserError("inpaint needs --mask MASK.png (white where the photo should be filled in)")
            if tuple(mask.shape) != (h, w):
                raise UserError(f"the mask is {tuple(mask.shape)[::-1]} px but the photo is {(w, h)} px; "
                                "they must be the same size")
            self.mask = mask > 0.5
            for y0, y1, x0, x1 in hole_boxes(self.mask):  # the membrane fill, once per hole
                m = self._mask(y0, y1, x0, x1)
                self.fills.append(((y0, y1, x0, x1), harmonic_fill(self._photo(y0, y1, x0, x1) * (1 - m), m)))

    def _photo(self, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        crop = self.img[:, y0:y1, x0:x1][None]
        return crop.float() / 255 if crop.dtype == torch.uint8 else crop.float()

    def _mask(self, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        if self.mask is None:
            return torch.zeros(1, 1, y1 - y0, x1 - x0)
        return self.mask[y0:y1, x0:x1].float()[None, None]

    def planes(self, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        """(1, 7, y1 - y0, x1 - x0): degraded (for upscaling: bicubic), classical start, mask of the result box."""
        s, task = self.scale, self.task
        if s > 1:  # bicubic of the small photo's part, with UP_MARGIN px of context
            h, w = self.img.shape[1:]
            a0, a1 = max(0, y0 // s - UP_MARGIN), min(h, -(-y1 // s) + UP_MARGIN)
            b0, b1 = max(0, x0 // s - UP_MARGIN), min(w, -(-x1 // s) + UP_MARGIN)
            up = upscale_input(self._photo(a0, a1, b0, b1), s)
            deg = up[:, :, y0 - a0 * s : y1 - a0 * s, x0 - b0 * s : x1 - b0 * s]
            return torch.cat([deg, classical_start(task, deg, None), torch.zeros(1, 1, y1 - y0, x1 - x0)], 1)
        if task == "inpaint":
            m = self._mask(y0, y1, x0, x1)
            deg = self._photo(y0, y1, x0, x1) * (1 - m)
            start = deg.clone()
            for (fy0, fy1, fx0, fx1), fill in self.fills:  # paste each hole's fill where it meets the box
                oy0, oy1, ox0, ox1 = max(y0, fy0), min(y1, fy1), max(x0, fx0), min(x1, fx1)
                if oy0 < oy1 and ox0 < ox1:
                    fm = m[:, :, oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0]
                    region = start[:, :, oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0]
                    f = fill[:, :, oy0 - fy0 : oy1 - fy0, ox0 - fx0 : ox1 - fx0]
                    region.copy_(region * (1 - fm) + f * fm)
            return torch.cat([deg, start, m], 1)
        h, w = self.size  # a local filter: START_MARGIN px of context
        c0, c1 = max(0, y0 - START_MARGIN), min(h, y1 + START_MARGIN)
        d0, d1 = max(0, x0 - START_MARGIN), min(w, x1 + START_MARGIN)
        deg = self._photo(c0, c1, d0, d1)
        start = classical_start(task, deg, None)
        crop = (slice(None), slice(None), slice(y0 - c0, y1 - c0), slice(x0 - d0, x1 - d0))
        return torch.cat([deg[crop], start[crop], torch.zeros(1, 1, y1 - y0, x1 - x0)], 1)


def method_name(net: RestoreNet | None, task: str) -> str:
    if net is not None:
        variant = getattr(net, "variant", None)  # an ONNX export (export.OnnxRestorer)
        return "prodgen restoration network" + (f" (ONNX {variant})" if variant else "")
    note = " (no cheap filter beat leaving JPEG artefacts alone)" if task == "jpeg" else ""
    return f"classical baseline ({START[task]}){note}; train a model with `prodgen enhance-train` to do better"


@torch.no_grad()
def restore_tiles(net: RestoreNet | None, img: torch.Tensor, task: str, mask: torch.Tensor | None = None,
                  tile: int = DEFAULT_TILE) -> tuple[tuple[int, int], Iterator[tuple[Box, torch.Tensor]]]:
    """((H, W) of the result, an iterator of (box, (1, 3, h, w) float result of the box)) for ``restore``."""
    check_tile(tile)
    src = PhotoSource(img, task, mask)
    if net is None:
        return src.size, _tiles(lambda p: p[:, 3:6].clamp(0, 1), src.planes, src.size, tile, 0)
    k, dev = task_index(net, task), net.device
    net.eval()
    return src.size, _tiles(lambda p: net(p.to(dev), k).clamp(0, 1).cpu(), src.planes, src.size, tile, MARGIN)


@torch.no_grad()
def restore(net: RestoreNet | None, img: torch.Tensor, task: str, mask: torch.Tensor | None = None,
            tile: int = DEFAULT_TILE) -> tuple[torch.Tensor, str]:
    """Restore a (3, H, W) photo (float in [0, 1] or uint8); ``net`` None uses the cheap classical method.
    Returns (float (3, sH, sW) image, method used).

    ``task``: upscale2, upscale4, denoise, deblur, jpeg or inpaint (needs ``mask``, (H, W), 1 = fill).
    """
    size, tiles = restore_tiles(net, img, task, mask, tile)
    out = torch.empty(3, *size)
    for (y0, y1, x0, x1), res in tiles:
        out[:, y0:y1, x0:x1] = res[0]
    return out, method_name(net, task)


@torch.no_grad()
def restore_image(net: RestoreNet | None, img: torch.Tensor, task: str, mask: torch.Tensor | None = None,
                  tile: int = DEFAULT_TILE):
    """As ``restore``, but the result is an 8-bit PIL image assembled tile by tile (a third of the float's memory)."""
    from PIL import Image

    size, tiles = restore_tiles(net, img, task, mask, tile)
    out = Image.new("RGB", (size[1], size[0]))
    for (y0, _, x0, _), res in tiles:
        arr = (res[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        out.paste(Image.fromarray(arr), (x0, y0))
    return out, method_name(net, task)


def read_photo_uint8(path: str | Path) -> torch.Tensor:
    """(3, H, W) uint8 tensor of a user's photo (a view of one 8-bit array: no float copy of a huge photo)."""
    from ...data.images import ImageError, open_image

    try:
        pil = open_image(path)
    except ImageError as e:
        raise UserError(f"cannot use {path}: {e}. Check the file (any PNG/JPEG/WebP photo under the pixel limit works).") from e
    arr = np.array(pil, dtype=np.uint8)  # writable (asarray's is read-only); one copy either way
    del pil
    return torch.from_numpy(arr).permute(2, 0, 1)


FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}


def enhance_file(photo: str | Path, out: str | Path, net: RestoreNet | None, task: str, mask: str | Path | None = None,
                 tile: int = DEFAULT_TILE) -> dict:
    """``prodgen enhance``: read ``photo`` (and ``mask``), restore it tile by tile, write ``out`` atomically,
    marked as an edit of ``photo`` with a signed C2PA manifest (``prodgen.provenance``).
    Returns {"in_size": (w, h), "out_size": (W, H), "method": ...}."""
    import io

    from ...atomic import write_bytes
    from ...provenance import default_keys, stamp_bytes

    check_tile(tile)
    out = Path(out)
    fmt = FORMATS.get(out.suffix.lower(), "PNG")
    if fmt == "TIFF":
        raise UserError(f"{out}: prodgen writes its provenance into PNG, JPEG and WebP files; end the name in .png, .jpg "
                        "or .webp")
    keys = default_keys()  # a broken key folder fails before any work
    img = read_photo_uint8(photo)
    m = None
    if mask is not None:
        m = read_photo_uint8(mask).float().mean(0) / 255
    result, how = restore_image(net, img, task, m, tile)
    buf = io.BytesIO()
    result.save(buf, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    info = {"edits": [task + (" (masked region)" if mask is not None else "")], "method": how}
    write_bytes(out, stamp_bytes(buf.getvalue(), "edited", info, keys, out.name, parent=photo))
    return {"in_size": (img.shape[2], img.shape[1]), "out_size": result.size, "method": how}


__all__ = ["DEFAULT_TILE", "MARGIN", "MIN_TILE", "PhotoSource", "check_tile", "enhance_file", "read_photo_uint8", "restore",
           "restore_image", "restore_tiles", "tiled"]
