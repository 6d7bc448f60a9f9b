"""Statistics of the whole training batch, also when W data-parallel processes each hold B/W of it.

A loss that uses a batch statistic (the sigma-VAE's decoder variance is the batch's mean squared error) would
otherwise see only its process's share, and W processes would no longer train as one. The trainer wraps each
data-parallel step in ``across(sum_over_processes)``; outside it, ``mean`` is ``tensor.mean()``. Only for
statistics used without gradient (detached): the reduction is not differentiable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

_SUM: Callable[[torch.Tensor], torch.Tensor] | None = None


@contextlib.contextmanager
def across(sum_over_processes: Callable[[torch.Tensor], torch.Tensor] | None) -> Iterator[None]:
    global _SUM
    saved, _SUM = _SUM, sum_over_processes
    try:
        yield
    finally:
        _SUM = saved


def mean(t: torch.Tensor) -> torch.Tensor:
    """The mean of ``t`` over the global batch (``t`` holds this process's rows)."""
    if _SUM is None:
        return t.mean()
    s = _SUM(torch.stack([t.detach().sum(), torch.tensor(float(t.numel()), dtype=t.dtype, device=t.device)]))
    return s[0] / s[1]


__all__ = ["across", "mean"]
