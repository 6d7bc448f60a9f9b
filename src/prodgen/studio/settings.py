"""``prodgen serve``'s configuration: one dataclass, checked once, shared by the web and worker processes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from .ingest import IngestConfig


@dataclass(frozen=True)
class StudioSettings:
    runs: Path  # model runs: each sub-folder with config.json + weights is a model (its name is the id)
    data: Path  # the studio's own folder: studio.db, queue.db, files/, keys/
    workers: int = 1  # worker processes running jobs (0: jobs wait; tests drive them in-process)
    queue_limit: int = 50  # jobs waiting (queued) before POST /api/jobs answers 429
    retry_after_s: int = 15  # the Retry-After a 429 suggests
    max_images: int = 64  # images one generate job may ask for
    max_fill_rows: int = 2000  # rows one fill job may generate
    ingest: IngestConfig = field(default_factory=IngestConfig)
    keys: Path | None = None  # provenance signing key folder (None: <data>/keys, made at first start)
    heartbeat_s: float = 5.0  # a running job's worker writes a heartbeat this often
    stale_after_s: float = 120.0  # a running job whose heartbeat is older is requeued (a worker on another machine died)
    health_check_s: int = 2  # how often huey's consumer replaces dead worker processes
    device: str = "cpu"  # torch device for the workers

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", Path(self.runs))
        object.__setattr__(self, "data", Path(self.data))
        if self.data.exists() and not self.data.is_dir():
            raise UserError(f"--data {self.data} is a file; give a folder for the studio's database and files (it is created).")
        if not self.runs.is_dir():
            raise UserError(f"--runs {self.runs} is not a folder; give the folder holding your run folders "
                            "(e.g. runs/, where `prodgen train --out runs/NAME` writes), or use --demo.")
        if self.workers < 0:
            raise UserError(f"--workers {self.workers} must be 0 or more")
        if self.queue_limit < 1:
            raise UserError(f"--queue-limit {self.queue_limit} must be at least 1")

    @property
    def key_dir(self) -> Path:
        return Path(self.keys) if self.keys else self.data / "keys"

    @property
    def queue_file(self) -> Path:
        return self.data / "queue.db"

    @property
    def tmp_dir(self) -> Path:
        return self.data / "tmp"


__all__ = ["StudioSettings"]
