"""Conditional GAN: FiLM/conditional-BN generator, projection discriminator,
spectral norm, hinge loss, DiffAugment, truncation at sampling; or (``arch="r3gan"``)
R3GAN's normalisation-free ResNets of grouped convolutions (models/r3gan_nets.py).

References: Miyato & Koyama 2018 (projection discriminator,
https://arxiv.org/abs/1802.05637); Miyato et al. 2018 (spectral norm);
Lim & Ye 2017 (hinge loss, https://arxiv.org/abs/1705.02894); Zhao et al. 2020
(DiffAugment, https://arxiv.org/abs/2006.10738); Brock et al. 2019 (BigGAN:
shared condition embeddings, truncation trick).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import batchwide, noise
from .base import GenerativeModel, register_model
from ..data.mask import backdrop_masks
from ..errors import UserError
from ..resolution import stages
from .blocks import (ConditionEmbedding, ConvDecoder, ReconDecoder, conv_encoder_widths, decoder_widths,
                     default_decoder_base, sn_conv)
from .diffaugment import POLICIES, diff_augment
from .r3gan_nets import DiscriminativeBasis, R3Decoder, R3Encoder, he_init_


GAN_LOSSES = ("hinge", "rpgan")
GAN_ARCHS = ("dcgan", "r3gan")


@dataclass
class GANConfig:
    z_dim: int = 128
    cond_dim: int = 128
    g_base: int | None = None  # generator width at the output resolution (None: 1024 / R; arch=r3gan: half), doubling inwards
    g_cap: int = 256
    d_base: int | None = None  # discriminator width at its first stage (None: 2048 / R; arch=r3gan: half), doubling
    d_cap: int = 256
    # two time-scale update rule (Heusel et al. 2017; SAGAN): D learns 2x faster. G's 2e-4 (1e-4 until session 14) is
    # chosen on val over three training seeds at the 25-minute recipe: FID-P 12-17 lower at every seed
    # (bench/lr_g_seeds.sh, README "G's learning rate"). Runs record their rate, so older runs keep 1e-4.
    lr_g: float = 2e-4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.99)
    # DiffAugment (Zhao et al. 2020) on every image D sees, real and fake. Translation and cutout only since session 17:
    # the colour transform (brightness, saturation 0-2x, contrast) shows D a "Red" shirt turned grey under its "Red"
    # label; without it FID-P fell at all three seeds on val (mean 41.9 against 48.1, bench/diffaug_color.sh, README
    # "DiffAugment without its colour transform"). Runs record their policies, so older runs keep all three.
    diffaugment: list[str] = field(default_factory=lambda: ["translation", "cutout"])
    ada_target: float = 0.0  # > 0: augment each image with an adaptive probability p (ADA, Karras et al. 2020) that
    #                          rises while E[sign D(real)] is above this target (D overfits) and falls below; 0: always
    ada_images: int = 20_000  # images over which p can move from 0 to 1 (ADA's 500k is for far longer runs)
    loss: str = "hinge"  # "hinge" | "rpgan" (relativistic pairing, Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024)
    r1_gamma: float = 0.0  # R1 penalty weight on real images (0: off)
    r2_gamma: float = 0.0  # R2 penalty weight on generated images (0: off); R3GAN uses R1 and R2 together
    reg_every: int = 1  # lazy regularisation (StyleGAN2): the R1/R2 penalties every k-th D step, weighted by k
    mbstd_group: int = 4  # minibatch-stddev group size in the discriminator (0: off)
    skip_z: bool = True  # noise also modulates every conditional-BN layer (BigGAN skip-z; arch=dcgan only)
    sle: bool | None = None  # FastGAN's skip-layer excitation in the generator (blocks.SkipExcitation). None: on for
    #   arch=dcgan (1.03x a step; articleType accuracy rose in every seed pairing, FID-P fell on average but within
    #   the seed spread: README "Issue 13", bench/quality_runs.sh), off for r3gan. Runs saved before it existed load
    #   with False (config.RunConfig.from_dict)
    text_dim: int = 0  # size of the title/prompt embedding (0: no text conditioning; set by the trainer)
    text_sn: bool = True  # spectral norm on D's text projection (bounds <W t, h> by |h|; the attribute tables are free)
    arch: str = "dcgan"  # "dcgan": the networks below (conditional BN, spectral norm); "r3gan": R3GAN's
    #   normalisation-free ResNets of grouped convs (Huang et al. 2024, r3gan_nets.py; train with loss=rpgan and R1/R2).
    #   Its default widths are the dcgan rules with halved bases (r3_widths: G 128..8, D 8..128 at 64 px) and one
    #   block per stage: on the 2-core CPU (64 px, batch 64, 1 thread; bench/results/gan_arch_speed.json) a step
    #   costs 0.83 s (hinge) / 1.14 s (rpgan, R1+R2 every 4th D step) against dcgan's 0.92 / 1.13 s (0.90x / 1.01x).
    #   Short probes (not recorded): the dcgan widths (g_base=16, d_base=32) cost 2.2x / 2.6x dcgan's step, a residual
    #   block at 64 px being 4x a dcgan layer there
    r3_blocks: int | list[int] = 1  # arch=r3gan: residual blocks per stage (a list: per stage from 4x4 up; D mirrors
    #   it). R3GAN has 2; probes at 64 px: [2, 2, 2, 1, 1] 1.25x / 1.4x dcgan's step (hinge / rpgan), 2 everywhere 1.6x / 1.8x
    r3_group: int = 16  # arch=r3gan: channels per group of the 3x3 grouped conv (R3GAN: 16; 8 probed no faster)
    r3_expansion: int = 2  # arch=r3gan: inverted-bottleneck width ratio of a residual block (R3GAN: 2)
    d_recon: float = 0.0  # > 0: FastGAN's self-supervised discriminator (Liu et al. 2021): two small decoders
    #   rebuild, from D's 8x8 map and from a random quadrant of its 16x16 map, the augmented real image (at 32 px)
    #   and that quadrant of it; this weight times their L1 error joins D's loss (arch=dcgan)
    lecam: float = 0.0  # > 0: LeCam regularisation (Tseng et al. 2021, "Regularizing GANs under limited data"):
    #   lecam * (E relu(D(x) - a_F)^2 + E relu(a_R - D(G(z)))^2) joins D's loss, a_R / a_F the moving averages
    #   (decay lecam_decay) of D's mean outputs on real / generated images; it keeps D's predictions from drifting
    #   apart on a small catalog. The paper's BigGAN setting: 0.3 with DiffAugment
    lecam_decay: float = 0.99
    shared_fake: bool = False  # G's step reuses the fakes of D's step (the pytorch/examples DCGAN order): G runs one
    #   forward a step, kept with its graph through D's step, instead of a no-grad forward for D and another for G;
    #   D and G then see the same noise draw. 1.128x the images/s (bench/results/quality/shared_fake_speed.json)
    bcr_real: float = 0.0  # > 0: balanced consistency regularisation (Zhao et al. 2021, "Improved Consistency
    #   Regularization for GANs"): bcr_real * E (D(T1(x)) - D(T2(x)))^2 over real images joins D's loss, T1 and T2 two
    #   independent draws of the DiffAugment policy, so D answers the same for the same image however it is
    #   augmented (the paper: 10 with flips and translations). One more D pass over the real half a step
    bcr_fake: float = 0.0  # the same over D's generated images (bCR's lambda_fake; 10 in the paper)
    low_res_steps: int = 0  # > 0: progressive growing (Karras et al. 2018, ProGAN): the first low_res_steps train G
    #   and D at half the resolution (G's extra RGB head at R/2, its image upsampled to R; D pools its input to R/2
    #   into an extra 1x1 input layer), cheaper steps for the coarse layout; then the last stages fade in
    fade_steps: int = 0  # progressive growing: steps over which the full-resolution stages fade in (ProGAN's linear
    #   alpha; real images D sees are blended between their R/2 version and themselves the same way). 0: at once
    feature_d: float = 0.0  # > 0: a second discriminator on the frozen ImageNet features of EfficientNet-Lite0
    #   (Projected GAN, Sauer et al. 2021; Vision-aided GAN, Kumari et al. 2022; models/feature_discriminator.py):
    #   its hinge loss, times this weight, joins D's and G's (hinge loss only)
    feature_d_width: int = 64  # channels of each of its trainable heads (one per feature scale)
    topk_keep: float = 1.0  # < 1: top-k training (Sinha et al. 2020, "Top-k Training of GANs: Improving GAN
    #   Performance by Throwing Away Bad Samples"): G's loss averages only over the k of its B images D rates most
    #   real, so G is not pulled by the samples D already rejects; k falls geometrically from B to
    #   ceil(topk_keep * B) over topk_steps G steps (the paper: x0.99 an epoch down to 0.5-0.75 B). 1: off
    topk_steps: int = 0  # top-k training: G steps over which k falls from B to its floor (0: at the floor at once)
    mode_seeking: float | None = None  # > 0: MSGAN's mode-seeking term (Mao et al. 2019, "Mode Seeking Generative
    #   Adversarial Networks for Diverse Image Synthesis"): G's batch is two halves with the same conditions and other
    #   noise, and this weight over (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5) joins G's loss, so that two noises of
    #   one condition must give two images (the paper: 1 / (ratio + 1e-5), weight 1). Hinge loss, without shared_fake
    #   or feature_d. None: 0.1 for the dcgan networks with the hinge loss (without shared_fake or feature_d), else 0.
    #   0.1 is the default since session 28: at the 25-minute recipe (7171 bf16 steps) it lowered val FID-P at both
    #   seeds against the recipe trained on the same machine, with articleType and baseColour accuracy within 3 points
    #   of the real photos' (bench/recipe_variants25.sh ms01 / noms, README "Mode seeking at 25 minutes"). Runs
    #   saved before the field existed load with 0 (config.saved_model_args)
    mode_seeking_centred: bool = False  # mode seeking's image distance after each image's mean colour (per channel)
    #   is taken away, so that a global shift of shade buys G no variety (at weight 0.1 the colours came out paler and
    #   baseColour accuracy fell: README "Mode seeking at 25 minutes"); the variety must come from the shapes. It did
    #   not bring the colour accuracy back on the 1,200-step screen (bench/mode_seeking_screen.sh with CENTRED=1), so off
    mode_seeking_pool: int = 1  # > 1: mode seeking's image distance between the two halves after a P x P average
    #   pool, so that only variety coarser than P pixels counts. At weight 0.1 the Black column of seed 2's grid came
    #   out printed and checked (README "Mode seeking at 25 minutes"): fine patterns are the cheapest pixel distance,
    #   and they cost colour accuracy. 1: the full-resolution distance (MSGAN's)
    mode_seeking_fade: int = 0  # > 0: G steps over which the mode-seeking weight falls linearly to 0; after them G's
    #   step is the plain one (no repeated half). At weight 0.1 the full-budget runs lost baseColour accuracy late
    #   (README "Mode seeking at 25 minutes"): the variety early, the recipe's colours late. On the 1,200-step screen
    #   (bench/mode_seeking_screen.sh with FADE=1200) both accuracies rose, but variety fell back toward the recipe's
    #   and FID-P rose: accuracy bought with variety, as truncation does. 0 (the weight stays) by default
    colour_keep: float = 0.0  # > 0: this weight times the L1 distance between the mean colour of each fake's product
    #   pixels and that of the real image whose condition it was given (product pixels: data.mask.backdrop_masks, no
    #   gradient through the mask) joins G's loss, on the rows with every attribute specified; against a random real
    #   image of the condition, in expectation it pulls the fake's product colour to its condition's mean colour. At
    #   mode seeking 0.1 the full-budget runs lost baseColour accuracy (paler colours, printed Black items: README "Mode
    #   seeking at 25 minutes"), which a term on the images' variety (centred or pooled distances) did not bring back.
    #   On the 1,200-step screen (COLOUR=1) it took the products' mean colour back to the recipe's distance
    #   (bench/colour_gap_real.py) but not the baseColour accuracy, and FID-P rose: 0 (off) by default
    aux_cls: float | list[float] = 0.0  # > 0: an auxiliary classifier on D (AC-GAN, Odena et al. 2017): a linear head
    #   per conditioning attribute on D's pooled features; D's loss gains the weight times the cross-entropy of the
    #   head on real images against their catalog values, G's loss the same on its images against the values it was
    #   asked for (rows with the attribute unspecified left out of both). One weight for every attribute, or a list
    #   in the order of the run's attributes (e.g. aux_cls=0,1 with articleType,baseColour: colour only); a head is
    #   built only for a weight > 0. dcgan networks with the hinge loss, without feature_d. 0: off (the heads are
    #   not built, so runs saved before it existed load as they were)

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.arch not in GAN_ARCHS:
            raise UserError(f"--model-arg arch={self.arch}: the GAN's arch must be one of {', '.join(GAN_ARCHS)} "
                            "(dcgan: the default networks; r3gan: R3GAN's normalisation-free ResNets)")
        if self.sle is None:
            self.sle = self.arch == "dcgan"
        if self.arch == "r3gan" and self.sle:
            raise UserError("sle=true (skip-layer excitation) belongs to the dcgan generator; leave it out with arch=r3gan")
        if isinstance(self.r3_blocks, list | tuple):
            self.r3_blocks = [int(b) for b in self.r3_blocks]
            bad = any(b < 0 for b in self.r3_blocks)
        else:
            bad = not isinstance(self.r3_blocks, int) or self.r3_blocks < 0
        if bad:
            raise UserError(f"r3_blocks={self.r3_blocks}: residual blocks per stage, a count >= 0 or a list of them")
        if self.r3_group < 1 or self.r3_expansion < 1:
            raise UserError("r3_group and r3_expansion must be >= 1")
        if self.d_recon < 0:
            raise UserError(f"d_recon={self.d_recon}: the reconstruction weight must be >= 0 (0: off)")
        if self.d_recon > 0 and self.arch != "dcgan":
            raise UserError("d_recon (FastGAN's self-supervised discriminator) belongs to the dcgan discriminator; "
                            "leave it out with arch=r3gan")
        if self.lecam < 0 or not 0 <= self.lecam_decay < 1:
            raise UserError(f"lecam={self.lecam}, lecam_decay={self.lecam_decay}: the LeCam weight must be >= 0 "
                            "(0: off) and its decay in [0, 1)")
        if self.low_res_steps < 0 or self.fade_steps < 0:
            raise UserError(f"low_res_steps={self.low_res_steps}, fade_steps={self.fade_steps}: progressive growing's "
                            "step counts must be >= 0 (0: off)")
        if self.low_res_steps and (self.arch != "dcgan" or self.d_recon > 0):
            raise UserError("low_res_steps (progressive growing) belongs to the dcgan networks without d_recon; "
                            "leave it out with arch=r3gan or d_recon > 0")
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {GAN_LOSSES}, not {self.loss!r}")
        if not 0 <= self.ada_target < 1:
            raise ValueError("ada_target must lie in [0, 1) (0: augment every image)")
        if self.bcr_real < 0 or self.bcr_fake < 0:
            raise UserError(f"bcr_real={self.bcr_real}, bcr_fake={self.bcr_fake}: the consistency weights must be >= 0")
        if (self.bcr_real or self.bcr_fake) and not self.diffaugment:
            raise UserError("bcr_real / bcr_fake compare D's logits under two draws of DiffAugment: give a policy "
                            "(--model-arg diffaugment=translation,cutout) or leave bCR off")
        if self.reg_every < 1:
            raise ValueError("reg_every must be >= 1")
        if self.feature_d < 0 or self.feature_d_width < 1:
            raise UserError(f"feature_d={self.feature_d}, feature_d_width={self.feature_d_width}: the feature "
                            "discriminator's weight must be >= 0 (0: off) and its head width >= 1")
        if self.feature_d > 0 and self.loss != "hinge":
            raise UserError("feature_d (the discriminator on frozen ImageNet features) is trained with the hinge loss: "
                            "leave out loss=rpgan or feature_d")
        if not 0 < self.topk_keep <= 1 or self.topk_steps < 0:
            raise UserError(f"topk_keep={self.topk_keep}, topk_steps={self.topk_steps}: top-k training keeps a "
                            "share of G's batch in (0, 1] (1: off) and falls to it over a step count >= 0")
        if self.mode_seeking is None:
            plain = self.loss == "hinge" and self.arch == "dcgan" and not self.shared_fake and self.feature_d <= 0
            self.mode_seeking = 0.1 if plain else 0.0
        if self.mode_seeking < 0:
            raise UserError(f"mode_seeking={self.mode_seeking}: the mode-seeking weight must be >= 0 (0: off)")
        if self.mode_seeking_fade < 0:
            raise UserError(f"mode_seeking_fade={self.mode_seeking_fade}: the G steps of the fade must be >= 0 (0: none)")
        if self.mode_seeking_pool < 1:
            raise UserError(f"mode_seeking_pool={self.mode_seeking_pool}: the pooling factor must be >= 1 (1: none)")
        if self.colour_keep < 0:
            raise UserError(f"colour_keep={self.colour_keep}: the colour-keeping weight must be >= 0 (0: off)")
        if self.colour_keep > 0 and (self.loss != "hinge" or self.feature_d > 0):
            raise UserError("colour_keep joins the hinge loss's G step: leave out loss=rpgan and feature_d, or colour_keep")
        if isinstance(self.aux_cls, str):  # the CLI's spelling of a list: --model-arg aux_cls=0,1
            try:
                self.aux_cls = [float(w) for w in self.aux_cls.split(",")]
            except ValueError:
                raise UserError(f"aux_cls={self.aux_cls!r}: give one weight (aux_cls=1) or one per attribute in the "
                                "run's order (aux_cls=0,1)") from None
        if isinstance(self.aux_cls, list | tuple):
            self.aux_cls = [float(w) for w in self.aux_cls]
        weights = self.aux_cls if isinstance(self.aux_cls, list) else [self.aux_cls]
        if any(not w >= 0 for w in weights):
            raise UserError(f"aux_cls={self.aux_cls}: the auxiliary classifier's weights must be >= 0 (0: off)")
        if any(w > 0 for w in weights) and (self.arch != "dcgan" or self.loss != "hinge" or self.feature_d > 0):
            raise UserError("aux_cls (the auxiliary classifier on D) joins the dcgan networks' hinge loss: leave out "
                            "arch=r3gan, loss=rpgan and feature_d, or aux_cls")
        if self.mode_seeking > 0 and (self.loss != "hinge" or self.shared_fake or self.feature_d > 0):
            raise UserError("mode_seeking pairs G's own images of one condition: it is built for the hinge loss "
                            "without shared_fake or feature_d; leave those out or mode_seeking")
        if isinstance(self.diffaugment, str):  # the CLI's natural spelling: --model-arg diffaugment=translation,cutout
            self.diffaugment = [p.strip() for p in self.diffaugment.split(",") if p.strip()]
        self.diffaugment = list(self.diffaugment)
        bad = [p for p in self.diffaugment if p not in POLICIES]
        if bad:
            raise UserError(f"unknown DiffAugment policies {bad}; valid: {', '.join(POLICIES)} (e.g. --model-arg "
                             "diffaugment=translation,cutout; an empty value turns augmentation off)")


class Generator(nn.Module):
    def __init__(self, cfg: GANConfig, cond_sizes: tuple[int, ...], resolution: int) -> None:
        super().__init__()
        self.embed = ConditionEmbedding(cond_sizes, cfg.cond_dim, cfg.text_dim)
        channels = decoder_widths(resolution, cfg.g_base, cfg.g_cap)
        self.decoder = ConvDecoder(cfg.z_dim, cfg.cond_dim, resolution, channels, skip_z=cfg.skip_z, sle=cfg.sle,
                                   grow=cfg.low_res_steps > 0)

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
        # progressive growing (GANConfig.low_res_steps): an input layer for images pooled to R/2, in place of the
        # first stride-2 stage; the buffer ``alpha`` fades that stage in as in the generator (blocks.ConvDecoder)
        self.from_rgb_low = None
        if cfg.low_res_steps > 0:
            self.from_rgb_low = sn_conv(3, widths[0], 1)
            self.register_buffer("alpha", torch.ones(()))
        self.mbstd_group = cfg.mbstd_group
        extra = 1 if cfg.mbstd_group else 0
        self.head = nn.Sequential(sn_conv(cin + extra, cin, 3, padding=1), nn.LeakyReLU(0.2))  # 4x4 stage
        self.linear = nn.utils.parametrizations.spectral_norm(nn.Linear(cin, 1))
        self.proj, self.text_proj = projection_terms(cfg, cond_sizes, cin)
        # AC-GAN's heads (GANConfig.aux_cls), keyed by attribute position, one for each weighted attribute
        self.aux = nn.ModuleDict({str(a): nn.Linear(cin, cond_sizes[a])
                                  for a, w in enumerate(aux_weights(cfg, len(cond_sizes))) if w > 0}) or None
        self.recon = None
        if cfg.d_recon > 0:
            size = {resolution // 2 ** (i + 1): w for i, w in enumerate(widths)}  # stage output size -> width
            self.recon = nn.ModuleDict({"full": ReconDecoder(size[8]), "part": ReconDecoder(size[16])})

    def forward(self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None,
                maps: dict[int, torch.Tensor] | None = None, feats: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Realness logits (B,); with ``maps`` (a dict), the 16x16 and 8x8 stage outputs are put in it too, and with
        ``feats`` (a list), the pooled features (B, C) the logits are made from are appended to it."""
        h, layers = x, self.features
        a = 1.0 if self.from_rgb_low is None else float(self.alpha)
        if a < 1:  # the first stage's output, made (partly, while it fades in) from the image pooled to R/2
            low = F.leaky_relu(self.from_rgb_low(F.avg_pool2d(x, 2)), 0.2)
            h = low if a <= 0 else torch.lerp(low, self.features[1](self.features[0](x)).to(low.dtype), a)
            layers = list(self.features)[2:]
        for layer in layers:
            h = layer(h)
            if maps is not None and isinstance(layer, nn.LeakyReLU) and h.shape[-1] in (8, 16):
                maps[h.shape[-1]] = h
        if self.mbstd_group:  # h: (B, C, 4, 4)
            h = minibatch_stddev(h, self.mbstd_group)
        h = self.head(h).sum(dim=(2, 3))  # (B, C)
        if feats is not None:
            feats.append(h)
        return project(self.linear(h).squeeze(1), h, self.proj, self.text_proj, cond, text)  # (B,) realness logits

    def reconstruction_error(self, x: torch.Tensor, maps: dict[int, torch.Tensor]) -> torch.Tensor:
        """FastGAN's self-supervision: mean L1 error of the image ``x`` D saw, rebuilt at 32 px from the 8x8 map,
        plus that of one quadrant of ``x`` (drawn per image), rebuilt from the same quadrant of the 16x16 map."""
        b = x.shape[0]
        quad = noise.randint(0, 4, b).to(x.device)  # (B,) which quadrant: top-left, top-right, bottom-left, bottom-right
        rows = torch.arange(b, device=x.device)

        def quadrant(t: torch.Tensor) -> torch.Tensor:
            half = t.shape[-1] // 2
            parts = torch.stack([t[..., :half, :half], t[..., :half, half:], t[..., half:, :half],
                                 t[..., half:, half:]], dim=1)  # (B, 4, C, H/2, W/2)
            return parts[rows, quad]

        full = self.recon["full"](maps[8]).float()
        part = self.recon["part"](quadrant(maps[16])).float()
        x = x.float()
        return (F.l1_loss(full, F.adaptive_avg_pool2d(x, full.shape[-1]))
                + F.l1_loss(part, F.adaptive_avg_pool2d(quadrant(x), part.shape[-1])))


