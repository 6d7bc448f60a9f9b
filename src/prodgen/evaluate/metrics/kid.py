"""Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel over random subsets.

Binkowski et al. 2018, https://arxiv.org/abs/1801.01401. Unbiased, so two samples of
one distribution average to ~0 even at small n. Subset size m = min(subset_size,
n_real, n_generated), the same on both sides (reported as ``kid_subset_size``).

``kid_std`` is the standard deviation of one KID estimate from m real and m generated
images, estimated by resampling both sides (Efron 1979). The spread of the subsets
themselves (Binkowski's figure) understates it when m is close to n: subsets then
share most images, and at m = n every subset is the whole sample and the spread is 0.
Resampled sets repeat images; a repeated image paired with itself would add k(x, x)
to the within-set sums, so those pairs are left out (the bootstrap of a U-statistic
with ties removed). The estimate is about right when the two distributions differ and
on the wide side (about 1.6x at n=300) when they are the same, where the statistic is
degenerate and the bootstrap is known to overstate its spread (tests/test_metrics.py).
"""

from __future__ import annotations

import torch


def _kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x @ y.T / x.shape[1] + 1) ** 3


def _mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    kxx, kyy, kxy = _kernel(x, x), _kernel(y, y), _kernel(x, y)
    m, n = x.shape[0], y.shape[0]
    return float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
                 - 2 * kxy.mean())


def _resample_counts(n_boot: int, n: int, g: torch.Generator) -> torch.Tensor:
    """(n_boot, n) how often each row is drawn when resampling n rows with replacement."""
    w = torch.zeros(n_boot, n, dtype=torch.float64)
    return w.scatter_add_(1, torch.randint(n, (n_boot, n), generator=g), torch.ones(n_boot, n, dtype=torch.float64))


def bootstrap_mmd2(x: torch.Tensor, y: torch.Tensor, n_boot: int, g: torch.Generator) -> torch.Tensor:
    """``n_boot`` unbiased MMD^2 values of x and y resampled with replacement (pairs of one image with itself left out)."""
    kxx, kyy, kxy = _kernel(x, x), _kernel(y, y), _kernel(x, y)
    wx, wy = _resample_counts(n_boot, len(x), g), _resample_counts(n_boot, len(y), g)

    def within(w: torch.Tensor, k: torch.Tensor) -> torch.Tensor:  # mean k over pairs of distinct images
        pairs = ((w @ k) * w).sum(1) - (w**2 * k.diagonal()).sum(1)
        return pairs / (w.sum(1) ** 2 - (w**2).sum(1))

    return within(wx, kxx) + within(wy, kyy) - 2 * ((wx @ kxy) * wy).sum(1) / (len(x) * len(y))


class KernelInceptionDistance:
    def __init__(self, n_subsets: int = 50, subset_size: int = 1000, seed: int = 0, n_boot: int = 100) -> None:
        self.n_subsets, self.subset_size, self.seed, self.n_boot = n_subsets, subset_size, seed, n_boot
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
        vals, first = [], None
        whole = m == len(r) == len(f)  # every subset is the whole sample: one is enough
        for _ in range(1 if whole else self.n_subsets):
            pair = (r[torch.randperm(len(r), generator=g)[:m]], f[torch.randperm(len(f), generator=g)[:m]])
            vals.append(_mmd2(*pair))
            if first is None:
                first = pair
        spread = bootstrap_mmd2(*first, self.n_boot, g).std()  # of one estimate from m and m images
        vals = torch.tensor(vals)
        return {"kid_mean": float(vals.mean()), "kid_std": float(spread), "kid_subset_size": float(m)}
