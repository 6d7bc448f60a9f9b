"""Training: one Trainer for every model family, checkpoints, EMA, run folders."""

from .loop import StopReason, TrainLoop
from .run import prepare_data, resume, train
from .trainer import Trainer

__all__ = ["StopReason", "TrainLoop", "Trainer", "prepare_data", "resume", "train"]
