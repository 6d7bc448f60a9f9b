"""Title prior: a product title -> the attribute values it names, for generating from a title alone.

Why (issue 13, measured in bench/title_probe.py and bench/quality_runs.sh): a linear probe reads articleType at
0.97 and baseColour at 0.94 from the MiniLM title vector, yet a GAN that is given only the title draws the right
article type for about a quarter of held-out titles: it learns to lean on the attribute ids, which training always
has, and folds the rest of the title into a few common classes. Two stages do what the single network does not,
as DALL-E 2's prior does for CLIP image embeddings (Ramesh et al. 2022): the prior reads the attributes from the
title, and the generator draws those attributes (and the title vector, in text runs).

The prior is one multinomial logistic regression per conditioned attribute on the run's title vectors, fitted on
the run's TRAIN split; its L2 weight is chosen per attribute on the VAL split. It predicts only real values (never
``<unspecified>``, ``unknown`` or ``other``), and leaves an attribute unspecified when its top probability is below
``min_confidence`` or the title is empty. It is saved in the run folder as ``title_prior.safetensors`` and
``title_prior.json`` (encoder, vocabulary sizes, per-attribute val accuracy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from ..atomic import write_bytes, write_json
from ..errors import UserError
from ..runfiles import TITLE_PRIOR_INFO, TITLE_PRIOR_NAME
from .vocab import OTHER, UNKNOWN, UNSPECIFIED, Vocabulary

PRIOR_WEIGHTS, PRIOR_INFO = TITLE_PRIOR_NAME, TITLE_PRIOR_INFO
PRIOR_FILES = (PRIOR_WEIGHTS, PRIOR_INFO)
WEIGHT_DECAYS = (0.0, 1e-5, 1e-4)  # L2 weights tried per attribute, chosen on the val split (1e-3 and 1e-2
#                                     lost 11 and 50 points on fashion-products: the titles do not overfit at 300 steps)
FIT_STEPS = 300  # full-batch Adam steps (lr 1e-2); 1,000 and 3,000 steps gained at most 0.3 points on val


def fit_linear_probe(x: torch.Tensor, y: torch.Tensor, k: int, weight_decay: float = 0.0, steps: int = FIT_STEPS,
                     seed: int = 0) -> torch.nn.Linear:
    """Multinomial logistic regression (N, T) -> K classes: full-batch Adam (lr 1e-2), seeded initialisation."""
    g = torch.Generator().manual_seed(seed)
    lin = torch.nn.Linear(x.shape[1], k)
    with torch.no_grad():  # seeded init, independent of the global RNG
        bound = 1 / x.shape[1] ** 0.5
        lin.weight.copy_(torch.rand(lin.weight.shape, generator=g) * 2 * bound - bound)
        lin.bias.zero_()
    opt = torch.optim.Adam(lin.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(x), y) + 0.5 * weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        opt.step()
    return lin.eval()


def _valid_mask(vocab_values: tuple[str, ...]) -> torch.Tensor:
    """True for the values the prior may predict: real attribute values, not <unspecified>/unknown/other."""
    return torch.tensor([v not in (UNSPECIFIED, UNKNOWN, OTHER) for v in vocab_values])


@dataclass
class TitlePrior:
    encoder: str  # the text encoder whose vectors it reads (the run's own in text runs)
    attributes: list[str]
    weight: dict[str, torch.Tensor]  # attribute -> (K, T)
    bias: dict[str, torch.Tensor]  # attribute -> (K,)
    info: dict = field(default_factory=dict)  # val accuracy, chosen weight decay, n per attribute

    @classmethod
    def fit(cls, vocab: Vocabulary, encoder: str, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor,
            y_val: torch.Tensor, steps: int = FIT_STEPS, seed: int = 0) -> TitlePrior:
        """Fit on (N, T) title vectors and (N, A) attribute ids of the train split; choose L2 on val.

        Rows whose attribute is ``unknown`` (missing in the catalog) or whose title is empty are left out of that
        attribute's fit and score.
        """
        weight, bias, info = {}, {}, {}
        has_text_tr, has_text_va = x_train.abs().sum(1) > 0, x_val.abs().sum(1) > 0
        for a, av in enumerate(vocab.attributes):
            k = len(av.values)
            unknown = av.values.index(UNKNOWN) if UNKNOWN in av.values else -1
            tr = has_text_tr & (y_train[:, a] != unknown) & (y_train[:, a] != 0)
            va = has_text_va & (y_val[:, a] != unknown) & (y_val[:, a] != 0)
            if tr.sum() < 2:
                continue  # nothing to learn from: this attribute stays unspecified
            scores = {}
            best = None
            for wd in WEIGHT_DECAYS:
                lin = fit_linear_probe(x_train[tr], y_train[tr, a], k, wd, steps, seed)
                with torch.no_grad():
                    pred = cls._argmax(lin(x_val[va]), av.values) if va.any() else None
                acc = (pred == y_val[va, a]).float().mean().item() if pred is not None else float("nan")
                scores[str(wd)] = round(acc, 4)
                if best is None or acc > best[0]:
                    best = (acc, wd, lin)
            acc, wd, lin = best
            weight[av.name], bias[av.name] = lin.weight.detach().clone(), lin.bias.detach().clone()
            majority = int(torch.bincount(y_train[tr, a], minlength=k).argmax())
            info[av.name] = {"val_accuracy": round(acc, 4), "weight_decay": wd, "val_accuracy_by_weight_decay": scores,
                             "majority_val_accuracy": round((y_val[va, a] == majority).float().mean().item(), 4),
                             "n_train": int(tr.sum()), "n_val": int(va.sum()), "classes": k}
        return cls(encoder, list(weight), weight, bias, {"per_attribute": info, "fit_steps": steps, "seed": seed})

    @staticmethod
    def _masked(logits: torch.Tensor, values: tuple[str, ...]) -> torch.Tensor:
        """Logits with <unspecified>, unknown and other ruled out."""
        return logits.masked_fill(~_valid_mask(values), float("-inf"))

    @classmethod
    def _argmax(cls, logits: torch.Tensor, values: tuple[str, ...]) -> torch.Tensor:
        return cls._masked(logits, values).argmax(1)

    @torch.no_grad()
    def predict(self, vectors: torch.Tensor, vocab: Vocabulary, min_confidence: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, T) title vectors -> (N, A) attribute ids of ``vocab`` and (N, A) their probabilities.

        Id 0 (unspecified, probability 0) for attributes the prior does not know, empty titles, and predictions
        below ``min_confidence``.
        """
        n = vectors.shape[0]
        ids = torch.zeros(n, len(vocab.attributes), dtype=torch.long)
        probs = torch.zeros(n, len(vocab.attributes))
        has_text = vectors.abs().sum(1) > 0
        for a, av in enumerate(vocab.attributes):
            if av.name not in self.weight:
                continue
            logits = vectors.float() @ self.weight[av.name].T + self.bias[av.name]
            p = self._masked(logits, av.values).softmax(1)
            top, arg = p.max(1)
            keep = has_text & (top >= min_confidence)
            ids[keep, a], probs[keep, a] = arg[keep], top[keep]
        return ids, probs

    def check_vocab(self, vocab: Vocabulary, where: Path | str) -> None:
        for av in vocab.attributes:
            w = self.weight.get(av.name)
            if w is not None and w.shape[0] != len(av.values):
                raise UserError(f"{where}: the title prior has {w.shape[0]} values for {av.name} but vocab.json has "
                                f"{len(av.values)}; refit it with `prodgen title-prior {Path(where).parent}`.")

    # -- files ---------------------------------------------------------------
    def save(self, run_dir: str | Path) -> None:
        run_dir = Path(run_dir)
        tensors = {f"{name}.{part}": t.contiguous() for name in self.attributes
                   for part, t in (("weight", self.weight[name]), ("bias", self.bias[name]))}
        write_bytes(run_dir / PRIOR_WEIGHTS, safetensors_bytes(tensors))
        write_json(run_dir / PRIOR_INFO, {"encoder": self.encoder, "attributes": self.attributes, **self.info})

    @classmethod
    def load(cls, run_dir: str | Path) -> TitlePrior | None:
        """The run's prior, or None when it has none."""
        run_dir = Path(run_dir)
        if not (run_dir / PRIOR_WEIGHTS).exists() or not (run_dir / PRIOR_INFO).exists():
            return None
        try:
            meta = json.loads((run_dir / PRIOR_INFO).read_text())
            tensors = load_file(str(run_dir / PRIOR_WEIGHTS))
            names = list(meta["attributes"])
            weight = {n: tensors[f"{n}.weight"] for n in names}
            bias = {n: tensors[f"{n}.bias"] for n in names}
        except Exception as e:  # noqa: BLE001  unreadable JSON, safetensors header or missing tensor: one message
            raise UserError(f"{run_dir / PRIOR_WEIGHTS}: the title prior cannot be read ({e}); refit it with "
                            f"`prodgen title-prior {run_dir}` or delete both title_prior files.") from e
        info = {k: v for k, v in meta.items() if k not in ("encoder", "attributes")}
        return cls(meta["encoder"], names, weight, bias, info)


