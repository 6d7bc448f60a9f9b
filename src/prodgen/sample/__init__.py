"""Sampling: load a run folder and generate images."""

from .pipeline import Pipeline, RowCondition

__all__ = ["Pipeline", "RowCondition"]
