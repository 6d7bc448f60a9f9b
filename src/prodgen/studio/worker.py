"""Running jobs in worker processes: claim, heartbeat, progress, cancel, outputs committed once.

``execute(settings, job_id)`` is what huey's task calls in a worker process:

1. **claim**: ``UPDATE jobs SET status='running', attempts=attempts+1 ... WHERE id=? AND status='queued'``; a
   job that is not queued (cancelled, done, claimed by another worker, a duplicate message) is skipped. The
   attempt number is the claim's fence: every later write of this run is guarded by it.
2. **run** the job's kind (``kinds.py``); a heartbeat thread stamps ``heartbeat_at``; between images the
   run writes its progress and stops when a cancel was asked for.
3. **commit**: the output files are already in the content-addressed store (each written atomically);
   the asset rows and ``status='done'`` go in one transaction guarded by (status, attempt). A worker killed
   before that commit leaves no asset rows (its files are unreferenced), its job is requeued
   (``queue.requeue_orphans``) and the next attempt produces the outputs once.

Failures end the job ``failed`` with a message that names the problem (a full disk says so); cancelled
jobs keep no outputs. Models are loaded once per worker process (``model_cache``, keyed by the run
folder and its files' mtimes, so a retrained run is reloaded).

``run_consumer(settings)``: huey's ``Consumer`` with ``worker_type="process"`` (``--workers N``
processes forked from one consumer process, itself started by ``prodgen serve`` apart from uvicorn).
Each worker process, when it starts (and when huey replaces one that died), requeues the jobs orphaned
by dead workers.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import threading
import time
from collections import OrderedDict
from pathlib import Path

from sqlalchemy import update

from ..errors import UserError
from .db import Asset, Database, Job, utcnow
from .queue import HOST, make_huey, requeue_orphans
from .settings import StudioSettings
from .storage import Storage

log = logging.getLogger("prodgen.studio.worker")
MODEL_CACHE_SIZE = 2


class Cancelled(Exception):
    pass


class Superseded(Exception):
    """This run lost its claim (the job was requeued to another worker): stop without writing anything."""


class _Process:
    """Per-process state: database, storage, signing keys, models. Rebuilt after a fork (keyed by pid)."""

    def __init__(self, settings: StudioSettings) -> None:
        self.settings = settings
        self.db = Database(settings.data)
        self.storage = Storage(settings.data)
        self.models: OrderedDict[tuple, object] = OrderedDict()
        self._keys = None

    def keys(self):
        if self._keys is None:
            try:
                from ..provenance import ensure_keys
            except ImportError:  # provenance not installed in this tree yet
                return None
            self._keys = ensure_keys(self.settings.key_dir)
        return self._keys


_procs: dict[tuple[int, str], _Process] = {}


def process_state(settings: StudioSettings) -> _Process:
    key = (os.getpid(), str(settings.data))
    if key not in _procs:
        _procs.clear()  # a forked child drops its parent's state
        _procs[key] = _Process(settings)
    return _procs[key]


RESTORER_FILES = ("config.json", "restore.safetensors")
GENERATOR_FILES = ("config.json", "vocab.json", "model.safetensors", "ema.safetensors")


def model_cache(proc: _Process, run_dir: Path, restorer: bool = False):
    """The run's Pipeline (or restoration network), loaded once per process (reloaded when its files change)."""
    stamp = tuple((run_dir / n).stat().st_mtime_ns if (run_dir / n).exists() else None
                  for n in (RESTORER_FILES if restorer else GENERATOR_FILES))
    key = (str(run_dir.resolve()), stamp)
    if key in proc.models:
        proc.models.move_to_end(key)
        return proc.models[key]
    if restorer:
        from ..apps.restore import load_restorer
        from ..device import resolve_device

        pipe = load_restorer(run_dir, device=resolve_device(proc.settings.device))
    else:
        from ..sample import Pipeline

        pipe = Pipeline.from_pretrained(run_dir, device=proc.settings.device)
    proc.models[key] = pipe
    while len(proc.models) > MODEL_CACHE_SIZE:
        proc.models.popitem(last=False)
    return pipe


# -- claim, progress, finish: every write after the claim is fenced by (status='running', attempts=attempt) ----------
def claim(db: Database, job_id: str) -> int | None:
    with db.write() as s:
        job = s.get(Job, job_id)
        if job is None or job.status != "queued":
            return None
        if job.cancel_requested:  # cancelled while running on a worker that then died: it stays cancelled
            job.status, job.finished_at = "cancelled", utcnow()
            return None
        attempt = job.attempts + 1
        now = utcnow()
        res = s.execute(update(Job).where(Job.id == job_id, Job.status == "queued").values(
            status="running", attempts=attempt, worker_pid=os.getpid(), worker_host=HOST, started_at=now, heartbeat_at=now,
            progress=0.0, error=None))
        return attempt if res.rowcount == 1 else None