def aux_weights(cfg: GANConfig, n_attrs: int) -> list[float]:
    """GANConfig.aux_cls as one weight per conditioning attribute (a single weight is every attribute's)."""
    if not isinstance(cfg.aux_cls, list):
        return [float(cfg.aux_cls)] * n_attrs
    if len(cfg.aux_cls) != n_attrs:
        raise UserError(f"aux_cls={','.join(f'{w:g}' for w in cfg.aux_cls)} gives {len(cfg.aux_cls)} weights, but the "
                        f"run conditions on {n_attrs} attribute(s): give one weight, or one per attribute in the order "
                        "of --attributes")
    return list(cfg.aux_cls)


def aux_cross_entropy(heads: nn.ModuleDict, weights: list[float], h: torch.Tensor, cond: torch.Tensor
                      ) -> torch.Tensor:
    """AC-GAN's term: the sum over the weighted attributes of weight x the mean cross-entropy of that attribute's head
    on the pooled features ``h`` (B, C) against ``cond``'s values, over the rows where the attribute is specified
    (id 0 left out; an attribute no row specifies adds 0)."""
    total = h.new_zeros((), dtype=torch.float32)
    for key, head in heads.items():
        a = int(key)
        y = cond[:, a]
        known = (y > 0).sum().clamp(min=1)  # a tensor: no host sync a step; with no row known the sum below is 0
        ce = F.cross_entropy(head(h).float(), y, ignore_index=0, reduction="sum") / known
        total = total + weights[a] * ce
    return total


