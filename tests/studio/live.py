"""A real studio for end-to-end tests: a tiny trained run, ``prodgen serve`` in its own process, tokens.

``tiny_run(runs)`` trains a 2-step GAN on a small synthetic catalog (a few seconds) as ``runs/demo``;
``serving(runs, data, workers)`` starts ``python -m prodgen serve`` on a free loopback port and yields its
base URL, stopping it (SIGINT: workers stop gracefully) afterwards; ``make_token(data, role)`` writes a token
straight into the studio's database and returns its secret.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

def require_chromium():
    """(playwright.sync_api, Chromium path) for the browser tests; skips the calling module when either is missing."""
    import shutil

    import pytest

    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    for p in (os.environ.get("PRODGEN_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser")):
        if p and Path(p).is_file() and os.access(p, os.X_OK):
            return sync_api, p
    pytest.skip("no Chromium found (install Debian's chromium package, or set PRODGEN_CHROMIUM)", allow_module_level=True)


def until(check, timeout: float = 60.0, page=None) -> None:
    """Poll ``check()`` from Python: the studio's Content-Security-Policy forbids the eval that wait_for_function uses.
    With ``page``, wait through Playwright, so that its event handlers (which only run inside its calls) see new
    requests."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"still not true after {timeout:.0f} s")
        page.wait_for_timeout(200) if page is not None else time.sleep(0.2)


def watched_page(browser, timeout_ms: int, **context):
    """(context, page, errors): a new page whose script errors, console errors and HTTP >= 400 responses collect in
    ``errors``, for a test to assert empty at its end."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    page = ctx.new_page()
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return ctx, page, errors


def tiny_run(runs: Path, name: str = "demo") -> Path:
    """The server tests' 2-step GAN (server_kit.train_tiny), under ``runs/name``."""
    from server_kit import train_tiny

    return train_tiny(runs, name)


def make_token(data: Path, role: str, name: str | None = None) -> str:
    from prodgen.studio.auth import create_token
    from prodgen.studio.db import Database

    db = Database(data)
    try:
        return create_token(db, name or f"{role}-test", role, "test")[1]
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float | None = None) -> None:
    """Until ``/health`` answers; importing torch alone can take a minute on a busy 2-core machine."""
    timeout = timeout or float(os.environ.get("PRODGEN_SERVE_START_S", "300"))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"prodgen serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        time.sleep(0.3)
    raise RuntimeError(f"prodgen serve did not answer /health within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


@contextlib.contextmanager
def serving(runs: Path, data: Path, workers: int = 1, queue_limit: int = 50, extra: tuple[str, ...] = (),
            nice: int = 0) -> Iterator[str]:
    """``prodgen serve`` on a free loopback port; yields ``http://127.0.0.1:PORT``."""
    port = free_port()
    data.mkdir(parents=True, exist_ok=True)
    log = data / "serve.log"
    cmd = [sys.executable, "-m", "prodgen", "serve", "--runs", str(runs), "--data", str(data), "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--queue-limit", str(queue_limit), *extra]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, grace: float = 60.0) -> None:
    """SIGINT (uvicorn stops, then serve stops its workers); past ``grace`` the whole process group is killed,
    workers included (serve was started in its own session, so the group is exactly its processes)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything of it still running (a worker orphaned by a crash)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
