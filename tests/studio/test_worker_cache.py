"""Worker processes load a model once and reload it when its run is retrained; ``serve --demo`` reuses a demo run."""

from __future__ import annotations

import os
import shutil

import pytest
from typer.testing import CliRunner

from prodgen.studio.settings import StudioSettings
from prodgen.studio.worker import model_cache, process_state


def test_a_model_is_loaded_once_per_worker_and_again_after_retraining(runs, tmp_path):
    mine = tmp_path / "runs"
    shutil.copytree(runs / "gan", mine / "gan")
    proc = process_state(StudioSettings(runs=mine, data=tmp_path / "data", workers=0))
    first = model_cache(proc, mine / "gan")
    assert model_cache(proc, mine / "gan") is first  # cached: same object, no second load
    weights = mine / "gan" / "model.safetensors"
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # the run was trained further
    again = model_cache(proc, mine / "gan")
    assert again is not first and model_cache(proc, mine / "gan") is again
    assert process_state(proc.settings) is proc  # one state per process


def test_serve_demo_reuses_the_demo_run_and_prints_an_admin_token_once(runs, tmp_path, monkeypatch):
    import uvicorn
    from fastapi.testclient import TestClient

    import prodgen.demo
    from prodgen.cli import app as cli

    shutil.copytree(runs / "gan", tmp_path / "runs" / "demo")
    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    monkeypatch.setattr(prodgen.demo, "run_demo", lambda *a, **k: pytest.fail("the demo run exists: nothing to train"))
    args = ["serve", "--demo", "--runs", str(tmp_path / "runs"), "--data", str(tmp_path / "data"), "--workers", "0",
            "--port", "8123"]
    res = CliRunner().invoke(cli, args, env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    assert started["port"] == 8123 and started["host"] == "127.0.0.1"
    token = res.output.split("(shown once, log in with it): ")[1].split()[0]
    c = TestClient(started["app"])
    assert c.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json() == {"name": "demo-admin", "role": "admin"}
    assert [m["id"] for m in c.get("/api/models", headers={"Authorization": f"Bearer {token}"}).json()] == ["demo"]
    again = CliRunner().invoke(cli, args, env={"COLUMNS": "300"})
    assert again.exit_code == 0 and "shown once" not in again.output  # an admin exists now: no second token
