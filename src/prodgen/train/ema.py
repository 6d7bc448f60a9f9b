"""Exponential moving average of the sampling network, with BN standing statistics.

EMA of generator weights: Karras et al. 2018 (https://arxiv.org/abs/1710.10196),
Yazici et al. 2019 (https://arxiv.org/abs/1806.04498). The EMA net's batch-norm
statistics are never averaged; ``recalibrate`` recomputes them from the EMA
weights themselves ("standing statistics", Brock et al. 2019, BigGAN), with a
fixed private RNG so the global RNG stream of training is untouched.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """``decay``: the cap of the classic warm-up profile; ``sigma_rel`` (when given, instead): EDM2's power profile
    (Karras et al. 2024), whose averaging window stays a fixed share of the run (train/posthoc_ema.py)."""

    def __init__(self, net: nn.Module, decay: float, start: int = 0, sigma_rel: float | None = None) -> None:
        from .posthoc_ema import power_decay, trainer_decay

        self.start = start
        self.decay_at = power_decay(sigma_rel) if sigma_rel is not None else trainer_decay(decay)  # of t >= 0
        self.net = copy.deepcopy(net).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        # buffers that are state, not statistics (e.g. progressive growing's fade-in, blocks.ConvDecoder.alpha),
        # follow the live net; batch-norm statistics do not (``recalibrate_bn``)
        self.state_buffers = [name for mod_name, mod in self.net.named_modules()
                              if not isinstance(mod, nn.modules.batchnorm._BatchNorm)
                              for name, _ in mod.named_buffers(prefix=mod_name, recurse=False)]

    @torch.no_grad()
    def update(self, live: nn.Module, step: int) -> None:
        """Blend live weights in; warm-up decay min(decay, (1+t)/(10+t)) after ``start`` (or the power profile's)."""
        t = step - self.start
        decay = 0.0 if t < 0 else self.decay_at(t)
        for e, p in zip(self.net.parameters(), live.parameters()):
            e.lerp_(p, 1.0 - decay)
        for name in self.state_buffers:
            self.net.get_buffer(name).copy_(live.get_buffer(name))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)


@torch.no_grad()
def recalibrate_bn(model, net: nn.Module, cond_pool: torch.Tensor, batches: int = 8, batch_size: int = 64, seed: int = 0,
                   text_pool: torch.Tensor | None = None) -> None:
    """Recompute ``net``'s BN running stats as the plain mean over random conditional samples."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    gen = torch.Generator().manual_seed(seed)
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    net.train()
    try:
        for _ in range(batches):
            idx = torch.randint(len(cond_pool), (batch_size,), generator=gen)
            text = text_pool[idx.to(text_pool.device)] if text_pool is not None else None
            model.sample(batch_size, cond_pool[idx.to(cond_pool.device)], generator=gen, net=net, text=text)
    finally:
        net.eval()
        for bn, m in zip(bns, saved):
            bn.momentum = m
