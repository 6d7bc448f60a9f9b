"""Synthetic degradations of clean catalog photos (training pairs for restoration) and the cheap classical starts.

Tasks (``TASKS``), the degradations the networks are trained on: ``upscale2``/``upscale4``
(bicubic anti-aliased downscale; the network sees the bicubic re-upscale), ``denoise``
(Gaussian noise, sigma 5-50 of 255), ``deblur`` (Gaussian blur, sigma 0.7-2.0 px),
``jpeg`` (quality 10-40) and ``inpaint`` (a price sticker or watermark: one to three solid
or striped boxes whose mask is known). Images are (B, 3, H, W) float in [0, 1].

``UNSEEN``: one degradation per task that no network sees in training, to tell a real
gain from a match to the training distribution: area downscale + JPEG of the small
photo (upscaling), Poisson-Gaussian (shot + read) noise, linear motion blur, WebP
artefacts, hand-drawn scribbles. ``observe(clean, task, g, unseen=...)`` returns what a
user would hold (for upscaling: the small photo).

``START``: the cheap, local classical method each task's network corrects (bicubic,
3x3 median, unsharp mask, identity, harmonic fill); the strong, tuned classical methods
the networks are measured against are in ``apps/restore/baselines.py``.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

TASKS = ("upscale2", "upscale4", "denoise", "deblur", "jpeg", "inpaint")
CONDITIONS = ("seen", "unseen")  # the training degradation, or one no network saw in training (``UNSEEN``)
UNSEEN = {
    "upscale2": "area downscale x2, then JPEG q60-90 of the small photo",
    "upscale4": "area downscale x4, then JPEG q60-90 of the small photo",
    "denoise": "Poisson-Gaussian noise (peak 15-150 photons, read noise 2-8 of 255)",
    "deblur": "linear motion blur, 5-15 px at any angle",
    "jpeg": "WebP q5-30",
    "inpaint": "two to five scribbled strokes, 3-10 px wide",
}
SEEN = {
    "upscale2": "bicubic (anti-aliased) downscale x2",
    "upscale4": "bicubic (anti-aliased) downscale x4",
    "denoise": "Gaussian noise, sigma 5-50 of 255",
    "deblur": "Gaussian blur, sigma 0.7-2.0 px",
    "jpeg": "JPEG q10-40",
    "inpaint": "one to three solid or striped boxes (stickers)",
}


def task_scale(task: str) -> int:
    """The upscaling factor of ``task`` (1 for the tasks that keep the size)."""
    return int(task[-1]) if task.startswith("upscale") else 1


def gaussian_blur(x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with replicate padding; ``sigma`` scalar or one per image."""
    b = x.shape[0]
    s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1).expand(b).to(x.device)
    radius = int(np.ceil(3 * float(s.max())))
    if radius < 1:
        return x
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t[None] ** 2) / (2 * s[:, None] ** 2))
    k = k / k.sum(1, keepdim=True)  # (B, K)
    c = x.shape[1]
    xp = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    # per-image kernels through grouped convs: fold the batch into channels
    w = k.repeat_interleave(c, 0)  # (B*C, K)
    y = F.conv2d(xp.reshape(1, b * c, *xp.shape[2:]), w[:, None, None, :], groups=b * c)
    y = F.conv2d(y, w[:, None, :, None], groups=b * c)
    return y.reshape(b, c, *x.shape[2:])


def median3(x: torch.Tensor) -> torch.Tensor:
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    patches = xp.unfold(2, 3, 1).unfold(3, 3, 1)  # (B, C, H, W, 3, 3)
    return patches.reshape(*x.shape, 9).median(dim=-1).values


def jpeg(x: torch.Tensor, quality: list[int], fmt: str = "JPEG") -> torch.Tensor:
    """Each image saved with PIL as ``fmt`` (JPEG or WEBP) at its quality and decoded again."""
    out = []
    for img, q in zip(x, quality):
        arr = (img.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format=fmt, quality=int(q))
        out.append(torch.from_numpy(np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1))
    return torch.stack(out).to(x.device)


