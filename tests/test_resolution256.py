"""256 px wherever a resolution is chosen, and 128 px for every family (issue 12 part 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tiny import TINY_ARGS, shapes_data

from prodgen.config import DataConfig, TrainConfig
from prodgen.data.cache import write_uint8_safetensors
from prodgen.errors import UserError
from prodgen.evaluate.productnet import ProductNet, ProductNetConfig
from prodgen.models import model_class
from prodgen.models.blocks import conv_encoder_widths, decoder_widths
from prodgen.resolution import RESOLUTIONS, stages
from prodgen.train import Trainer


def test_256_is_a_resolution_everywhere_and_512_is_refused_with_the_choices():
    assert RESOLUTIONS == (32, 64, 128, 256) and [stages(r) for r in RESOLUTIONS] == [3, 4, 5, 6]
    assert DataConfig(resolution=256).resolution == 256
    with pytest.raises(UserError, match="32, 64, 128 or 256"):
        DataConfig(resolution=512)
    with pytest.raises(UserError, match="32, 64, 128 or 256"):
        model_class("gan").from_args(TINY_ARGS["gan"], [3], 96)
    net = ProductNet(ProductNetConfig(resolution=256, head_sizes=[3], width=8, feature_dim=16)).eval()
    f, logits = net(torch.zeros(2, 3, 256, 256))
    assert f.shape == (2, 16) and logits[0].shape == (2, 3)


def test_default_widths_keep_32_to_128_and_floor_256_at_128s_outermost_widths():
    assert decoder_widths(64, None, 256) == [256, 128, 64, 32, 16]  # unchanged below 256
    assert decoder_widths(128, None, 256)[-1] == 8 and conv_encoder_widths(128, None, 256)[0] == 16
    assert decoder_widths(256, None, 256) == [256, 256, 128, 64, 32, 16, 8]  # not 4 channels into RGB
    assert conv_encoder_widths(256, None, 256) == [16, 32, 64, 128, 256, 256]  # not an 8-wide first stage
    assert decoder_widths(256, 4, 256)[-1] == 4  # an explicit width is still obeyed


def _train(name: str, args: dict, res: int, tmp_path, steps: int = 3, batch: int = 4, precision: str = "fp32"):
    """``steps`` Trainer steps (no checkpoint: its BN recalibration samples 512 images, slow at 256 px); the losses."""
    data, vocab = shapes_data(n=16, res=res)
    torch.manual_seed(0)
    model = model_class(name).from_args(args, vocab.sizes, res)
    cfg = TrainConfig(steps=steps, batch_size=batch, device="cpu", checkpoint_every=0, checkpoint_minutes=0,
                      precision=precision)
    t = Trainer(model, data, vocab, tmp_path, cfg, cond_dropout=0.1)
    logs = []
    for _ in range(steps):
        logs.append(t.train_step())
        t.step += 1
    return model, [v for r in logs for k, v in r.items() if k.endswith("loss")]


def test_gan_at_256_trains_in_bf16_with_finite_losses_and_makes_256_px_images(tmp_path):
    """The issue's command: ``prodgen train --model gan --resolution 256 --precision bf16``."""
    model, losses = _train("gan", TINY_ARGS["gan"], 256, tmp_path, precision="bf16")
    assert len(losses) == 6 and all(np.isfinite(losses))
    x = model.eval().sample(2, torch.tensor([[1, 1], [2, 3]]), torch.Generator().manual_seed(0))
    assert x.shape == (2, 3, 256, 256) and torch.isfinite(x).all() and x.std() > 0


@pytest.mark.parametrize("name", ["gan", "vae", "diffusion"])
def test_every_family_trains_and_samples_at_128(name, tmp_path):
    args = {**TINY_ARGS[name], **({"patch": 8} if name == "diffusion" else {})}  # 128 / 8 = 16x16 U-Net input
    model, losses = _train(name, args, 128, tmp_path, steps=2)
    assert losses and all(np.isfinite(losses))
    x = model.eval().sample(2, torch.tensor([[1, 1], [2, 3]]), torch.Generator().manual_seed(0))
    assert x.shape == (2, 3, 128, 128) and torch.isfinite(x).all()


def test_vae_at_256_falls_out_of_the_shared_blocks():
    m = model_class("vae").from_args(TINY_ARGS["vae"], [4, 5], 256).eval()
    x = torch.rand(2, 3, 256, 256) * 2 - 1
    assert m.reconstruct(x, torch.tensor([[1, 1], [2, 3]])).shape == (2, 3, 256, 256)


def test_cache_file_is_streamed_and_reads_back_exactly(tmp_path):
    """The cache writer never builds the file in memory (1.7 GB at 256 px); a slice with skipped rows is fine."""
    rng = np.random.default_rng(0)
    out = rng.integers(0, 256, size=(5, 3, 8, 8), dtype=np.uint8)
    write_uint8_safetensors(tmp_path / "c.safetensors", "images", out[:3])
    back = load_file(str(tmp_path / "c.safetensors"))["images"]
    assert back.dtype == torch.uint8 and torch.equal(back, torch.from_numpy(out[:3]))
