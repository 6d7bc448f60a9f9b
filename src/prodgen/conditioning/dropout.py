"""Condition dropout: train with attributes randomly unspecified (id 0).

Lets a user leave attributes out at generate time, and is what classifier-free
guidance needs (Ho & Salimans 2022, https://arxiv.org/abs/2207.12598).
"""

from __future__ import annotations

import torch


def drop_conditions(cond: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each attribute id by 0 (<unspecified>) with probability ``p``, independently."""
    if p <= 0:
        return cond
    keep = torch.rand(cond.shape, generator=generator, device="cpu").to(cond.device) >= p  # (B, A)
    return cond * keep


def drop_text(text: torch.Tensor | None, p: float, generator: torch.Generator | None = None) -> torch.Tensor | None:
    """Replace each row's text vector by the all-zero "no text" vector with probability ``p``."""
    if text is None or p <= 0:
        return text
    keep = torch.rand(text.shape[0], generator=generator, device="cpu").to(text.device) >= p
    return text * keep[:, None].to(text.dtype)
