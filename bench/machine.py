"""The machine description every results file carries (imported by the bench scripts).

    from machine import machine_info, command_line
    result = {"command": command_line(), "machine": machine_info(note), ...}

``machine_info`` records the CPU model (/proc/cpuinfo), cores, torch version and
threads, Python, the date, the load average when the benchmark started and how
many other prodgen / pytest processes were running, so a figure measured on a
shared machine says so.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

# The bench tables were measured in fp32; `--precision auto` means bf16 for the GAN on a CPU with AMX. A script that
# measures another precision asks for it by name (--precision bf16), which this does not change.
os.environ.setdefault("PRODGEN_AUTO_PRECISION", "fp32")


def cpu_model(cpuinfo: str | None = None) -> str:
    """cpuinfo's model name; where it names no model (a cloud's "AMD EPYC", or "Intel(R) Xeon(R) Processor @
    2.80GHz", whose only digits are its clock), its family and model numbers too, so that results of two generations
    (session 25's Zen 5, family 26; session 26's Zen 4, family 25; session 33's Ice Lake, family 6 model 106) stay
    apart. ``cpuinfo``: the text of /proc/cpuinfo (read when None)."""
    try:
        info = {}
        text = Path("/proc/cpuinfo").read_text() if cpuinfo is None else cpuinfo
        for line in text.splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
        name = info.get("model name")
        if name:
            bare = re.sub(r"@\s*[\d.]+\s*[GM]Hz", "", name)  # a clock names no model
            if not any(ch.isdigit() for ch in bare) and info.get("cpu family"):
                name += f" (family {info['cpu family']}, model {info.get('model', '?')})"
            return name
    except OSError:
        pass
    return platform.processor() or platform.machine()


def other_jobs() -> list[str]:
    """Other running prodgen / pytest processes, one per job (their worker children are not counted); a stopped one
    (state T, e.g. a long training paused with SIGSTOP while a benchmark runs) takes no CPU and is not counted. Read
    from /proc, nothing is touched."""
    me = {os.getpid(), os.getppid()}
    found: dict[int, tuple[int, str]] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            pid = int(d.name)
            argv = (d / "cmdline").read_bytes().split(b"\0")
            state, ppid = (d / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            ppid = int(ppid)
        except (OSError, ValueError, IndexError):
            continue
        if state in ("T", "t"):  # stopped (SIGSTOP) or traced: not competing for the cores
            continue
        cmd = " ".join(a.decode(errors="replace") for a in argv if a)
        if pid not in me and ("prodgen" in cmd or "pytest" in cmd) and "python" in cmd and "bench/" not in cmd:
            found[pid] = (ppid, cmd[:160])
    return [cmd for pid, (ppid, cmd) in sorted(found.items()) if ppid not in found]


def machine_info(note: str | None = None) -> dict:
    import torch

    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    jobs = other_jobs()
    cores = os.cpu_count()
    if note is None:
        note = (f"{cores} cores shared with {len(jobs)} background job(s) (training / tests)" if jobs
                else f"idle {cores}-core machine")
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_1min_at_start": None if load1 is None else round(load1, 2),
        "background_jobs": len(jobs),
        "note": note,
    }


def machine_line(m: dict | str) -> str:
    """One line for a markdown results file."""
    if isinstance(m, str):
        return m
    return (f"{m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads), "
            f"Python {m['python']}, {m['date']}; {m['note']}")


def command_line() -> str:
    """The command that is running, as typed from the repository root."""
    root = os.path.abspath(Path(__file__).parent.parent)
    exe, script = os.path.abspath(sys.executable), os.path.abspath(sys.argv[0])
    exe = os.path.relpath(exe, root) if exe.startswith(root + os.sep) else exe
    script = os.path.relpath(script, root) if script.startswith(root + os.sep) else script
    return " ".join([exe, script, *map(shlex.quote, sys.argv[1:])])
