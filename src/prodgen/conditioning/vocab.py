"""Attribute vocabularies: value strings <-> integer ids, saved in the run as vocab.json.

Id 0 of every attribute is ``<unspecified>``: the model was trained with that
attribute dropped (condition dropout), so a user may leave it out at generate
time. NA/empty values map to ``unknown``; values seen fewer than ``min_count``
times in the training split are merged into ``other``.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from ..atomic import write_json
from ..errors import UserError

UNSPECIFIED = "<unspecified>"
UNKNOWN = "unknown"
OTHER = "other"


@dataclass(frozen=True)
class AttributeVocab:
    name: str
    values: tuple[str, ...]  # values[0] == UNSPECIFIED
    merged: tuple[str, ...] = ()  # rare raw values folded into OTHER

    def __post_init__(self) -> None:
        if not self.values or self.values[0] != UNSPECIFIED:
            raise ValueError("vocabulary must start with <unspecified>")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def choices(self) -> list[str]:
        """Values a user may ask for (everything but <unspecified>)."""
        return list(self.values[1:])

    def encode_raw(self, value: str | None) -> int:
        """Id of a raw catalog value (training data): NA -> unknown, rare -> other."""
        if value is None:
            value = UNKNOWN
        if value in self._index:
            return self._index[value]
        if OTHER in self._index:
            return self._index[OTHER]
        return self._index.get(UNKNOWN, 0)

    def encode_user(self, value: str) -> int:
        """Id of a value a user asked for; unknown values raise a UserError listing the valid ones."""
        if value in self._index and value != UNSPECIFIED:
            return self._index[value]
        folded = {v.casefold(): i for v, i in self._index.items() if v != UNSPECIFIED}
        if value.casefold() in folded:
            return folded[value.casefold()]
        if value in self.merged:
            raise UserError(
                f"{self.name}={value!r} was too rare in the training data and merged into {OTHER!r}; "
                f"use {self.name}={OTHER} or one of: {', '.join(self.choices)}"
            )
        close = difflib.get_close_matches(value, self.choices, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"unknown value {self.name}={value!r}.{hint} Valid values: {', '.join(self.choices)}")

    def decode(self, idx: int) -> str:
        return self.values[idx]

    @cached_property
    def _index(self) -> dict[str, int]:
        return {v: i for i, v in enumerate(self.values)}

    @classmethod
    def fit(cls, name: str, raw: Iterable[str | None], min_count: int) -> AttributeVocab:
        counts = Counter(UNKNOWN if v is None else v for v in raw)
        kept = sorted((v for v, c in counts.items() if c >= min_count or v == UNKNOWN), key=lambda v: (-counts[v], v))
        merged = tuple(sorted(v for v, c in counts.items() if c < min_count and v != UNKNOWN))
        values = [UNSPECIFIED, *kept]
        if merged and OTHER not in values:
            values.append(OTHER)
        return cls(name, tuple(values), merged)


@dataclass(frozen=True)
class Vocabulary:
    """The vocabularies of the attributes that condition a model, in order."""

    attributes: tuple[AttributeVocab, ...]

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.attributes]

    @property
    def sizes(self) -> list[int]:
        return [len(a) for a in self.attributes]

    def __getitem__(self, name: str) -> AttributeVocab:
        for a in self.attributes:
            if a.name == name:
                return a
        raise UserError(f"the model is not conditioned on {name!r}; it is conditioned on: {', '.join(self.names)}")

    def encode_records(self, rows: Iterable[Mapping[str, str | None]]) -> torch.Tensor:
        """(N, A) long ids of raw catalog rows."""
        ids = [[a.encode_raw(r.get(a.name)) for a in self.attributes] for r in rows]
        return torch.tensor(ids, dtype=torch.long).reshape(-1, len(self.attributes))

    def encode_user(self, attrs: Mapping[str, str], strict: bool = True) -> torch.Tensor:
        """(A,) ids of a user request; missing attributes are <unspecified> (id 0).

        With ``strict`` an attribute the model does not know raises; otherwise it is ignored
        (used for CSV rows, whose other columns the model does not condition on).
        """
        if strict:
            for name in attrs:
                self[name]  # raises a UserError naming the valid attributes
        out = [a.encode_user(attrs[a.name]) if attrs.get(a.name) not in (None, "") else 0 for a in self.attributes]
        return torch.tensor(out, dtype=torch.long)

    def describe(self, ids: torch.Tensor) -> dict[str, str]:
        return {a.name: a.decode(int(i)) for a, i in zip(self.attributes, ids.tolist()) if int(i) != 0}

    @classmethod
    def fit(cls, names: list[str], rows: list[Mapping[str, str | None]], min_count: int) -> Vocabulary:
        return cls(tuple(AttributeVocab.fit(n, (r.get(n) for r in rows), min_count) for n in names))

    def to_dict(self) -> dict:
        return {"attributes": [{"name": a.name, "values": list(a.values), "merged": list(a.merged)} for a in self.attributes]}

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> Vocabulary:
        return cls(tuple(AttributeVocab(a["name"], tuple(a["values"]), tuple(a.get("merged", ()))) for a in d["attributes"]))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path} not found: the run folder is incomplete (vocab.json is written at training start).")
        return cls.from_dict(json.loads(path.read_text()))
