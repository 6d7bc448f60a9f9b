"""ProductNet: learns the synthetic catalog's attributes, round-trips, refuses wrong inputs."""

from __future__ import annotations

import json

import pytest
import torch
from tiny import shapes_data

from prodgen.config import DataConfig, RunConfig
from prodgen.errors import TrainingDiverged, UserError
from prodgen.evaluate import features
from prodgen.evaluate.features import (FitSettings, FitStopped, ProductNetTrainer, fit_productnet, productnet_for,
                                       train_productnet)
from prodgen.evaluate.productnet import ProductNet, ProductNetConfig
from prodgen.runfolder import read_kind
from prodgen.train.checkpoint import load_training_state
from prodgen.train.metrics_log import read_metrics


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("pn")
    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=600)
    acc = fit_productnet(data, out, FitSettings(epochs=8, batch_size=64, width=8), progress=False)
    return out, acc, data


def test_heldout_accuracy_clearly_beats_chance(fitted):
    _, acc, _ = fitted
    assert set(acc) >= {"category", "colour", "pattern"}
    assert acc["category"]["classes"] == 7 and acc["category"]["accuracy"] > 0.6  # chance 0.14
    assert acc["category"]["accuracy"] > acc["category"]["majority_baseline"] + 0.3
    assert acc["colour"]["accuracy"] > 0.5 and acc["colour"]["accuracy"] > acc["colour"]["majority_baseline"] + 0.25
    assert acc["_n_train"] > acc["_n_test"] > 0 and acc["_fit_seconds"] > 0


def test_round_trip_frozen_and_deterministic(fitted):
    out, _, _ = fitted
    net, vocab, acc = ProductNet.from_pretrained(out)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    f1, l1 = net.extract(x)
    net.train()  # extract switches to eval mode itself
    f2, _ = net.extract(x)
    assert torch.equal(f1, f2) and f1.shape == (5, 256) and len(l1) == len(vocab.attributes)
    assert net.training  # and restores the mode afterwards


def test_never_resizes_silently(fitted):
    out, _, _ = fitted
    net, _, _ = ProductNet.from_pretrained(out)
    with pytest.raises(ValueError, match="never resized"):
        net.extract(torch.zeros(2, 3, 64, 64))


def test_cached_fit_is_reused(monkeypatch):
    """productnet_for fits the catalog's ProductNet once into the cache; the next call loads it without refitting."""
    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=300)
    monkeypatch.setattr(features, "FitSettings", lambda: FitSettings(epochs=1, batch_size=64, width=8))
    calls = []
    real_fit = features.fit_productnet

    def counting_fit(*args, **kwargs):
        calls.append(args[1])
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(features, "fit_productnet", counting_fit)
    net1, vocab1, acc1 = productnet_for(data, progress=False)
    assert len(calls) == 1 and calls[0].parent.name == "productnet" and (calls[0] / "productnet.json").is_file()
    stamp = (calls[0] / "productnet.safetensors").stat().st_mtime_ns
    net2, vocab2, acc2 = productnet_for(data, progress=False)
    assert len(calls) == 1, "the cached ProductNet was fitted again"
    assert (calls[0] / "productnet.safetensors").stat().st_mtime_ns == stamp
    assert acc1 == acc2 and vocab1.to_dict() == vocab2.to_dict()
    assert all(torch.equal(a, b) for a, b in zip(net1.state_dict().values(), net2.state_dict().values()))
    assert read_kind(calls[0]) == "productnet"


def test_productnet_for_refuses_a_wrong_resolution(fitted):
    out, _, _ = fitted
    with pytest.raises(UserError, match="works at 32px but the run is 64px"):
        productnet_for(DataConfig(catalog="synthetic", resolution=64), features=out)


SMALL = dict(epochs=2, batch_size=32, width=8)


def small_data() -> DataConfig:
    return DataConfig(catalog="synthetic", resolution=32, synthetic_size=300)


