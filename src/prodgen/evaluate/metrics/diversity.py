"""Diversity: mean pairwise feature distance, overall and within each condition."""

from __future__ import annotations

import torch


def mean_pairwise_distance(features: torch.Tensor, max_exact: int = 2000, pairs: int = 200_000, seed: int = 0) -> float:
    x = features.detach().float().cpu()
    n = len(x)
    if n < 2:
        return float("nan")
    if n <= max_exact:
        d = torch.cdist(x, x)
        return float(d.sum() / (n * (n - 1)))
    g = torch.Generator().manual_seed(seed)
    i, j = torch.randint(n, (pairs,), generator=g), torch.randint(n, (pairs,), generator=g)
    keep = i != j
    return float((x[i[keep]] - x[j[keep]]).norm(dim=1).mean())


def diversity_by_condition(features: torch.Tensor, labels: torch.Tensor, min_count: int = 2) -> dict:
    """{label: mean pairwise distance of the features with that label} for labels with enough samples. ``labels``
    (N,) gives int keys; (N, A) groups by whole rows (every attribute equal) and gives tuple keys."""
    out: dict = {}
    keys = [tuple(r) for r in labels.tolist()] if labels.dim() == 2 else labels.tolist()
    groups: dict = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    for k in sorted(groups):
        if len(groups[k]) >= min_count:
            out[k] = mean_pairwise_distance(features[groups[k]])
    return out
