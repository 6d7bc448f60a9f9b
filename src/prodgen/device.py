"""Device selection shared by training and sampling."""

from __future__ import annotations

import torch

from .errors import UserError


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when torch sees a GPU, else CPU; "cuda" without a GPU is a UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise UserError(f"--device {name!r} is not a device name; use auto, cpu, cuda or cuda:N.") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for CUDA but torch sees no GPU here; use --device cpu or auto.")
    return dev


def module_device(net: torch.nn.Module) -> torch.device:
    """The device a network's parameters live on (CPU for a network without parameters)."""
    for p in net.parameters():
        return p.device
    return torch.device("cpu")
