"""Class-folder catalogs: ``root/<class>/*.jpg``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import UserError
from .catalog import Catalog, Record
from .images import open_image

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def _class_images(root: Path) -> dict[str, list[Path]]:
    out = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in d.iterdir() if f.suffix.lower() in SUFFIXES)
        if files:
            out[d.name] = files
    return out


def looks_like_class_folders(root: Path) -> bool:
    return bool(_class_images(root))


def read_folder_catalog(root: str | Path) -> Catalog:
    root = Path(root)
    classes = _class_images(root)
    if not classes:
        raise UserError(f"{root}: no class folders with images (expected {root}/<class>/*.jpg).")
    records, h = [], hashlib.sha256()
    for cls, files in classes.items():
        for f in files:
            st = f.stat()
            h.update(f"{cls}/{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
            records.append(Record(f"{cls}/{f.stem}", {"class": cls}, cls, f))
    return Catalog(str(root), "folder", records, ["class"], lambda r: open_image(r.image), h.hexdigest(),
                   default_condition=("class",))
