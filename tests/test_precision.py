"""--precision bf16/fp16: the training step runs under autocast (fp16 with a gradient scaler) and stays close to fp32."""

from __future__ import annotations

import math

import pytest
import torch
from tiny import TINY_ARGS, shapes_data

from prodgen.config import TrainConfig
from prodgen.errors import UserError
from prodgen.models import model_class
from prodgen.train.trainer import Trainer


def _trainer(family: str, precision: str, run_dir=None, steps: int = 3) -> Trainer:
    data, vocab = shapes_data(n=32, res=32)
    torch.manual_seed(0)
    model = model_class(family).from_args(dict(TINY_ARGS[family]), vocab.sizes, 32)
    cfg = TrainConfig(steps=steps, batch_size=8, seed=1, device="cpu", sample_every=10_000, checkpoint_every=0,
                      checkpoint_minutes=0, log_every=1, precision=precision)
    return Trainer(model, data, vocab, run_dir, cfg, cond_dropout=0.1)


@pytest.mark.parametrize("family", ["vae", "diffusion", "gan"])
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_steps_are_finite_and_near_fp32(family, precision):
    torch.set_num_threads(1)
    ref = _trainer(family, "fp32").train_step()
    low = _trainer(family, precision)
    seen = []
    real_loss = low.model.loss

    def spy(*a, **k):
        out = real_loss(*a, **k)
        seen.append(torch.is_autocast_enabled("cpu"))
        return out

    low.model.loss = spy
    first = low.train_step()
    assert all(seen) and seen  # the loss ran under autocast
    key = next(k for k in first if k.endswith("loss"))
    assert math.isfinite(first[key])
    assert first[key] != ref[key]  # a different arithmetic ...
    assert abs(first[key] - ref[key]) <= 0.05 * abs(ref[key]) + 1e-3  # ... giving nearly the same loss
    for _ in range(2):
        low.step += 1
        assert all(math.isfinite(v) for v in low.train_step().values())
    assert low.scaler.is_enabled() == (precision == "fp16")


def test_fp16_gradient_scaler_is_checkpointed_and_resumed(tmp_path):
    torch.set_num_threads(1)
    t = _trainer("vae", "fp16", tmp_path / "run", steps=2)
    t.scaler = torch.amp.GradScaler("cpu", init_scale=1234.0)  # a scale a fresh trainer does not start with
    t.run(progress=False)
    assert t.scaler.get_scale() == 1234.0  # no overflow in 2 steps, no growth before 2,000
    again = _trainer("vae", "fp16", tmp_path / "run", steps=2)
    assert again.scaler.get_scale() == 65536.0
    again.resume()
    assert again.scaler.get_scale() == 1234.0 and again.step == 2


def test_unknown_precision_is_refused():
    with pytest.raises(UserError, match="fp32, bf16, fp16"):
        TrainConfig(precision="int8")


@pytest.mark.parametrize(("gains", "device", "family", "want"), [
    (True, "cpu", "gan", "bf16"),  # measured: 1.5x the steps at equal CPU time (bench/bf16_cpu.sh)
    (False, "cpu", "gan", "fp32"),  # a CPU where bf16 does not run faster (emulated, or the precision table's 0.90x)
    (True, "cpu", "vae", "fp32"),  # faster in bf16, but its quality at equal time is unmeasured
    (True, "cpu", "diffusion", "fp32"),
    (True, "cuda", "gan", "fp32"),
])
def test_auto_precision_is_bf16_only_where_measured_to_gain(monkeypatch, gains, device, family, want):
    from prodgen import device as dev

    monkeypatch.delenv("PRODGEN_AUTO_PRECISION")
    monkeypatch.setattr(dev, "cpu_bf16_gains", lambda: gains)
    assert dev.resolve_precision("auto", torch.device(device), family) == want
    for explicit in ("fp32", "bf16", "fp16"):  # a precision asked for is kept, whatever the machine
        assert dev.resolve_precision(explicit, torch.device(device), family) == explicit


