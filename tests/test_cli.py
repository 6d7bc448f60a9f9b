"""The command line end to end on the synthetic catalog (tiny models, few steps)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.sample.stream import recorded_images

runner = CliRunner()
TINY = ["--model-arg", "z_dim=16", "--model-arg", "cond_dim=16", "--model-arg", "g_base=8", "--model-arg", "g_cap=32",
        "--model-arg", "d_base=8", "--model-arg", "d_cap=16"]


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "gan"
    res = invoke("train", "--model", "gan", "--catalog", "synthetic", "--resolution", "32", "--steps", "6",
                 "--batch-size", "8", "--out", str(out), "--sample-every", "3", "--checkpoint-every", "3", "--log-every", "2",
                 "--quiet", *TINY)
    assert res.exit_code == 0, res.output
    return out


def test_train_writes_a_complete_run_folder(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.json", "vocab.json", "split.json", "model.safetensors", "ema.safetensors", "training_state.pt",
            "metrics.jsonl", "samples", "index.html", "loss.png"} <= names
    cfg = json.loads((trained_run / "config.json").read_text())
    assert cfg["condition"]["attributes"] == ["category", "colour"]
    assert cfg["model_args"]["g_base"] == 8 and cfg["model_args"]["lr_g"] == 2e-4  # resolved defaults recorded
    vocab = json.loads((trained_run / "vocab.json").read_text())
    assert vocab["attributes"][0]["values"][0] == "<unspecified>"
    split = json.loads((trained_run / "split.json").read_text())
    assert set(split) == {"train", "val", "test"} and not set(split["train"]) & set(split["test"])


def test_resume_continues_to_a_new_total(trained_run):
    res = invoke("train", "--resume", str(trained_run), "--steps", "9", "--threads", "1", "--quiet")
    assert res.exit_code == 0, res.output
    assert "step 9" in res.output
    state_steps = [json.loads(ln)["step"] for ln in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert max(state_steps) == 9
    cfg = json.loads((trained_run / "config.json").read_text())
    assert cfg["train"]["threads"] == 1 and cfg["train"]["steps"] == 9  # a bigger (or shared) machine: other threads


def test_generate_with_attributes_is_seeded_and_labelled(trained_run, tmp_path):
    args = ["generate", str(trained_run), "-n", "5", "--attr", "colour=red", "--attr", "category=handbag", "--seed", "7", "--quiet"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke(*args, "--out", str(a)).exit_code == 0
    assert invoke(*args, "--out", str(b)).exit_code == 0
    files = sorted(p.name for p in a.glob("0*.png"))
    assert files == [f"{i:06d}.png" for i in range(5)]
    assert all(np.array_equal(pixels(a / f), pixels(b / f)) for f in files)  # same seed, same image (the signed
    # C2PA manifests differ: each has its own id and signature)
    rows = list(csv.DictReader(open(a / "labels.csv")))
    assert rows[0] == {"file": "000000.png", "category": "handbag", "colour": "red", "seed": "7"}
    assert rows[4]["seed"] == "11"
    side = json.loads((a / "generation.json").read_text())
    assert side["weights_sha256"] and side["images"][0]["condition"] == {"category": "handbag", "colour": "red"}
    assert (a / "grid.png").exists()
    # Image i with seed s+i is the same image when generated alone with seed s+i.
    c = tmp_path / "c"
    assert invoke("generate", str(trained_run), "-n", "1", "--attr", "colour=red", "--attr", "category=handbag", "--seed", "9",
                  "--out", str(c), "--quiet").exit_code == 0
    assert np.array_equal(pixels(c / "000000.png"), pixels(a / "000002.png"))


def test_generate_one_attribute_only_and_unknown_value(trained_run, tmp_path):
    assert invoke("generate", str(trained_run), "-n", "2", "--attr", "colour=blue", "--out", str(tmp_path / "o"), "--quiet").exit_code == 0
    res = subprocess.run([sys.executable, "-m", "prodgen.cli", "generate", str(trained_run), "--attr", "colour=redd",
                          "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert res.returncode == 2
    assert "unknown value colour='redd'" in res.stderr and "red" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run([sys.executable, "-m", "prodgen.cli", "generate", str(trained_run), "--attr", "brand=Nike",
                          "--out", str(tmp_path / "y")], capture_output=True, text=True)
    assert res.returncode == 2 and "not conditioned on 'brand'" in res.stderr


def test_generate_from_csv_names_files_by_id_and_ignores_other_columns(trained_run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("id,category,colour,pattern,productDisplayName\nA1,dress,green,striped,Green striped dress\n"
                    "B2,shoe,,plain,Some shoe\nC3,cap,magenta,plain,Magenta cap\n")
    out = tmp_path / "fill"
    res = invoke("generate", str(trained_run), "--from-csv", str(rows), "--out", str(out), "--quiet")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.glob("*.png") if p.name != "grid.png") == ["A1.png", "B2.png", "C3.png"]
    by_id = {i["id"]: i for i in recorded_images(out)}  # one manifest line per image
    assert by_id["A1"]["condition"] == {"category": "dress", "colour": "green"}
    assert by_id["B2"]["condition"] == {"category": "shoe"}  # empty colour left unspecified
    assert "magenta" in by_id["C3"]["notes"][0]
    assert Image.open(out / "A1.png").size == (32, 32)


def test_train_rejects_bad_input_with_clear_messages(tmp_path):
    res = subprocess.run([sys.executable, "-m", "prodgen.cli", "train", "--catalog", str(tmp_path / "nope"), "--steps", "1",
                          "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = subprocess.run([sys.executable, "-m", "prodgen.cli", "train", "--catalog", "synthetic", "--out", str(tmp_path / "r")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "--steps" in res.stderr
    res = subprocess.run([sys.executable, "-m", "prodgen.cli", "train", "--catalog", "synthetic", "--condition", "colr",
                          "--steps", "1", "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert res.returncode == 2 and "Did you mean 'colour'" in res.stderr
    res = subprocess.run([sys.executable, "-m", "prodgen.cli", "train", "--model", "gann", "--steps", "1",
                          "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert res.returncode == 2 and "choose one of" in res.stderr


def test_train_refuses_to_overwrite_a_run(trained_run):
    res = subprocess.run([sys.executable, "-m", "prodgen.cli", "train", "--catalog", "synthetic", "--steps", "1",
                          "--out", str(trained_run)], capture_output=True, text=True)
    assert res.returncode == 2 and "--resume" in res.stderr


def test_dry_run_validates_and_trains_nothing(tmp_path):
    res = invoke("train", "--catalog", "synthetic", "--steps", "5", "--out", str(tmp_path / "d"), "--dry-run")
    assert res.exit_code == 0 and '"attributes": [' in res.output
    assert not (tmp_path / "d").exists()


def test_data_inspect_prints_counts_and_writes_a_sheet(tmp_path):
    sheet = tmp_path / "sheet.png"
    res = invoke("data", "inspect", "synthetic", "--resolution", "32", "--sheet", str(sheet))
    assert res.exit_code == 0, res.output
    assert "category" in res.output and "colour" in res.output
    assert sheet.exists() and Image.open(sheet).size[0] > 100


def test_full_disk_is_reported_without_a_traceback(trained_run, tmp_path, monkeypatch, capsys):
    import errno

    import prodgen.atomic as atomic
    from prodgen import cli

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    monkeypatch.setattr(sys, "argv", ["prodgen", "generate", str(trained_run), "-n", "1", "--out", str(tmp_path / "g"), "--quiet"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 4
    assert "disk full" in capsys.readouterr().err


def test_evaluate_threads_pins_torch(tmp_path):
    """`evaluate --threads 1` runs torch on one thread (beside a training), like train/resume/ema's --threads."""
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        from prodgen.errors import UserError

        with pytest.raises(UserError, match="does not exist"):  # no run folder: refused after the threads are set
            invoke("evaluate", str(tmp_path / "no-run"), "--threads", "1")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
