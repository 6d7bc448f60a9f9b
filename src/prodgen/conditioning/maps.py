"""Image conditions: the edge map or silhouette of a product photo, and a user's sketch turned into one.

A model conditioned on an image condition (``--condition edges,...`` or ``--condition silhouette,...``) learns
photo <- map pairs that every catalog provides by itself: the map is derived from each training photo on the fly,
so nothing is stored and any catalog works.

- ``edges``: Canny edges (kornia: Gaussian sigma 1, Sobel magnitude, non-maximum suppression, thresholds 0.1 / 0.2
  of the grey image in [0, 1]): 1-px lines, 1 on an edge, 0 elsewhere. Hysteresis is bounded to
  ``HYSTERESIS_STEPS`` rounds (a weak pixel is kept when it touches a strong one within 4 px along weak pixels):
  kornia's unbounded loop took 1.6 s per batch of 64 photos at 64 px on one shared core, more than the training step
  it feeds, and the bounded one takes 0.16 s and agrees with it on 99.4% of edge pixels (edge F1 over 256 catalog
  photos).
- ``silhouette``: the product mask ``prodgen vary`` cuts out (``data.mask.product_mask``, no feathering): 1 on
  the product, 0 on the backdrop.

Maps are (B, 1, R, R) float tensors in {0, 1}. ``sketch_map`` turns a user's drawing (any size, black lines on
white, or a filled silhouette / a PNG with transparency) into the map a run expects: letterboxed onto white like
the catalog photos, downsampled with area averaging (a hand-drawn stroke of any width becomes a line of about
one pixel at 64 px), binarised and, for edges, thinned to one pixel (``skimage.morphology.thin``) so it looks like
the Canny lines the model was trained on. ``jitter_edges`` is the training-side half of the same bargain: random
dilation and dropped edge pixels, so a model does not depend on Canny's exact 1-px, gap-free lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError

IMAGE_CONDITIONS = ("edges", "silhouette")
CANNY = {"low_threshold": 0.1, "high_threshold": 0.2, "kernel_size": (5, 5), "sigma": (1.0, 1.0)}
HYSTERESIS_STEPS = 4
SKETCH_INK = 0.25  # a downsampled sketch pixel is a line where it is this share of the darkest one's ink (0: white)
MAX_SKETCH_BYTES = 20 * 1024 * 1024  # a sketch file larger than this is refused before decoding
SKETCH_FITS = ("lines", "canvas")
# fit="lines": the drawing's longer side spans this share of the frame, the median product extent (longer side of
# the product mask's box / frame) of the catalog's training photos (bench/quickdraw_sketches.py, "catalog_extent").
SKETCH_EXTENT = 0.875


def check_image_condition(kind: str) -> str:
    if kind not in IMAGE_CONDITIONS:
        raise UserError(f"image condition {kind!r} is not one of {', '.join(IMAGE_CONDITIONS)}")
    return kind


def _grey01(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, R, R) in [-1, 1] -> (B, 1, R, R) luma in [0, 1] (ITU-R 601 weights, as kornia's rgb_to_grayscale)."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected (B, 3, R, R) images, got {tuple(images.shape)}")
    w = torch.tensor([0.299, 0.587, 0.114], device=images.device, dtype=torch.float32).view(1, 3, 1, 1)
    return ((images.float() + 1) / 2 * w).sum(1, keepdim=True).clamp(0, 1)


@torch.no_grad()
def edge_map(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, R, R) photos in [-1, 1] -> (B, 1, R, R) Canny edges in {0, 1} (kornia.filters.canny, bounded hysteresis)."""
    from kornia.filters import canny

    _, edges = canny(_grey01(images), **CANNY, hysteresis=False)  # strong edges 1, weak ones 0.5
    weak = (edges > 0.25).float()
    out = (edges > 0.75).float()
    for _ in range(HYSTERESIS_STEPS):
        out = torch.maximum(out, F.max_pool2d(out, 3, stride=1, padding=1) * weak)
    return out