def _fenced(job_id: str, attempt: int):
    return update(Job).where(Job.id == job_id, Job.status == "running", Job.attempts == attempt)


class JobRun:
    """What a job kind sees: the request, models, the store, and ``step`` for progress + cancel."""

    def __init__(self, proc: _Process, job: Job, attempt: int) -> None:
        self.proc, self.settings, self.job, self.attempt = proc, proc.settings, job, attempt
        self.db, self.storage = proc.db, proc.storage
        self.outputs: list[dict] = []
        self.notes: list[str] = []

    def step(self, done: int, total: int) -> None:
        """Record progress and stop here if a cancel was asked for (called between images)."""
        with self.db.write() as s:
            job = s.get(Job, self.job.id)
            if job is None or job.status != "running" or job.attempts != self.attempt:
                raise Superseded
            job.progress = round(done / max(total, 1), 4)
            job.heartbeat_at = utcnow()
            cancel = job.cancel_requested
        if cancel:
            raise Cancelled

    def pipeline(self, model_id: str):
        from .models import run_path

        return model_cache(self.proc, run_path(self.settings.runs, model_id))

    def restorer(self, model_id: str):
        """The restoration network of run ``model_id`` (checked again here: the folder may have gone since the request)."""
        from .models import choose_restorer

        return model_cache(self.proc, self.settings.runs / choose_restorer(self.settings.runs, model_id, self.job.request
                                                                          ["params"]["task"]), restorer=True)

    def add_output(self, data: bytes, kind: str, width: int, height: int, meta: dict, provenance: dict,
                   fidelity: dict | None) -> str:
        sha = self.storage.put(data, "image/png")
        self.outputs.append({"kind": kind, "sha256": sha, "width": width, "height": height, "meta": meta,
                             "provenance": provenance, "fidelity": fidelity})
        return sha


class _Heartbeat:
    def __init__(self, db: Database, job_id: str, attempt: int, every: float) -> None:
        self.db, self.job_id, self.attempt, self.every = db, job_id, attempt, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            with contextlib.suppress(Exception):  # a missed beat is harmless; the next one retries
                with self.db.write() as s:
                    s.execute(_fenced(self.job_id, self.attempt).values(heartbeat_at=utcnow()))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def _finish(db: Database, job_id: str, attempt: int, status: str, error: str | None = None,
            outputs: list[dict] | None = None, notes: list[str] | None = None, created_by: str = "") -> bool:
    """The one transaction that ends a run: status (+ asset rows when done), only if this run still holds the claim."""
    with db.write() as s:
        values = {"status": status, "finished_at": utcnow(), "error": error, "worker_pid": None}
        if status == "done":
            values["progress"] = 1.0
        if notes:
            values["notes"] = notes
        res = s.execute(_fenced(job_id, attempt).values(**values))
        if res.rowcount != 1:
            return False
        for k, o in enumerate(outputs or []):
            s.add(Asset(kind=o["kind"], job_id=job_id, position=k, sha256=o["sha256"], media_type="image/png",
                        width=o["width"], height=o["height"], review="pending", provenance=o["provenance"],
                        fidelity=o["fidelity"], meta=o["meta"], created_by=created_by, created_at=utcnow()))
    return True


def describe_error(e: BaseException) -> str:
    if isinstance(e, UserError):
        return str(e)
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return ("the disk is full: the job's images could not be written (nothing of it was kept). Free space on the "
                "studio's disk, then request the job again.")
    if isinstance(e, MemoryError):
        return "the worker ran out of memory; ask for fewer or smaller images, or run fewer workers"
    return f"internal error ({type(e).__name__}: {str(e)[:300]}); the worker's log has the details"


def execute(settings: StudioSettings, job_id: str) -> str:
    """Run one job in this process; returns its final status (or 'skipped' / 'superseded')."""
    from . import kinds

    proc = process_state(settings)
    attempt = claim(proc.db, job_id)
    if attempt is None:
        return "skipped"
    with proc.db.read() as s:
        job = s.get(Job, job_id)
    run = JobRun(proc, job, attempt)
    log.info("job %s (%s) started, attempt %d, pid %d", job_id, job.kind, attempt, os.getpid())
    t0 = time.monotonic()
    try:
        with _Heartbeat(proc.db, job_id, attempt, settings.heartbeat_s):
            kinds.run(run)
    except Superseded:
        log.warning("job %s: claim lost (requeued elsewhere); this run's work is dropped", job_id)
        return "superseded"
    except Cancelled:
        _finish(proc.db, job_id, attempt, "cancelled", notes=run.notes)
        log.info("job %s cancelled", job_id)
        return "cancelled"
    except KeyboardInterrupt:  # the consumer is shutting down: give the job back for the next start
        with proc.db.write() as s:
            s.execute(_fenced(job_id, attempt).values(status="queued", worker_pid=None, progress=0.0))
        raise
    except Exception as e:  # noqa: BLE001  (every failure ends the job with a message)
        if not isinstance(e, UserError | OSError):
            log.exception("job %s failed", job_id)
        else:
            log.warning("job %s failed: %s", job_id, e)
        try:
            _finish(proc.db, job_id, attempt, "failed", describe_error(e), notes=run.notes)
        except Exception:  # noqa: BLE001  (e.g. the database's disk is full too: the job is requeued at the next start)
            log.exception("job %s: could not record its failure", job_id)
        return "failed"
    if not _finish(proc.db, job_id, attempt, "done", outputs=run.outputs, notes=run.notes, created_by=job.created_by):
        log.warning("job %s: claim lost before commit; outputs dropped", job_id)
        return "superseded"
    log.info("job %s done: %d output(s) in %.1f s", job_id, len(run.outputs), time.monotonic() - t0)
    return "done"


