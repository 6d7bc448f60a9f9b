"""Condition dropout: train with attributes randomly unspecified (id 0).

Lets a user leave attributes out at generate time, and is what classifier-free
guidance needs (Ho & Salimans 2022, https://arxiv.org/abs/2207.12598).
"""

from __future__ import annotations

import torch

from .. import noise



def drop_conditions(cond: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each attribute id by 0 (<unspecified>) with probability ``p``, independently."""
    if p <= 0:
        return cond
    draw = torch.rand(cond.shape, generator=generator) if generator is not None else noise.rand(*cond.shape)
    keep = draw.to(cond.device) >= p  # (B, A)
    return cond * keep


def drop_text(text: torch.Tensor | None, p: float, generator: torch.Generator | None = None) -> torch.Tensor | None:
    """Replace each row's text vector by the all-zero "no text" vector with probability ``p``."""
    if text is None or p <= 0:
        return text
    draw = torch.rand(text.shape[0], generator=generator) if generator is not None else noise.rand(text.shape[0])
    keep = draw.to(text.device) >= p
    return text * keep[:, None].to(text.dtype)
