"""bench/studio_load.py's bookkeeping: percentiles and the lost / run-twice job accounting, on known data."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "studio_load.py"


@pytest.fixture(scope="module")
def load():
    spec = importlib.util.spec_from_file_location("studio_load", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_percentile_nearest_rank(load):
    v = list(range(1, 101))  # 1..100
    assert load.percentile(v, 50) == 50 and load.percentile(v, 99) == 99 and load.percentile(v, 100) == 100
    assert load.percentile([7.0], 99) == 7.0
    assert load.percentile([3, 1, 2], 50) == 2


def test_accounting_finds_lost_and_twice_run_jobs(load, tmp_path):
    con = sqlite3.connect(tmp_path / "studio.db")
    con.execute("CREATE TABLE jobs (id TEXT, status TEXT, attempts INT)")
    con.execute("CREATE TABLE assets (id TEXT, job_id TEXT)")
    jobs = {"ok": ("done", 1), "requeued": ("done", 2), "stuck": ("queued", 0), "failed": ("failed", 1),
            "extra": ("done", 1), "stray": ("done", 1)}
    con.executemany("INSERT INTO jobs VALUES (?, ?, ?)", [(k, *v) for k, v in jobs.items()])
    outputs = {"ok": 2, "requeued": 2, "extra": 3, "stray": 2, "failed": 1}
    con.executemany("INSERT INTO assets VALUES (?, ?)", [(f"{j}{i}", j) for j, n in outputs.items() for i in range(n)])
    con.commit()
    con.close()
    accepted = ["ok", "requeued", "stuck", "failed", "extra", "gone"]
    got = load.accounting(tmp_path, accepted, {i: {"status": jobs.get(i, ("?",))[0]} for i in accepted}, n_images=2)
    assert got["accepted"] == 6 and got["in_database"] == 6
    assert got["lost"] == ["gone", "stuck"]  # never finished, or not in the database at all
    assert got["run_twice"] == ["extra"]  # 3 outputs for 2 asked
    assert got["claimed_more_than_once"] == ["requeued"]
    assert got["not_accepted_but_in_database"] == 1  # "stray"
    assert got["outputs_of_unfinished"] == ["failed"]
    assert got["max_attempts"] == 2
