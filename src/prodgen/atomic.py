"""Atomic file writes: temp file in the same folder, fsync, rename.

A crash or Ctrl-C in the middle of a write leaves the previous file intact.
Files get the mode a plain ``open()`` would give them (0o666 less the umask, e.g.
0644 with umask 022); ``private=True`` makes them 0600 (for secrets).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", private: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on clean exit fsync and rename onto it.

    The file is created 0600 (mkstemp) and, unless ``private``, given the umask's mode before it is renamed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if not private and hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else set-and-restore."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes, private: bool = False) -> None:
    with atomic_open(path, "wb", private=private) as fh:
        fh.write(data)


def write_text(path: str | os.PathLike, text: str, private: bool = False) -> None:
    write_bytes(path, text.encode("utf-8"), private=private)


def write_json(path: str | os.PathLike, obj: Any, private: bool = False) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", private=private)