@torch.no_grad()
def silhouette_map(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, R, R) photos in [-1, 1] -> (B, 1, R, R) product masks in {0, 1} (data.mask.product_mask, unfeathered).

    One scipy call chain per photo on the CPU: 49 ms for a batch of 64 at 64 px on one core, against about a second
    for the training step it feeds, so no batched torch copy of the mask code is kept.
    """
    from ..data.mask import product_mask

    arr = ((images.detach().float().cpu() + 1) / 2).clamp(0, 1).numpy()
    masks = np.stack([product_mask(a, feather=0).alpha > 0.5 for a in arr])[:, None]
    return torch.from_numpy(masks.astype(np.float32)).to(images.device)


def outline_map(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, R, R) photos in [-1, 1] -> (B, 1, R, R) the product mask's boundary in {0, 1}: the mask less its 3x3
    erosion, a line of about one pixel round the product and round its holes (the outline a person draws first,
    without Canny's inner edges). The frame's edge is not a boundary: a product cut by it stays open there."""
    return mask_outline(silhouette_map(images))


def mask_outline(masks: torch.Tensor) -> torch.Tensor:
    """(B, 1, R, R) masks in {0, 1} -> their boundary: the mask less its 3x3 erosion (the frame's edge is not one)."""
    return masks - (-F.max_pool2d(-masks, 3, stride=1, padding=1))


