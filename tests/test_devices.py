"""Device-sensitive paths on a second device (CUDA) next to the CPU.

Every path that creates tensors (sampling, attribute edits, GAN inversion,
interpolation, training steps, ProductNet features, restoration) must work when
the network lives on another device, and a seed must give the same images up to
floating-point round-off. These tests skip cleanly where torch sees no GPU; the
prepared GPU check (`bench/gpu_check.sh`) runs them on a lent GPU machine.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from prodgen.apps.variations import edit_attributes, interpolate, to_model_input
from prodgen.config import DataConfig, RunConfig, TrainConfig
from prodgen.sample import Pipeline
from prodgen.train.run import train
from tiny import TINY_ARGS

# PRODGEN_TEST_SECOND_DEVICE=cpu runs the same paths on the CPU (a check of the tests themselves).
_OVERRIDE = os.environ.get("PRODGEN_TEST_SECOND_DEVICE")
SECOND = [_OVERRIDE] if _OVERRIDE else [
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"))]


@pytest.fixture(autouse=True)
def _exact_cuda_math():
    """No TF32 on the GPU, so CPU and GPU agree to float32 round-off."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@pytest.fixture(scope="module")
def cpu_runs(tmp_path_factory):
    """One tiny run per family, trained on the CPU (32 px synthetic catalog, a few steps)."""
    root = tmp_path_factory.mktemp("device-runs")
    for fam in ("gan", "vae", "diffusion"):
        cfg = RunConfig(model=fam, model_args=dict(TINY_ARGS[fam]), data=DataConfig(catalog="synthetic", resolution=32),
                        train=TrainConfig(steps=4, batch_size=8, device="cpu", sample_every=1000, checkpoint_every=1000))
        train(cfg, root / fam, progress=False)
    return root


def _photo(res: int = 32) -> torch.Tensor:
    rng = np.random.default_rng(0)
    img = np.ones((3, 64, 64), dtype=np.float32)
    img[:, 16:48, 20:44] = rng.uniform(0.1, 0.6, size=(3, 1, 1))
    return to_model_input(img, res)


@pytest.mark.parametrize("device", SECOND)
@pytest.mark.parametrize("family", ["gan", "vae", "diffusion"])
def test_same_seed_same_images_on_cpu_and_second_device(cpu_runs, family, device):
    cpu = Pipeline.from_pretrained(cpu_runs / family, device="cpu")
    dev = Pipeline.from_pretrained(cpu_runs / family, device=device)
    assert next(dev.net.parameters()).device.type == device
    attrs = {dev.vocab.names[0]: dev.vocab.attributes[0].choices[-1]}
    a = cpu.generate(attrs, n=4, seed=11, steps=3) if family == "diffusion" else cpu.generate(attrs, n=4, seed=11)
    b = dev.generate(attrs, n=4, seed=11, steps=3) if family == "diffusion" else dev.generate(attrs, n=4, seed=11)
    assert b.device.type == "cpu"  # results come back to the CPU
    assert (a - b).abs().max().item() < 2e-3, (a - b).abs().max().item()


@pytest.mark.parametrize("device", SECOND)
@pytest.mark.parametrize("family", ["gan", "vae", "diffusion"])
def test_attribute_edit_and_interpolation_on_second_device(cpu_runs, family, device):
    pipe = Pipeline.from_pretrained(cpu_runs / family, device=device)
    name = pipe.vocab.names[-1]
    choices = pipe.vocab[name].choices
    value = choices[-1]
    sampling = {"steps": 3} if family == "diffusion" else {}
    out = edit_attributes(pipe, _photo(pipe.model.resolution), {name: value}, seed=1, **sampling)
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()
    a = pipe.condition({name: choices[0]})
    b = pipe.condition({name: value})
    frames = interpolate(pipe, a, b, frames=3, seed=2, **sampling)
    assert frames.device.type == "cpu" and frames.shape == (3, 3, 32, 32)
    direct = pipe.generate_batch(torch.stack([a, b]), [2, 2], **sampling)
    assert torch.allclose(frames[0], direct[0], atol=1e-4) and torch.allclose(frames[-1], direct[1], atol=1e-4)


@pytest.mark.parametrize("device", SECOND)
def test_training_runs_on_second_device_and_loads_on_the_cpu(tmp_path, device):
    cfg = RunConfig(model="gan", model_args=dict(TINY_ARGS["gan"]), data=DataConfig(catalog="synthetic", resolution=32),
                    train=TrainConfig(steps=3, batch_size=8, device=device, sample_every=1000, checkpoint_every=1000))
    train(cfg, tmp_path / "run", progress=False)
    pipe = Pipeline.from_pretrained(tmp_path / "run", device="cpu")  # weights saved device-free
    assert torch.isfinite(pipe.generate(n=2, seed=0)).all()
