"""Trainer behaviour: learning, exact resume, atomic checkpoints, NaN and Ctrl-C handling."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from tiny import SMALL_ARGS, TINY_ARGS, shapes_data

from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.config import TrainConfig
from prodgen.errors import TrainingDiverged
from prodgen.models import model_class
from prodgen.train import Trainer
from prodgen.train.checkpoint import load_training_state


def make_trainer(tmp_path, name="gan", steps=6, seed=0, model_args=None, **overrides) -> Trainer:
    data, vocab = shapes_data(n=48)
    torch.manual_seed(seed)
    model = model_class(name).from_args(model_args or TINY_ARGS[name], vocab.sizes, 32)
    settings = dict(steps=steps, batch_size=8, seed=seed, device="cpu", log_every=2, sample_every=4,
                    checkpoint_every=4, sample_grid=16)
    cfg = TrainConfig(**{**settings, **overrides})
    return Trainer(model, data, vocab, tmp_path, cfg, cond_dropout=0.2)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["gan", "vae", "diffusion"])
def test_n_steps_plus_resume_n_steps_equals_2n_steps(tmp_path, name):
    full = make_trainer(tmp_path / "full", name, steps=8)
    full.run(progress=False)
    half = make_trainer(tmp_path / "half", name, steps=4)
    half.run(progress=False)
    resumed = make_trainer(tmp_path / "half", name, steps=8, seed=0)
    torch.manual_seed(999)  # the global RNG must come from the checkpoint, not from here
    resumed.resume()
    assert resumed.step == 4
    resumed.run(progress=False)
    assert resumed.step == 8
    assert states_equal(full.model.state_dict(), resumed.model.state_dict())
    assert states_equal(full.ema.state_dict(), resumed.ema.state_dict())
    # metrics.jsonl has one record per logged step, no duplicates after the resume
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "half" / "metrics.jsonl").read_text().splitlines()
             if "event" not in json.loads(ln)]
    assert steps == [2, 4, 6, 8]


def test_run_folder_contents(tmp_path):
    t = make_trainer(tmp_path, steps=8)
    reason = t.run(progress=False)
    assert reason.kind == "steps" and reason.step == 8
    for name in ("model.safetensors", "ema.safetensors", "training_state.pt", "metrics.jsonl"):
        assert (tmp_path / name).is_file(), name
    assert sorted(p.name for p in (tmp_path / "samples").glob("*.png")) == ["step-000004.png", "step-000008.png"]
    rec = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {"d/loss", "g/loss", "images_per_s", "elapsed_s"} <= set(rec[0])
    assert [r["step"] for r in rec] == [2, 4, 6, 8, 8] and rec[-1]["event"] == "stop:steps"
    assert all(r["images_per_s"] > 0 and r["elapsed_s"] > 0 for r in rec[:-1])
    assert [r["elapsed_s"] for r in rec[:-1]] == sorted(r["elapsed_s"] for r in rec[:-1])
    state = load_training_state(tmp_path)
    assert state["step"] == 8 and {"model", "ema", "optim", "rng", "elapsed"} <= set(state)


def test_interrupted_checkpoint_write_keeps_previous_loadable(tmp_path, monkeypatch):
    t = make_trainer(tmp_path, steps=4)
    t.run(progress=False)
    before = load_training_state(tmp_path)
    assert before["step"] == 4
    t.cfg.steps = 6
    t.step = 4
    import prodgen.atomic as atomic

    real_replace = atomic.os.replace

    def crash(src, dst):
        if str(dst).endswith("training_state.pt"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="No space"):
        t.run(progress=False)
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    after = load_training_state(tmp_path)
    assert after["step"] == 4
    assert states_equal(after["model"], before["model"])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "temp files left behind"


def test_nan_loss_stops_with_clear_error_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    t = make_trainer(tmp_path, steps=10)
    real_loss = t.model.loss

    def loss(phase, images, cond, text=None):
        out = real_loss(phase, images, cond, text)
        if t.step >= 5:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(t.model, "loss", loss)
    with pytest.raises(TrainingDiverged, match="became nan at step 6.*last good checkpoint"):
        t.run(progress=False)
    assert load_training_state(tmp_path)["step"] == 4


def test_ctrl_c_saves_a_checkpoint_at_a_step_boundary(tmp_path):
    """A real SIGINT during step 3 lets the step finish, saves step 3 and stops; the handler is restored."""
    t = make_trainer(tmp_path, steps=100)
    real_step = t.train_step
    before = signal.getsignal(signal.SIGINT)

    def step_then_interrupt():
        out = real_step()
        if t.step == 2:  # the third step (the loop counts it when train_step returns)
            os.kill(os.getpid(), signal.SIGINT)
        return out

    t.train_step = step_then_interrupt
    reason = t.run(progress=False)
    assert reason.kind == "interrupted" and reason.step == 3
    assert load_training_state(tmp_path)["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])["event"] == "stop:interrupted"


def test_second_ctrl_c_aborts_without_saving(tmp_path):
    t = make_trainer(tmp_path, steps=100, checkpoint_every=2)
    real_step = t.train_step

    def step_then_interrupt():
        out = real_step()
        if t.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return out

    t.train_step = step_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        t.run(progress=False)
    assert load_training_state(tmp_path)["step"] == 2  # the last periodic checkpoint, untouched


def test_checkpoints_every_few_minutes_too(tmp_path):
    """checkpoint_minutes saves by wall time when checkpoint_every steps is far away (a fake clock: 2 min a step)."""
    t = make_trainer(tmp_path, steps=7, checkpoint_every=1000, checkpoint_minutes=5.0, sample_every=1000)
    now = [0.0]
    t.clock = lambda: now[0]
    real_step, saved = t.train_step, []
    real_save = t.save_checkpoint

    def slow_step():
        now[0] += 120
        return real_step()

    def save():
        saved.append(t.step)
        real_save()

    t.train_step, t.save_checkpoint = slow_step, save
    t.run(progress=False)
    assert saved == [3, 6, 7]  # 360 s >= 5 min after the start, again 360 s later, and the end
    assert load_training_state(tmp_path)["step"] == 7
    assert TrainConfig().checkpoint_minutes == 5.0


def test_minutes_budget_stops(tmp_path):
    t = make_trainer(tmp_path, steps=None, minutes=0.0)
    reason = t.run(progress=False)
    assert reason.kind == "minutes" and reason.step == 0
    assert load_training_state(tmp_path)["step"] == 0  # even a run stopped at once leaves a checkpoint
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])["event"] == "stop:minutes"


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_short_training_learns_the_colour_condition(tmp_path, name):
    """After a short run, images asked to be red are redder than images asked to be blue."""
    data, vocab = shapes_data(n=512)
    torch.manual_seed(0)
    model = model_class(name).from_args(SMALL_ARGS[name], vocab.sizes, 32)
    cfg = TrainConfig(steps=300, batch_size=32, device="cpu", log_every=50, sample_every=1000, checkpoint_every=1000)
    t = Trainer(model, data, vocab, tmp_path, cfg, cond_dropout=0.1)
    t.run(progress=False)
    from prodgen.train.ema import recalibrate_bn

    recalibrate_bn(model, t.ema.net, data.cond)

    def mean_rgb(colour: str) -> torch.Tensor:
        cond = torch.stack([vocab.encode_user({"colour": colour, "shape": s}) for s in ("square", "disc", "bar")] * 8)
        x = model.sample(len(cond), cond, generator=torch.Generator().manual_seed(0), net=t.ema.net)
        fg = (x < 0.6).any(dim=1, keepdim=True)  # non-white pixels
        return ((x + 1) / 2 * fg).sum(dim=(0, 2, 3)) / fg.sum().clamp_min(1)

    red, blue = mean_rgb("red"), mean_rgb("blue")
    assert red[0] - red[2] > 0.2, red
    assert blue[2] - blue[0] > 0.2, blue


def test_lr_scale_known_values():
    from prodgen.train.trainer import lr_scale
    assert [lr_scale(s, 10, 0.5) for s in range(10)] == pytest.approx([1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert lr_scale(3, 10, 0.0) == lr_scale(3, None, 0.5) == 1.0
    assert lr_scale(12, 10, 0.5) == 0.0  # past the end (a budget by minutes can overrun) never goes negative


def test_lr_decay_lowers_every_optimizer_and_a_resume_keeps_the_base_rates(tmp_path):
    decayed = make_trainer(tmp_path / "decay", steps=8, lr_decay=0.5)
    decayed.run(progress=False)
    lrs = {p: [(g["lr"], g["initial_lr"]) for g in o.param_groups] for p, o in decayed.optims.items()}
    assert lrs["d"][0] == pytest.approx((4e-4 * 0.25, 4e-4)) and lrs["g"][0] == pytest.approx((2e-4 * 0.25, 2e-4))
    plain = make_trainer(tmp_path / "plain", steps=8)
    plain.run(progress=False)
    assert all(g["lr"] == g["initial_lr"] for o in plain.optims.values() for g in o.param_groups)
    assert not states_equal(plain.model.state_dict(), decayed.model.state_dict())  # the lower rates were used
    # continued to 16 steps, the line follows the new total: back to the base rates, from the checkpoint's base
    more = make_trainer(tmp_path / "decay", steps=16, lr_decay=0.5)
    more.resume()
    assert more.optims["d"].param_groups[0]["initial_lr"] == pytest.approx(4e-4)
    more.run(progress=False)
    assert more.optims["d"].param_groups[0]["lr"] == pytest.approx(4e-4 / 8)  # lr_scale(15, 16, 0.5) = 1 / 8


def test_a_constant_run_extended_with_a_decay_equals_the_run_decayed_from_its_start(tmp_path):
    """`train --resume RUN --steps 2N --lr-decay 0.5`: the decay begins at step N, where the constant run stopped, so
    the extended run is the 2N-step run with --lr-decay 0.5 from the start (and not the constant 2N-step run)."""
    import shutil

    from tiny import train_tiny_run

    from prodgen.train import resume

    train_tiny_run(tmp_path / "short", steps=4)
    shutil.copytree(tmp_path / "short", tmp_path / "plain")
    result = CliRunner().invoke(app, ["train", "--resume", str(tmp_path / "short"), "--steps", "8", "--lr-decay", "0.5",
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    resume(tmp_path / "plain", steps=8, progress=False)
    cfg = json.loads((tmp_path / "short" / "config.json").read_text())
    assert cfg["train"]["lr_decay"] == 0.5 and cfg["train"]["steps"] == 8  # saved: a later resume keeps the decay
    train_tiny_run(tmp_path / "full", steps=8, train_args={"lr_decay": 0.5})
    extended, decayed, constant = (load_training_state(tmp_path / n)["model"] for n in ("short", "full", "plain"))
    assert states_equal(extended, decayed)
    assert not states_equal(extended, constant)
    assert json.loads((tmp_path / "plain" / "config.json").read_text())["train"]["lr_decay"] == 0  # not typed: kept


def test_lr_decay_needs_steps(tmp_path):
    from prodgen.errors import UserError
    with pytest.raises(UserError, match="--lr-decay.*--steps"):
        TrainConfig(minutes=0.1, batch_size=8, lr_decay=0.3)
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        TrainConfig(steps=5, lr_decay=1.5)
    result = CliRunner().invoke(app, ["train", "--model", "gan", "--catalog", "synthetic", "--minutes", "1",
                                      "--lr-decay", "0.3", "--out", str(tmp_path / "r"), "--dry-run"])
    assert isinstance(result.exception, UserError) and "--steps" in str(result.exception)  # before any run folder
    assert not (tmp_path / "r").exists()


def test_a_phase_freezes_only_the_other_phases_parameters_and_trains_exactly_as_without(tmp_path, monkeypatch):
    import contextlib

    from prodgen.train import trainer as trainer_module

    t = make_trainer(tmp_path / "frozen", steps=4)
    d_ids = {id(p) for p in t.model.discriminator.parameters()}
    g_ids = {id(p) for p in t.model.generator.parameters()}
    assert {id(p) for p in t.others["g"]} == d_ids and {id(p) for p in t.others["d"]} == g_ids
    seen = {}
    loss = t.model.loss

    def spy(phase, *args, **kw):  # what needs a gradient while a phase computes its loss
        seen[phase] = (all(p.requires_grad for p in t.model.generator.parameters()),
                       any(p.requires_grad for p in t.model.discriminator.parameters()))
        return loss(phase, *args, **kw)

    monkeypatch.setattr(t.model, "loss", spy)
    t.run(progress=False)
    assert seen == {"d": (False, True), "g": (True, False)}
    assert all(p.requires_grad for p in t.model.parameters())  # restored after each phase
    monkeypatch.setattr(trainer_module, "frozen", lambda params: contextlib.nullcontext())
    plain = make_trainer(tmp_path / "plain", steps=4)
    plain.run(progress=False)
    assert states_equal(t.model.state_dict(), plain.model.state_dict())  # the same weights, bit for bit
    assert not (trainer_module.other_phase_parameters(model_class("vae").from_args(TINY_ARGS["vae"], [4, 5], 32))
                ["vae"])  # one phase: nothing to freeze
