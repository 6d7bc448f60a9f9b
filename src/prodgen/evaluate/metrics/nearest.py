"""Nearest neighbours in feature space, and the memorisation ratio built on them."""

from __future__ import annotations

import torch


def nearest_neighbours(query: torch.Tensor, reference: torch.Tensor, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of each query row's nearest reference row (L2), computed in chunks."""
    ref = reference.detach().float().cpu()
    dists, idxs = [], []
    for i in range(0, len(query), chunk):
        d = torch.cdist(query[i : i + chunk].detach().float().cpu(), ref)  # (chunk, N_ref)
        v, k = d.min(1)
        dists.append(v)
        idxs.append(k)
    return torch.cat(dists), torch.cat(idxs)


def memorisation_ratio(generated: torch.Tensor, train: torch.Tensor, heldout: torch.Tensor) -> dict[str, float]:
    """Mean NN distance generated->train divided by held-out real->train.

    About 1: generated images are as far from the training photos as new real
    photos are. Well below 1: they sit closer, i.e. the model may be copying.
    """
    g, _ = nearest_neighbours(generated, train)
    h, _ = nearest_neighbours(heldout, train)
    return {"ratio": float(g.mean() / h.mean().clamp_min(1e-12)), "gen_nn_mean": float(g.mean()), "real_nn_mean": float(h.mean())}
