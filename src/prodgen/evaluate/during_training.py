"""Cheap FID/KID every N training steps, so a run's quality can be plotted against CPU-minutes.

Measured on the run's **validation** split (held out from training, and kept apart
from the test split that ``prodgen evaluate`` reports), with the same ProductNet
features as the full evaluation. Real features are computed once, before the
training clock starts; each evaluation then generates ``n`` images with fixed
seeds from the EMA network and costs about a second at 64 px on a 2-core CPU
(see bench/results/eval_cost.md). The figures are for curves and early
stopping, not for papers: n is small, so read differences of a few points as noise
(``eval/kid_std`` is the spread of one KID estimate, both sides resampled).

ProductNet runs on the generator's device (CUDA when training there): if the first
evaluation finds the generator elsewhere, the extractor moves there and the real
features are recomputed once on that device, so real and generated features always
come from the same device.
"""

from __future__ import annotations

import time

import torch

from ..conditioning import Vocabulary
from ..device import module_device
from .metrics import FrechetDistance, KernelInceptionDistance
from .productnet import ProductNet

EVAL_SEED = 4321  # fixed noise for every periodic evaluation of a run


class TrainingEvaluator:
    """``evaluator(model, net) -> {"eval/fid": ..., "eval/kid_mean": ..., ...}`` for a run's periodic evaluation."""

    def __init__(self, productnet: ProductNet, real_images: torch.Tensor, real_cond: torch.Tensor, n: int = 500,
                 batch_size: int = 250, device: torch.device | str | None = None,
                 real_text: torch.Tensor | None = None) -> None:
        if len(real_images) < 2:
            raise ValueError("periodic evaluation needs at least 2 held-out real images")
        self.net = productnet.eval().requires_grad_(False)
        if device is not None:
            self.net.to(device)
        self.n = n
        self.batch_size = batch_size
        self.real_images = real_images
        self.real_f, _ = self.net.extract(real_images)  # on the extractor's device; features come back on the CPU
        self.cond = real_cond[torch.arange(n) % len(real_cond)]  # the held-out condition distribution, cycled
        # text-conditioned runs: each held-out photo's title vector beside its attributes, as `prodgen evaluate` draws
        self.text = None if real_text is None else real_text[torch.arange(n) % len(real_text)]
        self._maps: torch.Tensor | None = None  # image-conditioned models: the cycled photos' own maps

    def _map_arg(self, model, start: int, b: int, device) -> dict:
        """``image_map=`` for a model drawn from an image condition: the maps of the photos whose conditions it uses."""
        kind = getattr(model, "image_condition", None)
        if kind is None:
            return {}
        if self._maps is None:
            from ..conditioning.maps import derive_maps

            rows = torch.arange(self.n) % len(self.real_images)
            self._maps = derive_maps(kind, self.real_images[rows].cpu().float() / 127.5 - 1)
        return {"image_map": self._maps[start : start + b].to(device)}

    @torch.no_grad()
    def __call__(self, model, net) -> dict[str, float]:
        t0 = time.monotonic()
        device = module_device(net)
        if module_device(self.net) != device:  # follow the generator: both feature sets from one device
            self.net.to(device)
            self.real_f, _ = self.net.extract(self.real_images)
        g = torch.Generator().manual_seed(EVAL_SEED)
        was_training = net.training
        net.eval()
        feats = []
        try:
            for i in range(0, self.n, self.batch_size):
                c = self.cond[i : i + self.batch_size]
                text = None if self.text is None else self.text[i : i + self.batch_size]
                x = model.sample(len(c), c, generator=g, net=net, text=text, **self._map_arg(model, i, len(c), device))
                x = x.float().clamp(-1, 1)  # stays on the device
                feats.append(self.net.extract(x)[0])
        finally:
            net.train(was_training)
        fake_f = torch.cat(feats)
        fid = FrechetDistance()
        fid.update(self.real_f, real=True)
        fid.update(fake_f, real=False)
        kid = KernelInceptionDistance(n_subsets=20, subset_size=min(500, self.n), seed=0)
        kid.update(self.real_f, real=True)
        kid.update(fake_f, real=False)
        k = kid.compute()
        return {"eval/fid": _sig(fid.compute()["fid"]), "eval/kid_mean": _sig(k["kid_mean"]),
                "eval/kid_std": _sig(k["kid_std"]), "eval/n": self.n, "eval/n_real": len(self.real_f),
                "eval/seconds": round(time.monotonic() - t0, 2)}


def _sig(v: float) -> float:
    return float(f"{v:.6g}")  # six significant digits: small-scale features give small but meaningful figures


def training_evaluator(data_cfg, features, vocab: Vocabulary, val_images: torch.Tensor, val_cond: torch.Tensor,
                       n: int, progress: bool = True, console=None,
                       device: torch.device | str | None = None, val_text: torch.Tensor | None = None) -> TrainingEvaluator:
    """The evaluator for a run: ProductNet from ``features`` (or the catalog's cached one, fit if absent).

    ``device``: where to compute the real features up front (the training device); by default the CPU, and the
    extractor follows the generator at the first evaluation.
    """
    from .features import productnet_for

    net, _, _ = productnet_for(data_cfg, features, progress=progress, console=console)
    return TrainingEvaluator(net, val_images, val_cond, n=n, device=device, real_text=val_text)


__all__ = ["EVAL_SEED", "TrainingEvaluator", "training_evaluator"]
