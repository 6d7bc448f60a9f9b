"""EDM preconditioning (objective="edm", Karras et al. 2022) against known answers: a one-point catalog x0 = C has
an exact denoiser D(x; sigma) = C, so the net's exact output F = (C - c_skip x) / c_out is known at every sigma."""

from __future__ import annotations

import math

import pytest
import torch
from tiny import COND_SIZES, TINY_ARGS

from prodgen.errors import UserError
from prodgen.models import model_class
from prodgen.models.diffusion import EDM_T_SCALE

C = 0.3  # every "catalog image" is this constant
SD = 0.5  # sigma_data


def make(**args):
    torch.manual_seed(0)
    return model_class("diffusion").from_args({**TINY_ARGS["diffusion"], "objective": "edm", **args}, COND_SIZES, 32)


def oracle(model, value=C):
    """The exact F for data x0 = value, reading sigma back from the net's inputs (c_noise = ln(sigma) / 4)."""
    def denoise(xin, t, emb):
        sigma = torch.exp(4 * t.double() / EDM_T_SCALE)[:, None, None, None]
        root = (sigma**2 + SD**2).sqrt()
        x = xin.double() * root  # xin = c_in x
        c_skip, c_out = SD**2 / root**2, sigma * SD / root
        return ((value - c_skip * x) / c_out).float()
    model.net.denoise = denoise


def test_coefficients_are_table_1_of_the_paper():
    m = make()
    c_skip, c_out, c_in = m.edm_coefficients(torch.tensor([0.0, 0.5, 2.0]))
    assert c_skip.tolist() == pytest.approx([1.0, 0.5, 0.25 / 4.25])
    assert c_out.tolist() == pytest.approx([0.0, 0.25 / math.sqrt(0.5), 1.0 / math.sqrt(4.25)])
    assert c_in.tolist() == pytest.approx([2.0, 1 / math.sqrt(0.5), 1 / math.sqrt(4.25)])


@pytest.mark.parametrize("sampler,steps", [("dpm++", 4), ("dpm++", 10), ("euler", 6)])
def test_samplers_reach_the_data_under_the_exact_denoiser(sampler, steps):
    m = make(sampler=sampler)
    oracle(m)
    z = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    emb = torch.zeros(2, m.net.embed.tables[0].embedding_dim)
    x = m.generate_from_embedding(z, emb, steps=steps)
    assert (x - C).abs().max() < 1e-3
    # with guidance the conditional and unconditional predictions agree here, so the answer holds too
    assert (m.generate_from_embedding(z, emb, steps=steps, guidance=3.0) - C).abs().max() < 1e-3
    # a denoiser of other data lands elsewhere: the loop really follows the preconditioned output
    oracle(m, value=-C)
    assert (m.generate_from_embedding(z, emb, steps=steps) + C).abs().max() < 1e-3


def test_sdedit_start_keeps_the_image_under_the_identity_data():
    m = make()
    oracle(m)
    img = torch.full((1, 3, 32, 32), C)
    z = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    x = m.generate_from_embedding(z, torch.zeros(1, 64), steps=8, start=0.5, image=img)
    assert (x - C).abs().max() < 1e-3


def test_edm_loss_is_zero_for_the_exact_denoiser_and_unit_for_zero_output():
    m = make()
    x0 = torch.full((64, 3, 32, 32), C)
    cond = torch.ones(64, 2, dtype=torch.long)
    oracle(m)
    assert m.loss("diffusion", x0, cond)["loss"].item() < 1e-8
    # F = 0 on data with variance sigma_data^2: the effective target has unit variance at every sigma
    x0 = torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(5)) * SD
    m.net.denoise = lambda x, t, emb: torch.zeros_like(x)
    assert m.loss("diffusion", x0, cond)["loss"].item() == pytest.approx(1.0, rel=0.05)
    # ... and far from 1 for data of another scale (so the test would see a wrong c_skip / c_out)
    assert m.loss("diffusion", x0 * 4, cond)["loss"].item() > 2.0


def test_edm_samplers_belong_to_their_objective():
    assert make().config.sampler == "dpm++"
    with pytest.raises(ValueError, match="edm objective must be one of"):
        make(sampler="heun")
    with pytest.raises(UserError, match="does not solve the edm objective"):
        make().generate_from_embedding(torch.randn(1, 3, 32, 32), torch.zeros(1, 64), sampler="ddim")