def test_interrupted_fit_continues_bit_identically(tmp_path, monkeypatch):
    """Ctrl-C mid-epoch keeps a checkpoint; the same fit again continues it to the uninterrupted weights."""
    full = fit_productnet(small_data(), tmp_path / "full", FitSettings(**SMALL), progress=False, device="cpu")
    real_step = ProductNetTrainer.train_step

    def step_then_stop(self):
        out = real_step(self)
        if self.step == 4:  # the 5th step, mid-epoch (7 steps an epoch)
            self.request_stop()
        return out

    monkeypatch.setattr(ProductNetTrainer, "train_step", step_then_stop)
    with pytest.raises(FitStopped, match="step 5 of 14 .*interrupted.*run the same fit again"):
        fit_productnet(small_data(), tmp_path / "cut", FitSettings(**SMALL), progress=False, device="cpu")
    assert load_training_state(tmp_path / "cut")["step"] == 5
    assert not (tmp_path / "cut" / "productnet.json").exists()
    with pytest.raises(UserError, match="has not finished"):
        ProductNet.from_pretrained(tmp_path / "cut")
    monkeypatch.setattr(ProductNetTrainer, "train_step", real_step)
    resumed = fit_productnet(small_data(), tmp_path / "cut", FitSettings(**SMALL), progress=False, device="cpu")
    assert {k: v for k, v in resumed.items() if k != "_fit_seconds"} == {k: v for k, v in full.items() if k != "_fit_seconds"}
    a, _, _ = ProductNet.from_pretrained(tmp_path / "full")
    b, _, _ = ProductNet.from_pretrained(tmp_path / "cut")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    steps = [r["step"] for r in read_metrics(tmp_path / "cut" / "metrics.jsonl") if "event" not in r]
    assert steps == sorted(set(steps)) and steps[-1] == 14  # no duplicates after the resume
    # other settings: a fresh fit, not a continuation of the finished one
    other = fit_productnet(small_data(), tmp_path / "cut", FitSettings(**{**SMALL, "epochs": 1}), progress=False)
    assert load_training_state(tmp_path / "cut")["step"] == 7 and other["_n_train"] == full["_n_train"]


def test_nan_loss_stops_the_fit_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    real_loss = ProductNet.loss
    count = {"n": 0}

    def loss(self, images, targets):
        total, parts = real_loss(self, images, targets)
        count["n"] += 1
        return (total * float("nan"), parts) if count["n"] > 9 else (total, parts)

    monkeypatch.setattr(ProductNet, "loss", loss)
    with pytest.raises(TrainingDiverged, match=r"ProductNet loss became nan at step 10.*last good checkpoint in .*nan"):
        fit_productnet(small_data(), tmp_path / "nan", FitSettings(**SMALL), progress=False)
    assert load_training_state(tmp_path / "nan")["step"] == 7  # the end of the first epoch


def test_minutes_budget_and_in_memory_training(tmp_path):
    with pytest.raises(FitStopped, match="step 0 of 14.*budget"):
        fit_productnet(small_data(), tmp_path / "m", FitSettings(**SMALL), progress=False, minutes=0.0)
    data, vocab = shapes_data(n=64)
    cfg = ProductNetConfig(32, ["shape", "colour"], vocab.sizes, 8, 64)
    net = train_productnet(data.images, data.cond, cfg, FitSettings(epochs=1, batch_size=16, width=8), progress=False,
                           device="cpu")
    assert not net.training and next(net.parameters()).device.type == "cpu"


def test_run_folder_kinds(fitted, tmp_path):
    out, _, _ = fitted
    assert read_kind(out) == "productnet"
    assert json.loads((out / "config.json").read_text())["kind"] == "productnet"
    with pytest.raises(UserError, match="holds a ProductNet.*needs a generator run.*--features"):
        RunConfig.load(out / "config.json")
    gen = tmp_path / "gen"
    gen.mkdir()
    RunConfig().save(gen / "config.json")
    with pytest.raises(UserError, match="holds a generator run.*--features needs a ProductNet"):
        ProductNet.from_pretrained(gen)
    with pytest.raises(UserError, match="another kind of prodgen run"):
        fit_productnet(small_data(), gen, FitSettings(**SMALL), progress=False)