def coarsen_masks(masks: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, 1, R, R) masks in {0, 1} -> the same shapes seen through a ``grid`` x ``grid`` raster: each cell's share of
    the mask (area average), interpolated back to R x R bilinearly and cut at one half. Detail finer than R / grid
    pixels (a strap, a collar's notch, a heel) is gone, the rough shape stays: what a quick drawing of the product
    keeps. A rectangle of whole cells comes back as it was less its four corner pixels (bilinear weights of 0.625^2
    there: corners round off, as a quick drawing's do); ``grid`` >= R returns the masks unchanged."""
    r = masks.shape[-1]
    if grid >= r:
        return masks
    cells = F.adaptive_avg_pool2d(masks.float(), grid)
    smooth = F.interpolate(cells, size=masks.shape[-2:], mode="bilinear", align_corners=False)
    return (smooth >= 0.5).to(masks.dtype)


def derive_maps(kind: str, images: torch.Tensor) -> torch.Tensor:
    """The ``kind`` map ("edges" or "silhouette") of each photo: (B, 1, R, R) in {0, 1}."""
    if kind == "edges":
        return edge_map(images)
    if kind == "silhouette":
        return silhouette_map(images)
    raise ValueError(f"image condition must be one of {IMAGE_CONDITIONS}, got {kind!r}")


def warp_maps(maps: torch.Tensor, field: torch.Tensor, strength: float) -> torch.Tensor:
    """Bend (B, 1, R, R) maps by a smooth random displacement: ``field`` (B, 2, K, K) standard normal draws at K x K
    control points (the caller's, so the Trainer's RNG stream decides) are upsampled bicubically to the frame and
    scaled so their standard deviation is ``strength`` of the frame's width (0.05: 3.2 px at 64 px). Lines move, bend
    and change proportion as in a quick drawing; the result is binarised again (a line where at least 0.3 of a pixel
    is sampled from one) and thinned to one pixel, as ``sketch_map`` thins a drawing."""
    from skimage.morphology import thin

    b, _, r, _ = maps.shape
    disp = F.interpolate(field.to(maps), size=(r, r), mode="bicubic", align_corners=True) * (2 * strength)
    lin = torch.linspace(-1, 1, r, device=maps.device, dtype=maps.dtype)
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    grid = torch.stack([gx, gy], dim=-1)[None] + disp.permute(0, 2, 3, 1)
    bent = F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=True) >= 0.3
    thinned = np.stack([thin(m) for m in bent[:, 0].cpu().numpy()])[:, None]
    return torch.from_numpy(thinned).to(device=maps.device, dtype=maps.dtype)


def jitter_edges(maps: torch.Tensor, u_dilate: torch.Tensor, u_drop: torch.Tensor, p_dilate: float,
                 p_drop: float) -> torch.Tensor:
    """Training augmentation of edge maps, with the caller's uniform draws (so the Trainer's RNG stream decides).

    ``u_dilate`` (B,): a map is dilated by a 3x3 max-pool (2-3 px lines, as a thick pen) where it is below
    ``p_dilate``; ``u_drop`` (B, 1, R, R): an edge pixel is removed where it is below ``p_drop`` (gaps, as in a
    quick drawing).
    """
    thick = F.max_pool2d(maps, 3, stride=1, padding=1)
    out = torch.where((u_dilate < p_dilate).view(-1, 1, 1, 1).to(maps.device), thick, maps)
    return out * (u_drop.to(maps.device) >= p_drop).to(out.dtype)


def drawn_lines(rgb: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of an (H, W, 3) drawing in [0, 1] that are lines, those with at least ``SKETCH_INK`` of
    the darkest pixel's ink (relative, so a light pencil's strokes still count)."""
    ink = 1.0 - rgb.mean(axis=2)  # 0 white .. 1 black
    return ink >= SKETCH_INK * max(float(ink.max()), 0.4)


def frame_drawing(img, extent: float = SKETCH_EXTENT):
    """An RGB PIL drawing cropped to the box of its dark pixels (ink at least ``SKETCH_INK`` of the darkest pixel's)
    and pasted centred on a white square whose side is the box's longer side / ``extent``. A blank image is
    returned as it is (``sketch_map`` then refuses it)."""
    from PIL import Image

    dark = drawn_lines(np.asarray(img, dtype=np.float32) / 255.0)
    if not dark.any():
        return img
    ys, xs = np.nonzero(dark)
    box = img.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    side = max(round(max(box.size) / extent), max(box.size))
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(box, ((side - box.size[0]) // 2, (side - box.size[1]) // 2))
    return canvas


THIN_FILL = 0.3  # close_outline: a filled drawing is "mostly line" when less than this share survives a 2-px erosion


def close_outline(mask: np.ndarray, thin: float = THIN_FILL, gain: float = 0.1) -> np.ndarray:
    """(H, W) bool: a filled drawing's ``mask`` with its open outline closed. When the mask is mostly line (less than
    ``thin`` of its pixels survive an erosion by 2 px: the strokes of an outline did not meet, so filling left the
    line itself), the ends of its strokes (skeleton pixels with one neighbour) are joined by straight lines, the
    nearest pairs first and each end once, keeping only the joins that enclose new area of at least ``gain`` times the
    mask's own (so the short spurs a skeleton grows at corners are not joined to each other), and what they enclose is
    filled. Any other mask is returned as it is; nothing is ever taken away. (A morphological closing of 1-3 px
    changed 0.3-3.7% of the val doodles' mask area and left their FID-P and type accuracy as they were: the gaps
    people leave are wider; bench/quickdraw_silhouette.sh.)"""
    from scipy import ndimage
    from skimage.draw import line
    from skimage.morphology import skeletonize

    mask = np.asarray(mask, dtype=bool)
    if not mask.any() or ndimage.binary_erosion(mask, iterations=2).sum() >= thin * mask.sum():
        return mask
    skeleton = skeletonize(mask)
    neighbours = ndimage.convolve(skeleton.astype(np.int32), np.ones((3, 3), np.int32), mode="constant") - 1
    ends = np.argwhere(skeleton & (neighbours == 1))
    pairs = sorted((float(np.hypot(*(ends[i] - ends[j]))), i, j) for i in range(len(ends)) for j in range(i + 1, len(ends)))
    out, used = mask.copy(), set()
    area = int(mask.sum())
    enclosed = int((ndimage.binary_fill_holes(out) & ~out).sum())  # what the mask and the joins kept so far enclose
    for _, i, j in pairs:
        if i in used or j in used:
            continue
        trial = out.copy()
        trial[line(*ends[i], *ends[j])] = True
        now = int((ndimage.binary_fill_holes(trial) & ~trial).sum())
        if now - enclosed >= gain * area:
            out, enclosed = trial, now
            used |= {i, j}
    return ndimage.binary_fill_holes(out) | mask


def sketch_map(source: str | Path | np.ndarray, kind: str, resolution: int, fit: str = "lines",
               close: bool = False) -> torch.Tensor:
    """A user's sketch or silhouette image -> the (1, R, R) map of ``kind`` a run of ``resolution`` px expects.

    ``source``: a file (PNG/JPEG/WebP; transparency is put onto white) or an (H, W, 3) uint8 array. Lines or the
    filled product are dark on a light background. Raises UserError for an unreadable, empty, huge or blank image.
    ``fit``: "lines" crops the drawing to the box of its dark pixels and centres it with its longer side spanning
    ``SKETCH_EXTENT`` of the frame, as products are framed in the catalog, so a small drawing on a large canvas (or
    one that touches the canvas edge) is framed like a photo; "canvas" letterboxes the whole canvas as it is.
    ``close`` (silhouette only): an outline whose strokes do not meet is closed (``close_outline``) once filled.
    """
    from PIL import Image

    from ..data.images import ImageError, letterbox, open_image

    check_image_condition(kind)
    if isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise ValueError(f"a sketch array must be (H, W, 3) uint8, got {source.shape} {source.dtype}")
        img = Image.fromarray(source)
        name = "the sketch"
    else:
        path = Path(source)
        name = str(path)
        if path.is_file() and path.stat().st_size > MAX_SKETCH_BYTES:
            raise UserError(f"--sketch {path}: {path.stat().st_size / 2**20:.0f} MB is above the "
                            f"{MAX_SKETCH_BYTES // 2**20} MB limit for a sketch; save it smaller (a few hundred px is plenty)")
        try:
            img = open_image(path)
        except ImageError as e:
            raise UserError(f"--sketch {path} cannot be used: {e}. Give a PNG/JPEG/WebP drawing: dark lines "
                            "(or a filled silhouette) on white.") from e
    if fit not in SKETCH_FITS:
        raise ValueError(f"fit must be one of {SKETCH_FITS}, got {fit!r}")
    if close and kind != "silhouette":
        raise UserError(f"closing a drawing's outline fills it into a silhouette; a {kind} run draws "
                        "from the lines themselves: leave it out")
    if fit == "lines":
        img = frame_drawing(img)
    boxed = np.asarray(letterbox(img, resolution), dtype=np.float32) / 255.0  # (R, R, 3) on white, area-filtered
    if kind == "silhouette":
        from ..data.mask import product_mask

        mask = product_mask(boxed.transpose(2, 0, 1), feather=0).alpha > 0.5
        if close:
            mask = close_outline(mask)
    else:
        from skimage.morphology import thin

        mask = thin(drawn_lines(boxed))
    if not mask.any():
        raise UserError(f"{name} is blank at {resolution} px: draw the product's outline in a dark colour on a light "
                        "background (or a filled dark shape for a silhouette run)")
    return torch.from_numpy(mask.astype(np.float32))[None]  # (1, R, R)


__all__ = ["CANNY", "HYSTERESIS_STEPS", "IMAGE_CONDITIONS", "SKETCH_EXTENT", "SKETCH_FITS", "THIN_FILL",
           "check_image_condition", "close_outline", "coarsen_masks", "derive_maps", "drawn_lines", "edge_map",
           "frame_drawing", "jitter_edges", "mask_outline", "outline_map", "silhouette_map", "sketch_map", "warp_maps"]
