"""Condition layouts for sample grids: rows x columns of attribute values."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .vocab import OTHER, UNKNOWN, Vocabulary


@dataclass(frozen=True)
class ConditionGrid:
    cond: torch.Tensor  # (rows*cols, A) long, row-major
    rows: int
    cols: int
    row_labels: list[str]
    col_labels: list[str]


def _showable(vocab_values: tuple[str, ...]) -> list[int]:
    return [i for i, v in enumerate(vocab_values) if i > 0 and v not in (UNKNOWN, OTHER)]


def condition_grid(vocab: Vocabulary, rows: int = 8, cols: int = 8) -> ConditionGrid:
    """Rows: the most frequent values of the first attribute; columns: of the second.

    Vocabulary values are stored most-frequent first. Other attributes stay
    unspecified. With one attribute, each row repeats one value across columns.
    """
    a0 = vocab.attributes[0]
    row_ids = _showable(a0.values)[:rows] or [0]
    if len(vocab.attributes) > 1:
        a1 = vocab.attributes[1]
        col_ids = _showable(a1.values)[:cols] or [0]
        col_labels = [a1.values[i] for i in col_ids]
    else:
        col_ids, col_labels = [0] * cols, [""] * cols
    cond = torch.zeros(len(row_ids) * len(col_ids), len(vocab.attributes), dtype=torch.long)
    for r, ri in enumerate(row_ids):
        for c, ci in enumerate(col_ids):
            cond[r * len(col_ids) + c, 0] = ri
            if len(vocab.attributes) > 1:
                cond[r * len(col_ids) + c, 1] = ci
    return ConditionGrid(cond, len(row_ids), len(col_ids), [a0.values[i] for i in row_ids], col_labels)