def projection_terms(cfg: GANConfig, cond_sizes: tuple[int, ...], dim: int) -> tuple[nn.ModuleList, nn.Module | None]:
    """D's projection terms (Miyato & Koyama 2018): one embedding table per attribute, and the text projection.

    The tables are free (N(0, 0.02) at start); the text projection ``<W t, h>`` is spectrally normalised with
    ``text_sn`` (bounded by |t| |h|), otherwise free and initialised like the tables.
    """
    proj = nn.ModuleList(nn.Embedding(size, dim) for size in cond_sizes)
    for p in proj:
        nn.init.normal_(p.weight, std=0.02)
    text_proj = None
    if cfg.text_dim:
        lin = nn.Linear(cfg.text_dim, dim, bias=False)
        if cfg.text_sn:
            text_proj = nn.utils.parametrizations.spectral_norm(lin)
        else:
            nn.init.normal_(lin.weight, std=0.02)
            text_proj = lin
    return proj, text_proj


def project(out: torch.Tensor, h: torch.Tensor, proj: nn.ModuleList, text_proj: nn.Module | None,
            cond: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
    """``out + sum_a <E_a[cond_a], h> + <W t, h>``: an all-zero ("no text") row contributes nothing."""
    for a, table in enumerate(proj):
        out = out + (table(cond[:, a]) * h).sum(dim=1)
    if text_proj is not None and text is not None:
        out = out + (text_proj(text.to(h.dtype)) * h).sum(dim=1)
    return out


R3_DEFAULT_SHRINK = 2  # arch=r3gan without g_base/d_base: the dcgan default bases halved (see GANConfig.arch)


def r3_widths(cfg: GANConfig, resolution: int) -> tuple[list[int], list[int]]:
    """arch=r3gan: (generator widths at 4x4 ... R, discriminator widths at R ... 4x4), by the dcgan width rules.

    The generator's are ``decoder_widths``; the discriminator's stage at R/2^k (k >= 1) has the width of the dcgan
    discriminator's k-th stride-2 conv output, and its stage at R (which the dcgan one does not have) half that:
    the generator's widths mirrored. Without ``g_base``/``d_base`` the bases are the dcgan defaults halved, which
    makes a training step cost about what the dcgan one does at 64 px (bench/gan_arch_speed.py): G 128, 64, 32, 16,
    8 at 4 ... 64 px and D 8, 16, 32, 64, 128 at 64 ... 4 px, where dcgan has 256 ... 16 and 32 ... 256.
    """
    g_base = cfg.g_base or max(default_decoder_base(resolution) // R3_DEFAULT_SHRINK, 1)
    d_base = cfg.d_base or max(conv_encoder_widths(resolution, None, 1 << 30)[0] // R3_DEFAULT_SHRINK, 1)
    enc = conv_encoder_widths(resolution, d_base, cfg.d_cap)
    return decoder_widths(resolution, g_base, cfg.g_cap), [max(enc[0] // 2, 1), *enc]


def r3_blocks(cfg: GANConfig, resolution: int) -> list[int]:
    """Residual blocks per stage, from 4x4 up to R (the discriminator uses the list reversed)."""
    n = stages(resolution) + 1
    if isinstance(cfg.r3_blocks, int):
        return [cfg.r3_blocks] * n
    if len(cfg.r3_blocks) != n:
        raise UserError(f"r3_blocks={cfg.r3_blocks}: {resolution} px has {n} stages (4x4 up to {resolution}), "
                        f"so give {n} counts or one")
    return list(cfg.r3_blocks)


class R3Generator(nn.Module):
    """R3GAN's generator: the condition embedding concatenated with z scales a learned 4x4 basis, then residual
    stages upsampled bilinearly (r3gan_nets.R3Decoder)."""

    def __init__(self, cfg: GANConfig, cond_sizes: tuple[int, ...], resolution: int) -> None:
        super().__init__()
        self.embed = ConditionEmbedding(cond_sizes, cfg.cond_dim, cfg.text_dim)
        widths, _ = r3_widths(cfg, resolution)
        self.decoder = R3Decoder(cfg.z_dim, cfg.cond_dim, resolution, widths, r3_blocks(cfg, resolution),
                                 cfg.r3_group, cfg.r3_expansion)

    def forward(self, z: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, self.embed(cond, text))  # (B, 3, R, R)


class R3Discriminator(nn.Module):
    """R3GAN's discriminator: residual stages downsampled by a low-pass filter, a 4x4 depthwise basis and linear
    layer to features ``h``, then the dcgan discriminator's output: ``linear(h)`` + projection terms.

    No spectral norm (R3GAN relies on the R1/R2 penalties: train it with ``loss=rpgan r1_gamma=... r2_gamma=...``);
    the text projection keeps ``text_sn`` so ``<W t, h>`` is bounded as in the dcgan discriminator. The
    minibatch-stddev channel (``mbstd_group``) joins at 4x4, before the basis, as in the dcgan one.
    """

    def __init__(self, cfg: GANConfig, cond_sizes: tuple[int, ...], resolution: int) -> None:
        super().__init__()
        _, widths = r3_widths(cfg, resolution)
        self.features = R3Encoder(resolution, widths, r3_blocks(cfg, resolution)[::-1], cfg.r3_group,
                                  cfg.r3_expansion)
        self.mbstd_group = cfg.mbstd_group
        c4 = widths[-1]
        self.basis = DiscriminativeBasis(c4 + (1 if cfg.mbstd_group else 0), c4)
        self.linear = he_init_(nn.Linear(c4, 1))
        self.proj, self.text_proj = projection_terms(cfg, cond_sizes, c4)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)  # (B, C, 4, 4)
        if self.mbstd_group:
            h = minibatch_stddev(h, self.mbstd_group)
        h = self.basis(h)  # (B, C)
        return project(self.linear(h).squeeze(1), h, self.proj, self.text_proj, cond, text)  # (B,) realness logits


def colour_gap(fake: torch.Tensor, real: torch.Tensor, rows: torch.Tensor,
               min_share: float = 0.01) -> tuple[torch.Tensor, int]:
    """The mean over ``rows`` (a (B,) bool) of the L1 distance, averaged over channels, between the mean colour of each
    fake's product pixels and that of its real image (images in [-1, 1]; colours in [0, 1]), and how many rows it
    averaged. Rows where either image has less than ``min_share`` of product pixels (a white item on white) are left
    out: their mean colour is not defined. The masks carry no gradient, so only the product pixels' colours move."""
    fake01, real01 = (fake + 1) / 2, (real + 1) / 2
    means = []
    for x in (fake01, real01):
        w = backdrop_masks(x.detach())
        area = w.sum(dim=(1, 2, 3))
        means.append(((w * x).sum(dim=(2, 3)) / area.clamp_min(1)[:, None], area / w[0].numel()))
    (m_fake, s_fake), (m_real, s_real) = means
    keep = rows & (s_fake >= min_share) & (s_real >= min_share)
    if not keep.any():
        return fake.sum() * 0, 0
    return (m_fake[keep] - m_real[keep]).abs().mean(), int(keep.sum())


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
    # The variance written out: torch's var over a middle dimension of this 5-d view is a slow reduction on the CPU
    # (16 ms against 1.8 ms at batch 128, 256 x 4 x 4, one thread; bench/results/quality/step_kernels.json)
    y = y - y.mean(dim=1, keepdim=True)
    y = (y.square().mean(dim=1) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/G,)
    y = y.reshape(b // g, 1, 1, 1, 1).expand(-1, g, 1, hh, ww).reshape(b, 1, hh, ww)
    return torch.cat([h, y], dim=1)


@register_model("gan")
class ConditionalGAN(GenerativeModel):
    config_class = GANConfig
    phases = ("d", "g")

    def __init__(self, config: GANConfig, cond_sizes, resolution: int) -> None:
        super().__init__(config, cond_sizes, resolution)
        if config.mode_seeking_pool > resolution:
            raise UserError(f"mode_seeking_pool={config.mode_seeking_pool} is larger than the {resolution}-px images it "
                            f"would pool: give at most {resolution}")
        r3 = config.arch == "r3gan"
        self.generator = (R3Generator if r3 else Generator)(config, self.cond_sizes, resolution)
        self.discriminator = (R3Discriminator if r3 else Discriminator)(config, self.cond_sizes, resolution)
        self.aux_weights = aux_weights(config, len(self.cond_sizes))  # checked here, where the attributes are known
        self.feature_discriminator = None
        if config.feature_d > 0:
            from .feature_discriminator import FeatureDiscriminator

            self.feature_discriminator = FeatureDiscriminator(config, self.cond_sizes)
        self._d_steps = 0  # D steps taken by this object: picks the lazy-regularisation steps
        self._kept_fake: tuple[torch.Tensor, torch.Tensor] | None = None  # shared_fake: D's step's fakes, for G's
        if config.ada_target > 0:  # saved with the weights, so a resumed run goes on with its p
            self.register_buffer("ada_p", torch.zeros(()))
        if config.low_res_steps > 0:  # progressive growing: D steps taken, saved with the weights (a resumed run goes
            self.register_buffer("grow_step", torch.zeros((), dtype=torch.long))  # on where it was)
        if config.lecam > 0:  # LeCam's moving averages of D(real), D(fake); NaN until the first D step; saved with
            self.register_buffer("lecam_avg", torch.full((2,), float("nan")))  # the weights, as ada_p
        if config.topk_keep < 1:  # top-k training: G steps taken, saved with the weights (a resumed run's k goes on)
            self.register_buffer("topk_step", torch.zeros((), dtype=torch.long))
        if config.mode_seeking > 0 and config.mode_seeking_fade > 0:  # G steps taken, as topk_step
            self.register_buffer("mode_seeking_step", torch.zeros((), dtype=torch.long))

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        if phase == "d":
            heads = [] if self.feature_discriminator is None else list(self.feature_discriminator.parameters())
            return list(self.discriminator.parameters()) + heads
        if phase == "g":
            return list(self.generator.parameters())
        raise ValueError(f"GAN has phases d and g, not {phase!r}")

    def graph_parameters(self, phase: str) -> list[nn.Parameter]:
        """With ``shared_fake`` D's phase runs G with its graph for G's phase: G's parameters stay trainable there."""
        return self.phase_parameters("g") if phase == "d" and self.config.shared_fake else []

    def optimizer_settings(self, phase: str) -> dict[str, Any]:
        lr = {"d": self.config.lr_d, "g": self.config.lr_g}[phase]
        return {"lr": lr, "betas": self.config.betas}

    def sampling_net(self) -> nn.Module:
        return self.generator

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.ada_target <= 0:
            return diff_augment(x, tuple(self.config.diffaugment))
        keep = noise.rand(x.shape[0]).to(x.device) >= self.ada_p  # (B,) images left as they are
        return torch.where(keep[:, None, None, None], x, diff_augment(x, tuple(self.config.diffaugment)))

    @torch.no_grad()
    def _adapt(self, d_real: torch.Tensor) -> torch.Tensor:
        """ADA's overfitting heuristic r_t = E[sign D(real)] (across processes), and p moved towards the target."""
        r = batchwide.mean(torch.sign(d_real.detach().float()))
        step = d_real.shape[0] / self.config.ada_images
        self.ada_p.copy_((self.ada_p + torch.sign(r - self.config.ada_target) * step).clamp(0, 1))
        return r

    def _lecam(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        """LeCam's penalty (Tseng et al. 2021): each side's logits pulled towards the other side's moving average,
        after the averages take this batch in (as the paper's code orders it; only while training)."""
        if self.training:
            with torch.no_grad():
                now = torch.stack([batchwide.mean(d_real.detach().float()), batchwide.mean(d_fake.detach().float())])
                k = self.config.lecam_decay
                self.lecam_avg.copy_(torch.where(torch.isnan(self.lecam_avg), now, k * self.lecam_avg + (1 - k) * now))
        avg_real, avg_fake = self.lecam_avg[0], self.lecam_avg[1]
        return F.relu(d_real.float() - avg_fake).pow(2).mean() + F.relu(avg_real - d_fake.float()).pow(2).mean()

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

    def grow_alpha(self, step: int) -> float:
        """Progressive growing's fade-in of the full-resolution stages after ``step`` D steps: 0 for the first
        ``low_res_steps``, then linear over ``fade_steps`` steps strictly between 0 and 1 (ProGAN), then 1; 1 without
        growing."""
        cfg = self.config
        if cfg.low_res_steps <= 0 or step >= cfg.low_res_steps + cfg.fade_steps:
            return 1.0
        return 0.0 if step < cfg.low_res_steps else (step - cfg.low_res_steps + 1) / (cfg.fade_steps + 1)

    def _grow(self) -> None:
        """Set G's and D's fade-in from the D steps taken, then count this one."""
        a = self.grow_alpha(int(self.grow_step))
        self.grow_step += 1
        self.generator.decoder.alpha.fill_(a)
        self.discriminator.alpha.fill_(a)

    def _real_seen(self, images: torch.Tensor) -> torch.Tensor:
        """Real images as D sees them while growing: blended with their R/2 version (pooled, upsampled) as G's output
        is with its R/2 head's image, by D's fade-in (ProGAN)."""
        a = 1.0 if self.config.low_res_steps <= 0 else float(self.discriminator.alpha)
        if a >= 1:
            return images
        low = F.interpolate(F.avg_pool2d(images, 2), scale_factor=2, mode="nearest")
        return low if a <= 0 else torch.lerp(low, images, a)

    def topk_count(self, b: int, step: int) -> int:
        """Top-k training's k for a batch of ``b`` after ``step`` G steps: ``b`` * topk_keep ** (step / topk_steps),
        rounded, never below ceil(topk_keep * b) (Sinha et al. 2020's geometric decay, in steps); ``b`` when off."""
        cfg = self.config
        floor = max(1, math.ceil(cfg.topk_keep * b - 1e-9))
        if cfg.topk_keep >= 1:
            return b
        if cfg.topk_steps <= 0 or step >= cfg.topk_steps:
            return floor
        return max(floor, min(b, round(b * cfg.topk_keep ** (step / cfg.topk_steps))))

    def mode_seeking_weight(self) -> float:
        """This G step's mode-seeking weight (mode_seeking, falling linearly to 0 over mode_seeking_fade G steps); a
        step counts only while training."""
        cfg = self.config
        if cfg.mode_seeking <= 0 or cfg.mode_seeking_fade <= 0:
            return cfg.mode_seeking
        step = int(self.mode_seeking_step)
        if self.training and torch.is_grad_enabled():
            self.mode_seeking_step += 1
        return cfg.mode_seeking * max(0.0, 1 - step / cfg.mode_seeking_fade)

    def _top_k(self, d_fake: torch.Tensor) -> torch.Tensor | None:
        """Indices of the generated images G learns from this step (top-k training), or None for all of them. The
        step counts only while training."""
        if self.config.topk_keep >= 1:
            return None
        b = d_fake.shape[0]
        k = self.topk_count(b, int(self.topk_step))
        if self.training and torch.is_grad_enabled():
            self.topk_step += 1
        if k >= b:
            return None
        return d_fake.detach().float().reshape(b, -1).mean(1).topk(k).indices

    def _one_d_pass(self, b: int, penalties: bool) -> bool:
        """Whether D's step may judge the real and the fake half in one pass of batch 2B. D has no batch norm; its one
        batch-wide term, the minibatch std, must group within each half (B a multiple of the group, as in
        minibatch_stddev), and the R1/R2 penalties and the reconstruction need each half as its own leaf."""
        g = min(self.config.mbstd_group, b)
        return not penalties and self.config.d_recon <= 0 and (g <= 1 or b % g == 0)

    def _pair_logits(self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None,
                     requires_grad: bool, recon: bool = False, feats: list[torch.Tensor] | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """D's logits of ``x`` (augmented inside), ``x`` made a leaf when its gradient is asked (R1/R2), and with
        ``recon`` D's reconstruction error of the augmented ``x`` (else None); D's pooled features go to ``feats``."""
        x = x.detach().requires_grad_(requires_grad) if requires_grad else x
        seen = self._augment(x)
        maps: dict[int, torch.Tensor] | None = {} if recon else None
        extra: dict[str, Any] = {"maps": maps} if recon else {}
        if feats is not None:
            extra["feats"] = feats
        logits = self.discriminator(seen, cond, text, **extra)
        return logits, x, self.discriminator.reconstruction_error(seen, maps) if recon else None

    def _aux_feats(self) -> list[torch.Tensor] | None:
        """A list for D's pooled features when the auxiliary classifier (aux_cls) is on, else None."""
        return [] if getattr(self.discriminator, "aux", None) is not None else None

    def loss(self, phase: str, images: torch.Tensor, cond: torch.Tensor,
             text: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        b = images.shape[0]
        cfg = self.config
        z = noise.randn(b, cfg.z_dim).to(images.device)
        if phase == "d" and cfg.low_res_steps > 0 and self.training and torch.is_grad_enabled():
            self._grow()
        if phase == "d":
            images = self._real_seen(images)
            if cfg.shared_fake and self.training and torch.is_grad_enabled():
                kept = self.generator(z, cond, text)  # with its graph, for the G step of this training step
                self._kept_fake = (kept, cond)
                fake = kept.detach()
            else:
                with torch.no_grad():
                    fake = self.generator(z, cond, text)
            self._d_steps += 1
            lazy = (self._d_steps - 1) % cfg.reg_every == 0  # this step carries the penalties
            use_r1, use_r2 = lazy and cfg.r1_gamma > 0, lazy and cfg.r2_gamma > 0
            bcr = [(name, w, x) for name, w, x in (("bcr_real", cfg.bcr_real, images), ("bcr_fake", cfg.bcr_fake, fake))
                   if w > 0]  # bCR: the images D sees a second time, under another augmentation draw
            if self._one_d_pass(b, use_r1 or use_r2):
                # one D pass over real and fake: the same logits, one pass over D's weights instead of two (the step
                # trains at 1.065x the images/s: bench/results/quality/onepass_speed.json); bCR's second augmentations
                # of the same images join that pass (each B-row block is its own minibatch-std group set)
                parts = [images, fake.to(images.dtype), *(x.to(images.dtype) for _, _, x in bcr)]
                k = len(parts)
                feats = self._aux_feats()
                logits, _, _ = self._pair_logits(torch.cat(parts), torch.cat([cond] * k),
                                                 None if text is None else torch.cat([text] * k), False, feats=feats)
                d_real, d_fake, *d_again = logits.split(b)
                real, rec = images, None
                h_real = None if feats is None else feats[0][:b]
            else:
                feats = self._aux_feats()
                d_real, real, rec = self._pair_logits(images, cond, text, use_r1, recon=cfg.d_recon > 0, feats=feats)
                h_real = None if feats is None else feats[0]
                d_fake, fake, _ = self._pair_logits(fake, cond, text, use_r2)
                d_again = [self._pair_logits(x.detach(), cond, text, False)[0] for _, _, x in bcr]
            if cfg.loss == "rpgan":  # relativistic pairing: each real judged against a fake of the batch
                loss = F.softplus(d_fake - d_real).mean()
                out = {"loss_d_pair": loss}
            else:
                loss_real = F.relu(1 - d_real).mean()
                loss_fake = F.relu(1 + d_fake).mean()
                out = {"loss_d_real": loss_real, "loss_d_fake": loss_fake}
                loss = loss_real + loss_fake
            for name, use, gamma, logits, x in (("r1", use_r1, cfg.r1_gamma, d_real, real),
                                                  ("r2", use_r2, cfg.r2_gamma, d_fake, fake)):
                if use:  # gamma/2 E|grad D|^2 (Mescheder et al. 2018), x reg_every when lazy
                    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
                    pen = grad.pow(2).flatten(1).sum(1).mean()
                    out[name] = pen
                    loss = loss + 0.5 * gamma * cfg.reg_every * pen
            first = {"bcr_real": d_real, "bcr_fake": d_fake}
            for (name, w, _), d2 in zip(bcr, d_again):
                out[name] = (first[name].float() - d2.float()).pow(2).mean()
                loss = loss + w * out[name]
            if cfg.lecam > 0:
                out["lecam"] = self._lecam(d_real, d_fake)
                loss = loss + cfg.lecam * out["lecam"]
            if rec is not None:
                out["recon"] = rec
                loss = loss + cfg.d_recon * rec
            if h_real is not None:  # AC-GAN: D's heads learn the catalog's values from real images only
                out["aux_d"] = aux_cross_entropy(self.discriminator.aux, self.aux_weights, h_real, cond)
                loss = loss + out["aux_d"]
            if self.feature_discriminator is not None:
                both = self._augment(torch.cat([images, fake.detach().to(images.dtype)]))  # one pass of 2B
                f_real, f_fake = self.feature_discriminator(both, torch.cat([cond] * 2),
                                                            None if text is None else torch.cat([text] * 2)).split(b)
                out["loss_fd"] = F.relu(1 - f_real).mean() + F.relu(1 + f_fake).mean()
                loss = loss + cfg.feature_d * out["loss_fd"]
            if self.config.ada_target > 0 and self.training:
                out["ada_r"] = self._adapt(d_real)
                out["ada_p"] = self.ada_p.detach().clone()
            out["loss"] = loss
            return out
        if phase == "g":
            ms_weight = self.mode_seeking_weight()
            h = b // 2 if ms_weight > 0 else 0
            if h:  # mode seeking: the second half repeats the first half's conditions under other noise
                cond = torch.cat([cond[:h], cond[:h], cond[2 * h:]])
                text = None if text is None else torch.cat([text[:h], text[:h], text[2 * h:]])
            kept, self._kept_fake = self._kept_fake, None
            fake = kept[0] if kept is not None and kept[1] is cond else self.generator(z, cond, text)
            feats = self._aux_feats()
            d_fake = self.discriminator(self._augment(fake), cond, text, **({} if feats is None else {"feats": feats}))
            keep = self._top_k(d_fake)  # top-k training: only the fakes D rates most real (None: all)

            def chosen(t: torch.Tensor) -> torch.Tensor:
                return t if keep is None else t[keep]

            out = {} if keep is None else {"topk_k": torch.tensor(float(len(keep)))}
            if cfg.loss == "rpgan":
                with torch.no_grad():
                    d_real = self.discriminator(self._augment(self._real_seen(images)), cond, text)
                return {**out, "loss": F.softplus(chosen(d_real) - chosen(d_fake)).mean()}
            if self.feature_discriminator is not None:
                f_fake = chosen(self.feature_discriminator(self._augment(fake), cond, text))
                return {**out, "loss": -chosen(d_fake).mean() - cfg.feature_d * f_fake.mean(),
                        "loss_g_fd": -f_fake.mean().detach()}
            loss = -chosen(d_fake).mean()
            if h:  # MSGAN: 1 / (ratio + eps), the ratio of the two halves' mean image and noise distances
                pair = fake[: 2 * h].float()
                if cfg.mode_seeking_pool > 1:
                    pair = F.avg_pool2d(pair, cfg.mode_seeking_pool)
                if cfg.mode_seeking_centred:
                    pair = pair - pair.mean(dim=(2, 3), keepdim=True)
                ratio = (pair[h:] - pair[:h]).abs().mean() / (z[h:2 * h] - z[:h]).abs().mean()
                out["mode_seeking"] = ratio.detach()
                if cfg.mode_seeking_fade:
                    out["mode_seeking_weight"] = torch.tensor(ms_weight)
                loss = loss + ms_weight / (ratio + 1e-5)
            if feats is not None:  # AC-GAN: G's images must read as the values they were asked for
                out["aux_g"] = aux_cross_entropy(self.discriminator.aux, self.aux_weights, chosen(feats[0]), chosen(cond))
                loss = loss + out["aux_g"]
            if cfg.colour_keep > 0:  # the real image of row i carries row i's condition, except mode seeking's repeats
                source = torch.arange(b, device=cond.device)
                source[h:2 * h] -= h
                gap, used = colour_gap(fake.float(), images[source].float(), (cond > 0).all(dim=1))
                out["colour_gap"] = gap.detach()
                out["colour_rows"] = torch.tensor(float(used))
                loss = loss + cfg.colour_keep * gap
            return {**out, "loss": loss}
        raise ValueError(f"GAN has phases d and g, not {phase!r}")
