"""ONNX export of a run's sampler: the same images as PyTorch from the same seeds, int8 close to them, and the
export folder generates without the run's weights."""

from __future__ import annotations

import json

import pytest
import torch

from prodgen.errors import UserError
from prodgen.export import OnnxPipeline, export_onnx, is_export
from prodgen.sample import Pipeline
from tiny import train_tiny_run

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module", params=["gan", "vae"])
def run(request, tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("export") / request.param, request.param)


def test_onnx_fp32_matches_pytorch_and_int8_stays_close(run, tmp_path):
    rec = export_onnx(run, tmp_path / "x", quantize="int8", calibration_n=16)
    assert is_export(tmp_path / "x") and not is_export(run)
    saved = json.loads((tmp_path / "x" / "config.json").read_text())
    assert saved["files"] == {"fp32": "sampler.onnx", "int8": "sampler.int8.onnx"} and saved["family"] == run.name
    assert rec["max_abs_error_vs_torch"]["fp32"] < 1e-4
    ref = Pipeline.from_pretrained(run, device="cpu").generate({"category": "handbag", "colour": "red"}, n=5, seed=11)
    fp32 = OnnxPipeline.from_pretrained(tmp_path / "x", "fp32").generate({"category": "handbag", "colour": "red"}, n=5, seed=11)
    int8 = OnnxPipeline.from_pretrained(tmp_path / "x").generate({"category": "handbag", "colour": "red"}, n=5, seed=11)
    assert fp32.shape == ref.shape == (5, 3, 32, 32)
    assert (fp32 - ref).abs().max() < 1e-4  # same seeds, same conditions, same images
    err = (int8 - ref).abs().mean()
    assert 0 < err < 0.1, float(err)  # quantised: not identical, but close (images span [-1, 1])
    other = OnnxPipeline.from_pretrained(tmp_path / "x", "fp32").generate({"category": "cap"}, n=5, seed=11)
    assert (other - fp32).abs().mean() > 1e-3  # the condition input is live in the graph
    # a batch size never seen at export time
    big = OnnxPipeline.from_pretrained(tmp_path / "x", "fp32").generate({"colour": "blue"}, n=37, seed=0, batch_size=37)
    assert big.shape[0] == 37 and torch.isfinite(big).all()


def test_export_refuses_what_it_cannot_do(run, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        export_onnx(run, tmp_path / "busy")
    with pytest.raises(UserError, match="only int8"):
        export_onnx(run, tmp_path / "y", quantize="int4")
    with pytest.raises(UserError, match="not an ONNX export"):
        OnnxPipeline.from_pretrained(run)


def test_cli_export_then_generate_from_the_export(run, tmp_path):
    from typer.testing import CliRunner

    from prodgen.cli import app

    cli = CliRunner()
    r = cli.invoke(app, ["export", str(run), "--out", str(tmp_path / "x"), "--quantize", "int8", "--calibration-n", "16"])
    assert r.exit_code == 0, r.output
    assert "sampler.int8.onnx" in r.output
    r = cli.invoke(app, ["generate", str(tmp_path / "x"), "-n", "3", "--attr", "colour=red", "--out", str(tmp_path / "g"),
                         "--quiet"])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "g").glob("0*.png"))) == 3
    from prodgen.provenance import verify_file

    v = verify_file(next((tmp_path / "g").glob("0*.png")))
    assert v["valid"] and v["kind"] == "generated"
    r = cli.invoke(app, ["export", str(run), "--out", str(tmp_path / "y"), "--format", "tflite"])
    assert r.exit_code != 0 and "only onnx" in str(r.exception)


def test_sizes_count_the_external_weights(run, tmp_path):
    from prodgen.export.onnx_sampler import model_bytes

    rec = export_onnx(run, tmp_path / "x")
    f = tmp_path / "x" / "sampler.onnx"
    on_disk = sum(p.stat().st_size for p in (tmp_path / "x").glob("sampler.onnx*"))
    assert rec["bytes"]["fp32"] == model_bytes(f) == on_disk


def test_a_diffusion_export_runs_the_scheduler_around_onnx_unet_steps(tmp_path):
    """Diffusion: embed.onnx + the U-Net step; the same images as PyTorch for the same seeds, steps and guidance."""
    train_tiny_run(tmp_path / "d", "diffusion", steps=2)
    rec = export_onnx(tmp_path / "d", tmp_path / "x", quantize="int8", calibration_n=16)
    assert rec["family"] == "diffusion" and (tmp_path / "x" / "embed.onnx").exists()
    assert rec["max_abs_error_vs_torch"]["fp32"] < 1e-3
    want = {"category": "handbag", "colour": "red"}
    ref = Pipeline.from_pretrained(tmp_path / "d", device="cpu").generate(want, n=3, seed=4, steps=3, guidance=2.0)
    got = OnnxPipeline.from_pretrained(tmp_path / "x", "fp32").generate(want, n=3, seed=4, steps=3, guidance=2.0)
    assert (got - ref).abs().max() < 1e-3
    q = OnnxPipeline.from_pretrained(tmp_path / "x").generate(want, n=3, seed=4, steps=3, guidance=2.0)
    assert q.shape == ref.shape and torch.isfinite(q).all() and 0 < (q - ref).abs().mean() < 0.2
