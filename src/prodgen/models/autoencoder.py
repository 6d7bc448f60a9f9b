"""The first stage of latent diffusion: a small convolutional KL autoencoder trained on the catalog.

Rombach et al. 2022, "High-Resolution Image Synthesis with Latent Diffusion Models"
(https://arxiv.org/abs/2112.10752): an encoder maps a 256-px photo to a 32x32x4
latent (f = 8), a decoder maps it back, and a diffusion model is trained on the
latents instead of the pixels, so its U-Net costs what a 64-px pixel model costs.

The network is prodgen's own (ResNet blocks with group norm as in LDM's
autoencoder, widths (32, 64, 128) at 128, 64 and 32 px), not diffusers'
``AutoencoderKL``: a small ``AutoencoderKL`` (widths 32-64-128-128, one block per
level, no mid attention) trained at 0.3 images/s at 256 px on the 2-core CPU,
this one at 2.3 images/s (batch 8, same load; bench/res256_speed.py has the
idle-machine figures), because AutoencoderKL runs 3x3 ResNet blocks at the full
image resolution and this one never does (stride-2 stem, pixel-shuffle head).
The posterior is a diagonal Gaussian; the loss is L1 reconstruction plus a KL
term weighted 1e-6 in LDM's scaling (sum over latent elements against sum over
pixels). LDM's perceptual (LPIPS) and patch-GAN terms are left out: LPIPS needs
downloaded ImageNet weights and prodgen runs offline. Expect softer
reconstructions than LDM's autoencoders.

An autoencoder run makes no images of its own: it is trained with ``prodgen train
--model autoencoder`` like any other family (the Trainer's sample grids show
training photos beside their reconstructions) and then named by a diffusion run
(``--model-arg autoencoder=RUN``), which copies it into its own weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import noise
from ..errors import UserError
from .base import GenerativeModel, register_model


@dataclass
class AutoencoderConfig:
    widths: tuple[int, ...] = (32, 64, 128)  # at R/2, R/4, ...: one stride-2 stage each, f = 2 ** len(widths)
    layers_per_block: int = 1
    latent_channels: int = 4
    norm_groups: int = 16  # group norm groups (each width must be a multiple)
    kl_weight: float = 1e-6  # LDM's KL weight: KL summed over latents vs. L1 summed over pixels
    lr: float = 5e-4  # LDM trains for days at ~1e-4; on CPU budgets of minutes 5e-4 converges ~3x faster
    betas: tuple[float, float] = (0.5, 0.9)  # as LDM's first-stage training

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        self.betas = tuple(self.betas)
        if not self.widths:
            raise ValueError("an autoencoder needs at least one width")
        if any(w % self.norm_groups for w in self.widths):
            raise ValueError(f"widths {self.widths} must be multiples of norm_groups={self.norm_groups}")
        if self.kl_weight < 0:
            raise ValueError("kl_weight must be >= 0")

    @property
    def factor(self) -> int:
        """Downsampling factor: image side / latent side."""
        return 2 ** len(self.widths)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice plus the identity (the residual block of DDPM/LDM autoencoders)."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class LatentAutoencoder(nn.Module):
    """(B, 3, R, R) in [-1, 1] <-> (B, C, R/f, R/f) latents, f = 2 ** len(widths).

    No convolution runs at the image resolution: a 4x4 stride-2 stem goes in, a 3x3
    conv to 12 channels + ``pixel_shuffle(2)`` comes out; every other layer works at
    R/2 and below. (Full-resolution ResNet blocks are where diffusers'
    ``AutoencoderKL`` spends its time; see the module docstring.)
    """

    def __init__(self, cfg: AutoencoderConfig, resolution: int) -> None:
        super().__init__()
        if resolution % cfg.factor or resolution // cfg.factor < 4:
            raise UserError(f"an autoencoder with factor {cfg.factor} needs a resolution of at least "
                            f"{4 * cfg.factor} px that it divides; got {resolution}")
        w, g, c = cfg.widths, cfg.norm_groups, cfg.latent_channels
        enc: list[nn.Module] = [nn.Conv2d(3, w[0], 4, stride=2, padding=1)]
        for i, width in enumerate(w):
            if i:
                enc.append(nn.Conv2d(w[i - 1], width, 4, stride=2, padding=1))
            enc += [ResBlock(width, g) for _ in range(cfg.layers_per_block)]
        enc += [nn.GroupNorm(g, w[-1]), nn.SiLU(), nn.Conv2d(w[-1], 2 * c, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(c, w[-1], 3, padding=1)]
        for i in reversed(range(len(w))):
            dec += [ResBlock(w[i], g) for _ in range(cfg.layers_per_block)]
            if i:
                dec.append(nn.ConvTranspose2d(w[i], w[i - 1], 4, stride=2, padding=1))
        dec += [nn.GroupNorm(g, w[0]), nn.SiLU(), nn.Conv2d(w[0], 12, 3, padding=1), nn.PixelShuffle(2)]
        self.decoder = nn.Sequential(*dec)
        self.latent_channels = c
        self.latent_size = resolution // cfg.factor

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the diagonal Gaussian q(z | x), each (B, C, R/f, R/f)."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30, 20)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior means: the latents a diffusion model is trained on."""
        return self.posterior(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (B, 3, R, R), not clamped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).clamp(-1, 1)


