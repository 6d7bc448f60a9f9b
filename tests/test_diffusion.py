"""Diffusion specifics: scheduler kept apart and rebuilt exactly, v-prediction algebra, guidance steers."""

from __future__ import annotations

import pytest
import torch
from tiny import SMALL_ARGS, TINY_ARGS, shapes_data

from prodgen.config import TrainConfig
from prodgen.errors import UserError
from prodgen.models import GenerativeModel, model_class
from prodgen.models.diffusion import DiffusionConfig, make_scheduler
from prodgen.train import Trainer


@pytest.mark.parametrize("sampler", ["dpm++", "ddim"])
def test_scheduler_config_round_trips(tmp_path, sampler):
    cfg = DiffusionConfig(sampler=sampler)
    s = make_scheduler(cfg)
    s.save_config(tmp_path)
    s2 = type(s).from_pretrained(tmp_path)
    s.set_timesteps(12)
    s2.set_timesteps(12)
    assert torch.equal(s.timesteps, s2.timesteps) and len(s.timesteps) == 12


def test_v_prediction_recovers_the_clean_image():
    sched = make_scheduler(DiffusionConfig(), "ddpm")
    x0, eps = torch.rand(4, 3, 8, 8) * 2 - 1, torch.randn(4, 3, 8, 8)
    t = torch.tensor([0, 100, 500, 999])
    xt = sched.add_noise(x0, eps, t)
    v = sched.get_velocity(x0, eps, t)
    a = sched.alphas_cumprod[t].float()[:, None, None, None]
    assert torch.allclose(a.sqrt() * xt - (1 - a).sqrt() * v, x0, atol=1e-5)


def test_steps_change_samples_and_bad_options_are_user_errors(tmp_path):
    torch.manual_seed(0)
    m = model_class("diffusion").from_args(TINY_ARGS["diffusion"], [4, 5], 32).eval()
    cond = torch.tensor([[1, 2]])
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a, b = m.sample(1, cond, g(), steps=2), m.sample(1, cond, g(), steps=6)
    assert not torch.equal(a, b) and torch.equal(a, m.sample(1, cond, g(), steps=2))
    with pytest.raises(UserError, match="--steps"):
        m.sample(1, cond, g(), steps=0)
    with pytest.raises(UserError, match="--truncation"):
        m.sample(1, cond, g(), truncation=0.5)
    m.save_pretrained(tmp_path)
    assert GenerativeModel.from_pretrained(tmp_path).config == m.config


def test_guidance_raises_agreement_with_the_requested_colour(tmp_path):
    """Short training on coloured shapes: unguided samples ignore colour (chance); guided ones follow it."""
    data, vocab = shapes_data(n=512)
    torch.manual_seed(0)
    model = model_class("diffusion").from_args(SMALL_ARGS["diffusion"], vocab.sizes, 32)
    cfg = TrainConfig(steps=200, batch_size=32, device="cpu", log_every=100, sample_every=10_000, checkpoint_every=10_000)
    t = Trainer(model, data, vocab, tmp_path, cfg, cond_dropout=0.1)
    t.run(progress=False)
    palette = torch.tensor([[220, 30, 30], [30, 180, 30], [30, 30, 220], [10, 10, 10]]).float() / 127.5 - 1
    names = ["red", "green", "blue", "black"]

    def agreement(guidance: float) -> float:
        ok = 0
        for k, c in enumerate(names):
            cond = torch.stack([vocab.encode_user({"colour": c, "shape": s}) for s in ("square", "disc", "bar")] * 4)
            x = model.sample(len(cond), cond, torch.Generator().manual_seed(0), net=t.ema.net, guidance=guidance)
            fg = (x < 0.6).any(dim=1, keepdim=True)
            mean = (x * fg).sum(dim=(2, 3)) / fg.sum(dim=(2, 3)).clamp_min(1)
            ok += int((torch.cdist(mean, palette).argmin(1) == k).sum())
        return ok / (12 * len(names))

    unconditional, plain, guided = agreement(0.0), agreement(1.0), agreement(3.0)
    assert unconditional < 0.45  # guidance 0 is the unconditional model: about chance (0.25)
    assert guided > 0.7 and guided >= plain > unconditional
