"""bench/machine.py: the background jobs a results file says it shared the machine with."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from machine import other_jobs  # noqa: E402


def _listed(marker: str) -> bool:
    return any(marker in job for job in other_jobs())


def test_a_running_job_counts_and_a_stopped_one_does_not():
    marker = f"prodgen-machine-probe-{os.getpid()}"  # "prodgen" and "python" in its command line, as a training's
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    try:
        deadline = time.monotonic() + 10
        while not _listed(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _listed(marker)
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while _listed(marker) and time.monotonic() < deadline:  # the state reads T once the signal is taken
            time.sleep(0.05)
        assert not _listed(marker)
        os.kill(child.pid, signal.SIGCONT)
        deadline = time.monotonic() + 10
        while not _listed(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _listed(marker)
    finally:
        child.kill()
        child.wait()