NO_IMAGES = ("an autoencoder run makes no images of its own: it is the first stage of a latent diffusion model. "
             "Train one on it with `prodgen train --model diffusion --model-arg autoencoder={run} ...` and "
             "generate from that run.")


@register_model("autoencoder")
class ImageAutoencoder(GenerativeModel):
    config_class = AutoencoderConfig
    phases = ("ae",)
    generates = False

    def __init__(self, config: AutoencoderConfig, cond_sizes, resolution: int) -> None:
        super().__init__(config, cond_sizes, resolution)
        self.ae = LatentAutoencoder(config, resolution)

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        if phase != "ae":
            raise ValueError(f"the autoencoder has one phase 'ae', not {phase!r}")
        return list(self.ae.parameters())

    def optimizer_settings(self, phase: str) -> dict[str, Any]:
        return {"lr": self.config.lr, "betas": self.config.betas}

    def sampling_net(self) -> nn.Module:
        return self.ae  # EMA'd by the Trainer; ema.safetensors is what a diffusion run copies in

    def loss(self, phase: str, images: torch.Tensor, cond: torch.Tensor,
             text: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if phase != "ae":
            raise ValueError(f"the autoencoder has one phase 'ae', not {phase!r}")
        mean, logvar = self.ae.posterior(images)
        z = mean + (0.5 * logvar).exp() * noise.randn(*mean.shape).to(mean.device, mean.dtype)
        recon = self.ae.decode(z)
        l1 = (recon.float() - images.float()).abs().mean()
        kl = 0.5 * (mean.float().pow(2) + logvar.float().exp() - 1 - logvar.float()).flatten(1).sum(1).mean()
        loss = l1 + self.config.kl_weight * kl / images[0].numel()  # LDM: sum over pixels vs sum over latents
        return {"loss": loss, "l1": l1, "kl": kl}

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        """(B, 3, R, R) in [-1, 1] -> their reconstructions through the posterior means."""
        net = net if net is not None else self.ae
        dev = next(net.parameters()).device
        return net(images.to(dev))

    # -- an autoencoder does not generate --------------------------------------
    def latent_noise(self, n: int, generator: torch.Generator | None, truncation: float = 1.0) -> torch.Tensor:
        raise UserError(NO_IMAGES.format(run="RUN"))

    def embed_condition(self, cond: torch.Tensor, text: torch.Tensor | None = None,
                        net: nn.Module | None = None) -> torch.Tensor:
        raise UserError(NO_IMAGES.format(run="RUN"))


__all__ = ["AutoencoderConfig", "ImageAutoencoder", "LatentAutoencoder"]


def first_stage_from_run(run: str, resolution: int) -> tuple[LatentAutoencoder, dict[str, Any]]:
    """The trained autoencoder of run folder ``run`` (its EMA weights) and the spec that rebuilds it.

    The spec ({"config": ..., "resolution": ...}) goes into a diffusion model's own config, and the weights into
    its state dict, so the diffusion run needs the autoencoder's folder only while it is being created.
    """
    from pathlib import Path

    from .base import EMA_NAME, WEIGHTS_NAME, load_state, read_spec

    folder = Path(run)
    if not (folder / WEIGHTS_NAME).is_file():
        raise UserError(f"--model-arg autoencoder={run}: {folder / WEIGHTS_NAME} not found; train the autoencoder first "
                        f"with `prodgen train --model autoencoder --resolution {resolution} --catalog ... --out {run}`.")
    spec = read_spec(folder / WEIGHTS_NAME)
    if spec.family != "autoencoder":
        raise UserError(f"--model-arg autoencoder={run} holds a {spec.family!r} model, not an autoencoder; train one with "
                        f"`prodgen train --model autoencoder --resolution {resolution} ...`.")
    if spec.resolution != resolution:
        raise UserError(f"--model-arg autoencoder={run} was trained at {spec.resolution} px, this run is {resolution} px; "
                        f"train an autoencoder with --resolution {resolution} or use --resolution {spec.resolution}.")
    first = {"config": dict(spec.config), "resolution": spec.resolution}
    net = first_stage_from_spec(first)
    ema = folder / EMA_NAME
    if ema.is_file():
        net.load_state_dict(load_state(ema))
    else:
        state = load_state(folder / WEIGHTS_NAME)
        net.load_state_dict({k[len("ae."):]: v for k, v in state.items() if k.startswith("ae.")})
    return net, first


def first_stage_from_spec(first: dict[str, Any]) -> LatentAutoencoder:
    """An untrained autoencoder network of the architecture ``first`` describes (weights are loaded after)."""
    from ..config import build_dataclass

    return LatentAutoencoder(build_dataclass(AutoencoderConfig, dict(first["config"]), "autoencoder_spec.config"),
                             int(first["resolution"]))


__all__ += ["first_stage_from_run", "first_stage_from_spec"]
