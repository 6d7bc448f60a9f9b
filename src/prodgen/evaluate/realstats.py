"""Real-image features for a run's catalog split, cached under a hash of their inputs.

Key: catalog fingerprint, split ids, extractor weights and resolution (stylegan2-ada
``metric_utils`` style); written atomically, so an interrupted evaluation leaves
no half-written cache.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from ..atomic import write_bytes
from ..data import default_cache_dir
from .productnet import ProductNet


def extractor_hash(net: ProductNet) -> str:
    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def cached_features(net: ProductNet, images: torch.Tensor, catalog_fp: str, ids: list[str], tag: str,
                    cache_dir: Path | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Features and logits of real uint8 images, from cache when the same inputs were seen before."""
    key = hashlib.sha256(f"{catalog_fp}:{tag}:{','.join(ids)}:{extractor_hash(net)}:{net.cfg.resolution}".encode()).hexdigest()[:32]
    path = (cache_dir or default_cache_dir()) / "features" / f"{key}.safetensors"
    if path.exists():
        try:
            d = load_file(str(path))
            return d["features"], [d[f"logits{k}"] for k in range(len(net.heads))]
        except Exception:  # noqa: BLE001  damaged cache: recompute
            pass
    feats, logits = net.extract(images)
    tensors = {"features": feats, **{f"logits{k}": lg for k, lg in enumerate(logits)}}
    write_bytes(path, safetensors_bytes({k: v.contiguous() for k, v in tensors.items()}))
    return feats, logits
