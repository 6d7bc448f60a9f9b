"""Nearest neighbours in feature space, and the memorisation figures built on them."""

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


def memorisation_ratio(generated: torch.Tensor, train: torch.Tensor, heldout: torch.Tensor, percentile: float = 1.0,
                       closest: int = 8) -> dict:
    """Nearest-training-photo distances of generated images, against those of held-out real photos.

    - ``ratio``: mean NN distance generated->train over held-out real->train. About 1:
      generated images are as far from the training photos as new real photos are; well
      below 1: they sit closer, i.e. the model may be copying. A mean can hide a few copies, so:
    - ``near_copy_share``: share of generated images whose NN distance is at most
      ``near_copy_threshold``, the ``percentile``-th percentile of the held-out photos' NN
      distances. About percentile/100 (0.01) for images as new as held-out photos; each exact
      copy of a training photo counts.
    - ``closest``: the ``closest`` generated images nearest to a training photo, nearest first,
      as {"generated": index, "train": index, "distance": d}.
    """
    g, g_idx = nearest_neighbours(generated, train)
    h, _ = nearest_neighbours(heldout, train)
    threshold = float(torch.quantile(h.double(), percentile / 100))
    order = torch.argsort(g, stable=True)[:closest]
    return {"ratio": float(g.mean() / h.mean().clamp_min(1e-12)), "gen_nn_mean": float(g.mean()), "real_nn_mean": float(h.mean()),
            "near_copy_share": float((g.double() <= threshold).double().mean()), "near_copy_threshold": threshold,
            "closest": [{"generated": int(i), "train": int(g_idx[i]), "distance": float(g[i])} for i in order]}
