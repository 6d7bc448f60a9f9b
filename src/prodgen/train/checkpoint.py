"""Checkpoint I/O for a run folder.

``training_state.pt`` holds everything a resume needs in ONE atomically written
file (model, EMA, optimisers, step, elapsed time, RNG states) made only of
tensors and plain containers, so ``torch.load(weights_only=True)`` reads it and
nothing is unpickled. ``model.safetensors`` / ``ema.safetensors`` are the
published weights that ``Pipeline.from_pretrained`` reads.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_bytes
from ..errors import UserError
from ..models.base import EMA_NAME, WEIGHTS_NAME, save_state

STATE_NAME = "training_state.pt"
STATE_VERSION = 1


def save_training_state(run_dir: str | Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save({"version": STATE_VERSION, **state}, buf)
    write_bytes(Path(run_dir) / STATE_NAME, buf.getvalue())


def load_training_state(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / STATE_NAME
    if not path.is_file():
        raise UserError(f"{path} not found: nothing to resume (the run never reached its first checkpoint). Start it again.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{path} is damaged ({e}); the run cannot be resumed from it.") from e
    if state.get("version") != STATE_VERSION:
        raise UserError(f"{path} has state version {state.get('version')}, this prodgen reads {STATE_VERSION}.")
    return state


def export_weights(run_dir: str | Path, model, ema_state: dict[str, torch.Tensor], step: int) -> None:
    """Write model.safetensors (all networks) and ema.safetensors (EMA sampling net)."""
    run_dir = Path(run_dir)
    save_state(run_dir / WEIGHTS_NAME, model.state_dict(), model.spec, step=step)
    save_state(run_dir / EMA_NAME, ema_state, None, step=step)


def rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
