"""The job queue: huey's SQLite backend carries job ids to worker processes; our database holds the truth.

- ``make_huey(settings)``: a ``SqliteHuey`` in ``<data>/queue.db`` with one task, ``run_job(job_id)``. The web
  process enqueues, huey's consumer (``worker.run_consumer``, worker processes) dequeues. For more machines,
  huey's Redis backend carries the same task; the database would then move to a server (SQLAlchemy URL).
- Bounded: ``submit`` counts the queued jobs and inserts the new one in a single ``BEGIN IMMEDIATE``
  transaction, so concurrent requests cannot overshoot ``queue_limit``; a full queue raises ``QueueFull``
  (the API answers 429 with ``Retry-After``), never a crash or a silent drop.
- The job row is committed before its id is enqueued; a job whose message was lost (a crash in between, a
  worker killed after dequeuing it) is found again by ``recover`` / ``requeue_orphans``: a ``running`` job
  whose worker process is gone (same machine) or whose heartbeat is stale is put back to ``queued`` (one
  guarded UPDATE: only one process can requeue it) and enqueued again. A job is claimed by exactly one worker
  (``worker.claim``), so a duplicate message is harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from pathlib import Path

from huey import SqliteHuey
from sqlalchemy import func, select, update

from .db import Database, Job, audit, utcnow
from .settings import StudioSettings

log = logging.getLogger("prodgen.studio")
TASK_NAME = "run_job"  # huey prefixes the module: prodgen.studio.queue.run_job
HOST = socket.gethostname()


class QueueFull(Exception):
    def __init__(self, waiting: int, limit: int, retry_after: int) -> None:
        super().__init__(f"the queue is full ({waiting} jobs waiting, limit {limit}); try again in {retry_after} s")
        self.retry_after = retry_after


def make_huey(settings: StudioSettings) -> SqliteHuey:
    """The huey instance of this process, with the ``run_job`` task bound to ``settings``."""
    settings.data.mkdir(parents=True, exist_ok=True)
    huey = SqliteHuey(name="prodgen-studio", filename=str(settings.queue_file), results=False, timeout=30, utc=True)

    @huey.task(name=TASK_NAME, retries=0)
    def run_job(job_id: str) -> None:
        from .worker import execute

        execute(settings, job_id)

    huey.run_job = run_job  # type: ignore[attr-defined]
    return huey


def waiting(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Job).where(Job.status == "queued")) or 0


class JobQueue:
    def __init__(self, settings: StudioSettings, db: Database, huey: SqliteHuey) -> None:
        self.settings, self.db, self.huey = settings, db, huey

    def submit(self, kind: str, request: dict, model: str | None, actor: str, role: str, token_id: int | None) -> Job:
        """Insert a queued job (or raise QueueFull) and hand its id to huey."""
        with self.db.write() as s:
            n = waiting(s)
            if n >= self.settings.queue_limit:
                raise QueueFull(n, self.settings.queue_limit, self.settings.retry_after_s)
            job = Job(kind=kind, status="queued", request=request, model=model, created_by=actor, created_by_token=token_id,
                      created_at=utcnow(), progress=0.0, attempts=0, cancel_requested=False, notes=[])
            s.add(job)
            s.flush()
            audit(s, actor, role, "job.request", f"job:{job.id}", kind=kind, model=model)
        self.enqueue(job.id)
        return job

    def enqueue(self, job_id: str) -> None:
        self.huey.run_job(job_id)

    def cancel(self, job_id: str, actor: str, role: str) -> str | None:
        """Cancel a job: a queued one at once, a running one at its next image (the worker checks). Returns its status."""
        with self.db.write() as s:
            job = s.get(Job, job_id)
            if job is None:
                return None
            if job.status == "queued":
                job.status, job.finished_at, job.error = "cancelled", utcnow(), None
            elif job.status == "running":
                job.cancel_requested = True
            else:
                return job.status  # finished jobs stay as they are
            audit(s, actor, role, "job.cancel", f"job:{job.id}", was=job.status)
            return job.status

    def requeue_orphans(self) -> list[str]:
        return requeue_orphans(self.db, self.huey, self.settings.stale_after_s)

    def recover(self) -> list[str]:
        """At ``serve`` start: requeue orphans, then make huey's queue hold exactly the queued jobs, oldest first."""
        orphans = requeue_orphans(self.db, None, self.settings.stale_after_s)
        self.huey.flush()
        with self.db.read() as s:
            ids = list(s.scalars(select(Job.id).where(Job.status == "queued").order_by(Job.created_at)))
        for job_id in ids:
            self.enqueue(job_id)
        if orphans:
            log.warning("requeued %d job(s) left running by a stopped worker: %s", len(orphans), ", ".join(orphans))
        return ids


def process_alive(pid: int | None) -> bool:
    """A live process (not a zombie) with this pid on this machine."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def requeue_orphans(db: Database, huey: SqliteHuey | None, stale_after_s: float) -> list[str]:
    """Put ``running`` jobs whose worker is gone back to ``queued`` (and enqueue them when ``huey`` is given)."""
    stale = utcnow() - dt.timedelta(seconds=stale_after_s)
    with db.read() as s:
        running = list(s.execute(select(Job.id, Job.worker_pid, Job.worker_host, Job.heartbeat_at, Job.attempts)
                                 .where(Job.status == "running")))
    orphans = []
    for job_id, pid, host, beat, attempts in running:
        gone = (host == HOST and not process_alive(pid)) or beat is None or beat < stale
        if not gone:
            continue
        with db.write() as s:  # guarded: only the process that sees it still running with that claim requeues it
            res = s.execute(update(Job).where(Job.id == job_id, Job.status == "running", Job.attempts == attempts)
                            .values(status="queued", worker_pid=None, worker_host=None, progress=0.0))
            if res.rowcount == 1:
                audit(s, "studio", "system", "job.requeue", f"job:{job_id}", worker_pid=pid, attempt=attempts)
                orphans.append(job_id)
    if huey is not None:
        for job_id in orphans:
            huey.run_job(job_id)
        if orphans:
            log.warning("requeued %d job(s) left by a dead worker: %s", len(orphans), ", ".join(orphans))
    return orphans


__all__ = ["HOST", "JobQueue", "QueueFull", "TASK_NAME", "make_huey", "process_alive", "requeue_orphans", "waiting"]
