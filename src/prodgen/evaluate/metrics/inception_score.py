"""Inception-style score from a classifier's logits (ProductNet's head): exp(E KL(p(y|x) || p(y))).

Salimans et al. 2016, https://arxiv.org/abs/1606.03498. High when each image is
confidently one class and the classes are varied.
"""

from __future__ import annotations

import torch


class ClassifierScore:
    def __init__(self, splits: int = 10) -> None:
        self.splits = splits
        self.reset()

    def reset(self) -> None:
        self._logits: list[torch.Tensor] = []

    def update(self, logits: torch.Tensor) -> None:
        self._logits.append(logits.detach().double().cpu())

    def compute(self) -> dict[str, float]:
        p = torch.cat(self._logits).softmax(1)
        scores = []
        for chunk in p.chunk(min(self.splits, len(p))):
            py = chunk.mean(0, keepdim=True)
            kl = (chunk * (chunk.clamp_min(1e-12).log() - py.clamp_min(1e-12).log())).sum(1).mean()
            scores.append(float(kl.exp()))
        t = torch.tensor(scores)
        return {"is_mean": float(t.mean()), "is_std": float(t.std()) if len(t) > 1 else 0.0}
