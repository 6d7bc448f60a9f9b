"""Conditional diffusion model: a diffusers U-Net on 4x4 pixel patches, v-prediction,
min-SNR weighting, classifier-free guidance, few-step DPM-Solver++ sampling.

Choices, measured on the 2-core CPU (bench/diffusion_speed.py):
- The network runs on ``pixel_unshuffle``'d images (64x64x3 -> 16x16x48, the
  "patch size 4" of DiT, Peebles & Xie 2023): a diffusers ``UNet2DModel`` with
  widths (64, 128, 256) and self-attention at 4x4 costs 0.78 GFLOP an image per
  evaluation and runs ~290 images/s forward, where the same U-Net on 32x32x12
  patches costs 3.0 GFLOP (73 images/s). That is what makes >= 20 images/s at 10
  sampling steps possible here; pixel space also needs no first-stage autoencoder
  to be trained inside the same CPU budget (latent diffusion would).
- The scheduler is kept apart from the network: diffusers' ``DDPMScheduler``
  for the forward process in training and ``DPMSolverMultistepScheduler``
  (DPM-Solver++(2M), Lu et al. 2022) or ``DDIMScheduler`` for sampling, all from
  one saved configuration (cosine schedule, Nichol & Dhariwal 2021).
- v-prediction (Salimans & Ho 2022) with min-SNR-5 loss weights (Hang et al. 2023).
- ``objective="flow"``: flow matching on the straight path instead (rectified flow; Lipman et al. 2023, Liu et
  al. 2023), logit-normal t (Esser et al. 2024), sampled by diffusers' flow-matching Euler or Heun solver. Same
  network, conditioning, guidance and latent option.
- ``objective="edm"``: the preconditioning of Karras et al. 2022 (EDM, https://arxiv.org/abs/2206.00364): the net
  F sees c_in(s) x and c_noise(s) = ln(s) / 4, the denoiser is D = c_skip(s) x + c_out(s) F with sigma_data 0.5,
  ln(s) ~ N(-1.2, 1.2^2) in training and the loss weight that makes F's target unit-variance at every s. Sampled by
  diffusers' EDM schedulers (DPM-Solver++(2M) on the Karras sigmas, or Euler). The net sees 1000 c_noise as its
  timestep, the magnitude of the other objectives' timesteps (the U-Net's sinusoidal embedding is made for it).
- The condition (attribute embeddings + projected title/prompt vector) is added to
  the timestep embedding (``class_embed_type="identity"``). Training drops the
  whole condition with probability ``uncond_p`` so the same network gives the
  unconditional prediction for classifier-free guidance (Ho & Salimans 2022).
- Latent diffusion (Rombach et al. 2022, https://arxiv.org/abs/2112.10752): with
  ``autoencoder=RUN`` the U-Net is trained on a frozen catalog autoencoder's
  latents (models/autoencoder.py; 256 px -> 32x32x4, patch 2 -> 16x16x16, near the
  64-px pixel model's 16x16x48), scaled to unit variance by a factor measured on
  the first training batch (LDM's ``scale_factor``, kept in the weights as
  ``latent_scale``); sampling decodes. The autoencoder's spec and weights are
  copied into this model, so the run folder is self-contained. Above 128 px only
  latent diffusion is offered: a pixel U-Net at 256 px (patch 4) would see 64x64x48, 16x the positions of the
  64-px model.
- Image conditions (``image_condition="edges"`` or ``"silhouette"``; `prodgen train --model diffusion --condition
  edges,...`): the map derived from each photo (models/map_condition.py, as pix2pix does) enters the U-Net as extra
  input channels (patch-unshuffled like the image: 16 more channels at patch 4), the alternative to the pix2pix GAN
  that issue 13 names (Saharia et al. 2022, "Palette", concatenate the source image the same way). Guidance drops
  the attributes and title, never the map. Pixel space only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import batchwide
from .. import noise as noise_
from ..errors import UserError
from ..conditioning.maps import IMAGE_CONDITIONS
from .base import GenerativeModel, register_model
from .autoencoder import first_stage_from_run, first_stage_from_spec
from .blocks import ConditionEmbedding
from .map_condition import MapConditioned

SAMPLERS = ("dpm++", "ddim")  # of the diffusion objective
FLOW_SAMPLERS = ("euler", "heun")  # of the flow-matching objective
EDM_SAMPLERS = ("dpm++", "euler")  # of the EDM objective (diffusers' EDM schedulers)
OBJECTIVES = ("diffusion", "flow", "edm")
EDM_T_SCALE = 1000.0  # the net's timestep = EDM_T_SCALE * c_noise
PIXEL_MAX = 128  # above this resolution a diffusion model needs an autoencoder (latent diffusion)


@dataclass
class DiffusionConfig:
    widths: tuple[int, ...] = (64, 128, 256)  # U-Net widths at 16x16, 8x8, 4x4 (for 64 px; patch 4)
    attention: tuple[bool, ...] = (False, False, True)  # self-attention per level
    layers_per_block: int = 1
    patch: int | None = None  # pixel_unshuffle factor in front of the U-Net (None: 4 on pixels, 2 on latents)
    objective: str = "diffusion"  # "diffusion" (DDPM forward process) | "flow" (flow matching) | "edm" (Karras et al.)
    flow_t: str = "logit_normal"  # flow: training distribution of t ("logit_normal", Esser et al. 2024; "uniform")
    edm_p_mean: float = -1.2  # edm: ln(sigma) ~ N(p_mean, p_std^2) in training
    edm_p_std: float = 1.2
    edm_sigma_data: float = 0.5
    edm_sigma_min: float = 0.002  # edm: the sampling schedule's range (rho 7)
    edm_sigma_max: float = 80.0
    train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "v_prediction"
    min_snr_gamma: float = 5.0  # 0: plain MSE
    uncond_p: float = 0.1  # probability of dropping the whole condition in training (CFG)
    sampler: str | None = None  # diffusion: "dpm++" (default) | "ddim"; flow: "euler" (default) | "heun"; edm: "dpm++" | "euler"
    steps: int = 10  # default sampling steps
    guidance: float = 1.0  # default classifier-free guidance scale (1: off)
    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    text_dim: int = 0  # size of the title/prompt embedding (0: no text conditioning; set by the trainer)
    autoencoder: str | None = None  # run folder of a trained autoencoder: diffuse in its latent space (needed > 128 px)
    autoencoder_spec: dict[str, Any] | None = None  # its architecture, copied in when the model is first built
    image_condition: str | None = None  # "edges" | "silhouette": draw from a map derived from each photo (extra channels)
    map_dilate: float = 0.3  # edges: probability of training on a 3x3-dilated map (as pix2pix)
    map_drop: float = 0.05  # edges: share of edge pixels dropped in training
    map_outline: float = 0.0  # edges: share of training maps that are the product's outline (as pix2pix)
    map_warp: float = 0.0  # edges: std of a smooth random bend of training maps, share of the frame (as pix2pix)

    def __post_init__(self) -> None:
        if self.patch is None:
            self.patch = 2 if self.latent else 4
        self.widths = tuple(int(w) for w in self.widths)
        self.attention = tuple(bool(a) for a in self.attention)
        self.betas = tuple(self.betas)
        if len(self.attention) != len(self.widths):
            raise ValueError(f"attention has {len(self.attention)} entries for {len(self.widths)} widths")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, not {self.objective!r}")
        if self.flow_t not in ("logit_normal", "uniform"):
            raise ValueError(f"flow_t must be logit_normal or uniform, not {self.flow_t!r}")
        allowed = self.samplers
        if self.sampler is None:
            self.sampler = allowed[0]
        if self.sampler not in allowed:
            raise ValueError(f"sampler of the {self.objective} objective must be one of {allowed}, not {self.sampler!r}")
        if self.prediction_type not in ("v_prediction", "epsilon"):
            raise ValueError("prediction_type must be v_prediction or epsilon")
        if any(w % 32 for w in self.widths):
            raise ValueError("U-Net widths must be multiples of 32 (group norm)")
        if self.image_condition is not None:
            if self.image_condition not in IMAGE_CONDITIONS:
                raise UserError(f"image_condition {self.image_condition!r} is not one of {', '.join(IMAGE_CONDITIONS)}")
            if self.latent:
                raise UserError("an image-conditioned diffusion model runs in pixel space; drop autoencoder= "
                                "(or use --model pix2pix)")

    @property
    def samplers(self) -> tuple[str, ...]:
        return {"flow": FLOW_SAMPLERS, "edm": EDM_SAMPLERS}.get(self.objective, SAMPLERS)

    @property
    def latent(self) -> bool:
        return bool(self.autoencoder or self.autoencoder_spec)


def scheduler_config(cfg: DiffusionConfig) -> dict[str, Any]:
    return {"num_train_timesteps": cfg.train_timesteps, "beta_schedule": cfg.beta_schedule,
            "prediction_type": cfg.prediction_type}


def make_scheduler(cfg: DiffusionConfig, sampler: str | None = None):
    """A fresh diffusers scheduler for sampling (``dpm++``/``ddim``; flow: ``euler``/``heun``) or training (``ddpm``)."""
    from diffusers import (DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EDMDPMSolverMultistepScheduler,
                           EDMEulerScheduler, FlowMatchEulerDiscreteScheduler, FlowMatchHeunDiscreteScheduler)

    kind = sampler or cfg.sampler
    if kind != "ddpm" and kind not in cfg.samplers:
        raise UserError(f"sampler {kind!r} does not solve the {cfg.objective} objective; choose one of {', '.join(cfg.samplers)}")
    if cfg.objective == "edm" and kind != "ddpm":  # ("ddpm": the training schedule the model keeps for its buffers)
        edm = {"sigma_min": cfg.edm_sigma_min, "sigma_max": cfg.edm_sigma_max, "sigma_data": cfg.edm_sigma_data}
        if kind == "euler":
            return EDMEulerScheduler(**edm)
        if kind == "dpm++":
            return EDMDPMSolverMultistepScheduler(**edm, algorithm_type="dpmsolver++", solver_order=2,
                                                  lower_order_final=True)
    if kind == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=cfg.train_timesteps, shift=1.0)
    if kind == "heun":
        return FlowMatchHeunDiscreteScheduler(num_train_timesteps=cfg.train_timesteps, shift=1.0)
    common = scheduler_config(cfg)
    if kind == "ddpm":
        return DDPMScheduler(**common, clip_sample=False)
    if kind == "dpm++":
        return DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2,
                                           lower_order_final=True)
    if kind == "ddim":
        return DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=False, timestep_spacing="trailing")
    raise UserError(f"unknown sampler {kind!r}; choose one of {', '.join(SAMPLERS)}")


class DenoisingNet(nn.Module):
    """(noisy x, timestep, condition [, text]) -> v (or epsilon) prediction, both (B, C, S, S).

    x is an image (C = 3, S = R) or an autoencoder latent (C = 4, S = R / 8).
    """

    def __init__(self, cfg: DiffusionConfig, cond_sizes: tuple[int, ...], size: int, channels: int = 3) -> None:
        super().__init__()
        from diffusers import UNet2DModel

        if size % cfg.patch:
            raise ValueError(f"input size {size} is not a multiple of patch {cfg.patch}")
        self.patch = cfg.patch
        ch = channels * cfg.patch**2
        self.map_channels = cfg.patch**2 if cfg.image_condition else 0  # the (1, S, S) map, unshuffled like x
        down = tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in cfg.attention)
        up = tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(cfg.attention))
        self.unet = UNet2DModel(sample_size=size // cfg.patch, in_channels=ch + self.map_channels, out_channels=ch,
                                block_out_channels=cfg.widths, layers_per_block=cfg.layers_per_block,
                                down_block_types=down, up_block_types=up, class_embed_type="identity",
                                norm_num_groups=32, attention_head_dim=32)
        self.embed = ConditionEmbedding(cond_sizes, cfg.widths[0] * 4, cfg.text_dim)  # = the time-embedding size

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None,
                image_map: torch.Tensor | None = None) -> torch.Tensor:
        return self.denoise(x, t, self.embed(cond, text), *(() if image_map is None else (image_map,)))

    def denoise(self, x: torch.Tensor, t: torch.Tensor, emb: torch.Tensor,
                image_map: torch.Tensor | None = None) -> torch.Tensor:
        """The prediction for noisy ``x`` at timesteps ``t`` under condition vector ``emb`` (and the (B, 1, S, S)
        map in {0, 1} of an image-conditioned net)."""
        h = F.pixel_unshuffle(x, self.patch)
        if self.map_channels:
            if image_map is None:
                raise ValueError("this net draws from an image condition: pass image_map")
            h = torch.cat([h, F.pixel_unshuffle(image_map.to(h.dtype) * 2 - 1, self.patch)], dim=1)
        return F.pixel_shuffle(self.unet(h, t, class_labels=emb).sample, self.patch)


@register_model("diffusion")
class ConditionalDiffusion(MapConditioned, GenerativeModel):
    config_class = DiffusionConfig
    phases = ("diffusion",)

    def __init__(self, config: DiffusionConfig, cond_sizes, resolution: int) -> None:
        super().__init__(config, cond_sizes, resolution)
        self.autoencoder = self._first_stage(config, resolution)
        if self.autoencoder is None:
            self.net = DenoisingNet(config, self.cond_sizes, resolution)
        else:
            self.autoencoder.requires_grad_(False).eval()  # frozen: only the U-Net trains
            self.net = DenoisingNet(config, self.cond_sizes, self.autoencoder.latent_size, self.autoencoder.latent_channels)
            self.register_buffer("latent_scale", torch.zeros(()))  # measured on the first training batch
        if config.image_condition:
            self.init_maps(resolution)  # (only then: older runs' weights have no preview maps)
        self.train_scheduler = make_scheduler(config, "ddpm")
        self.register_buffer("alphas_cumprod", self.train_scheduler.alphas_cumprod.clone().float(), persistent=False)

    @staticmethod
    def _first_stage(config: DiffusionConfig, resolution: int) -> nn.Module | None:
        """The frozen autoencoder of latent diffusion (None: pixel diffusion).

        Built from ``autoencoder_spec`` when the model is rebuilt (weights come from this model's state dict),
        else read from the ``autoencoder`` run folder, whose spec is then copied into ``config``.
        """
        if config.autoencoder_spec is not None:
            return first_stage_from_spec(config.autoencoder_spec)
        if config.autoencoder:
            net, config.autoencoder_spec = first_stage_from_run(config.autoencoder, resolution)
            config.autoencoder = str(Path(config.autoencoder).resolve())  # where it came from (provenance only)
            return net
        if resolution > PIXEL_MAX:
            raise UserError(f"a diffusion model at {resolution} px runs in the latent space of an autoencoder trained on "
                            f"the catalog: train one with `prodgen train --model autoencoder --resolution {resolution} "
                            f"--catalog ... --out runs/ae{resolution}`, then add `--model-arg autoencoder=runs/ae{resolution}` "
                            f"(pixel diffusion goes up to {PIXEL_MAX} px).")
        return None

    def train(self, mode: bool = True) -> ConditionalDiffusion:
        super().train(mode)
        if self.autoencoder is not None:
            self.autoencoder.eval()  # frozen, also while the U-Net trains
        return self

    # -- latent space ----------------------------------------------------------
    def _scale(self) -> torch.Tensor:
        s = self.latent_scale
        return torch.where(s > 0, s, torch.ones_like(s))  # unmeasured (untrained model): 1

    @torch.no_grad()
    def to_latents(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, R, R) in [-1, 1] -> unit-variance latents; identity for pixel diffusion."""
        if self.autoencoder is None:
            return images
        return self.autoencoder.encode(images).float() * self._scale()

    @torch.no_grad()
    def measure_latent_scale(self, images: torch.Tensor) -> None:
        """LDM's scale factor: 1 / std of the first training batch's latents (all processes' rows), set once."""
        if self.autoencoder is None or bool(self.latent_scale > 0):
            return
        z = self.autoencoder.encode(images).float()
        m = batchwide.mean(z)
        self.latent_scale.fill_(float(batchwide.mean((z - m).pow(2)).rsqrt()))

    @torch.no_grad()
    def from_latents(self, z: torch.Tensor) -> torch.Tensor:
        """The inverse of ``to_latents`` (decoded images, not clamped)."""
        if self.autoencoder is None:
            return z
        return self.autoencoder.decode(z / self._scale()).float()

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        if phase != "diffusion":
            raise ValueError(f"diffusion has one phase 'diffusion', not {phase!r}")
        return list(self.net.parameters())

    def optimizer_settings(self, phase: str) -> dict[str, Any]:
        return {"lr": self.config.lr, "betas": self.config.betas, "weight_decay": self.config.weight_decay}

    def sampling_net(self) -> nn.Module:
        return self.net

    def latent_noise(self, n: int, generator: torch.Generator | None, truncation: float = 1.0) -> torch.Tensor:
        if truncation != 1.0:
            raise UserError("--truncation is for GAN and VAE models; a diffusion model trades variety for "
                            "fidelity with --guidance instead.")
        if self.autoencoder is not None:
            s = self.autoencoder.latent_size
            return torch.randn(n, self.autoencoder.latent_channels, s, s, generator=generator)
        r = self.resolution
        return torch.randn(n, 3, r, r, generator=generator)

    # -- training ------------------------------------------------------------
    def loss(self, phase: str, images: torch.Tensor, cond: torch.Tensor,
             text: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if phase != "diffusion":
            raise ValueError(f"diffusion has one phase 'diffusion', not {phase!r}")
        maps = self.training_maps(images) if self.config.image_condition else None
        self.measure_latent_scale(images)
        images = self.to_latents(images)  # latent diffusion: the frozen encoder's scaled latents
        b, dev = images.shape[0], images.device
        if self.config.uncond_p > 0:  # drop the whole condition: the unconditional model CFG needs
            drop = noise_.rand(b).to(dev) < self.config.uncond_p
            cond = cond * (~drop)[:, None]
            if text is not None:
                text = text * (~drop)[:, None].to(text.dtype)
        if self.config.objective == "flow":
            return self._flow_loss(images, cond, text, maps)
        if self.config.objective == "edm":
            return self._edm_loss(images, cond, text, maps)
        t = noise_.randint(0, self.config.train_timesteps, b).to(dev)
        noise = noise_.randn(*images.shape).to(dev)
        noisy = self.train_scheduler.add_noise(images, noise, t)
        if self.config.prediction_type == "v_prediction":
            target = self.train_scheduler.get_velocity(images, noise, t)
        else:
            target = noise
        pred = self.net(noisy, t, cond, text, maps)
        mse = (pred.float() - target.float()).pow(2).flatten(1).mean(1)  # (B,)
        if self.config.min_snr_gamma > 0:
            a = self.alphas_cumprod.to(dev)[t]
            snr = a / (1 - a)
            w = snr.clamp(max=self.config.min_snr_gamma) / (snr + 1 if self.config.prediction_type == "v_prediction" else snr)
            loss = (w * mse).mean()
        else:
            loss = mse.mean()
        out = {"loss": loss, "mse": mse.mean()}
        if self.autoencoder is not None:
            out["latent_scale"] = self.latent_scale.detach().clone()
        return out

    def _flow_loss(self, x0: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None,
                   maps: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Flow matching with the straight (rectified-flow) path: x_t = (1 - t) x0 + t e, the net predicts e - x0.

        Lipman et al. 2023 (https://arxiv.org/abs/2210.02747), Liu et al. 2023 (https://arxiv.org/abs/2209.03003);
        t from a logit-normal distribution by default, which weights the middle of the path (Esser et al. 2024,
        https://arxiv.org/abs/2403.03206). The net sees t x ``train_timesteps``, the timestep scale of diffusers'
        flow-matching schedulers that sample it.
        """
        b, dev = x0.shape[0], x0.device
        u = noise_.randn(b) if self.config.flow_t == "logit_normal" else noise_.rand(b)
        t = (torch.sigmoid(u) if self.config.flow_t == "logit_normal" else u).to(dev)
        e = noise_.randn(*x0.shape).to(dev)
        tt = t[:, None, None, None]
        xt = (1 - tt) * x0 + tt * e
        pred = self.net(xt, t * self.config.train_timesteps, cond, text, maps)
        mse = (pred.float() - (e - x0).float()).pow(2).flatten(1).mean(1)
        out = {"loss": mse.mean(), "mse": mse.mean()}
        if self.autoencoder is not None:
            out["latent_scale"] = self.latent_scale.detach().clone()
        return out

    def edm_coefficients(self, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """EDM's c_skip, c_out, c_in at noise levels ``sigma`` (Karras et al. 2022, table 1)."""
        sd = self.config.edm_sigma_data
        root = (sigma**2 + sd**2).sqrt()
        return sd**2 / root**2, sigma * sd / root, 1 / root

    def _edm_loss(self, x0: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None,
                  maps: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """EDM training: ln(sigma) ~ N(P_mean, P_std^2), x = x0 + sigma n, and the loss weight
        lambda(sigma) = 1 / c_out(sigma)^2, so the loss is the plain MSE of F against its effective target
        (x0 - c_skip x) / c_out, which has unit variance at every sigma (Karras et al. 2022, section 5)."""
        b, dev = x0.shape[0], x0.device
        sigma = (noise_.randn(b) * self.config.edm_p_std + self.config.edm_p_mean).exp().to(dev)
        n = noise_.randn(*x0.shape).to(dev)
        s = sigma.reshape(-1, 1, 1, 1)
        x = x0 + s * n
        c_skip, c_out, c_in = self.edm_coefficients(s)
        f = self.net(c_in * x, EDM_T_SCALE * sigma.log() / 4, cond, text, maps)
        target = (x0 - c_skip * x) / c_out
        mse = (f.float() - target.float()).pow(2).flatten(1).mean(1)
        out = {"loss": mse.mean(), "mse": mse.mean()}
        if self.autoencoder is not None:
            out["latent_scale"] = self.latent_scale.detach().clone()
        return out

    # -- sampling ------------------------------------------------------------
    @torch.no_grad()
    def generate_from_embedding(self, z: torch.Tensor, emb: torch.Tensor, net: nn.Module | None = None,
                                steps: int | None = None, guidance: float | None = None, sampler: str | None = None,
                                start: float = 1.0, image: torch.Tensor | None = None,
                                image_map: torch.Tensor | None = None) -> torch.Tensor:
        """Denoise ``z`` in ``steps`` solver steps under condition vector ``emb``.

        ``guidance`` > 1 mixes in the unconditional prediction (classifier-free guidance).
        ``start`` < 1 with ``image``: begin from ``image`` noised to that fraction of the
        schedule instead of pure noise (SDEdit, Meng et al. 2022), which is how an existing
        photo gets a new condition while keeping its layout. ``image_map``: an image-conditioned model's (B or 1, 1,
        R, R) maps (None: its preview maps).
        """
        steps = int(self.config.steps if steps is None else steps)
        guidance = float(self.config.guidance if guidance is None else guidance)
        if not 1 <= steps <= self.config.train_timesteps:
            raise UserError(f"--steps {steps} must lie in [1, {self.config.train_timesteps}]")
        if guidance < 0:
            raise UserError(f"--guidance {guidance} must be >= 0 (1: no guidance; 2-5 typical)")
        if not 0 < start <= 1:
            raise UserError(f"strength {start} must lie in (0, 1]")
        net = net if net is not None else self.net
        dev = next(net.parameters()).device
        x, emb = z.to(dev), emb.to(dev)
        guided = guidance != 1.0
        maps = None
        if self.config.image_condition:
            maps = self.maps_for(image_map, len(x)).to(dev)
            maps = torch.cat([maps, maps]) if guided else maps  # guidance drops the attributes, never the map
        elif image_map is not None:
            raise UserError("this diffusion model draws from no image condition; drop the sketch")
        extra = () if maps is None else (maps,)  # (a net without an image condition takes three arguments)
        if guided:
            b = len(emb)
            null = net.embed(torch.zeros(b, len(self.cond_sizes), dtype=torch.long, device=dev),
                             torch.zeros(b, self.text_dim, device=dev) if self.text_dim else None)
            emb2 = torch.cat([emb, null])
        sched = make_scheduler(self.config, sampler)
        sched.set_timesteps(steps)
        timesteps = sched.timesteps
        if start < 1.0:
            if image is None:
                raise ValueError("start < 1 needs the image to start from")
            keep = max(1, int(round(len(timesteps) * start)))  # Heun lists most timesteps twice
            timesteps = timesteps[len(timesteps) - keep:]
            if hasattr(sched, "set_begin_index"):
                sched.set_begin_index(len(sched.timesteps) - keep)
            x0 = self.to_latents(image.to(dev))
            if self.config.objective == "flow":
                x = sched.scale_noise(x0, timesteps[:1].to(dev), x)
            elif self.config.objective == "edm":
                x = x0 + float(sched.sigmas[len(sched.timesteps) - keep]) * x
            else:
                x = self.train_scheduler.add_noise(x0, x, timesteps[:1].to(dev).expand(len(x)))
        else:
            x = x * getattr(sched, "init_noise_sigma", 1.0)
        edm = self.config.objective == "edm"
        for t in timesteps:
            tt = (t * EDM_T_SCALE if edm else t).to(dev).expand(len(x) * (2 if guided else 1))
            xin = sched.scale_model_input(x, t) if edm else x  # EDM: c_in x (the scheduler knows sigma)
            if guided:
                pc, pu = net.denoise(torch.cat([xin, xin]), tt, emb2, *extra).chunk(2)
                pred = pu + guidance * (pc - pu)
            else:
                pred = net.denoise(xin, tt, emb, *extra)
            x = sched.step(pred, t, x).prev_sample
        return self.from_latents(x).clamp(-1, 1)


__all__ = ["FLOW_SAMPLERS", "OBJECTIVES", "PIXEL_MAX", "ConditionalDiffusion", "DenoisingNet", "DiffusionConfig", "SAMPLERS",
           "make_scheduler", "scheduler_config"]
