"""R3GAN's networks as the GAN's ``arch=r3gan`` (models/r3gan_nets.py): normalisation-free ResNets of grouped convs,
fix-up initialised, trained end to end through the CLI, saved, loaded and exported like the dcgan ones."""

from __future__ import annotations

import hashlib

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.errors import UserError
from prodgen.models.base import EMA_NAME, WEIGHTS_NAME
from prodgen.models.gan import ConditionalGAN, GANConfig, R3Discriminator, R3Generator
from prodgen.models.r3gan_nets import ResidualBlock
from prodgen.sample import Pipeline
from tiny import TINY_ARGS

SIZES = (5, 4)
NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
runner = CliRunner()
TINY = [a for k, v in TINY_ARGS["gan"].items() for a in ("--model-arg", f"{k}={v}")]
R3 = ["--model-arg", "arch=r3gan", "--model-arg", "loss=rpgan", "--model-arg", "r1_gamma=1", "--model-arg", "r2_gamma=1",
      "--model-arg", "reg_every=2"]


def r3(resolution: int = 32, **kw) -> ConditionalGAN:
    return ConditionalGAN(GANConfig(**{**TINY_ARGS["gan"], "arch": "r3gan", **kw}), SIZES, resolution)


def test_a_residual_block_is_the_identity_at_initialisation_and_can_leave_it():
    torch.manual_seed(0)
    block = ResidualBlock(32, group_size=16, expansion=2, total_blocks=5)
    x = torch.randn(3, 32, 8, 8, requires_grad=True)
    y = block(x)
    assert torch.equal(y, x)  # fix-up: the branch's last conv starts at zero
    y.square().sum().backward()
    assert block.conv3.weight.grad.abs().sum() > 0  # ... and learns
    assert block.conv2.groups == 4  # 64 expanded channels in groups of 16
    with torch.no_grad():
        block.conv3.weight.normal_(0, 0.1)
    assert not torch.allclose(block(x), x, atol=1e-3)


def test_fixup_scales_the_branch_init_by_the_number_of_blocks():
    torch.manual_seed(0)
    one = ResidualBlock(64, 16, 2, total_blocks=1).conv1.weight.detach().std()
    sixteen = ResidualBlock(64, 16, 2, total_blocks=16).conv1.weight.detach().std()
    assert abs(float(sixteen / one) - 16 ** -0.25) < 0.05  # L^(-1/(2m-2)) with m = 3 layers per branch
    assert abs(float(one) - (2 / 1.04) ** 0.5 / 64**0.5) < 0.01  # He init for leaky ReLU(0.2), fan-in 64


def test_networks_have_no_normalisation_and_use_grouped_convs():
    m = r3(text_dim=12)
    assert isinstance(m.generator, R3Generator) and isinstance(m.discriminator, R3Discriminator)
    for net in (m.generator, m.discriminator):
        assert not [type(x).__name__ for x in net.modules() if isinstance(x, NORMS)]
        assert any(isinstance(x, nn.Conv2d) and x.groups > 1 and x.kernel_size == (3, 3) for x in net.modules())
    # no spectral norm in D but on the text projection (text_sn=True, the default)
    sn = [n for n, x in m.discriminator.named_modules() if nn.utils.parametrize.is_parametrized(x)]
    assert sn == ["text_proj"]
    assert not nn.utils.parametrize.is_parametrized(r3(text_dim=12, text_sn=False).discriminator.text_proj)
    # the checks can fail: the dcgan generator has batch norm, and no grouped convs
    dcgan = ConditionalGAN(GANConfig(**TINY_ARGS["gan"]), SIZES, 32)
    assert any(isinstance(x, NORMS) for x in dcgan.generator.modules())
    assert not any(isinstance(x, nn.Conv2d) and x.groups > 1 for x in dcgan.modules())


@pytest.mark.parametrize("resolution", [32, 64])
def test_generator_output_shape_and_range(resolution):
    torch.manual_seed(0)
    m = r3(resolution)
    g = torch.Generator().manual_seed(1)
    z = m.latent_noise(6, g)
    cond = torch.stack([torch.randint(0, s, (6,), generator=g) for s in SIZES], 1)
    x = m.generator(z, cond)
    assert x.shape == (6, 3, resolution, resolution)
    assert torch.isfinite(x).all() and x.abs().max() <= 1 and x.std() > 0.05
    assert (x[0] - x[1]).abs().mean() > 1e-3  # the noise is live
    assert m.discriminator(x, cond).shape == (6,)
    z2 = m.latent_noise(6, torch.Generator().manual_seed(1), truncation=0.5)  # truncation is the model's, unchanged
    assert z2.abs().max() <= 1.0 and torch.isfinite(m.generator(z2, cond)).all()


def test_discriminator_is_conditional_on_attributes_and_text():
    torch.manual_seed(0)
    d = r3(text_dim=12).discriminator
    with torch.no_grad():  # away from the small init, as after training
        for table in d.proj:
            table.weight.normal_(0, 0.5)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    a, b = torch.tensor([[1, 1]] * 4), torch.tensor([[2, 3]] * 4)
    with torch.no_grad():
        assert (d(x, a) - d(x, b)).abs().min() > 1e-3
        text = torch.nn.functional.normalize(torch.randn(4, 12), dim=1)
        assert (d(x, a, text) - d(x, a)).abs().min() > 1e-4
        assert torch.allclose(d(x, a, torch.zeros(4, 12)), d(x, a))  # "no text" rows contribute nothing


