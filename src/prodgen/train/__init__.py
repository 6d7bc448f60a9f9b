"""Training: one Trainer for every model family, checkpoints, EMA, run folders."""

from .run import prepare_data, resume, train
from .trainer import StopReason, Trainer

__all__ = ["StopReason", "Trainer", "prepare_data", "resume", "train"]
