"""Flow matching (objective="flow") against known answers: a one-point catalog has an exact velocity field."""

from __future__ import annotations

import pytest
import torch
from tiny import COND_SIZES, TINY_ARGS

from prodgen.errors import UserError
from prodgen.models import model_class

C = 0.3  # every "catalog image" is this constant


def make(**args):
    torch.manual_seed(0)
    return model_class("diffusion").from_args({**TINY_ARGS["diffusion"], "objective": "flow", **args}, COND_SIZES, 32)


def oracle(model):
    """The exact velocity of a one-point data distribution x0 = C: v(x, t) = (x - C) / t (t = timestep / T)."""
    T = model.config.train_timesteps
    model.net.denoise = lambda x, t, emb: (x - C) / (t.float() / T)[:, None, None, None]


@pytest.mark.parametrize("sampler,steps", [("euler", 1), ("euler", 4), ("heun", 3)])
def test_solvers_follow_the_exact_field_to_the_data(sampler, steps):
    m = make(sampler=sampler)
    oracle(m)
    z = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    x = m.generate_from_embedding(z, torch.zeros(2, m.net.embed.tables[0].embedding_dim), steps=steps)
    # straight paths: Euler is exact at any step count (up to the schedule's last sigma of 1/T)
    assert (x - C).abs().max() < 5e-3 * z.abs().max()
    # a wrong sign or timestep scale in the loop would land elsewhere
    m.net.denoise = lambda x, t, emb: -(x - C) / (t.float() / 1000)[:, None, None, None]
    assert (m.generate_from_embedding(z, torch.zeros(2, 64), steps=steps) - C).abs().max() > 0.1


def test_flow_loss_is_zero_for_the_exact_field_and_positive_otherwise():
    m = make()
    x0 = torch.full((4, 3, 32, 32), C)
    cond = torch.ones(4, 2, dtype=torch.long)
    oracle(m)
    assert m.loss("diffusion", x0, cond)["loss"].item() < 1e-8
    m.net.denoise = lambda x, t, emb: torch.zeros_like(x)  # v = 0: loss = E|e - x0|^2 = 1 + C^2
    assert m.loss("diffusion", x0, cond)["loss"].item() == pytest.approx(1 + C**2, rel=0.05)


@pytest.mark.parametrize("objective", ["flow", "edm"])  # (edm: tests/test_edm.py has its known answers)
def test_flow_and_edm_training_lower_their_loss_on_a_fixed_batch(objective):
    m = make(objective=objective)
    x0 = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    cond = torch.randint(1, 4, (8, 2), generator=torch.Generator().manual_seed(3))
    opt = torch.optim.Adam(m.phase_parameters("diffusion"), lr=1e-3)

    def fixed_loss():
        torch.manual_seed(9)
        return m.loss("diffusion", x0, cond)["loss"]

    before = fixed_loss().item()
    for _ in range(25):
        opt.zero_grad()
        fixed_loss().backward()
        opt.step()
    assert fixed_loss().item() < 0.8 * before


def test_samplers_belong_to_their_objective():
    assert make().config.sampler == "euler"
    assert model_class("diffusion").from_args(TINY_ARGS["diffusion"], COND_SIZES, 32).config.sampler == "dpm++"
    with pytest.raises(ValueError, match="flow objective must be one of"):
        make(sampler="dpm++")
    with pytest.raises(UserError, match="does not solve the flow objective"):
        m = make()
        m.generate_from_embedding(torch.randn(1, 3, 32, 32), torch.zeros(1, 64), sampler="ddim")


def test_cli_sampler_option_switches_solver_and_names_the_wrong_ones(tmp_path):
    import numpy as np
    from PIL import Image
    from tiny import train_tiny_run
    from typer.testing import CliRunner

    from prodgen.cli import app

    run = train_tiny_run(tmp_path / "d", "diffusion", steps=2)
    gan = train_tiny_run(tmp_path / "g", "gan", steps=1)
    runner = CliRunner()

    def gen(r, out, *extra):
        return runner.invoke(app, ["generate", str(r), "-n", "2", "--steps", "3", "--out", str(tmp_path / out), *extra])

    assert gen(run, "a").exit_code == 0 and gen(run, "b", "--sampler", "ddim").exit_code == 0
    a, b = (np.asarray(Image.open(tmp_path / f / "grid.png")) for f in ("a", "b"))
    assert np.abs(a.astype(int) - b).mean() > 0.5  # another solver, other pixels
    assert "does not solve the diffusion objective" in str(gen(run, "c", "--sampler", "euler").exception)
    assert "--sampler are for diffusion models" in str(gen(gan, "d", "--sampler", "ddim").exception)
