"""``--best-of K``: generate K candidates per requested image and keep the best-scoring one.

Score = faithfulness + realism, each in [0, 1]:
- faithfulness: ProductNet's mean probability of the intended value, over the
  attributes the request specifies (1 when it specifies none ProductNet knows);
- realism: feature density, exp(-d_k / r), where d_k is the distance from the
  candidate's ProductNet features to its k-th nearest real training photo and r the
  median k-NN radius among those photos (Naeem et al. 2020's manifold radius), so a
  typical real photo scores about exp(-1) ~ 0.37 and off-manifold images near 0.
  Needs the run's catalog; without it realism is left out and the sidecar says so.
Both parts and the total go to the sidecar for every kept image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..conditioning import Vocabulary

if TYPE_CHECKING:  # sample sits below evaluate: no module-level import of it (tests/test_layers.py)
    from ..evaluate.productnet import ProductNet

REALISM_K = 5


@dataclass
class CandidateScorer:
    net: ProductNet
    pn_vocab: Vocabulary
    run_vocab: Vocabulary
    real_features: torch.Tensor | None = None  # (N, F) ProductNet features of real training photos
    k: int = REALISM_K

    def __post_init__(self) -> None:
        self.radius = None
        if self.real_features is not None and len(self.real_features) > self.k:
            ref = self.real_features[:5000]
            d = torch.cdist(ref, ref)
            self.radius = float(d.kthvalue(self.k + 1, dim=1).values.median())  # +1: skip self-distance

    @torch.no_grad()
    def score(self, images: torch.Tensor, cond: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per image (float [-1, 1], (B, 3, R, R)) and its (B, A) condition ids: faithfulness, realism, score."""
        from ..evaluate.evaluate import map_to_productnet

        feats, logits = self.net.extract(images.float().clamp(-1, 1))
        targets = map_to_productnet(self.run_vocab, self.pn_vocab, cond.cpu())
        probs, counted = torch.zeros(len(images)), torch.zeros(len(images))
        for name, t in targets.items():
            p = logits[self.pn_vocab.names.index(name)].softmax(1)
            mask = t > 0
            probs += torch.where(mask, p.gather(1, t.clamp_min(0)[:, None]).squeeze(1), torch.zeros(()))
            counted += mask.float()
        faith = torch.where(counted > 0, probs / counted.clamp_min(1), torch.ones(()))
        out = {"faithfulness": faith}
        if self.radius is not None:
            dk = torch.cdist(feats, self.real_features).kthvalue(self.k, dim=1).values
            out["realism"] = torch.exp(-dk / max(self.radius, 1e-12))
            out["score"] = faith + out["realism"]
        else:
            out["score"] = faith
        return out


def pick_best(candidates: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """(K, B, ...) candidates and (K, B) scores -> index (B,) of the highest score per image (first on ties)."""
    if candidates.shape[:2] != scores.shape:
        raise ValueError(f"candidates {tuple(candidates.shape[:2])} and scores {tuple(scores.shape)} disagree")
    return scores.argmax(dim=0)


def scorer_for(pipe, features=None, progress: bool = True, console=None) -> tuple[CandidateScorer, list[str]]:
    """The scorer of a run: its catalog's ProductNet (``features`` or the cached one) and real training features."""
    from ..evaluate.evaluate import load_catalog_images, split_images
    from ..evaluate.features import productnet_for
    from ..evaluate.realstats import cached_features

    notes = []
    net, pn_vocab, _ = productnet_for(pipe.config.data, features, progress=progress, console=console)
    real = None
    try:
        data = load_catalog_images(pipe.config, pipe.run_dir, progress=progress)
        train = split_images(data, pipe.vocab, "train")
        real, _ = cached_features(net, train.images, data.catalog.fingerprint, train.ids, "train")
    except Exception as e:  # noqa: BLE001  the catalog moved or is absent: score faithfulness only
        notes.append(f"realism not scored: the run's catalog could not be read ({e})")
    return CandidateScorer(net, pn_vocab, pipe.vocab, real), notes


__all__ = ["CandidateScorer", "REALISM_K", "pick_best", "scorer_for"]
