"""Content-addressed files: ``<data>/files/<sha256[:2]>/<sha256><ext>``, written atomically, never named by a user.

A file's name is the sha256 of its bytes, so the same bytes are stored once, a half-written file can
never take a real file's name (``prodgen.atomic``: temp file, fsync, rename), and no path a user typed
or uploaded ever reaches the file system. Reading takes a hash and an extension and checks both.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..atomic import write_bytes

EXTENSIONS = {"image/png": ".png", "text/csv": ".csv", "application/zip": ".zip"}
_SHA = re.compile(r"^[0-9a-f]{64}$")


class Storage:
    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir) / "files"
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str, media_type: str) -> Path:
        if not _SHA.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / f"{sha256}{EXTENSIONS[media_type]}"

    def put(self, data: bytes, media_type: str) -> str:
        """Store ``data``; returns its sha256. Storing the same bytes again writes nothing."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha, media_type)
        if not (target.exists() and target.stat().st_size == len(data)):
            self._write(target, data)
        return sha

    def _write(self, target: Path, data: bytes) -> None:  # one place to fail (tests simulate a full disk here)
        write_bytes(target, data)

    def get(self, sha256: str, media_type: str) -> bytes:
        return self.path(sha256, media_type).read_bytes()

    def exists(self, sha256: str, media_type: str) -> bool:
        return self.path(sha256, media_type).is_file()


__all__ = ["EXTENSIONS", "Storage"]
