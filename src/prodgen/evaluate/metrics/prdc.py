"""Precision/recall (k-NN manifolds) and density/coverage.

Kynkaanniemi et al. 2019 (https://arxiv.org/abs/1904.06991): precision = share of
generated samples inside the real manifold (union of k-NN balls of real samples),
recall = share of real samples inside the generated manifold. Naeem et al. 2020
(https://arxiv.org/abs/2002.09797): density counts how many real balls contain
each generated sample (/k), coverage = share of real samples whose ball holds a
generated sample. Distances are computed in row chunks (float32 cdist), so
10,000 x 10,000 never needs more than chunk x N memory.
"""

from __future__ import annotations

import torch


def _kth_radius(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    out = []
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i : i + chunk], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself at distance 0
    return torch.cat(out)


class PrecisionRecallDensityCoverage:
    def __init__(self, k: int = 5, chunk: int = 1024) -> None:
        self.k, self.chunk = k, chunk
        self.reset()

    def reset(self) -> None:
        self._feats: dict[bool, list[torch.Tensor]] = {True: [], False: []}

    def update(self, features: torch.Tensor, real: bool) -> None:
        self._feats[real].append(features.detach().float().cpu())

    def compute(self) -> dict[str, float]:
        r, f = torch.cat(self._feats[True]), torch.cat(self._feats[False])
        if len(r) <= self.k or len(f) <= self.k:
            raise ValueError(f"precision/recall need more than k={self.k} samples on each side")
        rr, rf = _kth_radius(r, self.k, self.chunk), _kth_radius(f, self.k, self.chunk)
        in_real = torch.zeros(len(f), dtype=torch.bool)  # generated sample inside some real ball
        density = torch.zeros(len(f))
        covered = torch.zeros(len(r), dtype=torch.bool)  # real sample whose ball holds a generated one
        for i in range(0, len(f), self.chunk):
            d = torch.cdist(f[i : i + self.chunk], r)  # (chunk, N_real)
            inside = d <= rr[None, :]
            in_real[i : i + self.chunk] = inside.any(1)
            density[i : i + self.chunk] = inside.sum(1).float()
            covered |= (d.min(0).values <= rr)
        in_fake = torch.zeros(len(r), dtype=torch.bool)  # real sample inside some generated ball
        for i in range(0, len(r), self.chunk):
            d = torch.cdist(r[i : i + self.chunk], f)
            in_fake[i : i + self.chunk] = (d <= rf[None, :]).any(1)
        return {"precision": float(in_real.float().mean()), "recall": float(in_fake.float().mean()),
                "density": float(density.sum() / (self.k * len(f))), "coverage": float(covered.float().mean())}
