"""Training tensors: uint8 images of the train split and their condition ids.

The batch order is a pure function of (seed, step): epoch e uses the permutation
``randperm(N, seed + e)``, so a resumed run sees exactly the batches the
uninterrupted run would have, with no sampler state to save.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TrainingData:
    images: torch.Tensor  # (N, 3, R, R) uint8
    cond: torch.Tensor  # (N, A) long condition ids
    ids: list[str]
    text: torch.Tensor | None = None  # (N, T) title embeddings when the run is conditioned on text

    def __post_init__(self) -> None:
        if self.images.shape[0] != self.cond.shape[0] or self.images.shape[0] != len(self.ids):
            raise ValueError("images, cond and ids must have the same length")
        if self.text is not None and self.text.shape[0] != self.images.shape[0]:
            raise ValueError("text must have one row per image")
        if self.images.shape[0] == 0:
            raise ValueError("no training images")

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device) -> TrainingData:
        return TrainingData(self.images.to(device), self.cond.to(device), self.ids,
                            self.text.to(device) if self.text is not None else None)

    def batch_indices(self, step: int, batch_size: int, seed: int) -> torch.Tensor:
        n = len(self)
        start = step * batch_size
        out = []
        pos = start
        while pos < start + batch_size:
            epoch, offset = divmod(pos, n)
            perm = _permutation(n, seed, epoch)
            take = min(n - offset, start + batch_size - pos)
            out.append(perm[offset : offset + take])
            pos += take
        return torch.cat(out)

    def batch(self, step: int, batch_size: int, seed: int, rows: slice | None = None,
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(B, 3, R, R) float images in [-1, 1], (B, A) condition ids and (B, T) text vectors (or None).

        ``rows``: only these rows of the batch (a data-parallel process's share of the global batch)."""
        idx = self.batch_indices(step, batch_size, seed)
        if rows is not None:
            idx = idx[rows]
        idx = idx.to(self.images.device)
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        text = self.text[idx] if self.text is not None else None
        return x.contiguous(memory_format=torch.channels_last), self.cond[idx], text


_PERM_CACHE: dict[tuple[int, int, int], torch.Tensor] = {}


def _permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    key = (n, seed, epoch)
    if key not in _PERM_CACHE:
        if len(_PERM_CACHE) > 4:
            _PERM_CACHE.clear()
        _PERM_CACHE[key] = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return _PERM_CACHE[key]
