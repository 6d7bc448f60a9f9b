"""Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel over random subsets.

Binkowski et al. 2018, https://arxiv.org/abs/1801.01401. Unbiased, so two samples of
one distribution average to ~0 even at small n. Subset size is never larger than
the sample counts (clamped and reported).
"""

from __future__ import annotations

import torch


def _mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m = x.shape[0]
    return float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
                 - 2 * kxy.mean())


class KernelInceptionDistance:
    def __init__(self, n_subsets: int = 50, subset_size: int = 1000, seed: int = 0) -> None:
        self.n_subsets, self.subset_size, self.seed = n_subsets, subset_size, seed
        self.reset()

    def reset(self) -> None:
        self._feats: dict[bool, list[torch.Tensor]] = {True: [], False: []}

    def update(self, features: torch.Tensor, real: bool) -> None:
        self._feats[real].append(features.detach().double().cpu())

    def compute(self) -> dict[str, float]:
        r, f = torch.cat(self._feats[True]), torch.cat(self._feats[False])
        m = min(self.subset_size, len(r), len(f))
        if m < 2:
            raise ValueError("KID needs at least 2 samples on each side")
        g = torch.Generator().manual_seed(self.seed)
        vals = torch.tensor([_mmd2(r[torch.randperm(len(r), generator=g)[:m]], f[torch.randperm(len(f), generator=g)[:m]])
                             for _ in range(self.n_subsets)])
        return {"kid_mean": float(vals.mean()), "kid_std": float(vals.std()), "kid_subset_size": float(m)}
