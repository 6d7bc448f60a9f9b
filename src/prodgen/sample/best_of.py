"""``--best-of K``: generate K candidates per requested image and keep the best-scoring one.

Candidate c of an image with seed s uses seed s * K + c, so K = 1 is plain generation. Two scorers:

``--score-with discriminator`` (GAN runs): the run's own discriminator, the logit it gives the candidate under the
asked condition (its projection terms judge the condition too): "best of K by D", the simplest form of discriminator
rejection sampling (Azadi et al. 2019). It needs nothing but the run, and it is the only scorer ``prodgen evaluate
--best-of`` takes: ProductNet cannot both pick the images and judge them.

``--score-with productnet`` (any family; the default of ``generate``): score = faithfulness + realism, each in [0, 1]:
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
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..conditioning import Vocabulary
from ..errors import UserError

if TYPE_CHECKING:  # sample sits below evaluate: no module-level import of it (tests/test_layers.py)
    from ..evaluate.productnet import ProductNet

REALISM_K = 5
SCORERS = ("productnet", "discriminator")


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
    def score(self, images: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per image (float [-1, 1], (B, 3, R, R)) and its (B, A) condition ids: faithfulness, realism, score (the
        title vectors ``text`` are not read: ProductNet judges attributes)."""
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


@dataclass
class DiscriminatorScorer:
    """Scores candidates with a GAN's own discriminator: its logit for the image under the asked condition (and
    title vector, for a text run), on the discriminator's device, in evaluation mode. D's minibatch-std term groups
    consecutive images (4 in training), so a candidate is judged within its batch, as D judged G's batches while it
    trained; a batch of one image gives it a group of one (no variety signal), the same for each candidate."""

    discriminator: nn.Module

    @torch.no_grad()
    def score(self, images: torch.Tensor, cond: torch.Tensor, text: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        d = self.discriminator
        dev = next(d.parameters()).device
        was = d.training
        d.eval()  # spectral norm's power iteration stays where training left it
        try:
            logits = d(images.float().to(dev), cond.to(dev), None if text is None else text.to(dev))
        finally:
            d.train(was)
        s = logits.float().reshape(len(images), -1).mean(1).cpu()
        return {"discriminator": s, "score": s}


def pick_best(candidates: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """(K, B, ...) candidates and (K, B) scores -> index (B,) of the highest score per image (first on ties)."""
    if candidates.shape[:2] != scores.shape:
        raise ValueError(f"candidates {tuple(candidates.shape[:2])} and scores {tuple(scores.shape)} disagree")
    return scores.argmax(dim=0)


def best_of_batch(pipe, cond: torch.Tensor, seeds: list[int], k: int, scorer, truncation: float = 1.0,
                  text: torch.Tensor | None = None, **extra: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, torch.Tensor]], torch.Tensor]:
    """``k`` candidates per row (candidate c of seed s: seed s * k + c) -> the kept images (B, 3, R, R), the kept
    candidate per row (B,), every candidate's score parts and the (k, B) scores. ``extra``: ``generate_batch``'s
    image map and sampling options."""
    cands, parts = [], []
    for c in range(k):
        x = pipe.generate_batch(cond, [int(s) * k + c for s in seeds], truncation, text, **extra)
        parts.append(scorer.score(x, cond, text))
        cands.append(x)
    stacked, scores = torch.stack(cands), torch.stack([p["score"] for p in parts])
    best = pick_best(stacked, scores)
    return stacked[best, torch.arange(len(seeds))], best, parts, scores


class BestOfPipeline:
    """A pipeline whose ``generate_batch`` keeps the best of ``k`` candidates per image by ``scorer``; everything else
    is the wrapped pipeline's (how ``prodgen evaluate --best-of`` judges picked images with the same code)."""

    def __init__(self, pipe, k: int, scorer) -> None:
        self._pipe, self.best_of, self.scorer = pipe, k, scorer

    def __getattr__(self, name: str):
        return getattr(self._pipe, name)

    def generate_batch(self, cond: torch.Tensor, seeds: list[int], truncation: float = 1.0,
                       text: torch.Tensor | None = None, **extra: Any) -> torch.Tensor:
        return best_of_batch(self._pipe, cond, seeds, self.best_of, self.scorer, truncation, text, **extra)[0]


def discriminator_scorer(pipe) -> DiscriminatorScorer:
    """A GAN run's own discriminator as a scorer; a UserError for other runs (pix2pix's D judges a map and an image
    together; the other families have none; an ONNX export holds the generator only)."""
    model = getattr(pipe, "model", None)
    family = getattr(model, "family", "exported (ONNX)")
    if family != "gan" or getattr(model, "discriminator", None) is None:
        raise UserError(f"{pipe.run_dir} is a {family} run: picking candidates by the discriminator (--best-of with "
                        "--score-with discriminator; evaluate --best-of) needs a GAN run folder; generate with "
                        "--score-with productnet instead")
    return DiscriminatorScorer(model.discriminator)


def scorer_for(pipe, features=None, progress: bool = True, console=None, by: str = "productnet"
               ) -> tuple[CandidateScorer | DiscriminatorScorer, list[str]]:
    """The scorer of a run: its discriminator (``by="discriminator"``), or its catalog's ProductNet (``features`` or the
    cached one) and real training features."""
    if by not in SCORERS:
        raise UserError(f"--score-with {by!r}: one of {', '.join(SCORERS)}")
    if by == "discriminator":
        if features is not None:
            raise UserError("--features names the ProductNet that scores candidates; with --score-with discriminator "
                            "the run's own discriminator does: drop --features")
        return discriminator_scorer(pipe), []
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


__all__ = ["BestOfPipeline", "CandidateScorer", "DiscriminatorScorer", "REALISM_K", "SCORERS", "best_of_batch",
           "discriminator_scorer", "pick_best", "scorer_for"]