# -- the consumer: huey's, with worker processes --------------------------------------------------------------------
def worker_started(settings: StudioSettings) -> list[str]:
    """In a (re)started worker process: requeue jobs whose worker died (huey replaced it with this one)."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, settings.workers)))
    proc = process_state(settings)
    return requeue_orphans(proc.db, make_huey(settings), settings.stale_after_s)


def stop_when_orphaned(stop_flag, consumer: int, every: float = 1.0) -> threading.Thread:
    """In a forked worker or scheduler process: set huey's stop flag (this process then exits after its current task)
    when ``consumer``, the process that forked it, is gone (killed outright: nothing else would tell it to stop)."""

    def watch():
        while os.getppid() == consumer:
            time.sleep(every)
        log.warning("the consumer (pid %d) is gone: this process stops after its current job", consumer)
        stop_flag.set()

    t = threading.Thread(target=watch, daemon=True, name="watch-consumer")
    t.start()
    return t


def run_consumer(settings: StudioSettings, parent: int | None = None) -> None:
    """Run huey's consumer with ``settings.workers`` worker processes until SIGINT/SIGTERM, or until process
    ``parent`` (``prodgen serve``, by default the process that started this one) is gone."""
    from huey.consumer import Consumer, Scheduler, Worker

    huey = make_huey(settings)
    consumer_pid = os.getpid()

    class StudioWorker(Worker):
        def initialize(self):
            stop_when_orphaned(self.stop_flag, consumer_pid)
            super().initialize()
            try:
                worker_started(settings)
            except Exception:  # noqa: BLE001  (the worker still runs jobs; the next start retries)
                log.exception("requeueing orphaned jobs failed")

    class StudioScheduler(Scheduler):
        def initialize(self):
            stop_when_orphaned(self.stop_flag, consumer_pid)
            super().initialize()

    class StudioConsumer(Consumer):
        worker_class = StudioWorker
        scheduler_class = StudioScheduler

    consumer = StudioConsumer(huey, workers=max(1, settings.workers), worker_type="process", periodic=False,
                              health_check_interval=settings.health_check_s, initial_delay=0.05, max_delay=1.0,
                              backoff=1.5)
    # huey installs its SIGINT/SIGTERM handlers only after forking its processes; a signal before that (serve stopping
    # or gone while this one starts) would raise KeyboardInterrupt out of the start, and the interpreter's exit would
    # then wait forever for children that never saw the stop flag. Its handlers from here on: a stop is always huey's.
    # (A private method of huey 3.5, pinned in requirements.lock; a huey without it keeps its own order.)
    install_handlers = getattr(consumer, "_set_signal_handlers", None)
    if install_handlers is not None:
        install_handlers()
    parent = os.getppid() if parent is None else parent

    def watch_parent():  # the web process died without stopping us: stop gracefully (running jobs finish)
        while True:
            if os.getppid() != parent:  # re-parented: serve has exited (perhaps before this process even started)
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(1.0)

    threading.Thread(target=watch_parent, daemon=True, name="watch-parent").start()
    consumer.run()


def main(argv: list[str] | None = None) -> None:
    """``python -m prodgen.studio.worker --runs R --data D --workers N`` (what ``prodgen serve`` starts)."""
    import argparse

    p = argparse.ArgumentParser(prog="prodgen-studio-worker")
    p.add_argument("--runs", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--health-check", type=int, default=2)
    p.add_argument("--stale-after", type=float, default=120.0)
    p.add_argument("--keys", default=None)
    p.add_argument("--parent-pid", type=int, default=None, help="stop when this process (prodgen serve) is gone")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(name)s %(levelname)s: %(message)s")
    from .auth import install_log_redaction

    install_log_redaction()
    settings = StudioSettings(runs=Path(a.runs), data=Path(a.data), workers=a.workers, device=a.device,
                              health_check_s=a.health_check, stale_after_s=a.stale_after,
                              keys=Path(a.keys) if a.keys else None)
    run_consumer(settings, a.parent_pid)


if __name__ == "__main__":
    main()
