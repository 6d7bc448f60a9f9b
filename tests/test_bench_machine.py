"""bench/machine.py: the background jobs a results file says it shared the machine with, and the CPU it names."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from machine import cpu_model, other_jobs  # noqa: E402


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


def test_cpu_model_adds_family_and_model_where_the_name_names_no_model():
    def info(name: str) -> str:
        return f"processor\t: 0\ncpu family\t: 6\nmodel\t\t: 106\nmodel name\t: {name}\n"

    assert cpu_model(info("Intel(R) Xeon(R) Processor @ 2.80GHz")) == \
        "Intel(R) Xeon(R) Processor @ 2.80GHz (family 6, model 106)"  # its only digits are the clock
    assert cpu_model(info("AMD EPYC")) == "AMD EPYC (family 6, model 106)"
    assert cpu_model(info("Intel(R) Xeon(R) Platinum 8480+")) == "Intel(R) Xeon(R) Platinum 8480+"  # a model number
    assert cpu_model(info("AMD EPYC 9R14 96-Core Processor @ 3.7GHz")) == "AMD EPYC 9R14 96-Core Processor @ 3.7GHz"
