"""Append-only JSONL metrics (one JSON object a line, flushed and fsynced per write)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..atomic import write_text


class MetricsLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (written after the checkpoint a resume restarts from)."""
        if not self.path.exists():
            return
        keep = [ln for ln in self.path.read_text().splitlines() if ln.strip() and json.loads(ln).get("step", 0) <= step]
        write_text(self.path, "".join(k + "\n" for k in keep))


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for ln in path.read_text().splitlines():
        if ln.strip():
            try:
                out.append(json.loads(ln))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
    return out
