"""R3GAN's networks: normalisation-free ResNets of grouped convolutions with fix-up initialisation.

Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline"
(https://arxiv.org/abs/2501.05441), section 4 and the official code (github.com/brownvc/R3GAN, read, not copied):

- residual block: 1x1 conv expanding the width by ``expansion`` -> leaky ReLU(0.2) -> 3x3 *grouped* conv
  (``group_size`` channels per group) -> leaky ReLU -> 1x1 conv back, added to the identity. The convs carry no
  bias of their own; each activation has a learned bias in front of it (here: the bias of the conv before it,
  zero at start, the same function). No normalisation layer anywhere.
- fix-up initialisation (Zhang et al. 2019, https://arxiv.org/abs/1901.09321): the last conv of every residual
  branch starts at zero, so each block starts as the identity; the other two use He's variance-preserving init
  scaled by L^(-1/(2m-2)) (L residual blocks in the network, m = 3 layers per branch), so a network of many blocks
  starts well conditioned and trains without normalisation.
- resampling: bilinear interpolation (a low-pass [1, 3, 3, 1] filter), with a 1x1 conv where the width changes;
- the generator starts from a learned 4x4 basis whose channels a linear layer of (z, condition) scales; the
  discriminator ends with a learned 4x4 depthwise basis (the dual) and a linear layer.

Departures, made for prodgen: the generator's RGB output goes through tanh (every prodgen sampler returns images
in [-1, 1]; R3GAN leaves it linear); conditioning, the discriminator's head and the widths are in models/gan.py.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..resolution import stages

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2 / (1 + LRELU_SLOPE**2))  # He et al. 2015's gain for a leaky ReLU
BRANCH_LAYERS = 3  # convs in a residual branch (m in fix-up's L^(-1/(2m-2)))


def he_init_(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Weights ~ N(0, gain^2 / fan_in) (fan_in per group for grouped convs), bias zero."""
    w = layer.weight
    fan_in = w.shape[1] * (w[0][0].numel() if w.dim() > 2 else 1)
    with torch.no_grad():
        w.normal_(0.0, gain / math.sqrt(fan_in))
        if getattr(layer, "bias", None) is not None:
            layer.bias.zero_()
    return layer


def conv_groups(channels: int, group_size: int) -> int:
    """Groups of about ``group_size`` channels that divide ``channels`` (1: a dense conv when narrower)."""
    g = max(1, channels // group_size)
    while channels % g:
        g -= 1
    return g


class ResidualBlock(nn.Module):
    """``x + conv1x1(lrelu(conv3x3_grouped(lrelu(conv1x1(x)))))``; the identity at initialisation."""

    def __init__(self, channels: int, group_size: int, expansion: int, total_blocks: int) -> None:
        super().__init__()
        wide = channels * expansion
        gain = LRELU_GAIN * total_blocks ** (-1 / (2 * BRANCH_LAYERS - 2))
        # the biases of conv1/conv2 are R3GAN's biases in front of each activation
        self.conv1 = he_init_(nn.Conv2d(channels, wide, 1), gain)
        self.conv2 = he_init_(nn.Conv2d(wide, wide, 3, padding=1, groups=conv_groups(wide, group_size)), gain)
        self.conv3 = nn.Conv2d(wide, channels, 1, bias=False)
        nn.init.zeros_(self.conv3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv1(x), LRELU_SLOPE)
        y = F.leaky_relu(self.conv2(y), LRELU_SLOPE)
        return x + self.conv3(y)


def _width_conv(cin: int, cout: int) -> nn.Module:
    return he_init_(nn.Conv2d(cin, cout, 1, bias=False)) if cin != cout else nn.Identity()


class Upsample(nn.Module):
    """1x1 conv to the new width (when it changes), then x2 bilinear interpolation."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _width_conv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(x), scale_factor=2, mode="bilinear", align_corners=False)


class Downsample(nn.Module):
    """Low-pass [1, 3, 3, 1] / 8 (the adjoint of bilinear upsampling) with stride 2, then a 1x1 conv to the new width.

    The filter is a fixed depthwise 4x4 conv. Measured on the 2-core CPU (64 px, batch 64, a D step with the R1/R2
    penalties): 1.14 s, against 1.50 s computing it as three 2x2 average poolings (the same numbers), whose
    backward in channels_last is slow.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        k = torch.tensor([1.0, 3.0, 3.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 64).expand(cin, 1, 4, 4).contiguous(),
                             persistent=False)  # fixed, not learned: no state-dict entry
        self.conv = _width_conv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.kernel.to(x.dtype), stride=2, padding=1, groups=x.shape[1])
        return self.conv(x)


