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
