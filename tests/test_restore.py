"""Restoration: degradations, classical baselines, seamless tiling, a short training run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from prodgen.apps.degrade import TASKS, classical_candidates, classical_start, degrade, gaussian_blur, harmonic_fill
from prodgen.apps.restore import (RestoreConfig, RestoreNet, input_planes, learning_rate, load_restorer, restore, run_network,
                                  tiled)
from prodgen.cli import app
from prodgen.errors import UserError
from prodgen.evaluate.metrics.restoration import restoration_scores

runner = CliRunner()


def smooth_images(n=4, size=64, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return gaussian_blur(torch.rand(n, 3, size, size, generator=g), 3.0).sub(0.5).mul(4).add(0.5).clamp(0, 1)


@pytest.mark.parametrize("task", TASKS)
def test_degradations_hurt_and_are_seeded(task):
    clean = smooth_images()
    a, ma = degrade(clean, task, torch.Generator().manual_seed(1))
    b, mb = degrade(clean, task, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and torch.equal(ma, mb) and a.shape == clean.shape
    assert restoration_scores(a, clean)["psnr"] < 45
    assert (ma.sum() > 0) == (task == "inpaint")


def test_classical_baselines_beat_doing_nothing_where_they_should():
    clean = smooth_images()
    noisy, m = degrade(clean, "denoise", torch.Generator().manual_seed(0))
    c = classical_candidates("denoise", noisy, m)
    assert restoration_scores(c["gaussian"], clean)["psnr"] > restoration_scores(c["identity"], clean)["psnr"]
    stickered, mask = degrade(clean, "inpaint", torch.Generator().manual_seed(0))
    filled = harmonic_fill(stickered, mask)
    assert restoration_scores(filled, clean)["psnr"] > restoration_scores(stickered, clean)["psnr"] + 3
    assert torch.equal(filled * (1 - mask), stickered * (1 - mask))  # pixels outside the mask untouched


def test_tiled_equals_whole_image_on_odd_sizes():
    torch.manual_seed(0)
    net = RestoreNet(RestoreConfig(width=8, blocks=(1, 1, 1), crop=32)).eval()
    for p in net.parameters():  # a non-trivial network (the tail starts at zero)
        torch.nn.init.normal_(p, std=0.05)
    planes = torch.rand(1, 7, 150, 290)
    whole = tiled(lambda a: net(a, 2), planes, tile=4096)
    pieces = tiled(lambda a: net(a, 2), planes, tile=64)
    assert whole.shape == (1, 3, 150, 290) and (whole - planes[:, 3:6]).abs().mean() > 1e-3
    assert torch.allclose(whole, pieces, atol=1e-5)
    with pytest.raises(UserError, match="multiples of 16"):
        tiled(lambda a: net(a, 2), planes, tile=60)


def test_untrained_network_equals_its_classical_start_and_inpainting_keeps_known_pixels():
    clean = smooth_images(2, 64)
    net = RestoreNet(RestoreConfig(width=8, blocks=(1, 1, 1), crop=32)).eval()
    for task in TASKS:
        degraded, mask = degrade(clean, task, torch.Generator().manual_seed(3))
        with torch.no_grad():
            out = run_network(net, task, input_planes(task, degraded, mask))
        assert torch.allclose(out, classical_start(task, degraded, mask).clamp(0, 1), atol=1e-6), task
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    degraded, mask = degrade(clean, "inpaint", torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = run_network(net, "inpaint", input_planes("inpaint", degraded, mask))
    assert torch.equal(out * (1 - mask), degraded * (1 - mask))
    assert (out - degraded).abs().amax() > 0.01  # but the hole itself is the network's
    other = degraded * (1 - mask) + torch.rand_like(degraded) * mask  # a different sticker over the same hole
    with torch.no_grad():
        assert torch.equal(run_network(net, "inpaint", input_planes("inpaint", other, mask)), out)  # what covered the hole cannot leak through


def test_harmonic_fill_is_converged_on_a_large_hole():
    # a linear ramp is harmonic: the fill of any hole must reproduce it
    ramp = torch.linspace(0, 1, 96)[None, None, None, :].expand(1, 3, 96, 96).contiguous()
    mask = torch.zeros(1, 1, 96, 96)
    mask[..., 20:76, 10:86] = 1
    filled = harmonic_fill(ramp * (1 - mask), mask)
    assert (filled - ramp).abs().amax() < 0.02


def test_learning_rate_warms_up_then_decays():
    cfg = RestoreConfig(lr=1e-3)
    assert learning_rate(cfg, 0.0, 0) == pytest.approx(1e-5)  # lr given explicitly
    assert learning_rate(cfg, 0.0, 500) == pytest.approx(1e-3)
    assert learning_rate(cfg, 0.5, 500) == pytest.approx(0.51e-3)
    assert learning_rate(cfg, 1.0, 500) == pytest.approx(2e-5)


def test_restore_without_a_model_uses_and_names_the_baseline():
    img = smooth_images(1, 40)[0]
    y, how = restore(None, img, "upscale4")
    assert y.shape == (3, 160, 160) and "classical baseline (bicubic)" in how
    with pytest.raises(UserError, match="--mask"):
        restore(None, img, "inpaint")
    with pytest.raises(UserError, match="same size"):
        restore(None, img, "inpaint", torch.zeros(10, 10))


def test_enhance_train_and_enhance_end_to_end(tmp_path):
    from prodgen.apps.restore import train_restorer
    from prodgen.config import DataConfig

    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=300)
    train_restorer(data, tmp_path / "r", minutes=None, steps=12, cfg=RestoreConfig(width=8, batch_size=4, crop=32), progress=False,
                   eval_n=8)
    ev = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert [r["task"] for r in ev["rows"]] == list(TASKS) and ev["steps"] == 12
    assert all(r["baseline_name"] for r in ev["rows"]) and all(0 < r["network"]["psnr"] < 100 for r in ev["rows"])
    assert set(ev["selected"]) == set(TASKS) and all(0 <= v["step"] <= 12 for v in ev["selected"].values())
    first = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[0])  # step 0: the classical methods
    assert first["step"] == 0
    assert all(v["val_psnr"] >= first[f"val/psnr/{t}"] - 1e-3 for t, v in ev["selected"].items())  # never worse
    assert Image.open(tmp_path / "r" / "examples.png").size[0] > 4 * 32 * 2
    net = load_restorer(tmp_path / "r")
    assert net.cfg.width == 8
    from prodgen.apps.restore import reevaluate

    again = reevaluate(tmp_path / "r", data, eval_n=8)
    assert [r["network"]["psnr"] for r in again["rows"]] == [r["network"]["psnr"] for r in ev["rows"]]
    assert again["steps"] == 12
    arr = (np.random.default_rng(0).random((50, 70, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "p.png")
    res = runner.invoke(app, ["enhance", str(tmp_path / "p.png"), "--model", str(tmp_path / "r"), "--task", "upscale",
                              "--scale", "2", "--out", str(tmp_path / "big.png"), "--tile", "32"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "big.png").size == (140, 100)
    with pytest.raises(UserError, match="generative run"):
        load_restorer_from_wrong = tmp_path / "g"
        load_restorer_from_wrong.mkdir()
        (load_restorer_from_wrong / "config.json").write_text('{"model": "gan"}')
        load_restorer(load_restorer_from_wrong)


def test_a_saturated_network_still_learns_in_training_mode():
    # regression: with the output clamped in training, a network pushed below 0 everywhere got no gradient and
    # stayed dead (denoise fell to 9.6 dB in a real run); outputs are clamped only in eval mode
    net = RestoreNet(RestoreConfig(width=8, blocks=(1, 1, 1), crop=32, tasks=("denoise",))).train()
    torch.nn.init.constant_(net.nets["denoise"].tail.bias, -5.0)
    clean = smooth_images(2, 32)
    noisy, mask = degrade(clean, "denoise", torch.Generator().manual_seed(0))
    loss = (net(input_planes("denoise", noisy, mask), 0) - clean).abs().mean()
    loss.backward()
    assert net.nets["denoise"].tail.bias.grad.abs().sum() > 0
    with torch.no_grad():
        assert float(net.eval()(input_planes("denoise", noisy, mask), 0).amin()) == 0.0