def downscale(x: torch.Tensor, scale: int, kind: str = "bicubic") -> torch.Tensor:
    """The small photo: anti-aliased bicubic (the training degradation) or area averaging, clamped to [0, 1]."""
    h, w = x.shape[-2:]
    if kind == "bicubic":
        lr = F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False)
    elif kind == "area":
        lr = F.avg_pool2d(x[..., : h // scale * scale, : w // scale * scale], scale)
    else:
        raise ValueError(f"unknown downscale kind {kind!r}")
    return lr.clamp(0, 1)


def resize_down_up(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Low-resolution version (anti-aliased bicubic), brought back to the size by bicubic: SR input and baseline."""
    return upscale_input(downscale(x, scale), scale)


def upscale_input(lr: torch.Tensor, scale: int) -> torch.Tensor:
    h, w = lr.shape[-2:]
    return F.interpolate(lr, size=(h * scale, w * scale), mode="bicubic", align_corners=False).clamp(0, 1)


def sticker_masks(b: int, h: int, w: int, g: torch.Generator) -> torch.Tensor:
    """(B, 1, H, W) masks of one to three boxes covering 2-12% of the image each."""
    m = torch.zeros(b, 1, h, w)
    for i in range(b):
        for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
            bh = int(torch.randint(max(2, h // 10), max(3, h // 3), (1,), generator=g))
            bw = int(torch.randint(max(2, w // 8), max(3, w // 2), (1,), generator=g))
            y = int(torch.randint(0, h - bh + 1, (1,), generator=g))
            x0 = int(torch.randint(0, w - bw + 1, (1,), generator=g))
            m[i, 0, y : y + bh, x0 : x0 + bw] = 1
    return m


def apply_sticker(x: torch.Tensor, mask: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Paint the masked boxes with a solid colour or stripes (a sticker, a price tag, a watermark band)."""
    b = x.shape[0]
    colour = torch.rand(b, 3, 1, 1, generator=g)
    stripes = (torch.arange(x.shape[-1])[None, None, None, :] // 3 % 2).float() * torch.rand(b, 1, 1, 1, generator=g).round()
    paint = (colour * (1 - 0.5 * stripes)).to(x.device).expand_as(x)
    return x * (1 - mask) + paint * mask


def scribble_masks(b: int, h: int, w: int, g: torch.Generator) -> torch.Tensor:
    """(B, 1, H, W) masks of two to five polyline strokes 3-10 px wide (at 128 px; scaled with the size)."""
    from PIL import ImageDraw

    s = min(h, w) / 128
    out = torch.zeros(b, 1, h, w)
    for i in range(b):
        canvas = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(torch.randint(2, 6, (1,), generator=g))):
            n = int(torch.randint(2, 5, (1,), generator=g))
            pts = (torch.rand(n, 2, generator=g) * torch.tensor([w - 1, h - 1])).tolist()
            width = max(1, round(float(3 + 7 * torch.rand(1, generator=g)) * s))
            draw.line([tuple(p) for p in pts], fill=255, width=width, joint="curve")
        out[i, 0] = torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255.0).round()
    return out


def motion_kernel(length: float, angle: float, size: int) -> torch.Tensor:
    """(size, size) kernel of a straight motion of ``length`` px at ``angle`` (radians), anti-aliased, sum 1."""
    c = (size - 1) / 2
    t = torch.linspace(-0.5, 0.5, 4 * size + 1, dtype=torch.float64) * (length - 1)
    ys, xs = c + t * math.sin(angle), c + t * math.cos(angle)
    k = torch.zeros(size, size, dtype=torch.float64)
    y0, x0 = ys.floor().long(), xs.floor().long()
    fy, fx = ys - y0, xs - x0
    for dy, wy in ((0, 1 - fy), (1, fy)):  # bilinear splat of points along the line
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = (y0 + dy).clamp(0, size - 1), (x0 + dx).clamp(0, size - 1)
            k.index_put_((yy, xx), wy * wx, accumulate=True)
    return (k / k.sum()).float()


def motion_blur(x: torch.Tensor, lengths: list[float], angles: list[float]) -> torch.Tensor:
    """Each image blurred by its own linear motion kernel (replicate padding)."""
    size = int(math.ceil(max(lengths))) | 1
    out = []
    for img, n, a in zip(x, lengths, angles):
        k = motion_kernel(n, a, size).to(x.device, x.dtype)
        p = F.pad(img[None], (size // 2,) * 4, mode="replicate")
        out.append(F.conv2d(p, k.expand(3, 1, size, size), groups=3)[0])
    return torch.stack(out)


def observe(x: torch.Tensor, task: str, g: torch.Generator, unseen: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(what the user holds, mask) for clean ``x``: the small photo for upscaling (H/s, W/s), else the degraded
    photo; the mask (B, 1, H, W) is all-zero except for inpainting. ``unseen`` draws the task's ``UNSEEN``
    degradation instead of the training one. Random numbers come from the CPU generator ``g`` only."""
    b, _, h, w = x.shape
    zero = torch.zeros(b, 1, h, w, device=x.device)
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if task.startswith("upscale"):
        if not unseen:
            return downscale(x, task_scale(task)), zero
        return jpeg(downscale(x, task_scale(task), "area"), torch.randint(60, 91, (b,), generator=g).tolist()), zero
    if task == "denoise":
        if not unseen:
            sigma = (5 + 45 * torch.rand(b, 1, 1, 1, generator=g)) / 255
            return (x + sigma.to(x.device) * torch.randn(x.shape, generator=g).to(x.device)).clamp(0, 1), zero
        peak = (15 * 10 ** torch.rand(b, 1, 1, 1, generator=g)).to(x.device)  # log-uniform 15-150 photons at white
        read = ((2 + 6 * torch.rand(b, 1, 1, 1, generator=g)) / 255).to(x.device)
        shot = torch.poisson((x * peak).cpu(), generator=g).to(x.device) / peak
        return (shot + read * torch.randn(x.shape, generator=g).to(x.device)).clamp(0, 1), zero
    if task == "deblur":
        if not unseen:
            return gaussian_blur(x, 0.7 + 1.3 * torch.rand(b, generator=g)), zero
        lengths = (5 + 10 * torch.rand(b, generator=g)).tolist()
        angles = (math.pi * torch.rand(b, generator=g)).tolist()
        return motion_blur(x, lengths, angles), zero
    if task == "jpeg":
        if not unseen:
            return jpeg(x, torch.randint(10, 41, (b,), generator=g).tolist()), zero
        return jpeg(x, torch.randint(5, 31, (b,), generator=g).tolist(), fmt="WEBP"), zero
    # inpaint
    mask = (scribble_masks if unseen else sticker_masks)(b, h, w, g).to(x.device)
    return apply_sticker(x, mask, g), mask


def degrade(x: torch.Tensor, task: str, g: torch.Generator, unseen: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(network input, mask) for clean ``x``: ``observe``, with the small photo brought back to the size by bicubic."""
    obs, mask = observe(x, task, g, unseen)
    if task.startswith("upscale"):
        obs = upscale_input(obs, task_scale(task))
    return obs, mask


def harmonic_fill(x: torch.Tensor, mask: torch.Tensor, iters: int = 40) -> torch.Tensor:
    """Fill masked pixels with the solution of the Laplace equation, the known border as boundary (a membrane).

    Coarse to fine: the fill is first solved at half resolution (pixels with any known neighbour count as
    known there), upsampled as the starting guess, then refined by ``iters`` neighbour-averaging (Jacobi)
    sweeps. Plain Jacobi from a flat start needs thousands of sweeps to cross a 40-px sticker; the pyramid
    converges in a few dozen per level. Pixels outside the mask are returned unchanged.
    """
    h, w = x.shape[-2:]
    known = 1 - mask
    if min(h, w) >= 8 and float(mask.amax()) > 0:
        wk = F.avg_pool2d(known, 2, ceil_mode=True)
        xs = F.avg_pool2d(x * known, 2, ceil_mode=True) / wk.clamp_min(1e-6)
        coarse = harmonic_fill(xs, (wk == 0).to(x.dtype), iters)
        guess = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]
    else:  # coarsest level: the mean of the known pixels
        guess = ((x * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1)).expand_as(x)
    out = x * known + guess * mask
    fixed = x * known
    for _ in range(iters):  # four shifted slices: 4x faster here than a depthwise conv
        p = F.pad(out, (1, 1, 1, 1), mode="replicate")
        avg = (p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]) * 0.25
        out = fixed + avg * mask
    return out


# The cheap classical method each task's network corrects (so an untrained network equals it): the result of
# ``prodgen enhance`` without a model. Local filters (a pixel depends on a few neighbours, ``START_MARGIN``), so a
# huge photo is processed tile by tile; the harmonic fill is computed hole by hole (``hole_boxes``). Their
# validation scores are in the baseline tuning record (``eval.json`` "baselines"); the strong classical methods
# the networks are measured against (non-local means, BM3D, Richardson-Lucy, Lanczos, OpenCV inpainting, ...)
# are in ``apps/restore/baselines.py``: too slow to run at every training step.
START = {"upscale2": "bicubic", "upscale4": "bicubic", "denoise": "median3", "deblur": "unsharp", "jpeg": "identity",
         "inpaint": "harmonic"}
START_MARGIN = 8  # px of context the local starts need (unsharp: Gaussian radius 5; median: 1; bicubic: 2 LR px)
UNSHARP_SIGMA, UNSHARP_AMOUNT = 1.5, 1.0


def classical_start(task: str, degraded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The ``START`` method of ``task`` applied to the network input ``degraded`` (B, 3, H, W)."""
    name = START[task]
    if name in ("bicubic", "identity"):
        return degraded
    if name == "median3":
        return median3(degraded)
    if name == "unsharp":
        return unsharp(degraded)
    if name == "harmonic":
        return harmonic_fill(degraded, mask)
    raise ValueError(f"no classical method {name!r}")


def unsharp(x: torch.Tensor, sigma: float = UNSHARP_SIGMA, amount: float = UNSHARP_AMOUNT) -> torch.Tensor:
    return (x + amount * (x - gaussian_blur(x, sigma))).clamp(0, 1)


def hole_boxes(mask: torch.Tensor, margin: int = 16, block: int = 16) -> list[tuple[int, int, int, int]]:
    """Boxes (y0, y1, x0, x1) around the holes of a (H, W) mask, each grown by ``margin`` px, for filling hole by hole.

    The mask is reduced to ``block``-px cells and grown by ``margin`` before its connected regions are found, so
    holes closer than that share a box; memory and time then follow the holes, not the photo (a sticker on a
    50-megapixel photo costs its own size)."""
    from scipy import ndimage

    h, w = mask.shape[-2:]
    cells = F.max_pool2d((mask.reshape(1, 1, h, w) > 0.5).float(), block, ceil_mode=True)[0, 0].bool().cpu().numpy()
    grow = -(-margin // block)
    labels, _ = ndimage.label(ndimage.binary_dilation(cells, iterations=grow) if grow else cells)
    return [(max(0, sl[0].start * block - margin), min(h, sl[0].stop * block + margin),
             max(0, sl[1].start * block - margin), min(w, sl[1].stop * block + margin)) for sl in ndimage.find_objects(labels)]


__all__ = ["CONDITIONS", "SEEN", "START", "START_MARGIN", "TASKS", "UNSEEN", "apply_sticker", "classical_start", "degrade",
           "downscale", "gaussian_blur", "harmonic_fill", "hole_boxes", "jpeg", "median3", "motion_blur", "motion_kernel",
           "observe",
           "resize_down_up", "scribble_masks", "sticker_masks", "task_scale", "unsharp", "upscale_input"]
