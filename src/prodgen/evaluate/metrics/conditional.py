"""Conditional accuracy: does the classifier see the attributes the image was asked to have?"""

from __future__ import annotations

from collections import defaultdict

import torch


class ConditionalAccuracy:
    """Per attribute; target id 0 ("unspecified" / not comparable) is ignored."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._counts: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        # attribute -> target class -> predicted class -> count: what each class is taken for when it is missed
        self._seen_as: dict[str, dict[int, dict[int, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))

    def update(self, preds: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> None:
        for attr, t in targets.items():
            p = preds[attr]
            for pi, ti in zip(p.tolist(), t.tolist()):
                if ti == 0:
                    continue
                c = self._counts[attr][ti]
                c[0] += int(pi == ti)
                c[1] += 1
                self._seen_as[attr][ti][pi] += 1

    def compute(self) -> dict[str, float]:
        out = {}
        for attr, classes in self._counts.items():
            correct = sum(v[0] for v in classes.values())
            total = sum(v[1] for v in classes.values())
            if total:
                out[f"acc/{attr}"] = correct / total
        return out

    def per_class(self) -> dict[str, dict[int, tuple[int, int]]]:
        return {a: {k: (v[0], v[1]) for k, v in c.items()} for a, c in self._counts.items()}

    def confusion(self) -> dict[str, dict[int, dict[int, int]]]:
        """attribute -> target class -> predicted class -> count (the right class included), over the counted images."""
        return {a: {t: dict(p) for t, p in c.items()} for a, c in self._seen_as.items()}
