"""MNIST-style IDX catalogs (raw or .gz), e.g. Fashion-MNIST.

Fashion-MNIST stores white products on black; like every other catalog here,
products should sit on a white background, so images are inverted when their
border is dark (``invert=None``, the default) or when asked.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import UserError
from .catalog import Catalog, Record

DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FASHION_MNIST = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def _read_bytes(path: Path) -> bytes:
    with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as fh:
        return fh.read()


def read_idx(path: str | Path) -> np.ndarray:
    path = Path(path)
    try:
        raw = _read_bytes(path)
    except (OSError, EOFError) as e:
        raise UserError(f"{path}: cannot read IDX file ({e}).") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in DTYPES:
        raise UserError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()}; expected 0000 + type code + ndim).")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) != expected:
        raise UserError(f"{path}: IDX header says {dims} ({expected} bytes) but the file holds {len(body)} bytes; it is truncated or corrupt.")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def find_idx_files(folder: Path) -> list[tuple[Path, Path]]:
    """(images, labels) pairs in a folder, train before t10k."""
    pairs = []
    for img in sorted(folder.iterdir(), key=lambda p: (not p.name.startswith("train"), p.name)):
        if "images-idx3" in img.name:
            lab = img.with_name(img.name.replace("images-idx3", "labels-idx1"))
            if lab.exists():
                pairs.append((img, lab))
    return pairs


def read_idx_catalog(path: str | Path, invert: bool | None = None) -> Catalog:
    path = Path(path)
    if path.is_file():
        lab = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
        if lab == path or not lab.exists():
            raise UserError(f"{path}: no matching labels file ({lab.name}) beside it.")
        pairs = [(path, lab)]
    else:
        pairs = find_idx_files(path)
        if not pairs:
            raise UserError(f"{path}: no *-images-idx3-ubyte[.gz] with a matching *-labels-idx1-ubyte[.gz].")
    arrays, labels, ids = [], [], []
    h = hashlib.sha256()
    for img, lab in pairs:
        x, y = read_idx(img), read_idx(lab)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise UserError(f"{img.name}/{lab.name}: expected N images (N,H,W) and N labels, got {x.shape} and {y.shape}.")
        h.update(img.read_bytes())
        h.update(lab.read_bytes())
        prefix = img.name.split("-")[0]
        arrays.append(x)
        labels.append(y)
        ids += [f"{prefix}-{i:05d}" for i in range(len(x))]
    images = np.concatenate(arrays).astype(np.uint8)
    y = np.concatenate(labels)
    classes = sorted(set(int(v) for v in y))
    fashion = len(classes) == 10 and "fashion" in str(path.resolve()).lower()
    names = {c: (FASHION_MNIST[c] if fashion else str(c)) for c in classes}
    if invert is None:
        border = np.concatenate([images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], axis=1)
        invert = float(border.mean()) < 128
    if invert:
        images = 255 - images
    records = [Record(i, {"label": names[int(v)]}, names[int(v)]) for i, v in zip(ids, y)]
    index = {r.id: k for k, r in enumerate(records)}

    def loader(rec: Record) -> Image.Image:
        return Image.fromarray(images[index[rec.id]], "L").convert("RGB")

    h.update(f"invert={invert}".encode())
    return Catalog(str(path), "idx", records, ["label"], loader, h.hexdigest(), default_condition=("label",))
