"""Faults: a worker killed mid-job, a restarted server, a full disk, an old database, concurrent submissions."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from server_kit import make_kit
from sqlalchemy import select, text

from prodgen.studio.db import MIGRATIONS, Asset, AuditEntry, Database, Job, check_schema, make_engine, migrate, utcnow

HERE = Path(__file__).parent


@pytest.fixture
def kit(runs, tmp_path):
    return make_kit(runs, tmp_path / "data")


def _job_row(kit, job_id) -> Job:
    with kit.st.db.read() as s:
        return s.get(Job, job_id)


def _wait(cond, timeout: float, what: str, every: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # huey's graceful stop
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_kill_9_of_a_worker_mid_job_requeues_it_and_it_finishes_exactly_once(kit, runs, tmp_path):
    log = tmp_path / "consumer.log"
    cmd = [sys.executable, str(HERE / "slow_worker.py"), "--runs", str(runs), "--data", str(kit.settings.data),
           "--workers", "1", "--health-check", "1"]
    with open(log, "wb") as fh:
        consumer = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        job_id = kit.generate(8, seed=100)
        first = _wait(lambda: (j := _job_row(kit, job_id)).status == "running" and j.progress >= 0.25 and j,
                      120, f"the job to be a quarter done\n{log.read_text()[-3000:]}")
        assert first.attempts == 1 and first.progress < 1
        os.kill(first.worker_pid, signal.SIGKILL)
        done = _wait(lambda: (j := _job_row(kit, job_id)).status in ("done", "failed") and j, 120,
                     f"the requeued job to finish\n{log.read_text()[-3000:]}")
        assert done.status == "done" and done.attempts == 2, log.read_text()[-3000:]
        with kit.st.db.read() as s:
            assets = list(s.scalars(select(Asset).where(Asset.job_id == job_id).order_by(Asset.position)))
            requeues = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "job.requeue")))
        assert [a.position for a in assets] == list(range(8))  # each image once: no duplicates from the killed attempt
        assert [a.meta["seed"] for a in assets] == list(range(100, 108))
        assert len(requeues) == 1 and requeues[0].detail["worker_pid"] == first.worker_pid
        assert kit.job(job_id)["outputs"] == [a.id for a in assets]
        assert "Worker 1 died" in log.read_text()  # huey replaced the process; that replacement requeued the job
    finally:
        _stop(consumer)
    assert consumer.returncode is not None


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_restart_keeps_jobs_reviews_and_tokens_and_requeues_orphans(kit):
    from fastapi.testclient import TestClient

    from prodgen.studio.app import create_app
    from prodgen.studio.queue import HOST

    job_id = kit.generate(2)
    kit.drain()
    a, b = kit.job(job_id)["outputs"]
    kit.client.post("/api/review", headers=kit.h("reviewer"), json={"asset_ids": [a], "decision": "approve"})
    kit.client.post("/api/review", headers=kit.h("reviewer"), json={"asset_ids": [b], "decision": "reject", "reason": "smudge"})
    waiting = kit.generate(1)
    orphan = kit.generate(1)
    kit.st.huey.flush()  # the server stops: huey's messages are gone with it; the database keeps the truth
    with kit.st.db.write() as s:  # a worker died holding this job
        j = s.get(Job, orphan)
        j.status, j.attempts, j.worker_pid, j.worker_host, j.heartbeat_at = "running", 1, _dead_pid(), HOST, utcnow()
    kit.st.db.close()

    app2 = create_app(kit.settings)  # the restart
    c2 = TestClient(app2)
    h = kit.h("viewer")
    assert c2.get("/api/me", headers=kit.h("admin")).json()["name"] == "admin-user"  # tokens intact
    assert {x["id"] for x in c2.get("/api/jobs", headers=h).json()} == {job_id, waiting, orphan}
    assert c2.get(f"/api/assets/{a}", headers=h).json()["review"] == "approved"
    rej = c2.get(f"/api/assets/{b}", headers=h).json()
    assert rej["review"] == "rejected" and rej["reason"] == "smudge"
    assert c2.get(f"/api/jobs/{orphan}", headers=h).json()["status"] == "queued"  # requeued at start
    st2 = app2.state.studio
    ran = 0
    while (task := st2.huey.dequeue()) is not None:
        st2.huey.execute(task)
        ran += 1
    assert ran == 2  # the waiting job and the orphan, each enqueued once
    for jid, attempts in ((waiting, 1), (orphan, 2)):
        got = c2.get(f"/api/jobs/{jid}", headers=h).json()
        assert got["status"] == "done" and got["attempts"] == attempts and len(got["outputs"]) == 1


def test_a_full_disk_fails_the_job_with_a_message_and_keeps_the_database_consistent(kit, monkeypatch):
    from prodgen.atomic import atomic_open
    from prodgen.studio import storage

    calls = {"n": 0}
    real = storage.write_bytes

    def fill_up(path, data, private=False):
        calls["n"] += 1
        if calls["n"] < 2:
            return real(path, data, private)
        with atomic_open(path, "wb") as fh:  # half the file reaches the disk, then it is full
            fh.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "write_bytes", fill_up)
    job_id = kit.generate(4)
    kit.drain()
    j = kit.job(job_id)
    assert j["status"] == "failed" and "disk is full" in j["error"] and "Free space" in j["error"]
    assert j["outputs"] == [] and j["progress"] < 1
    with kit.st.db.read() as s:
        assert s.query(Asset).filter(Asset.job_id == job_id).count() == 0
        assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert s.execute(text("PRAGMA foreign_key_check")).first() is None
    files = [p for p in (kit.settings.data / "files").rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".tmp")]  # the half-written file was removed
    assert len(files) == 1  # only the image stored before the disk filled up (unreferenced, harmless)
    monkeypatch.setattr(storage, "write_bytes", real)  # space freed: the same request now works
    again = kit.generate(4)
    kit.drain()
    assert kit.job(again)["status"] == "done" and len(kit.job(again)["outputs"]) == 4


def test_an_old_database_is_migrated_and_keeps_its_rows(tmp_path):
    from prodgen.studio.auth import hash_secret, token_principal

    path = tmp_path / "studio.db"
    engine = make_engine(path)
    assert migrate(engine, MIGRATIONS[:1]) == (0, 1)  # a studio database as version 1 wrote it
    with engine.begin() as c:
        c.exec_driver_sql("INSERT INTO tokens (name, role, secret_hash, created_at, created_by) VALUES "
                          "('ana', 'reviewer', ?, '2026-01-01 00:00:00', 'cli')", (hash_secret("pgt_old-token-123456789"),))
        c.exec_driver_sql("INSERT INTO jobs (id, kind, status, progress, request, created_by, created_at, attempts, "
                          "cancel_requested, notes) VALUES ('j1', 'generate', 'done', 1.0, '{}', 'ana', "
                          "'2026-01-01 00:00:00', 1, 0, '[]')")
        cols = {r[1] for r in c.exec_driver_sql("PRAGMA table_info('tokens')")}
    assert "last_used_at" not in cols
    engine.dispose()
    db = Database(tmp_path)  # opening it migrates
    assert db.version() == len(MIGRATIONS) == 2 and check_schema(db.engine) == []
    who = token_principal(db, "pgt_old-token-123456789")
    assert who is not None and (who.name, who.role) == ("ana", "reviewer")
    with db.read() as s:
        assert s.get(Job, "j1").status == "done"
        assert s.execute(text("SELECT last_used_at FROM tokens")).scalar() is not None  # the new column works
        assert "ix_assets_review" in {r[1] for r in s.execute(text("PRAGMA index_list('assets')"))}
    assert Database(tmp_path).version() == 2  # opening again changes nothing


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    from prodgen.errors import UserError

    Database(tmp_path).close()
    engine = make_engine(tmp_path / "studio.db")
    with engine.begin() as c:
        c.exec_driver_sql("UPDATE schema_version SET version = 99")
    engine.dispose()
    with pytest.raises(UserError, match="schema version 99, newer than this prodgen"):
        Database(tmp_path)


def test_a_fresh_database_matches_the_models_and_uses_wal(tmp_path):
    db = Database(tmp_path)
    assert check_schema(db.engine) == []
    with db.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_concurrent_submissions_never_overshoot_the_queue_limit(runs, tmp_path):
    from prodgen.studio.queue import QueueFull

    kit = make_kit(runs, tmp_path / "data", queue_limit=3)
    q, results = kit.st.queue, []
    barrier = threading.Barrier(8)

    def submit():
        barrier.wait()
        try:
            q.submit("generate", {"kind": "generate", "model": "gan", "n": 1}, "gan", "t", "editor", None)
            results.append("ok")
        except QueueFull:
            results.append("full")

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["full"] * 5 + ["ok"] * 3
    with kit.st.db.read() as s:
        assert s.query(Job).count() == 3
    assert len(kit.st.huey) == 3  # each accepted job enqueued once


def test_a_job_is_claimed_once_and_a_superseded_run_cannot_commit(kit):
    from prodgen.studio.worker import _finish, claim

    job_id = kit.generate(1)
    db = kit.st.db
    first = claim(db, job_id)
    assert first == 1 and claim(db, job_id) is None  # a duplicate message finds it taken
    with db.write() as s:  # its worker was declared dead and the job requeued
        s.get(Job, job_id).status = "queued"
    second = claim(db, job_id)
    assert second == 2
    out = [{"kind": "generated", "sha256": "0" * 64, "width": 1, "height": 1, "meta": {}, "provenance": {}, "fidelity": None}]
    assert _finish(db, job_id, first, "done", outputs=out) is False  # the old run woke up: refused
    assert _finish(db, job_id, second, "done", outputs=out) is True
    assert _finish(db, job_id, second, "done", outputs=out) is False  # and never twice
    with db.read() as s:
        assert s.query(Asset).filter(Asset.job_id == job_id).count() == 1


def test_prodgen_serve_runs_web_and_workers_and_stops_both(runs, tmp_path):
    from prodgen.studio.auth import create_token

    data = tmp_path / "data"
    db = Database(data)
    token = create_token(db, "ops", "editor", "test")[1]
    db.close()
    import socket

    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "prodgen", "serve", "--runs", str(runs), "--data", str(data),
           "--port", str(port), "--workers", "1"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None):
        req = urllib.request.Request(base + path, method=method, data=body, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            import json

            return json.loads(r.read())

    try:
        _wait(lambda: _ok(base + "/health"), 120, f"serve to answer\n{log.read_text()[-2000:]}", every=0.3)
        job = call("POST", "/api/jobs", b'{"kind": "generate", "model": "gan", "n": 2}')
        got = _wait(lambda: (j := call("GET", f"/api/jobs/{job['id']}"))["status"] in ("done", "failed") and j, 120,
                    f"the job\n{log.read_text()[-2000:]}\n{(data / 'logs' / 'workers.log').read_text()[-2000:]}")
        assert got["status"] == "done" and len(got["outputs"]) == 2
        second = subprocess.run([sys.executable, "-m", "prodgen", "serve", "--runs", str(runs), "--data", str(data),
                                 "--port", str(port + 1)], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "another `prodgen serve` is using" in second.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    workers_log = (data / "logs" / "workers.log").read_text()
    assert "Consumer exiting" in workers_log
    assert subprocess.run(["pgrep", "-f", f"prodgen.studio.worker --runs {runs} --data {data}"],
                          capture_output=True).returncode == 1  # no worker process left behind


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _worker_pids(data: Path) -> list[int]:
    """Worker processes serving ``data`` (found by command line in /proc)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"prodgen.studio.worker" in cmd and str(data).encode() in cmd:
                pids.append(int(d.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"  # a zombie has exited
    except (OSError, IndexError):
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_stopping_serve_with_a_signal_stops_its_workers_too(runs, tmp_path, sig):
    """systemd and docker stop a service with SIGTERM, a terminal with Ctrl-C (SIGINT): either way no worker is orphaned.
    A serve killed outright (SIGKILL, a crash), even while its worker is still starting: the worker notices and stops."""
    from live import serving

    data = tmp_path / "data"
    with serving(runs, data, workers=1) as url:
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            assert r.status == 200
        deadline = time.monotonic() + 60
        while not _worker_pids(data) and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _worker_pids(data)
        assert workers, "serve started no worker"
        serve_pid = next(int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and
                         b"serve" in (d / "cmdline").read_bytes() and str(data).encode() in (d / "cmdline").read_bytes()
                         and int(d.name) not in workers)
        os.kill(serve_pid, sig)
        deadline = time.monotonic() + 60
        while (_worker_pids(data) or _alive(serve_pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _worker_pids(data) == [], "a worker outlived prodgen serve"


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _consumer(runs, data: Path, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "prodgen.studio.worker", "--runs", str(runs), "--data", str(data), "--workers", "1"]
    data.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def test_a_consumer_killed_outright_leaves_no_worker_or_scheduler_behind(runs, tmp_path):
    """SIGKILL of the consumer itself (the OOM killer, serve's last resort): its forked worker and scheduler notice
    that their parent is gone and stop (huey's processes alone would poll their stop flag forever)."""
    log = tmp_path / "consumer.log"
    consumer = _consumer(runs, tmp_path / "data", log)
    try:
        kids = _wait(lambda: len(_children(consumer.pid)) >= 2 and _children(consumer.pid), 60,
                     f"the consumer's worker and scheduler\n{log.read_text()[-2000:]}")
        _wait(lambda: "requeue" in log.read_text() or "Huey consumer started" in log.read_text(), 60, "the start")
    finally:
        consumer.kill()
        consumer.wait()
    try:
        _wait(lambda: not any(_alive(k) for k in kids), 30, f"the orphaned worker and scheduler to stop\n"
              f"{log.read_text()[-2000:]}", every=0.2)
    finally:
        for k in kids:  # a failure leaves no orphans behind for the rest of the suite
            with contextlib.suppress(ProcessLookupError):
                os.kill(k, signal.SIGKILL)
    assert "the consumer (pid %d) is gone" % consumer.pid in log.read_text()


def test_a_stop_signal_while_the_consumer_forks_its_processes_still_stops_them(runs, tmp_path):
    """SIGINT at the moment the consumer has forked its first process, before huey would have installed its own
    handlers: the consumer stops its processes and exits (it used to die out of its start, then hang at exit joining
    children that never saw the stop flag)."""
    log = tmp_path / "consumer.log"
    consumer = _consumer(runs, tmp_path / "data", log)
    try:
        kids = _wait(lambda: _children(consumer.pid), 60, "the first forked process", every=0.002)
        consumer.send_signal(signal.SIGINT)
        consumer.wait(60)
    finally:
        if consumer.poll() is None:
            os.killpg(consumer.pid, signal.SIGKILL)
    assert consumer.returncode == 0, log.read_text()[-2000:]
    _wait(lambda: not any(_alive(k) for k in kids), 10, "the forked processes to exit")
