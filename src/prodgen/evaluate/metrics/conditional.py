"""Conditional accuracy: does the classifier see the attributes the image was asked to have?"""

from __future__ import annotations

from collections import defaultdict

import torch


class ConditionalAccuracy:
    """Per attribute; target id 0 ("unspecified" / not comparable) is ignored."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        # attribute -> target class -> predicted class -> count; the accuracies are read off it
        self._seen_as: dict[str, dict[int, dict[int, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))

    def update(self, preds: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> None:
        for attr, t in targets.items():
            for pi, ti in zip(preds[attr].tolist(), t.tolist()):
                if ti != 0:
                    self._seen_as[attr][ti][pi] += 1

    def per_class(self) -> dict[str, dict[int, tuple[int, int]]]:
        """attribute -> target class -> (right, asked)."""
        return {a: {t: (seen.get(t, 0), sum(seen.values())) for t, seen in c.items()} for a, c in self._seen_as.items()}

    def compute(self) -> dict[str, float]:
        out = {}
        for attr, classes in self.per_class().items():
            total = sum(v[1] for v in classes.values())
            if total:
                out[f"acc/{attr}"] = sum(v[0] for v in classes.values()) / total
        return out

    def confusion(self) -> dict[str, dict[int, dict[int, int]]]:
        """attribute -> target class -> predicted class -> count (the right class included), over the counted images."""
        return {a: {t: dict(p) for t, p in c.items()} for a, c in self._seen_as.items()}
