"""The in-memory catalog: records (id, attributes, title) and how to load each image.

Every reader (CSV + images, class folders, IDX, synthetic) returns a ``Catalog``;
everything downstream (preprocessing cache, vocabularies, splits, training) only
sees this type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image


@dataclass(frozen=True)
class Record:
    """One catalog row. ``attributes`` maps column -> value, ``None`` for NA/empty."""

    id: str
    attributes: dict[str, str | None]
    title: str = ""
    image: Path | None = None  # None where the reader renders/decodes from memory


@dataclass(frozen=True)
class Skip:
    """A row or image left out, and why (shown by ``prodgen data inspect``)."""

    id: str
    reason: str  # short machine-friendly category, e.g. "missing-file", "corrupt"
    detail: str = ""


@dataclass
class Catalog:
    name: str  # "synthetic" or the resolved path the user gave
    kind: str  # "csv" | "folder" | "idx" | "synthetic"
    records: list[Record]
    attribute_columns: list[str]
    loader: Callable[[Record], Image.Image]  # returns an RGB PIL image or raises ImageError
    fingerprint: str  # changes whenever the catalog's content changes
    skipped: list[Skip] = field(default_factory=list)
    default_condition: tuple[str, ...] = ()  # attributes that condition a model by default

    def __len__(self) -> int:
        return len(self.records)

    def load_image(self, record: Record) -> Image.Image:
        return self.loader(record)

    def values(self, attribute: str) -> Counter:
        """Counts of each value of ``attribute`` (``None`` counts NA/empty)."""
        if attribute not in self.attribute_columns:
            raise KeyError(attribute)
        return Counter(r.attributes.get(attribute) for r in self.records)

    def skip_counts(self) -> Counter:
        return Counter(s.reason for s in self.skipped)
