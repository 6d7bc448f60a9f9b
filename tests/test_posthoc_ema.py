"""Post-hoc EMA (train/posthoc_ema.py): the replayed average is the trainer's own, profiles have their known weights."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.config import ConditionConfig, DataConfig, RunConfig, TrainConfig
from prodgen.errors import UserError
from prodgen.models.base import EMA_NAME, load_state
from prodgen.sample import Pipeline
from prodgen.train import train
from prodgen.train.posthoc_ema import (POSTHOC_NAME, average_snapshots, ema_coefficients, gamma_from_sigma_rel,
                                       half_life_decay, list_snapshots, power_decay, rebuild_ema, trainer_decay)
from tiny import TINY_ARGS

STEPS = 13


def _run(out, snapshot_every: int, ema_decay: float = 0.9, ema_sigma_rel: float | None = None):
    cfg = RunConfig(model="gan", model_args=dict(TINY_ARGS["gan"]),
                    condition=ConditionConfig(attributes=["category", "colour"], min_count=1),
                    data=DataConfig(catalog="synthetic", resolution=32, synthetic_size=120),
                    train=TrainConfig(steps=STEPS, batch_size=8, sample_every=1000, checkpoint_every=0, log_every=1,
                                      ema_decay=ema_decay, ema_sigma_rel=ema_sigma_rel, snapshot_every=snapshot_every))
    train(cfg, out, progress=False)
    return out


@pytest.fixture(scope="module")
def every_step(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("posthoc") / "k1", snapshot_every=1)


def test_power_profile_in_training_is_replayed_exactly(tmp_path):
    run = _run(tmp_path / "power", snapshot_every=1, ema_sigma_rel=0.1)
    net = Pipeline.from_pretrained(run, device="cpu").model.sampling_net()
    kept = _params(load_state(run / EMA_NAME), net)
    power, _ = average_snapshots(run, power_decay(0.1))
    warmup, _ = average_snapshots(run, trainer_decay(0.9))
    for k in kept:
        torch.testing.assert_close(_params(power, net)[k], kept[k], rtol=1e-5, atol=1e-6)
    # the warm-up profile is another average of the same weights
    assert max(float((_params(warmup, net)[k] - kept[k]).abs().max()) for k in kept) > 1e-5


def _params(state: dict, net) -> dict:
    """The learned parameters only (BN statistics are recomputed from them, not averaged)."""
    names = {n for n, _ in net.named_parameters()}
    return {k: v for k, v in state.items() if k in names}


def test_snapshots_every_step_replay_the_trainers_ema_exactly(every_step):
    steps = [s for s, _ in list_snapshots(every_step)]
    assert steps == list(range(STEPS + 1))  # step 0 (the start) and each step after it
    state, info = average_snapshots(every_step, trainer_decay(0.9))
    net = Pipeline.from_pretrained(every_step, device="cpu").model.sampling_net()
    kept = _params(load_state(every_step / EMA_NAME), net)
    rebuilt = _params(state, net)
    assert kept.keys() == rebuilt.keys() and kept
    for k in kept:
        torch.testing.assert_close(rebuilt[k], kept[k], rtol=1e-5, atol=1e-6)
    # and it is not the raw weights: the last snapshot differs from the average
    last = _params(load_state(list_snapshots(every_step)[-1][1]), net)
    assert max(float((last[k] - kept[k]).abs().max()) for k in kept) > 1e-4  # 100x the tolerance above
    assert info["snapshots"] == STEPS + 1 and info["total_steps"] == STEPS


def test_coefficients_of_known_profiles():
    steps = list(range(0, 101))
    # gamma = 0 of the power function (d_t = 1 - 1/t): the plain mean of the weights after each step, none of the start
    mean = ema_coefficients(steps, 100, lambda t: 1 - 1 / t)
    assert float(mean[0]) == 0.0
    torch.testing.assert_close(mean[1:], torch.full((100,), 0.01, dtype=torch.float64))
    # a half-life of 10 steps: weights halve every 10 steps back from the end; early on, the mean so far
    c = ema_coefficients(steps, 100, half_life_decay(10))
    assert float(c.sum()) == pytest.approx(1.0)
    assert float(c[90] / c[100]) == pytest.approx(0.5, rel=1e-9)
    assert float(c[80] / c[100]) == pytest.approx(0.25, rel=1e-9)
    assert float(c[0]) == 0.0 and float(c[1] / c[2]) == pytest.approx(1.0)  # t < 15: 1 - 1/t is below 0.5^(1/10)
    # blocks of 5 steps: each snapshot carries its block's weight
    c5 = ema_coefficients(steps[::5], 100, half_life_decay(10))
    assert float(c5.sum()) == pytest.approx(1.0)
    assert float(c5[-1]) == pytest.approx(float(c[96:].sum()), rel=1e-9)


def test_power_profile_width_matches_edm2():
    # EDM2 (Karras et al. 2024, sec. 3.1) quotes gamma 16.97 for sigma_rel 0.05 and 6.94 for 0.10
    assert gamma_from_sigma_rel(0.05) == pytest.approx(16.97, abs=0.01)
    assert gamma_from_sigma_rel(0.10) == pytest.approx(6.94, abs=0.01)
    # and the replayed weights have that relative standard deviation (t^gamma profile over the run)
    total = 2000
    c = ema_coefficients(list(range(total + 1)), total, power_decay(0.1))
    t = torch.arange(total + 1, dtype=torch.float64)
    mean = float((c * t).sum())
    std = math.sqrt(float((c * (t - mean) ** 2).sum()))
    assert std / total == pytest.approx(0.10, rel=0.01)
    with pytest.raises(UserError, match="sigma_rel"):
        gamma_from_sigma_rel(0.5)


def test_rebuild_writes_a_run_that_samples(every_step, tmp_path):
    out = tmp_path / "short"
    rec = rebuild_ema(every_step, out, half_life=2)
    assert json.loads((out / POSTHOC_NAME).read_text()) == rec
    assert rec["profile"] == {"half_life_steps": 2} and rec["total_steps"] == STEPS
    assert not (out / "training_state.pt").exists() and not (out / "snapshots").exists()
    pipe = Pipeline.from_pretrained(out, device="cpu")
    net = pipe.model.sampling_net()
    short = _params(load_state(out / EMA_NAME), net)
    kept = _params(load_state(every_step / EMA_NAME), net)
    assert max(float((short[k] - kept[k]).abs().max()) for k in kept) > 1e-4  # another average
    img = pipe.model.sample(2, torch.zeros(2, len(pipe.vocab.attributes), dtype=torch.long), net=net)
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()
    # BN statistics were recomputed for the new weights, not copied
    bn = [k for k in load_state(out / EMA_NAME) if k.endswith("running_mean")]
    assert bn and any(not torch.equal(load_state(out / EMA_NAME)[k], load_state(every_step / EMA_NAME)[k]) for k in bn)


def test_cli_refuses_without_snapshots_or_profile(tmp_path, every_step):
    plain = _run(tmp_path / "plain", snapshot_every=0)
    runner = CliRunner()
    res = runner.invoke(app, ["ema", str(plain), "--out", str(tmp_path / "x"), "--half-life", "5"])
    assert isinstance(res.exception, UserError) and "--snapshot-every" in str(res.exception)  # main() prints it
    res = runner.invoke(app, ["ema", str(every_step), "--out", str(tmp_path / "y")])
    assert isinstance(res.exception, UserError) and "--half-life" in str(res.exception)
    res = runner.invoke(app, ["ema", str(every_step), "--out", str(tmp_path / "z"), "--sigma-rel", "0.1"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "z" / POSTHOC_NAME).read_text())["profile"] == {"sigma_rel": 0.1}


def test_the_trainers_profile_at_an_earlier_step(every_step, tmp_path):
    """--decay D --steps S: the average the trainer held at step S (here every step is kept: exactly its replay)."""
    rec = rebuild_ema(every_step, tmp_path / "early", decay=0.9, steps=7)
    assert rec["profile"] == {"trainer_decay": 0.9} and rec["total_steps"] == 7 and rec["snapshots"] == 8
    net = Pipeline.from_pretrained(tmp_path / "early", device="cpu").model.sampling_net()
    early = _params(load_state(tmp_path / "early" / EMA_NAME), net)
    state, _ = average_snapshots(every_step, trainer_decay(0.9), 7)
    final = _params(load_state(every_step / EMA_NAME), net)
    for k in early:
        torch.testing.assert_close(early[k], _params(state, net)[k])
    assert max(float((early[k] - final[k]).abs().max()) for k in early) > 1e-5  # not the step-13 average
    with pytest.raises(UserError, match="one averaging profile"):
        rebuild_ema(every_step, tmp_path / "both", decay=0.9, half_life=3)
