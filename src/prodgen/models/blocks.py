"""Layers shared by the model families."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..resolution import stages


class ConditionEmbedding(nn.Module):
    """Sum of one learned embedding per attribute, plus a projected text vector: (B, A) ids [, (B, T)] -> (B, dim).

    Id 0 of each attribute is "unspecified" and has its own embedding, so a
    condition with attributes left out is still a valid input. With ``text_dim``,
    a title/prompt embedding is projected in; an all-zero text row ("no text")
    gets a learned null embedding instead.
    """

    def __init__(self, cond_sizes: tuple[int, ...], dim: int, text_dim: int = 0) -> None:
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(size, dim) for size in cond_sizes)
        for t in self.tables:
            nn.init.normal_(t.weight, std=0.5)
        self.text_dim = text_dim
        if text_dim:
            self.text_proj = nn.Linear(text_dim, dim)
            nn.init.normal_(self.text_proj.weight, std=0.5)  # unit-norm text: outputs of std ~0.5, like the tables
            nn.init.zeros_(self.text_proj.bias)
            self.text_null = nn.Parameter(torch.randn(dim) * 0.5)

    def forward(self, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        out = self.tables[0](cond[:, 0])
        for a in range(1, len(self.tables)):
            out = out + self.tables[a](cond[:, a])
        if self.text_dim:
            if text is None:
                return out + self.text_null
            has = (text.abs().sum(dim=1, keepdim=True) > 0).to(out.dtype)
            out = out + has * self.text_proj(text.to(out.dtype)) + (1 - has) * self.text_null
        return out  # (B, dim)


class CondBatchNorm(nn.Module):
    """Batch norm whose gain and bias come from a condition vector (FiLM on BN).

    Class-conditional BN as in Miyato & Koyama 2018 / BigGAN (Brock et al. 2019). ``norm``: another affine-free
    normalisation to modulate instead (pix2pix's U-Net uses group norm).
    """

    def __init__(self, channels: int, cond_dim: int, norm: nn.Module | None = None) -> None:
        super().__init__()
        self.bn = norm if norm is not None else nn.BatchNorm2d(channels, affine=False)
        self.film = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(c).chunk(2, dim=1)  # (B, C) each
        return self.bn(x) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class UpBlock(nn.Module):
    """4x4 stride-2 transposed conv -> conditional BN -> ReLU.

    Measured on the 2-core CPU (bench/blocks.py, batch 64, forward+backward,
    channels_last): 64->32 channels to 64x64 takes 60 ms as a transposed conv
    against 135 ms for nearest-upsample + 3x3 conv, so the DCGAN-style
    transposed conv is used.
    """

    def __init__(self, cin: int, cout: int, cond_dim: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False)
        self.norm = CondBatchNorm(cout, cond_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x), c))


class SkipExcitation(nn.Module):
    """FastGAN's skip-layer excitation (Liu et al. 2021, https://arxiv.org/abs/2101.04775): a low-resolution map
    gates the channels of a map 8x larger, ``high * sigmoid(conv1x1(lrelu(conv4x4(pool4(low)))))``.

    A shortcut from the coarse layout to the fine layers, as a residual connection would give, at almost no cost:
    the gate is computed on a 4x4 pooled map and is one number per channel.
    """

    def __init__(self, c_low: int, c_high: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_low, c_high, 4), nn.LeakyReLU(0.1),
                                  nn.Conv2d(c_high, c_high, 1), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        # A map already 4x4 skips the pool: the identity pool costs 2.6 ms at batch 64, 256 channels in bf16 (NCHW)
        pooled = low if low.shape[-2:] == (4, 4) else self.gate[0](low)
        return high * self.gate[1:](pooled)  # (B, C_high, 1, 1) gate over (B, C_high, H, W)


class ReconDecoder(nn.Module):
    """FastGAN's self-supervised discriminator decoder (Liu et al. 2021, https://arxiv.org/abs/2101.04775, sec. 3.2):
    a small decoder that turns an 8x8 map of D's features back into a 32x32 image.

    Two of them make D learn features that describe the whole real image (its shape, colour, texture), not only
    what tells real from fake today: that regularises D on a small catalog. Each up step is a 4x4 stride-2
    transposed conv (UpBlock's measured choice on the CPU), BN and a leaky ReLU, ``widths`` wide (32 then 16).
    FastGAN's decoder (nearest-upsample + 3x3 conv, BN, GLU, widths halving from D's) cost half a D step here in
    bf16 on one core (75 of 200 ms at 64 px, batch 64: training at 0.61x the images/s); these widths cost ~0.1x.
    FastGAN's loss is LPIPS, which has no offline weights here (models/gan.py uses L1).
    """

    def __init__(self, cin: int, size_in: int = 8, size_out: int = 32, widths: tuple[int, ...] = (32, 16)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, size = cin, size_in
        for cout in widths:
            if size >= size_out:
                break
            layers += [nn.ConvTranspose2d(c, cout, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2)]
            c, size = cout, size * 2
        if size != size_out:
            raise ValueError(f"{len(widths)} up steps cannot take {size_in} px to {size_out} px")
        layers += [nn.Conv2d(c, 3, 3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)  # (B, 3, size_out, size_out)


SLE_FACTOR = 8  # each map of 32 px or more is gated by the map 8x smaller (FastGAN pairs 8->128 at 1024 px)


class ConvDecoder(nn.Module):
    """Condition-modulated decoder: (B, z_dim) latent + (B, cond_dim) -> (B, 3, R, R) in [-1, 1].

    Shared by the GAN generator and the VAE decoder. With ``skip_z`` the latent also
    modulates every conditional-BN layer (BigGAN's skip-z, Brock et al. 2019,
    https://arxiv.org/abs/1809.11096), so no layer can ignore the noise.
    """

    def __init__(self, z_dim: int, cond_dim: int, resolution: int, channels: list[int], skip_z: bool = False,
                 sle: bool = False, grow: bool = False) -> None:
        super().__init__()
        self.skip_z = skip_z
        fdim = cond_dim + (z_dim if skip_z else 0)  # what the conditional-BN layers see
        n_up = stages(resolution)
        if len(channels) != n_up + 1:
            raise ValueError(f"{resolution}px needs {n_up + 1} channel widths (4x4 then each x2), got {channels}")
        self.c0 = channels[0]
        self.fc = nn.Linear(z_dim + cond_dim, channels[0] * 16)
        self.norm0 = CondBatchNorm(channels[0], fdim)
        self.ups = nn.ModuleList(UpBlock(a, b, fdim) for a, b in zip(channels[:-1], channels[1:]))
        self.to_rgb = nn.Conv2d(channels[-1], 3, 3, padding=1)
        # skip-layer excitation: stage i (4 * 2**i px) gated by stage i - 3, from 32 px up
        self.sle_gap = SLE_FACTOR.bit_length() - 1  # stages between a gated map and its source (3)
        self.sle = nn.ModuleDict({str(i): SkipExcitation(channels[i - self.sle_gap], channels[i])
                                  for i in range(self.sle_gap, n_up + 1)} if sle else {})
        # ``grow``: a second RGB head at R/2 for progressive growing (Karras et al. 2018, ProGAN). The buffer ``alpha``
        # fades the last stage in: 0 gives the R/2 head's image upsampled (nearest) to R and skips the last stage,
        # 1 the full decoder, and between them their blend. Set by the model that trains it (models/gan.py).
        self.to_rgb_low = nn.Conv2d(channels[-2], 3, 3, padding=1) if grow else None
        if grow:
            self.register_buffer("alpha", torch.ones(()))

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        zc = torch.cat([z, c], dim=1)  # (B, z_dim + cond_dim)
        h = self.fc(zc).view(-1, self.c0, 4, 4)  # (B, C0, 4, 4)
        f = zc if self.skip_z else c
        h = F.relu(self.norm0(h, f))
        maps = [h]
        a = 1.0 if self.to_rgb_low is None else float(self.alpha)
        for i, up in enumerate(self.ups, start=1):
            if i == len(self.ups) and a < 1:
                low = F.interpolate(torch.tanh(self.to_rgb_low(h)), scale_factor=2, mode="nearest")  # (B, 3, R, R)
                if a <= 0:
                    return low
            h = up(h, f)
            if str(i) in self.sle:
                h = self.sle[str(i)](maps[i - self.sle_gap], h)
            maps.append(h)
        out = torch.tanh(self.to_rgb(h))  # (B, 3, R, R)
        return out if a >= 1 else torch.lerp(low, out.to(low.dtype), a)


def sn_conv(cin: int, cout: int, k: int, stride: int = 1, padding: int = 0) -> nn.Module:
    """Spectrally normalised conv (Miyato et al. 2018, https://arxiv.org/abs/1802.05957)."""
    return spectral_norm(nn.Conv2d(cin, cout, k, stride=stride, padding=padding))


DECODER_FLOOR = 8  # default output-side width never below this (1024 / R would give 4 at 256 px)
ENCODER_FLOOR = 16  # default first-stage encoder width never below this (2048 / R would give 8 at 256 px)


def default_decoder_base(resolution: int) -> int:
    """The output-side decoder width when none is given: 1024 / R, at least ``DECODER_FLOOR``."""
    return max(1024 // resolution, DECODER_FLOOR)


def decoder_widths(resolution: int, base: int | None, cap: int) -> list[int]:
    """Widths at 4x4, 8x8, ..., R: ``base`` at R, doubling towards 4x4, capped (None: 1024 / R, at least 8).

    The highest-resolution layers dominate CPU cost: at 64 px, 16 output-side
    channels (and a 32-wide first discriminator stage) train 3x faster than 32/64
    (185 vs 61 images/s, bench/train_speed.py), so defaults stay narrow there.
    At 256 px the rule would give 4 generator channels into the RGB layer and an
    8-wide first discriminator stage; the floors keep 128 px's outermost widths
    (8 and 16) instead. That costs half the 256-px GAN's training speed against
    the unfloored widths (16.5 vs 31.8 images/s on the 2-core CPU,
    bench/results/res256_speed.md); twice the floor would cost half again (7.5).
    """
    n_up = stages(resolution)
    base = base or default_decoder_base(resolution)
    return [min(base * 2 ** (n_up - i), cap) for i in range(n_up + 1)]


def conv_encoder_widths(resolution: int, base: int | None, cap: int) -> list[int]:
    """Channel widths of a stride-2 encoder from R px down to 4x4 (doubling, capped; None: 2048 / R, at least 16)."""
    n_down = stages(resolution)
    base = base or max(2048 // resolution, ENCODER_FLOOR)
    return [min(base * 2**i, cap) for i in range(n_down)]
