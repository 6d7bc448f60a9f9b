"""Image-to-image: a product photo from its edge map or silhouette (and attributes / title), pix2pix style.

Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks"
(https://arxiv.org/abs/1611.07004): a U-Net generator (stride-2 4x4 convolutions down, transposed ones up, skip
connections between mirrored stages) maps the condition image to the photo; a PatchGAN discriminator judges
overlapping patches of the (map, photo) pair; the generator's loss is ``l1_weight * L1 + adv_weight * GAN``
(the paper's lambda = 100). ``adv_weight = 0`` is the paper's "L1 only" row: the same U-Net, no discriminator
built or trained, which is the plain L1 U-Net baseline.

What is prodgen's own:

- the map is derived from each training photo inside ``loss`` (conditioning/maps.py: Canny edges via kornia, or the
  product mask), so the Trainer feeds photos as for every family and any catalog gives the pairs; edge maps are
  jittered in training (random dilation, dropped pixels) so a hand-drawn line need not look like Canny's;
- attributes (and the title) condition the decoder through the shared ``ConditionEmbedding`` and FiLM on group
  norm (no batch norm: nothing to recalibrate for the EMA net); the discriminator adds a projection term per
  attribute (Miyato & Koyama 2018) so colour and type are judged, not only realism;
- measured on the validation split (bench/results/pix2pix_ab.json): dropout only in the innermost decoder stage
  (<= 8 px) and nearest-upsample + 3x3 conv into RGB, where dropout at 32 px and a transposed RGB layer left 2x2
  colour speckle (validation L1 0.244 -> 0.192 after 150 steps), and lr_g 6e-4 (-> 0.154);
- the noise: Isola et al. found the generator ignores an input z and used dropout at test time instead. Here
  a seeded z (16 numbers) enters the bottleneck together with the condition and dropout acts in training only, so a
  seed gives the same image on any machine; like theirs, the output varies only a little with the seed;
- ``sample()`` without a map uses the model's preview maps: those of the first training batch, saved with the
  weights, so the Trainer's sample grids work unchanged (rows: one outline each). ``Pipeline.generate`` insists
  on a map (``prodgen generate RUN --sketch ...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import noise
from ..conditioning.maps import IMAGE_CONDITIONS
from ..errors import UserError
from ..resolution import stages
from .base import GenerativeModel, register_model
from .blocks import CondBatchNorm, ConditionEmbedding, sn_conv
from .map_condition import PREVIEW_MAPS, MapConditioned, check_map_coarse


@dataclass
class Pix2PixConfig:
    image_condition: str = "edges"  # "edges" | "silhouette": what the map is (derived from each photo)
    cond_dim: int = 64
    z_dim: int = 16
    g_base: int = 16  # U-Net width at the first stage (R/2), doubling per stage, capped
    g_cap: int = 128
    d_base: int = 16  # PatchGAN width of its first stage, doubling (32: 31 vs 55 images/s at 64 px on one core)
    d_layers: int = 3  # PatchGAN stride-2 stages (then two 4x4 stride-1 convs): a 34-px receptive field at 64 px
    l1_weight: float = 100.0  # Isola et al.'s lambda
    adv_weight: float = 1.0  # 0: the plain L1 U-Net (no discriminator)
    lr_g: float = 6e-4  # L1 only, 150 steps: validation L1 0.154 vs 0.192 at 2e-4 (bench/results/pix2pix_ab.json)
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    dropout: float = 0.5  # in the innermost decoder stages, training only (Isola et al.)
    dropout_max_res: int = 8  # ... those whose output is at most this many px (Isola et al.: 2-8 px of 256; 32 with
    # the transposed RGB layer left 2x2 colour speckle: validation L1 0.244, bench/results/pix2pix_ab.json)
    rgb_layer: str = "upsample"  # "upsample": nearest x2 + 3x3 conv into RGB; "transposed": a 4x4 stride-2 one
    map_dilate: float = 0.3  # edges: probability of training on a 3x3-dilated map (thick hand-drawn lines)
    map_drop: float = 0.05  # edges: share of edge pixels dropped in training (gaps)
    map_outline: float = 0.0  # edges: share of training maps that are the product's outline (models/map_condition.py)
    map_warp: float = 0.0  # edges: std of a smooth random bend of training maps, share of the frame (map_condition.py)
    map_coarse: int = 0  # silhouette: every mask seen through a G x G raster, training and sampling (0: off)
    text_dim: int = 0  # size of the title/prompt embedding (0: no text conditioning; set by the trainer)

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.image_condition not in IMAGE_CONDITIONS:
            raise UserError(f"image_condition {self.image_condition!r} is not one of {', '.join(IMAGE_CONDITIONS)}")
        if self.adv_weight < 0 or self.l1_weight < 0 or self.l1_weight + self.adv_weight == 0:
            raise UserError("l1_weight and adv_weight must be >= 0 and not both 0")
        if self.rgb_layer not in ("upsample", "transposed"):
            raise UserError(f"rgb_layer {self.rgb_layer!r} is not one of upsample, transposed")
        for name in ("dropout", "map_dilate", "map_drop"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"{name} = {getattr(self, name)} must lie in [0, 1)")
        if not 0 <= self.map_outline <= 1:
            raise UserError(f"map_outline = {self.map_outline} must lie in [0, 1]")
        if not 0 <= self.map_warp <= 0.25:
            raise UserError(f"map_warp = {self.map_warp} must lie in [0, 0.25] (a share of the frame; 0.05 = 3 px at 64 px)")
        check_map_coarse(self.map_coarse, self.image_condition)


def film_group_norm(channels: int, cond_dim: int) -> CondBatchNorm:
    """Group norm whose gain and bias come from the condition vector (zero-initialised: plain GN at first)."""
    return CondBatchNorm(channels, cond_dim, norm=nn.GroupNorm(min(8, channels // 2) or 1, channels, affine=False))


def unet_widths(resolution: int, base: int, cap: int) -> list[int]:
    """Encoder widths from R/2 down to 4x4 (one per stride-2 stage), doubling from ``base``, capped."""
    return [min(base * 2**i, cap) for i in range(stages(resolution))]


class UNetGenerator(nn.Module):
    """(B, 1, R, R) map in {0, 1}, (B, z_dim) noise, (B, cond_dim) condition -> (B, 3, R, R) photo in [-1, 1]."""

    def __init__(self, cfg: Pix2PixConfig, cond_sizes: tuple[int, ...], resolution: int) -> None:
        super().__init__()
        self.embed = ConditionEmbedding(cond_sizes, cfg.cond_dim, cfg.text_dim)
        widths = unet_widths(resolution, cfg.g_base, cfg.g_cap)  # e.g. 64 px: 16, 32, 64, 128 at 32, 16, 8, 4
        fdim = cfg.cond_dim + cfg.z_dim  # what every FiLM layer sees
        self.down = nn.ModuleList()
        self.down_norm = nn.ModuleList()
        cin = 1
        for i, w in enumerate(widths):
            self.down.append(nn.Conv2d(cin, w, 4, stride=2, padding=1))
            self.down_norm.append(film_group_norm(w, fdim) if i else nn.Identity())  # no norm on the first (Isola)
            cin = w
        self.bottleneck = nn.Linear(fdim, widths[-1])  # the condition and noise, added at 4x4
        self.up = nn.ModuleList()
        self.up_norm = nn.ModuleList()
        n = len(widths)
        for i in range(n - 1, 0, -1):  # 4x4 -> ... -> R/2; input: the stage below + its mirrored skip
            cin_up = widths[i] if i == n - 1 else 2 * widths[i]
            self.up.append(nn.ConvTranspose2d(cin_up, widths[i - 1], 4, stride=2, padding=1))
            self.up_norm.append(film_group_norm(widths[i - 1], fdim))
        c_last = 2 * widths[0] if n > 1 else widths[0]
        self.to_rgb = (nn.ConvTranspose2d(c_last, 3, 4, stride=2, padding=1) if cfg.rgb_layer == "transposed" else
                       nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_last, 3, 3, padding=1)))
        self.dropout = cfg.dropout
        self.n_dropout = sum(1 for i in range(n - 1, 0, -1) if resolution >> i <= cfg.dropout_max_res)

    def forward(self, image_map: torch.Tensor, z: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        f = torch.cat([emb, z.to(emb.dtype)], dim=1)  # (B, cond_dim + z_dim)
        h = image_map.to(emb.dtype) * 2 - 1  # (B, 1, R, R) in {-1, 1}
        skips = []
        for conv, norm in zip(self.down, self.down_norm):
            h = conv(h)
            h = F.leaky_relu(norm(h, f) if isinstance(norm, CondBatchNorm) else h, 0.2)
            skips.append(h)  # (B, w_i, R / 2^(i+1), ...)
        h = h + self.bottleneck(f)[:, :, None, None]  # (B, w_last, 4, 4)
        for k, (conv, norm) in enumerate(zip(self.up, self.up_norm)):
            if k:
                h = torch.cat([h, skips[-1 - k]], dim=1)
            h = F.relu(norm(conv(h), f))
            if k < self.n_dropout and self.dropout:
                h = F.dropout(h, self.dropout, self.training)
        if len(skips) > 1:
            h = torch.cat([h, skips[0]], dim=1)
        return torch.tanh(self.to_rgb(h))  # (B, 3, R, R)


class PatchDiscriminator(nn.Module):
    """PatchGAN on the (map, photo) pair: (B, 4, R, R) -> (B, 1, P, P) logits, plus a per-attribute projection."""

    def __init__(self, cfg: Pix2PixConfig, cond_sizes: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 4
        for i in range(cfg.d_layers):
            w = cfg.d_base * 2**i
            layers += [sn_conv(cin, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            cin = w
        layers += [sn_conv(cin, 2 * cin, 4, stride=1, padding=1), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = sn_conv(2 * cin, 1, 4, stride=1, padding=1)
        self.proj = nn.ModuleList(nn.Embedding(size, 2 * cin) for size in cond_sizes)
        for p in self.proj:
            nn.init.normal_(p.weight, std=0.02)
        self.text_proj = (nn.utils.parametrizations.spectral_norm(nn.Linear(cfg.text_dim, 2 * cin, bias=False))
                          if cfg.text_dim else None)

    def forward(self, image_map: torch.Tensor, x: torch.Tensor, cond: torch.Tensor,
                text: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(torch.cat([image_map.to(x.dtype) * 2 - 1, x], dim=1))  # (B, C, P+1, P+1)
        out = self.head(h)  # (B, 1, P, P)
        pooled = h.mean(dim=(2, 3))  # (B, C)
        proj = torch.zeros_like(pooled[:, 0])
        for a, table in enumerate(self.proj):
            proj = proj + (table(cond[:, a]) * pooled).sum(dim=1)
        if self.text_proj is not None and text is not None:
            proj = proj + (self.text_proj(text.to(pooled.dtype)) * pooled).sum(dim=1)
        return out + proj[:, None, None, None]


@register_model("pix2pix")
class Pix2Pix(MapConditioned, GenerativeModel):
    config_class = Pix2PixConfig
    phases = ("d", "g")

    def __init__(self, config: Pix2PixConfig, cond_sizes, resolution: int) -> None:
        super().__init__(config, cond_sizes, resolution)
        self.generator = UNetGenerator(config, self.cond_sizes, resolution)
        self.adversarial = config.adv_weight > 0
        self.phases = ("d", "g") if self.adversarial else ("g",)  # L1 only: no discriminator at all
        self.discriminator = PatchDiscriminator(config, self.cond_sizes) if self.adversarial else None
        self.init_maps(resolution)

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        if phase == "g":
            return list(self.generator.parameters())
        if phase == "d" and self.adversarial:
            return list(self.discriminator.parameters())
        raise ValueError(f"this pix2pix model has phases {self.phases}, not {phase!r}")

    def optimizer_settings(self, phase: str) -> dict[str, Any]:
        lr = {"d": self.config.lr_d, "g": self.config.lr_g}[phase]
        return {"lr": lr, "betas": self.config.betas}

    def sampling_net(self) -> nn.Module:
        return self.generator

    def latent_noise(self, n: int, generator: torch.Generator | None, truncation: float = 1.0) -> torch.Tensor:
        if not 0 < truncation <= 1:
            raise ValueError("truncation must be in (0, 1]")
        return torch.randn(n, self.config.z_dim, generator=generator) * truncation

    # -- training ------------------------------------------------------------
    def loss(self, phase: str, images: torch.Tensor, cond: torch.Tensor,
             text: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        maps = self.training_maps(images)
        b = images.shape[0]
        z = noise.randn(b, self.config.z_dim).to(images.device)
        emb = self.generator.embed(cond, text)
        if phase == "d" and self.adversarial:
            with torch.no_grad():
                fake = self.generator(maps, z, emb)
            d_real = self.discriminator(maps, images, cond, text)
            d_fake = self.discriminator(maps, fake, cond, text)
            loss_real = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            loss_fake = F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            return {"loss": 0.5 * (loss_real + loss_fake), "loss_d_real": loss_real, "loss_d_fake": loss_fake}
        if phase == "g":
            fake = self.generator(maps, z, emb)
            l1 = (fake.float() - images.float()).abs().mean()
            out = {"l1": l1}
            loss = self.config.l1_weight * l1
            if self.adversarial:
                d_fake = self.discriminator(maps, fake, cond, text)
                adv = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
                out["adv"] = adv
                loss = loss + self.config.adv_weight * adv
            return {"loss": loss, **out}
        raise ValueError(f"this pix2pix model has phases {self.phases}, not {phase!r}")

    # -- sampling ------------------------------------------------------------
    @torch.no_grad()
    def generate_from_embedding(self, z: torch.Tensor, emb: torch.Tensor, net: nn.Module | None = None,
                                image_map: torch.Tensor | None = None, **sampling: Any) -> torch.Tensor:
        """Images from noise, a condition vector and (B or 1, 1, R, R) maps (None: the preview maps, in blocks)."""
        if sampling:
            raise UserError(f"pix2pix models take no sampling options {sorted(sampling)} "
                            "(--steps and --guidance are for diffusion models)")
        net = net if net is not None else self.sampling_net()
        device = next(net.parameters()).device
        image_map = self.maps_for(image_map, z.shape[0])
        return net(image_map.to(device), z.to(device), emb.to(device))


__all__ = ["PREVIEW_MAPS", "Pix2Pix", "Pix2PixConfig", "UNetGenerator", "PatchDiscriminator"]
