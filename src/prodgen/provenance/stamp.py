"""``stamp``: the one call every writer makes on an image prodgen generated or edited for a user.

It writes the IPTC digital source type and prodgen's notes into the file (``marks``), then embeds a
C2PA manifest signed with the key folder's leaf (``c2pa_sign``); the manifest's hash covers the marks.
Keys come from ``keys.default_folder()`` (``$PRODGEN_SIGNING_DIR`` or ``~/.config/prodgen/signing``),
created on first use, unless given. There is deliberately no switch to turn it off.

``info``: prodgen's notes, plain JSON values: ``run``, ``family``, ``seed``, ``request``, ``edits``
(a list of what an edit did) and anything else worth keeping (``condition``, ``model``...).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..atomic import write_bytes
from .c2pa_sign import sign_bytes
from .keys import CHAIN, KEY, SigningKeys, default_folder, ensure_keys
from .marks import SOURCE_TYPES, mark_bytes

_cache: dict[tuple, SigningKeys] = {}


def default_keys() -> SigningKeys:
    """The default key folder's keys, created on first use; loaded once per process while the files stay the same."""
    folder = default_folder()
    stamp_of = tuple(_mtime(folder / n) for n in (CHAIN, KEY))
    key = (str(folder.resolve()) if folder.exists() else str(folder), *stamp_of)
    if key not in _cache or None in stamp_of:
        keys = ensure_keys(folder)
        _cache.clear()
        _cache[(key[0], *(_mtime(folder / n) for n in (CHAIN, KEY)))] = keys
        return keys
    return _cache[key]


def stamp_bytes(data: bytes, kind: str, info: dict | None = None, keys: SigningKeys | None = None,
                title: str = "image", parent: str | os.PathLike | None = None) -> bytes:
    """``data`` (a PNG, JPEG, WebP or GIF file) marked and signed. ``kind``: "generated" or "edited" (an edit of
    a real photo: ``parent`` is that photo's file)."""
    if kind not in SOURCE_TYPES:
        raise ValueError(f"kind must be 'generated' or 'edited', not {kind!r}")
    notes = json.loads(json.dumps(info or {}, default=str))
    keys = keys or default_keys()
    marked = mark_bytes(data, SOURCE_TYPES[kind], {"kind": kind, **notes})
    return sign_bytes(marked, kind, notes, keys, title, parent)


def stamp(path: str | os.PathLike, kind: str = "generated", info: dict | None = None, keys: SigningKeys | None = None,
          parent: str | os.PathLike | None = None) -> Path:
    """Mark and sign the image at ``path`` in place (one atomic rewrite); returns the path."""
    path = Path(path)
    write_bytes(path, stamp_bytes(path.read_bytes(), kind, info, keys, path.name, parent))
    return path


def _mtime(p: Path) -> int | None:
    try:
        return p.stat().st_mtime_ns
    except OSError:
        return None


__all__ = ["default_keys", "stamp", "stamp_bytes"]
