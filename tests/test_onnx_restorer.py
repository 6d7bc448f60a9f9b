"""ONNX export of a restoration run: every task's network, fp32 equal to PyTorch, int8 close, and `prodgen enhance`
restores from the export."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from prodgen.apps.restore import RestoreConfig, RestoreNet, load_restorer, restore, save_restorer
from prodgen.cli import app
from prodgen.config import DataConfig
from prodgen.errors import UserError
from prodgen.export import OnnxRestorer, export_run

runner = CliRunner()
TASKS = ("upscale2", "inpaint")


@pytest.fixture(scope="module")
def restoration_run(tmp_path_factory):
    """A small restoration run with random (non-zero) corrections, recorded as trained on the synthetic catalog."""
    folder = tmp_path_factory.mktemp("onnxr") / "run"
    torch.manual_seed(0)
    net = RestoreNet(RestoreConfig(width=8, blocks=(1, 1, 1), tasks=TASKS, crop=32, resolution=32))
    for t in net.nets.values():  # the tail starts at zero (output = the classical start); make it do something
        torch.nn.init.normal_(t.tail.weight, std=0.05)
    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=200)
    save_restorer(net, folder, {"data": dataclasses.asdict(data)})
    return folder


@pytest.fixture(scope="module")
def exported(restoration_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnxr") / "export"
    res = runner.invoke(app, ["export", str(restoration_run), "--out", str(out), "--quantize", "int8",
                              "--calibration-n", "16"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "restoration run" in res.output and f"--model {out}" in res.output.replace("\n", "")
    return out


def test_export_records_every_task_and_fp32_equals_pytorch_on_any_tile_size(restoration_run, exported):
    rec = json.loads((exported / "config.json").read_text())
    assert rec["kind"] == "onnx-export" and rec["family"] == "restoration"
    assert set(rec["files"]["fp32"]) == set(TASKS) == set(rec["files"]["int8"])
    assert all((exported / f).is_file() for v in rec["files"].values() for f in v.values())
    assert rec["bytes"]["int8"] < rec["bytes"]["fp32"]
    assert max(rec["max_abs_error_vs_torch"]["fp32"].values()) < 1e-5
    net, onnx32 = load_restorer(restoration_run), OnnxRestorer(exported, "fp32")
    planes = torch.rand(3, 7, 48, 80, generator=torch.Generator().manual_seed(1))  # not the export's check shape
    planes[:, 6] = (planes[:, 6] > 0.7).float()  # a mask
    for k in range(len(TASKS)):
        with torch.no_grad():
            ref = net(planes, k)
        assert (ref - planes[:, 3:6]).abs().mean() > 1e-3  # the network changes its start: the check means something
        assert (onnx32(planes, k) - ref).abs().max() < 1e-5


def test_int8_stays_close_and_enhance_runs_from_the_export(restoration_run, exported, tmp_path):
    net = load_restorer(restoration_run)
    onnx8 = load_restorer(exported)  # int8 is the export's default when present
    assert isinstance(onnx8, OnnxRestorer) and onnx8.variant == "int8"
    g = torch.Generator().manual_seed(2)
    img = torch.nn.functional.avg_pool2d(torch.rand(3, 96, 112, generator=g)[None], 5, 1, 2)[0]  # a smooth photo
    ref, how = restore(net, img, "upscale2", tile=64)
    got, how8 = restore(onnx8, img, "upscale2", tile=64)
    got32, _ = restore(OnnxRestorer(exported, "fp32"), img, "upscale2", tile=64)
    assert how8 == "prodgen restoration network (ONNX int8)" and how == "prodgen restoration network"
    assert (got32 - ref).abs().max() < 1e-5  # tiled through ONNX Runtime == tiled through PyTorch
    psnr = 10 * torch.log10(1 / (got - ref).pow(2).mean())
    assert 30 < psnr < 100  # int8: close to fp32, but not the same numbers (it was quantised)
    Image.fromarray((img.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(tmp_path / "p.png")
    res = runner.invoke(app, ["enhance", str(tmp_path / "p.png"), "--model", str(exported), "--task", "upscale",
                              "--scale", "2", "--out", str(tmp_path / "big.png"), "--tile", "64"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "ONNX int8" in res.output and Image.open(tmp_path / "big.png").size == (224, 192)
    with pytest.raises(UserError, match="not trained for|trained for"):
        restore(onnx8, img, "denoise")


def test_exports_are_refused_where_the_other_family_belongs(restoration_run, exported, tmp_path):
    res = runner.invoke(app, ["generate", str(exported), "--out", str(tmp_path / "g"), "-n", "1"])
    assert isinstance(res.exception, UserError) and "prodgen enhance --model" in str(res.exception)
    gen = tmp_path / "genexport"
    gen.mkdir()
    (gen / "config.json").write_text(json.dumps({"kind": "onnx-export", "family": "gan", "files": {"fp32": "s.onnx"}}))
    with pytest.raises(UserError, match="prodgen generate"):
        load_restorer(gen)
    with pytest.raises(UserError, match="only int8"):
        export_run(restoration_run, tmp_path / "x", quantize="int4")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not prodgen's")
    with pytest.raises(UserError, match="only replaces exports"):  # --overwrite never deletes other files
        export_run(restoration_run, tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").exists()
