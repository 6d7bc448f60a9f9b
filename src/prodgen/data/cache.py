"""Preprocessing cache: every catalog image letterboxed to the run's resolution,
stored as one uint8 tensor file keyed by catalog content and preprocessing, so
the training loop never decodes a JPEG. Rebuilt when either changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from ..atomic import atomic_open, write_bytes, write_json
from ..errors import UserError
from ..progress import progress_bar
from .catalog import Catalog, Skip
from .images import ImageError, letterbox, open_image, to_uint8_chw

PREPROCESS_VERSION = 1  # bump when letterbox/resize/decoding changes


@dataclass
class ImageTensors:
    images: torch.Tensor  # (N, 3, R, R) uint8
    ids: list[str]
    skipped: list[Skip]
    key: str

    def index_of(self, ids: list[str]) -> torch.Tensor:
        pos = {i: k for k, i in enumerate(self.ids)}
        return torch.tensor([pos[i] for i in ids], dtype=torch.long)


def default_cache_dir() -> Path:
    return Path(os.environ.get("PRODGEN_CACHE") or Path.home() / ".cache" / "prodgen")


def cache_key(catalog: Catalog, resolution: int) -> str:
    return hashlib.sha256(f"{catalog.fingerprint}:{resolution}:{PREPROCESS_VERSION}".encode()).hexdigest()[:32]


def _decode_path(args: tuple[str, int]) -> tuple[np.ndarray | None, str, str]:
    path, res = args
    try:
        return to_uint8_chw(letterbox(open_image(path), res)), "", ""
    except ImageError as e:
        return None, e.reason, str(e)


PARALLEL_MIN = 2000  # catalogs this big are decoded by two threads
# Threads, not processes. A forked pool copied a process that may hold other threads' locks (torch's pools, a served
# studio's threads): once, in a full test run, a child waited on a futex forever. A forkserver or spawned pool
# re-imports the caller's main script, which breaks scripts without a __main__ guard. PIL releases the GIL while it
# decodes and resizes, so two threads still share the work; they are somewhat slower than the forked pool: building
# the 8,521-photo catalog's 64-px cache cold on the idle 2-core EPYC (bench/cache_speed.py, alternating) took 7.7 / 7.4
# / 6.9 s with the pool and 9.6 / 9.2 / 7.1 s with threads, once per catalog and resolution. A daemon process (a studio
# worker) may use threads too.
DECODE_THREADS = 2
DECODE_CHUNK = 256  # photos decoded ahead of the copy into the array (bounded memory at 256 px)


def prepare_images(catalog: Catalog, resolution: int, cache_dir: str | Path | None = None, progress: bool = True) -> ImageTensors:
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    key = cache_key(catalog, resolution)
    tensor_file, meta_file = folder / f"{key}.safetensors", folder / f"{key}.json"
    if tensor_file.exists() and meta_file.exists():
        try:
            meta = json.loads(meta_file.read_text())
            images = load_file(str(tensor_file))["images"]
            return ImageTensors(images, meta["ids"], [Skip(**s) for s in meta["skipped"]], key)
        except Exception:  # noqa: BLE001  a damaged cache is rebuilt, never trusted
            pass
    n = len(catalog.records)
    out = np.empty((n, 3, resolution, resolution), dtype=np.uint8)
    ids: list[str] = []
    skipped: list[Skip] = []
    bar = progress_bar(f"preprocess {Path(catalog.name).name} @ {resolution}px", n, enabled=progress, transient=True)
    with bar:
        if catalog.kind in ("csv", "folder") and n >= PARALLEL_MIN:  # two decoding threads for a big catalog
            with ThreadPoolExecutor(DECODE_THREADS) as pool:
                for start in range(0, n, DECODE_CHUNK):
                    chunk = catalog.records[start : start + DECODE_CHUNK]
                    decoded = pool.map(_decode_path, [(str(r.image), resolution) for r in chunk])
                    for rec, (arr, reason, detail) in zip(chunk, decoded):
                        _store(rec.id, arr, reason, detail, out, ids, skipped)
                        bar.advance()
        else:
            for rec in catalog.records:
                try:
                    arr, reason, detail = to_uint8_chw(letterbox(catalog.load_image(rec), resolution)), "", ""
                except ImageError as e:
                    arr, reason, detail = None, e.reason, str(e)
                _store(rec.id, arr, reason, detail, out, ids, skipped)
                bar.advance()
    if not ids:
        reasons = ", ".join(sorted({s.reason for s in skipped}))
        raise UserError(f"{catalog.name}: no usable images ({len(skipped)} skipped: {reasons}); run `prodgen data inspect` for details.")
    kept = out[: len(ids)]  # a view: at 256 px the 8,521-photo catalog is 1.7 GB, so no copy is made
    write_uint8_safetensors(tensor_file, "images", kept)
    images = torch.from_numpy(kept)
    write_json(meta_file, {"catalog": catalog.name, "resolution": resolution, "ids": ids,
                           "skipped": [s.__dict__ for s in skipped]})
    return ImageTensors(images, ids, skipped, key)


def write_uint8_safetensors(path: Path, name: str, array: np.ndarray) -> None:
    """Stream one C-contiguous uint8 array into a safetensors file (atomically) without building it in memory.

    ``safetensors.torch.save`` returns the whole file as one ``bytes`` object; with the array itself and the
    copy a slice needed before, building a 256-px cache of the 8,521-photo catalog peaked at 6.7 GB resident
    (bench/res256_speed.py). The format is an 8-byte little-endian header length, a JSON header, the raw data.
    """
    header = json.dumps({name: {"dtype": "U8", "shape": list(array.shape), "data_offsets": [0, int(array.nbytes)]}},
                        separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the data starts 8-byte aligned
    with atomic_open(path, "wb") as fh:
        fh.write(len(header).to_bytes(8, "little"))
        fh.write(header)
        fh.write(memoryview(np.ascontiguousarray(array)).cast("B"))


def _store(rid, arr, reason, detail, out, ids, skipped) -> None:
    if arr is None:
        skipped.append(Skip(rid, reason, detail))
    else:
        out[len(ids)] = arr
        ids.append(rid)


TEXT_CACHE_VERSION = 1


def prepare_title_embeddings(catalog: Catalog, encoder: str, cache_dir: str | Path | None = None) -> dict[str, torch.Tensor]:
    """Every catalog title embedded by the text encoder ``encoder``, cached beside the image tensors.

    Key: catalog fingerprint (titles are part of its content) and the encoder name.
    Returns id -> (384,) vector; rows without a title get the all-zero "no text" vector.
    """
    from ..conditioning.text import encode_texts, resolve_encoder_name

    encoder = resolve_encoder_name(encoder)
    key = hashlib.sha256(f"{catalog.fingerprint}:text:{encoder}:{TEXT_CACHE_VERSION}".encode()).hexdigest()[:32]
    path = Path(cache_dir or default_cache_dir()) / f"text-{key}.safetensors"
    ids = [r.id for r in catalog.records]
    if path.exists():
        try:
            emb = load_file(str(path))["embeddings"]
            if emb.shape[0] == len(ids):
                return dict(zip(ids, emb))
        except Exception:  # noqa: BLE001  damaged cache: recompute
            pass
    emb = encode_texts(encoder, [r.title for r in catalog.records])
    write_bytes(path, safetensors_bytes({"embeddings": emb.contiguous()}))
    return dict(zip(ids, emb))