def fit_prepared_title_prior(data, encoder: str) -> TitlePrior:
    """Fit on a run's prepared data (``train.run.PreparedData``: catalog, split, vocabulary) with ``encoder``."""
    from ..data import prepare_title_embeddings

    if not data.vocab.attributes:
        raise UserError("the run is conditioned on no attributes, so a title prior has nothing to predict.")
    titles = prepare_title_embeddings(data.catalog, encoder)
    by_id = {r.id: r for r in data.catalog.records}
    dim = next(iter(titles.values())).shape[0] if titles else 0

    def xy(split: str):
        ids = [i for i in data.split.get(split, []) if i in titles and i in by_id]
        if not ids:
            return torch.zeros(0, dim), torch.zeros(0, len(data.vocab.attributes), dtype=torch.long)
        return torch.stack([titles[i] for i in ids]), data.vocab.encode_records(by_id[i].attributes for i in ids)

    (xtr, ytr), (xva, yva) = xy("train"), xy("val")
    if not (xtr.abs().sum(1) > 0).any():
        raise UserError(f"{data.catalog.name} has no product titles in the train split, so a title prior cannot be "
                        "fitted; give the catalog a title column (--title-column).")
    return TitlePrior.fit(data.vocab, encoder, xtr, ytr, xva, yva)


def fit_run_title_prior(run_dir: str | Path, catalog: str | None = None, encoder: str | None = None,
                        progress: bool = False) -> TitlePrior:
    """Fit and save the title prior of a trained run from its own catalog, split and vocabulary.

    ``encoder``: default the run's text encoder (text runs) or ``auto`` (MiniLM when installed).
    """
    from ..config import RunConfig
    from ..runfiles import CONFIG_NAME
    from ..train.run import load_run_data
    from .text import resolve_encoder_name

    run_dir = Path(run_dir)
    cfg = RunConfig.load(run_dir / CONFIG_NAME)
    if catalog is not None:
        cfg.data.catalog = catalog
    data = load_run_data(run_dir, cfg, progress=progress)
    name = resolve_encoder_name(encoder or (cfg.condition.text_encoder if cfg.condition.text else "auto"))
    prior = fit_prepared_title_prior(data, name)
    prior.save(run_dir)
    return prior


__all__ = ["PRIOR_FILES", "PRIOR_INFO", "PRIOR_WEIGHTS", "TitlePrior", "fit_linear_probe", "fit_prepared_title_prior", "fit_run_title_prior"]
