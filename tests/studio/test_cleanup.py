"""Orphaned files (a failed or superseded attempt's outputs, a half-written temp file) are removed; referenced ones never."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from server_kit import make_kit
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.studio.cleanup import collect_garbage, referenced
from prodgen.studio.db import Asset


@pytest.fixture
def kit(runs, tmp_path):
    return make_kit(runs, tmp_path / "data")


def _age(path, hours: float) -> None:
    t = time.time() - hours * 3600
    os.utime(path, (t, t))


def test_gc_removes_only_unreferenced_old_files(kit):
    r = kit.client.post("/api/jobs", headers=kit.h("editor"), json={"kind": "generate", "model": "gan", "n": 2})
    kit.drain()
    outputs = kit.job(r.json()["id"])["outputs"]
    assert len(outputs) == 2
    for a in outputs:
        assert kit.client.post("/api/review", headers=kit.h("reviewer"),
                               json={"asset_ids": [a], "decision": "approve"}).status_code == 200
    ex = kit.client.post("/api/exports", headers=kit.h("reviewer"), json={"profile": "generic"})
    assert ex.status_code in (200, 201), ex.text
    st = kit.st
    with st.db.read() as s:
        assets = s.query(Asset).all()
        nearest = [n["sha256"] for a in assets for n in (a.meta or {}).get("nearest", [])]
    keep = referenced(st.db)
    assert {a.sha256 for a in assets} <= keep and set(nearest) <= keep and len(nearest) >= 2
    kept_files = [p for p in st.storage.root.glob("*/*")]
    # what a killed attempt leaves behind: an image with no row, a half-written temp file, a fill job's tmp folder
    orphan = st.storage.path(st.storage.put(b"\x89PNG orphan of a superseded attempt", "image/png"), "image/png")
    half = orphan.parent / ".x.png.abc.tmp"
    half.write_bytes(b"half")
    tmp_job = st.settings.tmp_dir / "job-1"
    tmp_job.mkdir(parents=True)
    (tmp_job / "catalog.csv").write_text("id\n1\n")
    young = st.storage.path(st.storage.put(b"a running job's output, no row yet", "image/png"), "image/png")
    for p in [*kept_files, orphan, half, tmp_job]:
        _age(p, 5)  # everything old but `young`

    dry = collect_garbage(st.db, st.storage, st.settings.tmp_dir, dry_run=True)
    assert sorted(dry.removed) == sorted([orphan, half, tmp_job]) and orphan.exists() and tmp_job.exists()
    report = collect_garbage(st.db, st.storage, st.settings.tmp_dir)
    assert sorted(report.removed) == sorted([orphan, half, tmp_job])
    assert not orphan.exists() and not half.exists() and not tmp_job.exists()
    assert young.exists() and report.young == 1
    assert all(p.exists() for p in kept_files) and report.kept == len(kept_files)
    for a in outputs:  # every asset still served
        assert kit.client.get(f"/api/assets/{a}/image", headers=kit.h("viewer")).status_code == 200
    # the grace period is what protects `young`: with none, it goes too
    assert collect_garbage(st.db, st.storage, st.settings.tmp_dir, grace=dt.timedelta(0)).removed == [young]


def test_serve_gc_command(kit):
    st = kit.st
    orphan = st.storage.path(st.storage.put(b"orphan", "image/png"), "image/png")
    _age(orphan, 2)
    runner = CliRunner()
    out = runner.invoke(app, ["serve", "gc", "--data", str(st.settings.data), "--dry-run"])
    assert out.exit_code == 0 and "would remove 1 unreferenced file(s)" in out.output and orphan.exists(), out.output
    out = runner.invoke(app, ["serve", "gc", "--data", str(st.settings.data)])
    assert out.exit_code == 0 and "removed 1 unreferenced file(s)" in out.output and not orphan.exists(), out.output
    bad = runner.invoke(app, ["serve", "gc", "--data", str(st.settings.data / "nope")])
    assert bad.exit_code != 0 and "holds no studio database" in str(bad.exception)