@pytest.mark.parametrize("gains", [True, False])
def test_auto_precision_runs_and_is_recorded_in_the_run(monkeypatch, tmp_path, gains):
    from prodgen import device as dev
    from prodgen.config import DataConfig, RunConfig
    from prodgen.train.run import train

    monkeypatch.delenv("PRODGEN_AUTO_PRECISION")
    monkeypatch.setattr(dev, "cpu_bf16_gains", lambda: gains)
    cfg = RunConfig(model="gan", model_args=dict(TINY_ARGS["gan"]),
                    data=DataConfig(catalog="synthetic", resolution=32, synthetic_size=96),
                    train=TrainConfig(steps=2, batch_size=8, device="cpu", threads=1, sample_every=10_000,
                                      checkpoint_every=0, checkpoint_minutes=0, precision="auto"))
    seen = []
    real = torch.autocast

    def spy(*a, **k):  # the trainer's autocast, as asked for
        seen.append(k.get("dtype") if k.get("enabled", True) else None)
        return real(*a, **k)

    monkeypatch.setattr(torch, "autocast", spy)
    train(cfg, tmp_path / "run", progress=False)
    want = "bf16" if gains else "fp32"
    assert RunConfig.load(tmp_path / "run" / "config.json").train.precision == want  # a resume keeps it
    assert (torch.bfloat16 in seen) == gains and seen


def test_the_environment_can_pin_what_auto_means(monkeypatch):
    from prodgen import device as dev

    monkeypatch.setattr(dev, "cpu_bf16_gains", lambda: True)
    monkeypatch.setenv("PRODGEN_AUTO_PRECISION", "fp32")  # the bench scripts of fp32 rows, the suite
    assert dev.resolve_precision("auto", torch.device("cpu"), "gan") == "fp32"
    assert dev.resolve_precision("bf16", torch.device("cpu"), "gan") == "bf16"  # an explicit choice still wins
    monkeypatch.setenv("PRODGEN_AUTO_PRECISION", "int4")
    with pytest.raises(UserError, match="PRODGEN_AUTO_PRECISION"):
        dev.resolve_precision("auto", torch.device("cpu"), "gan")


def test_auto_is_the_default_and_older_runs_keep_fp32():
    import dataclasses

    from prodgen.config import RunConfig

    assert TrainConfig().precision == "auto"
    d = dataclasses.asdict(RunConfig(model="gan"))
    assert RunConfig.from_dict(d).train.precision == "auto"
    del d["train"]["precision"]  # a config.json written before --precision existed: that run trained in fp32
    assert RunConfig.from_dict(d).train.precision == "fp32"


@pytest.mark.parametrize("fast", [True, False])
def test_bf16_on_a_cpu_without_bf16_kernels_warns_and_names_the_fix(monkeypatch, fast):
    from prodgen import device as dev

    monkeypatch.setattr(dev, "cpu_has_fast_bf16", lambda: fast)
    msg = dev.precision_warning("bf16", torch.device("cpu"))
    assert (msg is None) == fast
    if not fast:
        assert "emulated" in msg and "--precision fp32" in msg
    assert dev.precision_warning("fp32", torch.device("cpu")) is None
    assert dev.precision_warning("bf16", torch.device("cuda")) is None  # GPUs have bf16 kernels of their own
    import warnings as w

    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        _trainer("gan", "bf16")
    assert any("emulated" in str(c.message) for c in caught) == (not fast)


def test_the_bf16_kernel_probe_answers_on_this_machine():
    from prodgen import device as dev

    # the probe's answer is the CPU's: oneDNN's bf16 support needs AVX-512 (or AMX), so an AMX CPU always says yes
    assert isinstance(dev.cpu_has_fast_bf16(), bool)
    if dev.cpu_has_amx_bf16():
        assert dev.cpu_has_fast_bf16()


def test_the_cli_shows_the_bf16_warning_as_one_line(monkeypatch, tmp_path):
    from rich.console import Console

    from prodgen import device as dev
    from prodgen.config import DataConfig, RunConfig
    from prodgen.train.run import train

    monkeypatch.setattr(dev, "cpu_has_fast_bf16", lambda: False)
    cfg = RunConfig(model="gan", model_args=dict(TINY_ARGS["gan"]),
                    data=DataConfig(catalog="synthetic", resolution=32, synthetic_size=96),
                    train=TrainConfig(steps=1, batch_size=8, device="cpu", threads=1, sample_every=10_000,
                                      checkpoint_every=0, checkpoint_minutes=0, precision="bf16"))
    console = Console(record=True, width=400)
    import warnings as w

    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        train(cfg, tmp_path / "run", progress=False, console=console)
    text = console.export_text()
    assert "warning: --precision bf16" in text and "--precision fp32 or auto" in text
    assert not any("emulated" in str(c.message) for c in caught)  # shown once, on the console, not also as a warning
