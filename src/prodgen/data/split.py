"""Deterministic train/val/test split by a hash of each id (order- and size-independent)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def split_fraction(item_id: str) -> float:
    h = hashlib.sha1(b"prodgen-split:" + item_id.encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def assign_split(item_id: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    u = split_fraction(item_id)
    if u < fractions[0]:
        return "train"
    if u < fractions[0] + fractions[1]:
        return "val"
    return "test"


def make_split(ids: Iterable[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for i in ids:
        out[assign_split(i, fractions)].append(i)
    return out
