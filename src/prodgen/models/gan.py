"""Conditional GAN: FiLM/conditional-BN generator, projection discriminator,
spectral norm, hinge loss, DiffAugment, truncation at sampling.

References: Miyato & Koyama 2018 (projection discriminator,
https://arxiv.org/abs/1802.05637); Miyato et al. 2018 (spectral norm);
Lim & Ye 2017 (hinge loss, https://arxiv.org/abs/1705.02894); Zhao et al. 2020
(DiffAugment, https://arxiv.org/abs/2006.10738); Brock et al. 2019 (BigGAN:
shared condition embeddings, truncation trick).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import noise
from .base import GenerativeModel, register_model
from .blocks import ConditionEmbedding, ConvDecoder, conv_encoder_widths, decoder_widths, sn_conv
from .diffaugment import POLICIES, diff_augment


@dataclass
class GANConfig:
    z_dim: int = 128
    cond_dim: int = 128
    g_base: int | None = None  # generator width at the output resolution (None: 1024 / R), doubling inwards
    g_cap: int = 256
    d_base: int | None = None  # discriminator width at its first stage (None: 2048 / R), doubling
    d_cap: int = 256
    lr_g: float = 1e-4  # two time-scale update rule: D learns 4x faster (Heusel et al. 2017; SAGAN)
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.99)
    diffaugment: list[str] = field(default_factory=lambda: ["color", "translation", "cutout"])
    r1_gamma: float = 0.0  # R1 penalty weight on real images (0: off)
    mbstd_group: int = 4  # minibatch-stddev group size in the discriminator (0: off)
    skip_z: bool = True  # noise also modulates every conditional-BN layer (BigGAN skip-z)
    text_dim: int = 0  # size of the title/prompt embedding (0: no text conditioning; set by the trainer)

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        bad = [p for p in self.diffaugment if p not in POLICIES]
        if bad:
            raise ValueError(f"unknown DiffAugment policies {bad}; valid: {POLICIES}")


class Generator(nn.Module):
    def __init__(self, cfg: GANConfig, cond_sizes: tuple[int, ...], resolution: int) -> None:
        super().__init__()
        self.embed = ConditionEmbedding(cond_sizes, cfg.cond_dim, cfg.text_dim)
        channels = decoder_widths(resolution, cfg.g_base, cfg.g_cap)
        self.decoder = ConvDecoder(cfg.z_dim, cfg.cond_dim, resolution, channels, skip_z=cfg.skip_z)

    def forward(self, z: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, self.embed(cond, text))  # (B, 3, R, R)


class Discriminator(nn.Module):
    """Stride-2 SN conv stack to 4x4, global sum pooling, linear + projection term."""

    def __init__(self, cfg: GANConfig, cond_sizes: tuple[int, ...], resolution: int) -> None:
        super().__init__()
        widths = conv_encoder_widths(resolution, cfg.d_base, cfg.d_cap)
        layers: list[nn.Module] = []
        cin = 3
        for w in widths:
            layers += [sn_conv(cin, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.mbstd_group = cfg.mbstd_group
        extra = 1 if cfg.mbstd_group else 0
        self.head = nn.Sequential(sn_conv(cin + extra, cin, 3, padding=1), nn.LeakyReLU(0.2))  # 4x4 stage
        self.linear = nn.utils.parametrizations.spectral_norm(nn.Linear(cin, 1))
        # Projection: one embedding per attribute, inner product with pooled features.
        self.proj = nn.ModuleList(nn.Embedding(size, cin) for size in cond_sizes)
        for p in self.proj:
            nn.init.normal_(p.weight, std=0.02)
        # Text projection term: <W t, h>; an all-zero ("no text") row contributes nothing.
        self.text_proj = (nn.utils.parametrizations.spectral_norm(nn.Linear(cfg.text_dim, cin, bias=False))
                          if cfg.text_dim else None)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)  # (B, C, 4, 4)
        if self.mbstd_group:
            h = minibatch_stddev(h, self.mbstd_group)
        h = self.head(h).sum(dim=(2, 3))  # (B, C)
        out = self.linear(h).squeeze(1)  # (B,)
        for a, table in enumerate(self.proj):
            out = out + (table(cond[:, a]) * h).sum(dim=1)
        if self.text_proj is not None and text is not None:
            out = out + (self.text_proj(text.to(h.dtype)) * h).sum(dim=1)
        return out  # (B,) realness logits


def minibatch_stddev(h: torch.Tensor, group: int) -> torch.Tensor:
    """Append the feature std across groups of samples as one extra channel.

    Lets the discriminator see a batch's variety, so a generator that ignores its
    noise (one image per condition) is easy to tell from real photos. Karras et al.
    2018, https://arxiv.org/abs/1710.10196, section 3.
    """
    b, c, hh, ww = h.shape
    g = min(group, b)
    while b % g:
        g -= 1
    # Groups of g consecutive samples (Karras et al. group with a stride): a group never straddles two
    # processes' shares of a data-parallel batch, so W processes see the statistic one process sees.
    y = h.reshape(b // g, g, c, hh, ww)  # (B/G, G, C, H, W)
    y = (y.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/G,)
    y = y.reshape(b // g, 1, 1, 1, 1).expand(-1, g, 1, hh, ww).reshape(b, 1, hh, ww)
    return torch.cat([h, y], dim=1)


@register_model("gan")
class ConditionalGAN(GenerativeModel):
    config_class = GANConfig
    phases = ("d", "g")

    def __init__(self, config: GANConfig, cond_sizes, resolution: int) -> None:
        super().__init__(config, cond_sizes, resolution)
        self.generator = Generator(config, self.cond_sizes, resolution)
        self.discriminator = Discriminator(config, self.cond_sizes, resolution)

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        if phase == "d":
            return list(self.discriminator.parameters())
        if phase == "g":
            return list(self.generator.parameters())
        raise ValueError(f"GAN has phases d and g, not {phase!r}")

    def optimizer_settings(self, phase: str) -> dict[str, Any]:
        lr = {"d": self.config.lr_d, "g": self.config.lr_g}[phase]
        return {"lr": lr, "betas": self.config.betas}

    def sampling_net(self) -> nn.Module:
        return self.generator

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, tuple(self.config.diffaugment))

    def latent_noise(self, n: int, generator: torch.Generator | None, truncation: float = 1.0) -> torch.Tensor:
        z = torch.randn(n, self.config.z_dim, generator=generator)
        if truncation < 1.0:
            # Truncation trick (BigGAN): resample entries beyond the threshold, then scale.
            if truncation <= 0:
                raise ValueError("truncation must be in (0, 1]")
            bad = z.abs() > 2.0
            while bad.any():
                z[bad] = torch.randn(int(bad.sum()), generator=generator)
                bad = z.abs() > 2.0
            z = z * truncation
        return z

    def loss(self, phase: str, images: torch.Tensor, cond: torch.Tensor,
             text: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        b = images.shape[0]
        z = noise.randn(b, self.config.z_dim).to(images.device)
        if phase == "d":
            with torch.no_grad():
                fake = self.generator(z, cond, text)
            real = images.detach().requires_grad_(self.config.r1_gamma > 0)
            d_real = self.discriminator(self._augment(real), cond, text)
            d_fake = self.discriminator(self._augment(fake), cond, text)
            loss_real = F.relu(1 - d_real).mean()
            loss_fake = F.relu(1 + d_fake).mean()
            out = {"loss_d_real": loss_real, "loss_d_fake": loss_fake}
            loss = loss_real + loss_fake
            if self.config.r1_gamma > 0:
                (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
                r1 = grad.pow(2).flatten(1).sum(1).mean()
                out["r1"] = r1
                loss = loss + 0.5 * self.config.r1_gamma * r1
            out["loss"] = loss
            return out
        if phase == "g":
            fake = self.generator(z, cond, text)
            return {"loss": -self.discriminator(self._augment(fake), cond, text).mean()}
        raise ValueError(f"GAN has phases d and g, not {phase!r}")
