"""Append-only JSONL metrics (one JSON object a line, flushed and fsynced per write).

A crash can cut the last line; readers skip it, ``truncate_after`` (what a resume
calls) drops it with a warning, and the next ``write`` never glues onto it.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from ..atomic import write_text


class MetricsLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._checked_end = False

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        if not self._checked_end:  # a line cut by a crash: start on a fresh line
            self._checked_end = True
            if self.path.exists() and self.path.stat().st_size:
                with open(self.path, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        line = "\n" + line
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (written after the checkpoint a resume restarts from)."""
        if not self.path.exists():
            return
        keep, bad = [], []
        lines = self.path.read_text(errors="replace").splitlines()
        for n, ln in enumerate(lines, 1):
            if not ln.strip():
                continue
            try:
                rec = json.loads(ln)
            except json.JSONDecodeError:
                bad.append(n)
                continue
            if not isinstance(rec, dict):
                bad.append(n)
            elif rec.get("step", 0) <= step:
                keep.append(ln)
        if bad:
            what = "its last line, cut by a crash" if bad == [len(lines)] else f"unreadable line(s) {bad}"
            warnings.warn(f"{self.path}: dropped {what}", RuntimeWarning, stacklevel=2)
        write_text(self.path, "".join(k + "\n" for k in keep))
        self._checked_end = True  # rewritten: ends with a newline


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for ln in path.read_text().splitlines():
        if ln.strip():
            try:
                rec = json.loads(ln)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            if isinstance(rec, dict):
                out.append(rec)
    return out
