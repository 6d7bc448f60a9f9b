"""Files nothing refers to any more: removed from the studio's store, never a file a row still names.

A job's outputs are written to the store before the one transaction that records them (``worker._finish``);
an attempt that is killed, superseded by a requeue, cancelled or fails leaves its files behind with no row,
and an interrupted atomic write leaves a ``.*.tmp`` file. ``collect_garbage`` removes

- stored files whose sha256 no asset, export or review neighbour (``meta.nearest``) names, and
- temporary files (``<data>/tmp``, ``.*.tmp`` in the store),

but only those older than ``grace`` (default one hour): a running job's outputs have no row yet, and the
longest job the studio allows finishes well inside it. ``prodgen serve`` runs it at every start (before its
workers) and ``prodgen serve gc [--dry-run]`` on demand.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from .db import Asset, Database, Export
from .storage import EXTENSIONS, Storage

DEFAULT_GRACE = dt.timedelta(hours=1)


@dataclass
class GcReport:
    removed: list[Path] = field(default_factory=list)
    bytes_freed: int = 0
    kept: int = 0  # stored files still referenced
    young: int = 0  # unreferenced but younger than the grace period (perhaps a running job's)

    def summary(self, dry_run: bool = False) -> str:
        verb = "would remove" if dry_run else "removed"
        return (f"{verb} {len(self.removed)} unreferenced file(s), {self.bytes_freed / 1e6:.1f} MB; kept {self.kept} "
                f"referenced; {self.young} unreferenced but younger than the grace period left alone")


def referenced(db: Database) -> set[str]:
    """Every sha256 a row names: assets, export zips, the training photos shown beside generated images."""
    shas: set[str] = set()
    with db.read() as s:
        for sha, meta in s.execute(select(Asset.sha256, Asset.meta)):
            shas.add(sha)
            for item in (meta or {}).get("nearest") or ():
                if isinstance(item, dict) and item.get("sha256"):
                    shas.add(item["sha256"])
        shas.update(s.scalars(select(Export.sha256)))
    return shas


def collect_garbage(db: Database, storage: Storage, tmp_dir: Path, grace: dt.timedelta = DEFAULT_GRACE,
                    dry_run: bool = False, now: float | None = None) -> GcReport:
    cutoff = (time.time() if now is None else now) - grace.total_seconds()
    keep = referenced(db)  # read after listing nothing: a file stored after this read is young, so it is safe
    suffixes = set(EXTENSIONS.values())
    report = GcReport()

    def drop(p: Path) -> None:
        try:
            st = p.stat()
        except FileNotFoundError:
            return
        if st.st_mtime > cutoff:
            report.young += 1
            return
        report.removed.append(p)
        report.bytes_freed += st.st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        if not dry_run:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)

    if storage.root.is_dir():
        for p in storage.root.glob("*/*"):
            if p.name.startswith(".") and p.name.endswith(".tmp"):
                drop(p)  # an atomic write that never finished
            elif p.suffix in suffixes:
                if p.stem in keep:
                    report.kept += 1
                else:
                    drop(p)
    if tmp_dir.is_dir():
        for p in tmp_dir.iterdir():
            drop(p)
    return report


__all__ = ["DEFAULT_GRACE", "GcReport", "collect_garbage", "referenced"]
