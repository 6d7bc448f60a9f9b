"""Load a run folder and generate images: ``Pipeline.from_pretrained(run).generate(...)``.

Per-image seeds: image ``i`` of a request with seed ``s`` draws its noise from a
generator seeded with ``s + i``, and networks run in eval mode, so an image
depends only on (weights, condition, its seed, truncation), never on the batch
it was generated in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from ..conditioning import Vocabulary
from ..conditioning.vocab import OTHER
from ..config import RunConfig
from ..device import resolve_device
from ..errors import UserError
from ..models import EMA_NAME, WEIGHTS_NAME, GenerativeModel
from ..models.base import load_state


@dataclass(frozen=True)
class RowCondition:
    """A catalog row turned into condition ids, with what could not be used."""

    cond: torch.Tensor  # (A,)
    understood: dict[str, str]
    notes: list[str]


class Pipeline:
    def __init__(self, model: GenerativeModel, vocab: Vocabulary, config: RunConfig, run_dir: Path | None,
                 device: torch.device, weights_hash: str) -> None:
        self.model = model.eval()
        self.vocab = vocab
        self.config = config
        self.run_dir = run_dir
        self.device = device
        self.weights_hash = weights_hash
        self.net = model.sampling_net()

    @classmethod
    def from_pretrained(cls, run_dir: str | Path, device: str = "auto", use_ema: bool = True) -> Pipeline:
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise UserError(f"run folder {run_dir} does not exist; train one with `prodgen train --out {run_dir}`.")
        config = RunConfig.load(run_dir / "config.json")
        vocab = Vocabulary.load(run_dir / "vocab.json")
        model = GenerativeModel.from_pretrained(run_dir, WEIGHTS_NAME)
        if tuple(vocab.sizes) != model.cond_sizes:
            raise UserError(f"{run_dir}: vocab.json ({vocab.sizes}) does not match the weights ({list(model.cond_sizes)}).")
        weights = run_dir / (EMA_NAME if use_ema and (run_dir / EMA_NAME).exists() else WEIGHTS_NAME)
        if weights.name == EMA_NAME:
            model.sampling_net().load_state_dict(load_state(weights))
        dev = resolve_device(device)
        return cls(model.to(dev), vocab, config, run_dir, dev, _file_hash(weights))

    # -- conditions ----------------------------------------------------------
    def condition(self, attrs: Mapping[str, str] | None = None) -> torch.Tensor:
        """(A,) ids for a user request such as {"baseColour": "Red"}; unknown values raise UserError."""
        return self.vocab.encode_user(dict(attrs or {}), strict=True)

    def row_condition(self, attributes: Mapping[str, str | None]) -> RowCondition:
        """Condition ids for a catalog row; columns the model does not use are ignored.

        A value the model never saw becomes ``other`` (when the vocabulary has it) or is
        left unspecified, and the note says so; a missing value is left unspecified.
        """
        ids, understood, notes = [], {}, []
        for a in self.vocab.attributes:
            value = attributes.get(a.name)
            if value in (None, ""):
                ids.append(0)
                continue
            try:
                ids.append(a.encode_user(value))
                understood[a.name] = a.decode(ids[-1])
            except UserError:
                fallback = a.values.index(OTHER) if OTHER in a.values else 0
                ids.append(fallback)
                notes.append(f"{a.name}={value!r} is not in the model's vocabulary; used {a.values[fallback]!r}")
                if fallback:
                    understood[a.name] = OTHER
        return RowCondition(torch.tensor(ids, dtype=torch.long), understood, notes)

    # -- generation ----------------------------------------------------------
    @torch.no_grad()
    def generate_batch(self, cond: torch.Tensor, seeds: list[int], truncation: float = 1.0) -> torch.Tensor:
        """(B, A) ids and B seeds -> (B, 3, R, R) images in [-1, 1] (CPU)."""
        if cond.shape[0] != len(seeds):
            raise ValueError("one seed per condition row")
        z = torch.cat([self.model.latent_noise(1, torch.Generator().manual_seed(int(s)), truncation) for s in seeds])
        z = z.to(self.device)
        out = self.net(z, cond.to(self.device))
        return out.float().cpu()

    def generate(self, attrs: Mapping[str, str] | None = None, n: int = 1, seed: int = 0,
                 truncation: float = 1.0, batch_size: int = 64) -> torch.Tensor:
        """``n`` images of one condition; image i uses seed ``seed + i``."""
        cond = self.condition(attrs)
        outs = []
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            outs.append(self.generate_batch(cond.expand(m, -1), list(range(seed + start, seed + start + m)), truncation))
        return torch.cat(outs) if outs else torch.empty(0, 3, self.model.resolution, self.model.resolution)

    def describe(self) -> dict:
        return {"run": str(self.run_dir), "model": self.model.family, "weights_sha256": self.weights_hash,
                "resolution": self.model.resolution, "attributes": self.vocab.names}


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["Pipeline", "RowCondition"]
