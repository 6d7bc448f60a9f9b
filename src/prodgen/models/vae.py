"""Conditional convolutional VAE (beta configurable) with a calibrated decoder.

Kingma & Welling 2014 (https://arxiv.org/abs/1312.6114); beta-VAE, Higgins et al.
2017; the decoder variance is set to its optimum per batch (sigma-VAE, Rybkin et
al. 2021, https://arxiv.org/abs/2006.13202) unless ``sigma`` is given, which
balances reconstruction and KL without hand-tuning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import batchwide, noise
from .base import GenerativeModel, register_model
from .blocks import ConditionEmbedding, ConvDecoder, conv_encoder_widths, decoder_widths


@dataclass
class VAEConfig:
    z_dim: int = 128
    cond_dim: int = 128
    dec_base: int | None = None  # decoder width at the output resolution (None: 1024 / R), doubling inwards
    dec_cap: int = 256
    enc_base: int | None = None  # encoder width at its first stage (None: 2048 / R)
    enc_cap: int = 256
    beta: float = 1.0
    sigma: float | None = None  # decoder std in [-1, 1] units; None: calibrated per batch
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    text_dim: int = 0  # size of the title/prompt embedding (0: no text conditioning; set by the trainer)

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.sigma is not None and self.sigma <= 0:
            raise ValueError("sigma must be positive (or null for a calibrated decoder)")


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig, cond_dim: int, resolution: int) -> None:
        super().__init__()
        widths = conv_encoder_widths(resolution, cfg.enc_base, cfg.enc_cap)
        layers: list[nn.Module] = []
        cin = 3
        for w in widths:
            layers += [nn.Conv2d(cin, w, 4, stride=2, padding=1), nn.BatchNorm2d(w), nn.LeakyReLU(0.2)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin * 16 + cond_dim, 2 * cfg.z_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x).flatten(1)  # (B, C*4*4)
        mu, logvar = self.head(torch.cat([h, c], dim=1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)  # (B, z) each


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig, cond_sizes: tuple[int, ...], resolution: int) -> None:
        super().__init__()
        self.embed = ConditionEmbedding(cond_sizes, cfg.cond_dim, cfg.text_dim)
        self.decoder = ConvDecoder(cfg.z_dim, cfg.cond_dim, resolution, decoder_widths(resolution, cfg.dec_base, cfg.dec_cap))

    def forward(self, z: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, self.embed(cond, text))


@register_model("vae")
class ConditionalVAE(GenerativeModel):
    config_class = VAEConfig
    phases = ("vae",)

    def __init__(self, config: VAEConfig, cond_sizes, resolution: int) -> None:
        super().__init__(config, cond_sizes, resolution)
        self.decoder = Decoder(config, self.cond_sizes, resolution)
        self.encoder = Encoder(config, config.cond_dim, resolution)

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        if phase != "vae":
            raise ValueError(f"VAE has one phase 'vae', not {phase!r}")
        return list(self.parameters())

    def optimizer_settings(self, phase: str) -> dict[str, Any]:
        return {"lr": self.config.lr, "betas": self.config.betas}

    def sampling_net(self) -> nn.Module:
        return self.decoder

    def encode(self, images: torch.Tensor, cond: torch.Tensor,
               text: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of images (B, 3, R, R) in [-1, 1]."""
        return self.encoder(images, self.decoder.embed(cond, text))

    def reconstruct(self, images: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        mu, _ = self.encode(images, cond, text)
        return self.decoder(mu, cond, text)

    def latent_noise(self, n: int, generator: torch.Generator | None, truncation: float = 1.0) -> torch.Tensor:
        if not 0 < truncation <= 1:
            raise ValueError("truncation must be in (0, 1]")
        return torch.randn(n, self.config.z_dim, generator=generator) * truncation

    def loss(self, phase: str, images: torch.Tensor, cond: torch.Tensor,
             text: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if phase != "vae":
            raise ValueError(f"VAE has one phase 'vae', not {phase!r}")
        mu, logvar = self.encode(images, cond, text)
        z = mu + noise.randn(*mu.shape).to(mu.device) * (0.5 * logvar).exp()
        recon = self.decoder(z, cond, text)
        mse = F.mse_loss(recon, images, reduction="none").flatten(1).mean(1)  # (B,)
        dims = images[0].numel()
        if self.config.sigma is None:
            var = batchwide.mean(mse.detach()).clamp_min(1e-6)  # optimal decoder variance for this (global) batch
        else:
            var = torch.tensor(self.config.sigma**2, device=images.device)
        nll = (0.5 * dims * (mse / var + torch.log(2 * math.pi * var))).mean()  # Gaussian NLL per image, nats
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        loss = (nll + self.config.beta * kl) / dims  # per-dimension scale keeps the learning rate sane
        return {"loss": loss, "mse": mse.mean(), "kl": kl, "nll": nll}
