"""Frechet distance between Gaussian fits of two feature sets (FID in ProductNet space).

Heusel et al. 2017, https://arxiv.org/abs/1706.08500. Streaming float64 sums of
x and x x^T (as torchmetrics' FID), so any number of batches can be added.
The matrix square root term uses the eigenvalues of S1 S2: tr(sqrt(S1 S2)) =
sum(sqrt(eig(S1 S2))) (eigenvalues are real and >= 0 for PSD S1, S2 up to round-off),
which avoids scipy's sqrtm failures on near-singular covariances.
"""

from __future__ import annotations

import numpy as np
import torch


def feature_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    x = features.detach().double().cpu().numpy()
    return x.mean(0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    diff = mu1 - mu2
    eig = np.linalg.eigvals(s1 @ s2)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


class FrechetDistance:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sum = {True: None, False: None}
        self._outer = {True: None, False: None}
        self._n = {True: 0, False: 0}

    def update(self, features: torch.Tensor, real: bool) -> None:
        if features.dim() != 2:
            raise ValueError(f"features must be (N, D), got {tuple(features.shape)}")
        x = features.detach().double().cpu()
        if self._sum[real] is None:
            self._sum[real] = torch.zeros(x.shape[1], dtype=torch.float64)
            self._outer[real] = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64)
        self._sum[real] += x.sum(0)
        self._outer[real] += x.T @ x
        self._n[real] += x.shape[0]

    def _stats(self, real: bool) -> tuple[np.ndarray, np.ndarray]:
        n = self._n[real]
        if n < 2:
            raise ValueError(f"FID needs at least 2 {'real' if real else 'generated'} samples, got {n}")
        mu = self._sum[real] / n
        cov = (self._outer[real] - n * torch.outer(mu, mu)) / (n - 1)
        return mu.numpy(), cov.numpy()

    def compute(self) -> dict[str, float]:
        return {"fid": frechet_distance(*self._stats(True), *self._stats(False))}


def bootstrap_fid(real: torch.Tensor, fake: torch.Tensor, n_boot: int = 100, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of FID over resamplings (with replacement) of the generated features."""
    mu_r, s_r = feature_stats(real)
    x = fake.detach().double().cpu().numpy()
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        xb = x[rng.integers(0, len(x), len(x))]
        vals.append(frechet_distance(mu_r, s_r, xb.mean(0), np.cov(xb, rowvar=False)))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    point = frechet_distance(mu_r, s_r, x.mean(0), np.cov(x, rowvar=False))
    return float(min(lo, point)), float(max(hi, point))
