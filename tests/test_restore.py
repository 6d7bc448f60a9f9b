"""Restoration: degradations, classical baselines, seamless tiling, a short training run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from prodgen.apps.degrade import TASKS, UNSEEN, classical_start, degrade, gaussian_blur, harmonic_fill, observe
from prodgen.apps.restore import (RestoreConfig, RestoreNet, baselines, input_planes, learning_rate, load_restorer, restore,
                                  run_network, tiled)
from prodgen.cli import app
from prodgen.errors import UserError
from prodgen.evaluate.metrics.restoration import restoration_scores

runner = CliRunner()


def smooth_images(n=4, size=64, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return gaussian_blur(torch.rand(n, 3, size, size, generator=g), 3.0).sub(0.5).mul(4).add(0.5).clamp(0, 1)


@pytest.mark.parametrize("unseen", [False, True])
@pytest.mark.parametrize("task", TASKS)
def test_degradations_hurt_and_are_seeded(task, unseen):
    clean = smooth_images()
    a, ma = degrade(clean, task, torch.Generator().manual_seed(1), unseen)
    b, mb = degrade(clean, task, torch.Generator().manual_seed(1), unseen)
    assert torch.equal(a, b) and torch.equal(ma, mb) and a.shape == clean.shape
    assert restoration_scores(a, clean)["psnr"] < 45
    assert (ma.sum() > 0) == (task == "inpaint")
    seen, _ = degrade(clean, task, torch.Generator().manual_seed(1))
    assert torch.equal(a, seen) != unseen  # the unseen degradation is another one
    if task.startswith("upscale"):  # what the user holds is the small photo
        assert observe(clean, task, torch.Generator().manual_seed(1), unseen)[0].shape[-1] == 64 // int(task[-1])


def test_every_classical_method_runs_and_the_tuned_ones_help():
    clean = smooth_images(3, 32)
    tuned = baselines.tune(clean, TASKS, slow=False)
    for task in TASKS:
        for cond in ("seen", "unseen"):
            t = tuned[f"{task}/{cond}"]
            assert t["best"] in t["methods"] and all(len(m["grid"]) >= 1 for m in t["methods"].values())
            assert t["methods"][t["best"]]["val_psnr"] == max(m["val_psnr"] for m in t["methods"].values())
            assert t["start"]["val_psnr"] is not None  # the network's cheap start is one of the grid points
    obs, mask = baselines.observe_set(clean, "denoise", "seen", 0)
    assert restoration_scores(baselines.apply("denoise", "non-local means", {"k": 1.0}, obs, mask), clean)["psnr"] > \
        restoration_scores(obs, clean)["psnr"]
    out = baselines.apply("denoise", "bm3d", {"k": 1.0}, obs[:1], mask[:1])  # the slow one, on one photo
    assert out.shape == (1, 3, 32, 32)
    obs, mask = baselines.observe_set(clean, "upscale4", "seen", 0)
    assert baselines.apply("upscale4", "lanczos", {}, obs, mask).shape == clean.shape
    obs, mask = baselines.observe_set(clean, "inpaint", "unseen", 0)
    for name in ("opencv telea", "opencv navier-stokes"):
        params = baselines.method("inpaint", name).grid[0]
        filled = baselines.apply("inpaint", name, params, obs, mask)
        assert torch.equal(filled * (1 - mask), obs * (1 - mask))  # known pixels untouched


def test_classical_baselines_beat_doing_nothing_where_they_should():
    clean = smooth_images()
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
    for bad in (60, 0, -64, 48):
        with pytest.raises(UserError, match="multiple of 16 of at least 64"):
            tiled(lambda a: net(a, 2), planes, tile=bad)


@pytest.mark.parametrize("task", TASKS)
def test_restore_tiles_the_input_planes_and_the_classical_start_too(task):
    # nothing is built for the whole photo, yet small tiles give the whole-image result, network or not
    torch.manual_seed(0)
    net = RestoreNet(RestoreConfig(width=8, blocks=(1, 1, 1), crop=32)).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    s = int(task[-1]) if task.startswith("upscale") else 1
    h, w = (70, 150) if s == 1 else (70 // s + 3, 150 // s + 1)  # odd sizes, several tiles of the result
    img = (torch.rand(3, h, w) * 255).to(torch.uint8)
    mask = torch.zeros(h, w)
    mask[10:30, 20:60] = 1
    mask[50:66, 100:140] = 1
    m = mask if task == "inpaint" else None
    for model in (None, net):
        whole, _ = restore(model, img, task, m, tile=4096)
        pieces, _ = restore(model, img, task, m, tile=64)
        assert whole.shape == (3, h * s, w * s)
        assert torch.allclose(whole, pieces, atol=1e-5), (task, model is None, (whole - pieces).abs().max())
    # the whole-image tile equals the planes built at once (input_planes), for the local starts
    if task in ("denoise", "deblur", "jpeg"):
        x = img[None].float() / 255
        ref = classical_start(task, x, torch.zeros(1, 1, 70, 150)).clamp(0, 1)[0]
        assert torch.allclose(restore(None, img, task, tile=64)[0], ref, atol=1e-6)


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
        # what covered the hole cannot leak through
        assert torch.equal(run_network(net, "inpaint", input_planes("inpaint", other, mask)), out)


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
    assert torch.allclose(y, torch.nn.functional.interpolate(img[None], scale_factor=4, mode="bicubic").clamp(0, 1)[0],
                          atol=1e-6)
    with pytest.raises(UserError, match="--mask"):
        restore(None, img, "inpaint")
    with pytest.raises(UserError, match="same size"):
        restore(None, img, "inpaint", torch.zeros(10, 10))


def test_enhance_train_and_enhance_end_to_end(tmp_path):
    from prodgen.apps.restore import reevaluate, train_restorer
    from prodgen.config import DataConfig

    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=300)
    tasks = ("upscale2", "inpaint")  # the others share every code path (test_every_classical_method_runs...)
    cfg = RestoreConfig(width=8, blocks=(1, 1, 1), batch_size=4, crop=32, tasks=tasks)
    train_restorer(data, tmp_path / "r", minutes=None, steps=12, cfg=cfg, progress=False, eval_n=3, val_n=3, tune_n=3,
                   slow_baselines=False)
    ev = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert [(r["task"], r["condition"]) for r in ev["rows"]] == [(t, c) for t in tasks for c in ("seen", "unseen")]
    assert ev["steps"] == 12 and ev["stopped"] == "steps" and ev["unseen"] == {t: UNSEEN[t] for t in tasks}
    for r in ev["rows"]:
        tuned = ev["baselines"][f"{r['task']}/{r['condition']}"]
        assert r["baseline_name"] == tuned["best"]  # the baseline was chosen on validation photos ...
        assert r["baseline_params"] == tuned["methods"][tuned["best"]]["params"]
        assert r["baseline"]["psnr"] == r["candidates"][r["baseline_name"]]["psnr"]  # ... and scored on test photos once
        assert 0 < r["network"]["psnr"] < 100
    assert ev["baselines"]["n_val"] == 3
    assert set(ev["selected"]) == set(tasks) and all(0 <= v["step"] <= 12 for v in ev["selected"].values())
    lines = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    first = next(x for x in lines if "val/psnr/inpaint" in x)  # step 0: the classical starts
    assert first["step"] == 0
    assert all(v["val_psnr"] >= first[f"val/psnr/{t}"] - 1e-3 for t, v in ev["selected"].items())  # never worse
    assert Image.open(tmp_path / "r" / "examples.png").size[0] > 4 * 32 * 2
    assert json.loads((tmp_path / "r" / "config.json").read_text())["kind"] == "restoration"
    net = load_restorer(tmp_path / "r")
    assert net.cfg.width == 8 and net.cfg.tasks == tasks

    again = reevaluate(tmp_path / "r", data, eval_n=3)
    assert [r["network"]["psnr"] for r in again["rows"]] == [r["network"]["psnr"] for r in ev["rows"]]
    assert again["steps"] == 12
    arr = (np.random.default_rng(0).random((50, 70, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "p.png")
    res = runner.invoke(app, ["enhance", str(tmp_path / "p.png"), "--model", str(tmp_path / "r"), "--task", "upscale",
                              "--scale", "2", "--out", str(tmp_path / "big.png"), "--tile", "64"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "big.png").size == (140, 100)
    wrong = tmp_path / "g"
    wrong.mkdir()
    (wrong / "config.json").write_text('{"model": "gan", "data": {}, "condition": {}, "train": {}}')
    with pytest.raises(UserError, match="generator run"):
        load_restorer(wrong)


def test_enhance_train_resumes_on_the_same_schedule(tmp_path, monkeypatch):
    from prodgen.apps.restore import RestoreTrainer, resume_restorer, train_restorer
    from prodgen.config import DataConfig
    from prodgen.train.checkpoint import load_training_state

    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=200)
    kw = dict(progress=False, val_n=2, evaluate=False)
    cfg = lambda: RestoreConfig(width=8, blocks=(1, 1, 1), batch_size=2, crop=32, tasks=("denoise", "inpaint"))  # noqa: E731
    train_restorer(data, tmp_path / "full", None, 8, cfg(), **kw)
    with monkeypatch.context() as m:  # the same 8-step run, stopped (as by Ctrl-C) after 3 steps
        m.setattr(RestoreTrainer, "after_step", lambda self, step, logs: self.request_stop() if step == 3 else None)
        stopped = train_restorer(data, tmp_path / "half", None, 8, cfg(), **kw)
    assert stopped["steps"] == 3 and stopped["stopped"] == "interrupted"
    res = resume_restorer(tmp_path / "half", progress=False, evaluate=False)  # to the run's recorded 8 steps
    assert res["steps"] == 8 and res["stopped"] == "steps"
    a, b = load_training_state(tmp_path / "full"), load_training_state(tmp_path / "half")
    assert all(torch.allclose(a["net"][k], b["net"][k], atol=1e-6) for k in a["net"])  # 3 + 5 steps == 8 steps
    lrs = lambda run: [x["lr"] for x in map(json.loads, (tmp_path / run / "metrics.jsonl").read_text().splitlines())  # noqa: E731
                       if "lr" in x]
    assert lrs("half")[-1] == pytest.approx(lrs("full")[-1])  # the schedule went on, it did not restart
    assert json.loads((tmp_path / "half" / "config.json").read_text())["schedule"] == {"steps": 8}


@pytest.mark.parametrize("content", ["generator", "productnet", "stray"])
def test_enhance_train_refuses_an_out_folder_of_another_kind(tmp_path, content):
    from prodgen.apps.restore import check_new_run_folder

    out = tmp_path / "out"
    out.mkdir()
    if content == "generator":
        (out / "config.json").write_text(json.dumps({"kind": "generator", "model": "gan"}))
    elif content == "productnet":
        (out / "config.json").write_text(json.dumps({"kind": "productnet"}))
    else:
        (out / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="new or empty --out"):
        check_new_run_folder(out)
    res = runner.invoke(app, ["enhance-train", "--catalog", "synthetic", "--out", str(out), "--steps", "1", "--quiet"])
    assert res.exit_code != 0 and "new or empty --out" in str(res.exception) + res.output
    assert sorted(p.name for p in out.iterdir()) == (["notes.txt"] if content == "stray" else ["config.json"])  # untouched


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


def test_enhance_file_writes_8bit_tiles_with_a_mask(tmp_path):
    from prodgen.apps.restore import enhance_file

    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((90, 130, 3)) * 255).astype(np.uint8)).save(tmp_path / "p.png")
    mask = np.zeros((90, 130), np.uint8)
    mask[20:40, 30:90] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    info = enhance_file(tmp_path / "p.png", tmp_path / "o.png", None, "inpaint", tmp_path / "m.png", tile=64)
    assert info["out_size"] == (130, 90) and "harmonic" in info["method"]
    got = np.asarray(Image.open(tmp_path / "o.png"))
    photo = np.asarray(Image.open(tmp_path / "p.png"))
    assert np.array_equal(got[mask == 0], photo[mask == 0])  # known pixels bit for bit
    img = torch.from_numpy(photo.copy()).permute(2, 0, 1)
    ref, _ = restore(None, img, "inpaint", torch.from_numpy(mask / 255.0), tile=4096)
    assert np.abs(got.astype(int) - (ref.permute(1, 2, 0).numpy() * 255).round().astype(int)).max() == 0
    with pytest.raises(UserError, match="same size"):
        Image.fromarray(mask[:50]).save(tmp_path / "m2.png")
        enhance_file(tmp_path / "p.png", tmp_path / "o2.png", None, "inpaint", tmp_path / "m2.png")
    assert not (tmp_path / "o2.png").exists()
