"""FastGAN's skip-layer excitation in the GAN generator (``--model-arg sle=true``)."""

from __future__ import annotations

import torch
from tiny import TINY_ARGS

from prodgen.models.blocks import SkipExcitation
from prodgen.models.gan import ConditionalGAN, GANConfig


def test_the_gate_is_a_per_channel_sigmoid_of_the_low_resolution_map():
    sle = SkipExcitation(4, 3)
    with torch.no_grad():
        for m in sle.gate:
            if isinstance(m, torch.nn.Conv2d):
                m.weight.zero_()
                m.bias.zero_()
        sle.gate[3].bias.copy_(torch.tensor([0.0, 2.0, -2.0]))
    high = torch.randn(2, 3, 8, 8)
    out = sle(torch.randn(2, 4, 6, 6), high)  # a zero-weight gate ignores the low map: sigmoid(bias)
    assert torch.allclose(out, high * torch.sigmoid(torch.tensor([0.0, 2.0, -2.0]))[None, :, None, None])
    with torch.no_grad():  # now the gate reads the low map's mean (4x4 conv of ones over the pooled map)
        sle.gate[1].weight.fill_(1 / 64)
        sle.gate[3].weight.copy_(torch.eye(3)[:, :, None, None])
        sle.gate[3].bias.zero_()
    low = torch.full((1, 4, 8, 8), 3.0)  # pooled 4x4 of 3s -> conv: 16 * 4 * 3 / 64 = 3 per channel
    assert torch.allclose(sle(low, torch.ones(1, 3, 2, 2)), torch.full((1, 3, 2, 2), torch.sigmoid(torch.tensor(3.0)).item()))


def test_generator_gates_the_32_and_64_px_stages_and_old_runs_keep_their_weights():
    plain = ConditionalGAN(GANConfig(sle=False), (5, 4), 64)
    assert not any(".sle." in k for k in plain.state_dict())
    torch.manual_seed(0)
    m = ConditionalGAN(GANConfig(sle=True), (5, 4), 64)
    dec = m.generator.decoder
    assert sorted(dec.sle) == ["3", "4"]  # 32 px gated by 4x4, 64 px by 8x8
    z, cond = torch.randn(4, 128), torch.zeros(4, 2, dtype=torch.long)
    out = m.generator(z, cond)
    out.sum().backward()
    assert dec.sle["3"].gate[1].weight.grad.abs().sum() > 0  # the gates learn
    with torch.no_grad():  # an open gate (1 everywhere) on the 64-px stage gives another image
        dec.sle["4"].gate[3].weight.zero_()
        dec.sle["4"].gate[3].bias.fill_(1e4)
        assert not torch.allclose(out, m.generator(z, cond), atol=1e-3)


def test_sle_is_the_default_of_new_dcgan_runs_and_older_runs_load_without_it():
    from prodgen.config import RunConfig

    assert GANConfig().sle is True and GANConfig(arch="r3gan").sle is False
    new = RunConfig(model="gan").to_dict()
    assert RunConfig.from_dict(new).model_args == {}  # nothing resolved yet: the default applies when the run trains
    resolved = {**new, "model_args": {k: v for k, v in vars(GANConfig()).items() if k != "sle"}}  # a run saved before
    old = RunConfig.from_dict(resolved)
    assert old.model_args["sle"] is False
    m = ConditionalGAN.from_args(old.model_args, [5, 4], 64)
    assert not m.generator.decoder.sle and not any(".sle." in k for k in m.state_dict())
    assert RunConfig.from_dict({**new, "model_args": vars(GANConfig())}).model_args["sle"] is True  # saved since


def test_weights_saved_before_sle_load_as_they_were_trained(tmp_path):
    """The weights' own spec (what Pipeline / generate / evaluate read) of a run saved before SLE has no ``sle``:
    it must build the network without gates, or loading fails on missing keys (it did, for every older GAN run)."""
    import dataclasses

    from prodgen.models import GenerativeModel, ModelSpec
    from prodgen.models.base import save_state

    torch.manual_seed(0)
    old = ConditionalGAN.from_args({**TINY_ARGS["gan"], "sle": False}, [5, 4], 32)
    cfg = {k: v for k, v in dataclasses.asdict(old.config).items() if k != "sle"}  # as an older prodgen wrote it
    save_state(tmp_path / "model.safetensors", old.state_dict(), ModelSpec("gan", cfg, [5, 4], 32))
    back = GenerativeModel.from_pretrained(tmp_path)
    assert back.config.sle is False
    assert all(torch.equal(v, old.state_dict()[k]) for k, v in back.state_dict().items())
