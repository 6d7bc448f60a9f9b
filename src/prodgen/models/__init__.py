"""Model families behind one interface (see base.py) and their registry."""

from .base import EMA_NAME, WEIGHTS_NAME, GenerativeModel, ModelSpec, list_models, model_class, read_spec

__all__ = ["EMA_NAME", "WEIGHTS_NAME", "GenerativeModel", "ModelSpec", "list_models", "model_class", "read_spec"]