class R3Decoder(nn.Module):
    """(B, z_dim) noise + (B, cond_dim) condition -> (B, 3, R, R) in [-1, 1].

    ``channels``: widths at 4x4, 8x8, ..., R; ``blocks``: residual blocks per stage, from 4x4 up (one int: all).
    """

    def __init__(self, z_dim: int, cond_dim: int, resolution: int, channels: list[int], blocks: list[int],
                 group_size: int, expansion: int) -> None:
        super().__init__()
        n = stages(resolution) + 1
        if len(channels) != n or len(blocks) != n:
            raise ValueError(f"{resolution}px needs {n} widths and block counts (4x4 up), got {channels}, {blocks}")
        total = max(sum(blocks), 1)
        self.c0 = channels[0]
        # 4x4 basis: a learned (C, 4, 4) map whose channels a linear layer of (z, c) scales
        self.basis = nn.Parameter(torch.randn(channels[0], 4, 4))
        self.basis_scale = he_init_(nn.Linear(z_dim + cond_dim, channels[0], bias=False))
        self.stages = nn.ModuleList()
        for i, (w, nb) in enumerate(zip(channels, blocks)):
            layers = [] if i == 0 else [Upsample(channels[i - 1], w)]
            layers += [ResidualBlock(w, group_size, expansion, total) for _ in range(nb)]
            self.stages.append(nn.Sequential(*layers))
        self.to_rgb = he_init_(nn.Conv2d(channels[-1], 3, 1))

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale = self.basis_scale(torch.cat([z, c], dim=1))  # (B, C0)
        h = self.basis[None] * scale[:, :, None, None]  # (B, C0, 4, 4)
        for stage in self.stages:
            h = stage(h)
        return torch.tanh(self.to_rgb(h))  # (B, 3, R, R)


class R3Encoder(nn.Module):
    """(B, 3, R, R) -> (B, C4, 4, 4): 1x1 conv from RGB, then per stage residual blocks and a downsampling.

    ``channels``: widths at R, R/2, ..., 4x4; ``blocks``: residual blocks per stage, from R down.
    """

    def __init__(self, resolution: int, channels: list[int], blocks: list[int], group_size: int, expansion: int) -> None:
        super().__init__()
        n = stages(resolution) + 1
        if len(channels) != n or len(blocks) != n:
            raise ValueError(f"{resolution}px needs {n} widths and block counts (R down), got {channels}, {blocks}")
        total = max(sum(blocks), 1)
        self.from_rgb = he_init_(nn.Conv2d(3, channels[0], 1, bias=False))
        self.stages = nn.ModuleList()
        for i, (w, nb) in enumerate(zip(channels, blocks)):
            layers: list[nn.Module] = [ResidualBlock(w, group_size, expansion, total) for _ in range(nb)]
            if i + 1 < n:
                layers.append(Downsample(w, channels[i + 1]))
            self.stages.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.from_rgb(x)
        for stage in self.stages:
            h = stage(h)
        return h  # (B, C4, 4, 4)


class DiscriminativeBasis(nn.Module):
    """(B, C, 4, 4) -> (B, dim): a learned 4x4 depthwise filter per channel (the dual of the generator's basis),
    then a linear layer."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.basis = he_init_(nn.Conv2d(channels, channels, 4, groups=channels, bias=False))
        self.linear = he_init_(nn.Linear(channels, dim, bias=False))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(self.basis(h).flatten(1))
