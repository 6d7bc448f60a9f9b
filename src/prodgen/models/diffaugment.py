"""Differentiable augmentation for GAN discriminators (DiffAugment).

Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training",
https://arxiv.org/abs/2006.10738. The same random transform family is applied to
real and generated images before the discriminator; gradients flow through it to
the generator. Randomness comes from torch's global RNG, whose state the Trainer
checkpoints, so a resumed run draws the same augmentations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import noise

POLICIES = ("color", "translation", "cutout")


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    for p in policy:
        if p == "color":
            x = _color(x)
        elif p == "translation":
            x = _translation(x)
        elif p == "cutout":
            x = _cutout(x)
        else:
            raise ValueError(f"unknown DiffAugment policy {p!r}; valid: {POLICIES}")
    return x


def _rand(x: torch.Tensor, *shape: int) -> torch.Tensor:
    return noise.rand(x.shape[0], *shape, dtype=x.dtype).to(x.device)


def _color(x: torch.Tensor) -> torch.Tensor:
    x = x + (_rand(x, 1, 1, 1) - 0.5) * 0.5  # brightness (images in [-1, 1])
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, 1, 1, 1) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(x, 1, 1, 1) + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = noise.randint(-sh, sh + 1, b, 1, 1).to(x.device)
    tx = noise.randint(-sw, sw + 1, b, 1, 1).to(x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = (gy[None] + ty).clamp(-1, h)  # (B, H, W); -1 and h index the white padding
    gx = (gx[None] + tx).clamp(-1, w)
    padded = F.pad(x, (1, 1, 1, 1), value=1.0)  # pad with white: the catalog background
    idx = (gy + 1) * (w + 2) + (gx + 1)  # (B, H, W) flat index into the padded image
    flat = padded.flatten(2)  # (B, C, (H+2)(W+2))
    return flat.gather(2, idx.flatten(1)[:, None, :].expand(-1, x.shape[1], -1)).view_as(x)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = noise.randint(0, h + (1 - ch % 2), b, 1, 1).to(x.device)
    ox = noise.randint(0, w + (1 - cw % 2), b, 1, 1).to(x.device)
    gy = torch.arange(h, device=x.device)[None, :, None]
    gx = torch.arange(w, device=x.device)[None, None, :]
    inside = ((gy >= oy - ch // 2) & (gy < oy - ch // 2 + ch)) & ((gx >= ox - cw // 2) & (gx < ox - cw // 2 + cw))
    return x * (~inside)[:, None].to(x.dtype)
