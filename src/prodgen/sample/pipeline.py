"""Load a run folder and generate images: ``Pipeline.from_pretrained(run).generate(...)``.

Per-image seeds: image ``i`` of a request with seed ``s`` draws its noise from a
generator seeded with ``s + i``, and networks run in eval mode, so an image
depends only on (weights, condition, its seed, truncation), never on the batch
it was generated in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
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
    inferred: dict[str, tuple[str, float]] = field(default_factory=dict)  # read from the title by the title prior


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
        self._shape_index = None

    @classmethod
    def from_pretrained(cls, run_dir: str | Path, device: str = "auto", use_ema: bool = True) -> Pipeline:
        from ..runfiles import VOCAB_NAME, check_run_folder, damaged, read_vocab_dict, restore_hint

        run_dir = check_run_folder(run_dir)
        config = RunConfig.load(run_dir / "config.json")
        try:
            vocab = Vocabulary.from_dict(read_vocab_dict(run_dir))
        except ValueError as e:  # e.g. a value list not starting with <unspecified>
            raise damaged(run_dir / VOCAB_NAME, str(e)) from e
        model = GenerativeModel.from_pretrained(run_dir, WEIGHTS_NAME)
        if not model.generates:
            from ..models.autoencoder import NO_IMAGES

            raise UserError(f"{run_dir}: " + NO_IMAGES.format(run=run_dir))
        if tuple(vocab.sizes) != model.cond_sizes:
            raise UserError(f"{run_dir}: vocab.json ({vocab.sizes} values per attribute) does not match the weights "
                            f"({list(model.cond_sizes)}); {restore_hint(run_dir / VOCAB_NAME)}.")
        weights = run_dir / (EMA_NAME if use_ema and (run_dir / EMA_NAME).exists() else WEIGHTS_NAME)
        if weights.name == EMA_NAME:
            try:
                model.sampling_net().load_state_dict(load_state(weights))
            except RuntimeError as e:  # weights of another network (shapes or names differ)
                raise UserError(f"{weights} does not fit the network in {WEIGHTS_NAME} ({str(e).splitlines()[0]}); "
                                f"delete {weights.name} to sample with the raw weights, or {restore_hint(weights)}.") from e
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

    def row_conditions(self, records: Sequence, title_prior: bool = True,
                       text: torch.Tensor | None = None) -> list[RowCondition]:
        """``row_condition`` of each catalog record (``.attributes``, ``.title``). With ``title_prior``, in a run
        that has one, the attributes a row leaves empty are read from its title (one batch through the prior);
        ``inferred`` says which, with the prior's probability. A value the row gives is never replaced.
        ``text``: the records' title vectors from ``encode_text``, reused when the prior reads the same encoder."""
        rcs = [self.row_condition(r.attributes) for r in records]
        if not title_prior or self.title_prior is None:
            return rcs
        names = self.vocab.names
        todo = [k for k, r in enumerate(records)
                if r.title and any(r.attributes.get(n) in (None, "") for n in names)]
        if not todo:
            return rcs
        if text is not None and self.title_prior.encoder == self.text_encoder:
            vectors = text[todo]  # encoded once for the generator; the prior reads the same vectors
        else:
            vectors = self.title_vectors([records[k].title for k in todo])
        ids, probs = self.title_prior.predict(vectors, self.vocab)
        for i, k in enumerate(todo):
            cond, inferred = rcs[k].cond.clone(), {}
            for j, a in enumerate(self.vocab.attributes):
                if records[k].attributes.get(a.name) in (None, "") and int(ids[i, j]):
                    cond[j] = int(ids[i, j])
                    inferred[a.name] = (a.decode(int(ids[i, j])), round(float(probs[i, j]), 4))
            if inferred:
                rcs[k] = RowCondition(cond, rcs[k].understood, rcs[k].notes, inferred)
        return rcs

    # -- generation ----------------------------------------------------------
    @property
    def text_encoder(self) -> str | None:
        """Name of the run's title/prompt encoder, None when the model has no text input."""
        return self.config.condition.text_encoder if self.model.text_dim else None

    def encode_text(self, texts: list[str | None]) -> torch.Tensor:
        """(N, T) vectors of titles/prompts with the run's own encoder (empty text: the "no text" vector)."""
        from ..conditioning.text import encode_texts

        if not self.model.text_dim:
            raise UserError(f"{self.run_dir} was not trained on text; train with --condition text,... to use prompts")
        return encode_texts(self.config.condition.text_encoder, texts)

    def prompt_condition(self, prompt: str | None, attrs: Mapping[str, str] | None = None, title_prior: bool = True):
        """A ``PromptCondition`` for ``--prompt`` and ``--attr`` (see sample/prompt.py).

        ``title_prior``: fill the attributes that neither ``attrs`` nor the prompt's words name from the run's
        title prior (conditioning/title_prior.py), when the run has one."""
        from .prompt import prompt_condition

        vec = (lambda p: self.encode_text([p])[0]) if self.model.text_dim else None
        prior = self.title_prior if title_prior else None
        return prompt_condition(prompt, dict(attrs or {}), self.vocab, vec, self.infer_attributes if prior else None)

    @cached_property
    def title_prior(self):
        """The run's ``TitlePrior`` (title -> attribute values), None when it has none."""
        from ..conditioning.title_prior import PRIOR_WEIGHTS, TitlePrior

        if self.run_dir is None:
            return None
        prior = TitlePrior.load(self.run_dir)
        if prior is not None:
            prior.check_vocab(self.vocab, self.run_dir / PRIOR_WEIGHTS)
        return prior

    def title_vectors(self, texts: list[str | None]) -> torch.Tensor:
        """(N, T) vectors of titles in the title prior's encoder (the run's own encoder in text runs)."""
        from ..conditioning.text import encode_texts

        return encode_texts(self.title_prior.encoder, texts)

    def infer_attributes(self, prompt: str) -> dict[str, tuple[str, float]]:
        """{attribute: (value, probability)} the title prior reads from ``prompt`` ({} without a prior)."""
        if self.title_prior is None:
            return {}
        ids, probs = self.title_prior.predict(self.title_vectors([prompt]), self.vocab)
        return {a.name: (a.decode(int(ids[0, j])), float(probs[0, j])) for j, a in enumerate(self.vocab.attributes)
                if int(ids[0, j])}

    @property
    def image_condition(self) -> str | None:
        """"edges" or "silhouette" for a run that draws from a map (``--sketch``); None for the others."""
        return getattr(self.model, "image_condition", None)

    def sketch_map(self, source, fit: str = "lines", close: bool = False) -> torch.Tensor:
        """(1, R, R) map of a sketch / silhouette file or (H, W, 3) uint8 array, as this run expects it (``fit``:
        ``conditioning.maps.sketch_map``'s framing, "lines" or "canvas"; ``close``: a silhouette run's open outline
        closed, ``conditioning.maps.close_outline``)."""
        from ..conditioning.maps import sketch_map

        if self.image_condition is None:
            raise UserError(f"{self.run_dir} is a {self.model.family} run trained without an image condition, so it "
                            "cannot draw from a sketch; train one with `prodgen train --condition edges,articleType,"
                            "baseColour ...` (or silhouette,...) and generate from that run, or drop --sketch.")
        if close and self.image_condition != "silhouette":
            raise UserError(f"--sketch-close closes a drawing's outline and fills it; {self.run_dir} draws from the "
                            f"{self.image_condition} themselves: leave --sketch-close out, or use a silhouette run")
        return sketch_map(source, self.image_condition, self.model.resolution, fit=fit, close=close)

    def snap_sketch(self, image_map: torch.Tensor, cond: torch.Tensor, k: int) -> tuple[torch.Tensor, list[dict]]:
        """``--sketch-snap``: the maps of the ``k`` training photos nearest to a sketch's (1, R, R) ``image_map``, of
        the type ``cond`` (one (A,) row) asks for (``conditioning.shape_index``), as (k, 1, R, R), and a record of
        each (catalog id, Chamfer px, mirrored). Needs the run's shape index (`prodgen shape-index RUN`)."""
        index = self.shape_index()
        type_id = int(cond.reshape(-1)[self.vocab.names.index(index.attribute)])
        matches = index.nearest(image_map, type_id, k)
        return index.maps_of(matches), [m.record() for m in matches]

    def project_sketch(self, image_map: torch.Tensor, cond: torch.Tensor, k: int) -> torch.Tensor:
        """``--sketch-shape K``: a silhouette sketch's (1, R, R) ``image_map`` projected onto the linear shape model
        of the training masks of the type ``cond`` asks for, K components (``ShapeIndex.project``): the drawing's
        shape pulled towards the shapes of that type. Needs the run's shape index (`prodgen shape-index RUN`)."""
        index = self.shape_index()
        if index.kind != "silhouette":
            raise UserError(f"--sketch-shape pulls a filled drawing towards the catalog's masks; {self.run_dir} draws "
                            "from edge maps. Use --sketch-snap with it, or a silhouette run")
        type_id = int(cond.reshape(-1)[self.vocab.names.index(index.attribute)])
        if type_id == 0:
            raise UserError(f"--sketch-shape needs the {index.attribute} the drawing should become: add --attr "
                            f"{index.attribute}=...")
        return index.project(image_map, type_id, k)

    def shape_index(self):
        """The run's shape index (``prodgen shape-index RUN``), loaded once and checked against the run."""
        from ..conditioning.shape_index import ShapeIndex

        if self.image_condition is None:
            self.sketch_map(None)  # raises: a run without an image condition
        if self._shape_index is None:
            index = ShapeIndex.load(self.run_dir)
            if index.resolution != self.model.resolution or index.kind != self.image_condition:
                raise UserError(f"{self.run_dir}'s shape index holds {index.resolution}-px {index.kind} maps, the run "
                                f"draws from {self.model.resolution}-px {self.image_condition}; rebuild it with "
                                f"`prodgen shape-index {self.run_dir}`")
            if index.attribute not in self.vocab.names:
                raise UserError(f"{self.run_dir}'s shape index is keyed by {index.attribute!r}, which the run is not "
                                f"conditioned on; rebuild it with `prodgen shape-index {self.run_dir}`")
            self._shape_index = index
        return self._shape_index

    @torch.no_grad()
    def generate_batch(self, cond: torch.Tensor, seeds: list[int], truncation: float = 1.0,
                       text: torch.Tensor | None = None, image_map: torch.Tensor | None = None,
                       **sampling) -> torch.Tensor:
        """(B, A) ids, B seeds [and (B, T) text vectors] -> (B, 3, R, R) images in [-1, 1] (CPU).

        ``image_map``: (B or 1, 1, R, R) edge maps / silhouettes in {0, 1}, required by (and only by) a run trained
        with an image condition. ``sampling``: family options such as a diffusion model's ``steps`` and ``guidance``.
        """
        if cond.shape[0] != len(seeds):
            raise ValueError("one seed per condition row")
        if (image_map is None) != (self.image_condition is None):
            if image_map is not None:
                self.sketch_map(None)  # raises: a run without an image condition
            raise UserError(f"{self.run_dir} draws products from {'an edge map' if self.image_condition == 'edges' else 'a silhouette'}"
                            f": give one with --sketch drawing.png (dark {'lines' if self.image_condition == 'edges' else 'shape'} "
                            "on white, any size); generating from a catalog CSV or without a sketch is not supported for it.")
        z = torch.cat([self.model.latent_noise(1, torch.Generator().manual_seed(int(s)), truncation) for s in seeds])
        if image_map is not None:
            sampling["image_map"] = image_map
        out = self.model.generate_from_noise(z, cond, text, self.net, **sampling)
        return out.float().cpu()

    def generate(self, attrs: Mapping[str, str] | None = None, n: int = 1, seed: int = 0,
                 truncation: float = 1.0, batch_size: int = 64, prompt: str | None = None, sketch=None,
                 **sampling) -> torch.Tensor:
        """``n`` images of one condition (attributes and/or a prompt); image i uses seed ``seed + i``.

        ``sketch``: for a run trained with an image condition, a drawing / silhouette file, an (H, W, 3) uint8 array
        or a ready (1, R, R) map."""
        pc = self.prompt_condition(prompt, attrs)
        image_map = None
        if sketch is not None:
            image_map = sketch if isinstance(sketch, torch.Tensor) else self.sketch_map(sketch)
            image_map = image_map[None]  # (1, 1, R, R)
        outs = []
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            text = pc.text.expand(m, -1) if pc.text is not None else None
            outs.append(self.generate_batch(pc.cond.expand(m, -1), list(range(seed + start, seed + start + m)), truncation,
                                            text, **({"image_map": image_map} if image_map is not None else {}),
                                            **sampling))  # an ONNX pipeline takes no image_map
        return torch.cat(outs) if outs else torch.empty(0, 3, self.model.resolution, self.model.resolution)

    def describe(self) -> dict:
        return {"run": str(self.run_dir), "model": self.model.family, "weights_sha256": self.weights_hash,
                "resolution": self.model.resolution, "attributes": self.vocab.names, "text_encoder": self.text_encoder,
                **({"image_condition": self.image_condition} if self.image_condition else {})}


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["Pipeline", "RowCondition"]
