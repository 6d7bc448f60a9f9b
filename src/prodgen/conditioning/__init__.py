"""Conditioning: attribute vocabularies and condition dropout."""

from .dropout import drop_conditions, drop_for_training, drop_text
from .vocab import OTHER, UNKNOWN, UNSPECIFIED, AttributeVocab, Vocabulary

__all__ = ["OTHER", "UNKNOWN", "UNSPECIFIED", "AttributeVocab", "Vocabulary", "drop_conditions", "drop_for_training", "drop_text"]

from .grid import ConditionGrid, condition_grid  # noqa: E402

__all__ += ["ConditionGrid", "condition_grid"]
