"""The studio's fault tests, run and recorded for the README: kill -9 of a worker mid-job, server restart, full disk,
old and newer databases, concurrent submissions at the queue limit, a superseded run, SIGTERM/SIGINT to serve,
orphaned files.

    python bench/studio_faults.py        # writes bench/results/studio_faults.json (+ .md)

Runs ``tests/studio/test_faults.py`` and ``tests/studio/test_cleanup.py`` with pytest (the same assertions as
``make test``) and records each test's outcome and time, with the command and the machine. Exits 1 if any failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from machine import command_line, machine_info  # noqa: E402

FILES = ["tests/studio/test_faults.py", "tests/studio/test_cleanup.py"]


def readable(name: str) -> str:
    """test_kill_9_of_a_worker_mid_job[15] -> 'kill -9 of a worker mid job (SIGTERM)'."""
    base, _, param = name.partition("[")
    text = base.removeprefix("test_").replace("_", " ").replace("kill 9", "kill -9").replace("sigterm", "SIGTERM")
    param = param.rstrip("]")
    names = {"15": "SIGTERM", "2": "SIGINT", "9": "SIGKILL"}
    return f"{text} ({names.get(param, param)})" if param else text


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", *FILES],
                              cwd=ROOT, capture_output=True, text=True)
        tree = ET.parse(xml)
    rows = []
    for case in tree.iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
        rows.append({"test": case.get("name"), "file": case.get("classname"), "what": readable(case.get("name")),
                     "outcome": outcome, "seconds": round(float(case.get("time", 0)), 2)})
    res = {"command": command_line(), "machine": machine_info(), "tests": rows,
           "passed": sum(r["outcome"] == "passed" for r in rows), "total": len(rows)}
    out = HERE / "results" / "studio_faults.json"
    out.write_text(json.dumps(res, indent=2) + "\n")
    md = ["| fault | result | seconds |", "|---|---|---|"]
    md += [f"| {r['what']} | {r['outcome']} | {r['seconds']:.1f} |" for r in rows]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"{res['passed']}/{res['total']} passed; {out}")
    if proc.returncode != 0:
        print(proc.stdout[-3000:])
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
