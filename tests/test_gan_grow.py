"""Progressive growing (GANConfig.low_res_steps, fade_steps): the fade-in schedule, what G and D compute at each
stage against known answers, which weights learn, and a resumed run going on where it was."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tiny import COND_SIZES, TINY_ARGS

from prodgen.errors import UserError
from prodgen.models import model_class
from prodgen.train.ema import EMA
from test_trainer import make_trainer, states_equal


def make(**args):
    torch.manual_seed(0)
    return model_class("gan").from_args({**TINY_ARGS["gan"], "diffaugment": [], "mbstd_group": 0,
                                         "low_res_steps": 3, "fade_steps": 2, **args}, COND_SIZES, 32)


def batch(n=6):
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, 32, 32, generator=g) * 2 - 1, torch.randint(1, 4, (n, 2), generator=g)


def set_alpha(m, a):
    m.generator.decoder.alpha.fill_(a)
    m.discriminator.alpha.fill_(a)


def test_fade_in_schedule_known_values():
    m = make()
    assert [m.grow_alpha(s) for s in range(7)] == pytest.approx([0, 0, 0, 1 / 3, 2 / 3, 1, 1])
    assert make(fade_steps=0).grow_alpha(2) == 0 and make(fade_steps=0).grow_alpha(3) == 1
    assert make(low_res_steps=0).grow_alpha(0) == 1


def test_training_steps_move_the_fade_in_of_g_d_and_the_ema_copy():
    m = make().train()
    ema = EMA(m.generator, 0.9)
    x, cond = batch()
    seen = []
    for step in range(6):
        m.loss("d", x, cond)
        m.loss("g", x, cond)
        ema.update(m.generator, step + 1)
        seen.append((float(m.generator.decoder.alpha), float(m.discriminator.alpha), float(ema.net.decoder.alpha)))
    assert [s[0] for s in seen] == pytest.approx([0, 0, 0, 1 / 3, 2 / 3, 1])
    assert all(g == d == e for g, d, e in seen)
    assert int(m.grow_step) == 6 and "grow_step" in m.state_dict()
    with torch.no_grad():  # evaluation forwards leave the schedule alone
        m.eval()
        m.loss("d", x, cond)
    assert int(m.grow_step) == 6


def test_low_stage_g_is_its_half_resolution_head_upsampled_and_skips_the_last_stage():
    m = make().eval()
    set_alpha(m, 0.0)
    z, (_, cond) = torch.randn(4, 16), batch(4)
    out = m.generator(z, cond)
    dec = m.generator.decoder
    with torch.no_grad():
        f = torch.cat([z, m.generator.embed(cond)], 1)  # skip-z: the noise and condition feed every layer
        h = F.relu(dec.norm0(dec.fc(f).view(4, dec.c0, 4, 4), f))
        for up in dec.ups[:-1]:
            h = up(h, f)
    want = torch.tanh(dec.to_rgb_low(h)).repeat_interleave(2, 2).repeat_interleave(2, 3)
    assert torch.allclose(out, want, atol=1e-6)
    m.train()
    m.generator(z, cond).square().mean().backward()
    assert dec.ups[-1].conv.weight.grad is None and dec.to_rgb.weight.grad is None
    assert dec.to_rgb_low.weight.grad.abs().sum() > 0


def test_full_stage_is_the_plain_networks_and_the_fade_blends_the_two():
    m = make().eval()
    plain = model_class("gan").from_args({**TINY_ARGS["gan"], "diffaugment": [], "mbstd_group": 0}, COND_SIZES, 32).eval()
    missing = plain.load_state_dict(m.state_dict(), strict=False)
    assert set(missing.unexpected_keys) >= {"grow_step", "generator.decoder.to_rgb_low.weight"}
    assert not missing.missing_keys
    x, cond = batch(4)
    z = torch.randn(4, 16)
    with torch.no_grad():
        outs, logits = {}, {}
        for a in (0.0, 0.25, 1.0):
            set_alpha(m, a)
            outs[a], logits[a] = m.generator(z, cond), m.discriminator(x, cond)
        assert torch.allclose(outs[1.0], plain.generator(z, cond), atol=1e-6)
        assert torch.allclose(logits[1.0], plain.discriminator(x, cond), atol=1e-5)
        assert torch.allclose(outs[0.25], 0.75 * outs[0.0] + 0.25 * outs[1.0], atol=1e-6)
        assert not torch.allclose(outs[0.0], outs[1.0], atol=1e-3)
        # at the low stage D sees only the image pooled to half the resolution
        set_alpha(m, 0.0)
        low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
        assert torch.allclose(m.discriminator(low, cond), logits[0.0], atol=1e-5)
        assert not torch.allclose(logits[0.0], logits[1.0], atol=1e-3)
        # and the real images D is shown are blended as G's output is
        set_alpha(m, 0.25)
        assert torch.allclose(m._real_seen(x), 0.75 * low + 0.25 * x, atol=1e-6)
        set_alpha(m, 1.0)
        assert m._real_seen(x) is x


def test_low_stage_d_trains_its_half_resolution_input_layer_not_the_first_stage():
    m = make().train()
    x, cond = batch()
    m.loss("d", x, cond)["loss"].backward()
    d = m.discriminator
    assert d.features[0].parametrizations.weight.original.grad is None
    assert d.from_rgb_low.parametrizations.weight.original.grad.abs().sum() > 0


def test_growing_run_resumes_where_it_was(tmp_path):
    args = {**TINY_ARGS["gan"], "low_res_steps": 3, "fade_steps": 2}
    full = make_trainer(tmp_path / "full", steps=8, model_args=args)
    full.run(progress=False)
    half = make_trainer(tmp_path / "half", steps=4, model_args=args)
    half.run(progress=False)
    resumed = make_trainer(tmp_path / "half", steps=8, model_args=args)
    resumed.resume()
    assert int(resumed.model.grow_step) == 4
    resumed.run(progress=False)
    assert int(full.model.grow_step) == 8 and float(full.ema.net.decoder.alpha) == 1
    assert states_equal(full.model.state_dict(), resumed.model.state_dict())


@pytest.mark.parametrize("args", [{"low_res_steps": -1}, {"fade_steps": -2},
                                  {"low_res_steps": 5, "arch": "r3gan"}, {"low_res_steps": 5, "d_recon": 1.0}])
def test_refusals(args):
    with pytest.raises(UserError):
        model_class("gan").from_args({**TINY_ARGS["gan"], **args}, COND_SIZES, 32)