def test_both_losses_train_the_r3gan_networks_including_the_penalties():
    torch.manual_seed(0)
    m = r3(loss="rpgan", r1_gamma=1.0, r2_gamma=1.0)
    real, cond = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([[1, 2]] * 4)
    out = m.loss("d", real, cond)
    assert out["r1"] > 0 and out["r2"] > 0
    out["loss"].backward()
    assert all(p.grad is not None for p in m.discriminator.parameters())
    m.zero_grad()
    m.loss("g", real, cond)["loss"].backward()
    grads = {n: p.grad for n, p in m.generator.decoder.named_parameters()}
    assert all(g is not None for g in grads.values())
    # at the first step the zero-initialised last conv of each branch learns (the convs before it follow later)
    assert all(g.abs().sum() > 0 for n, g in grads.items() if "conv3" in n or "conv1" not in n and "conv2" not in n)


def test_invalid_arch_and_settings_are_clear_errors():
    with pytest.raises(UserError, match=r"arch=stylegan.*one of dcgan, r3gan"):
        GANConfig(arch="stylegan")
    with pytest.raises(UserError, match="sle=true"):
        GANConfig(arch="r3gan", sle=True)
    with pytest.raises(UserError, match="r3_blocks"):
        GANConfig(arch="r3gan", r3_blocks=-1)
    with pytest.raises(UserError, match="give 4 counts or one"):
        r3(r3_blocks=[1, 1])
    with pytest.raises(UserError, match="arch=stylegan"):
        runner.invoke(app, ["train", "--model", "gan", "--catalog", "synthetic", "--resolution", "32", "--steps", "1",
                            "--model-arg", "arch=stylegan", "--dry-run"], catch_exceptions=False)


def test_runs_from_before_arch_load_as_dcgan_with_the_same_weight_names():
    from prodgen.config import RunConfig

    old_config = {k: v for k, v in vars(GANConfig(**TINY_ARGS["gan"], text_dim=12)).items()
                  if k not in ("arch", "r3_blocks", "r3_group", "r3_expansion", "sle")}  # a config.json before arch
    loaded = RunConfig.from_dict({"model": "gan", "model_args": old_config}).model_args  # as a run folder loads it
    m = ConditionalGAN.from_args(loaded, list(SIZES), 32)
    assert m.config.arch == "dcgan"
    keys = sorted(m.state_dict())
    # sha256 of the sorted state-dict names of this model, computed on the code before arch existed (57 names)
    assert len(keys) == 57
    assert hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16] == "381576bdab4b9c5a"


def _train(out, *extra: str) -> None:
    res = runner.invoke(app, ["train", "--model", "gan", "--catalog", "synthetic", "--resolution", "32", "--steps", "3",
                              "--batch-size", "8", "--condition", "text,category,colour", "--text-encoder", "hashing",
                              "--out", str(out), "--quiet", *TINY, *R3, *extra], catch_exceptions=False)
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("r3gan")
    _train(root / "a", "--model-arg", "ada_target=0.6")
    _train(root / "b", "--model-arg", "ada_target=0.6")
    return root


def test_a_cli_run_trains_loads_and_generates(runs):
    pipe = Pipeline.from_pretrained(runs / "a", device="cpu")
    assert pipe.model.config.arch == "r3gan" and isinstance(pipe.net, R3Generator)  # the EMA generator
    imgs = pipe.generate({"category": "handbag", "colour": "red"}, n=3, seed=5)
    assert imgs.shape == (3, 3, 32, 32) and torch.isfinite(imgs).all()
    again = Pipeline.from_pretrained(runs / "a", device="cpu").generate({"category": "handbag", "colour": "red"}, n=3, seed=5)
    assert torch.equal(imgs, again)
    trunc = pipe.generate({"category": "handbag", "colour": "red"}, n=3, seed=5, truncation=0.5)
    assert not torch.allclose(trunc, imgs)
    prompted = pipe.generate(n=2, seed=5, prompt="red leather handbag")
    assert prompted.shape == (2, 3, 32, 32)
    assert float(load_file(runs / "a" / WEIGHTS_NAME)["ada_p"]) >= 0  # ADA's p is saved with the weights


def test_seeded_runs_are_reproducible(runs):
    for name in (WEIGHTS_NAME, EMA_NAME):
        a, b = (load_file(runs / r / name) for r in "ab")
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_onnx_export_matches_pytorch(runs, tmp_path):
    pytest.importorskip("onnxruntime")
    from prodgen.export import OnnxPipeline, export_onnx

    rec = export_onnx(runs / "a", tmp_path / "x")
    assert rec["max_abs_error_vs_torch"]["fp32"] < 1e-4
    ref = Pipeline.from_pretrained(runs / "a", device="cpu").generate({"category": "cap", "colour": "blue"}, n=4, seed=3)
    got = OnnxPipeline.from_pretrained(tmp_path / "x", "fp32").generate({"category": "cap", "colour": "blue"}, n=4, seed=3)
    assert (got - ref).abs().max() < 1e-4


def test_channel_pruning_refuses_r3gan(runs, tmp_path):
    from prodgen.export.prune import prune_gan

    with pytest.raises(UserError, match="arch=r3gan"):
        prune_gan(runs / "a", tmp_path / "p", keep=0.5, steps=1, progress=False)
