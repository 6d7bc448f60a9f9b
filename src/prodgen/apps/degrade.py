"""Synthetic degradations of clean catalog photos (training pairs for restoration) and the classical baselines.

Tasks (``TASKS``): ``upscale2``/``upscale4`` (bicubic anti-aliased downscale; the
network sees the bicubic re-upscale), ``denoise`` (Gaussian noise, sigma 5-50 of
255), ``deblur`` (Gaussian blur, sigma 0.7-2.0 px), ``jpeg`` (quality 10-40) and
``inpaint`` (a price sticker or watermark: one to three solid or striped boxes
whose mask is known). Images are (B, 3, H, W) float in [0, 1].

Baselines, each the best of the trivial and a classical method (the report says which):
bicubic for upscaling; identity or a Gaussian/median filter for noise; identity or
unsharp masking for blur; identity or light smoothing for JPEG; harmonic
(Laplace) filling of the masked region for inpainting, the idea behind OpenCV's
inpainting without its dependency.
"""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

TASKS = ("upscale2", "upscale4", "denoise", "deblur", "jpeg", "inpaint")


def gaussian_blur(x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with replicate padding; ``sigma`` scalar or one per image."""
    b = x.shape[0]
    s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1).expand(b)
    radius = int(np.ceil(3 * float(s.max())))
    if radius < 1:
        return x
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
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


def jpeg(x: torch.Tensor, quality: list[int]) -> torch.Tensor:
    out = []
    for img, q in zip(x, quality):
        arr = (img.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=int(q))
        out.append(torch.from_numpy(np.asarray(Image.open(buf), dtype=np.float32) / 255.0).permute(2, 0, 1))
    return torch.stack(out)


def resize_down_up(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Low-resolution version (anti-aliased bicubic), brought back to the size by bicubic: SR input and baseline."""
    h, w = x.shape[-2:]
    lr = F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False)
    return F.interpolate(lr, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


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
    paint = (colour * (1 - 0.5 * stripes)).expand_as(x)
    return x * (1 - mask) + paint * mask


def degrade(x: torch.Tensor, task: str, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(network input, mask) for clean ``x``; mask is all-zero except for inpainting."""
    b, _, h, w = x.shape
    zero = torch.zeros(b, 1, h, w)
    if task in ("upscale2", "upscale4"):
        return resize_down_up(x, 2 if task == "upscale2" else 4), zero
    if task == "denoise":
        sigma = (5 + 45 * torch.rand(b, 1, 1, 1, generator=g)) / 255
        return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1), zero
    if task == "deblur":
        return gaussian_blur(x, 0.7 + 1.3 * torch.rand(b, generator=g)), zero
    if task == "jpeg":
        return jpeg(x, torch.randint(10, 41, (b,), generator=g).tolist()), zero
    if task == "inpaint":
        mask = sticker_masks(b, h, w, g)
        return apply_sticker(x, mask, g), mask
    raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


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


# The classical method each task starts from: the baseline ``prodgen enhance`` uses without a model, and the
# starting point the restoration network corrects (so an untrained network equals it). Chosen as the best
# candidate on held-out catalog photos (bench/results/apps.md); for JPEG no filter beat leaving the photo alone.
START = {"upscale2": "bicubic", "upscale4": "bicubic", "denoise": "median3", "deblur": "unsharp", "jpeg": "identity",
         "inpaint": "harmonic"}


def classical_start(task: str, degraded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The ``START`` method of ``task`` applied to ``degraded`` (B, 3, H, W), clamped to [0, 1]."""
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


def unsharp(x: torch.Tensor) -> torch.Tensor:
    return (x + 1.0 * (x - gaussian_blur(x, 1.5))).clamp(0, 1)


def classical_candidates(task: str, degraded: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """The trivial and classical restorations a network must beat, by name."""
    if task in ("upscale2", "upscale4"):
        return {"bicubic": degraded}
    if task == "denoise":
        return {"identity": degraded, "gaussian": gaussian_blur(degraded, 1.0), "median3": median3(degraded)}
    if task == "deblur":
        return {"identity": degraded, "unsharp": unsharp(degraded)}
    if task == "jpeg":
        return {"identity": degraded, "gaussian": gaussian_blur(degraded, 0.6)}
    if task == "inpaint":
        return {"identity": degraded, "harmonic": harmonic_fill(degraded, mask)}
    raise ValueError(task)


__all__ = ["START", "TASKS", "apply_sticker", "classical_candidates", "classical_start", "degrade", "gaussian_blur",
           "harmonic_fill", "jpeg", "median3", "resize_down_up", "sticker_masks", "unsharp", "upscale_input"]
