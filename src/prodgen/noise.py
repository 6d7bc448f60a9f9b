"""The random numbers of a training step, drawn for the whole global batch so data parallelism changes nothing.

Every random tensor of a training step (latent noise, diffusion timesteps and noise, DiffAugment's transforms,
condition dropout, flips) has the batch as its first dimension and is drawn here. Outside ``batch_slice`` a draw
is simply of the local batch. Inside ``batch_slice(global_batch, offset)`` (the trainer sets it on each of W
data-parallel processes, which all share one RNG state) every process draws the tensor for the *global* batch
and keeps its rows ``offset:offset + b``. So the W processes consume the same random stream in lockstep, each
sample gets the random numbers it would get in one process with the whole batch, and W processes x B/W equal
one process x B up to floating-point summation order (tested in tests/test_distributed.py). The price is W
times the random draws, a few microseconds per step.

Draws are on the CPU (as before: the same numbers on every device); callers move them with ``.to(device)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

_SLICE: tuple[int, int] | None = None  # (global batch, this process's offset), or None


@contextlib.contextmanager
def batch_slice(global_batch: int, offset: int) -> Iterator[None]:
    global _SLICE
    saved, _SLICE = _SLICE, (int(global_batch), int(offset))
    try:
        yield
    finally:
        _SLICE = saved


def _rows(b: int) -> tuple[int, slice | None]:
    if _SLICE is None:
        return b, None
    total, off = _SLICE
    if off + b > total:
        raise ValueError(f"a draw of {b} rows at offset {off} does not fit the global batch of {total}")
    return total, slice(off, off + b)


def randn(b: int, *shape: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    n, keep = _rows(b)
    x = torch.randn(n, *shape, dtype=dtype)
    return x if keep is None else x[keep]


def rand(b: int, *shape: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    n, keep = _rows(b)
    x = torch.rand(n, *shape, dtype=dtype)
    return x if keep is None else x[keep]


def randint(low: int, high: int, b: int, *shape: int) -> torch.Tensor:
    n, keep = _rows(b)
    x = torch.randint(low, high, (n, *shape))
    return x if keep is None else x[keep]


__all__ = ["batch_slice", "rand", "randint", "randn"]
