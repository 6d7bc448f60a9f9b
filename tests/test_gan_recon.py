"""FastGAN's self-supervised discriminator (GANConfig.d_recon): decoders rebuild the image D saw from its maps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tiny import COND_SIZES, TINY_ARGS
from torch import nn

from prodgen import noise
from prodgen.errors import UserError
from prodgen.models import model_class


def make(res=32, **args):
    torch.manual_seed(0)
    return model_class("gan").from_args({**TINY_ARGS["gan"], "diffaugment": [], "mbstd_group": 0, **args},
                                        COND_SIZES, res)


def quadrant_image(b=5, size=32, values=(0.1, 0.2, 0.3, 0.4), channels=3):
    """Each image's top-left, top-right, bottom-left, bottom-right quadrant filled with the four values."""
    x = torch.empty(b, channels, size, size)
    h = size // 2
    for v, (r, c) in zip(values, ((0, 0), (0, 1), (1, 0), (1, 1))):
        x[:, :, r * h:(r + 1) * h, c * h:(c + 1) * h] = v
    return x


class MeanUp(nn.Module):
    """A stand-in decoder: the mean of its input's first channel, as a flat 32x32 RGB image."""

    def forward(self, h):
        return h[:, :1].mean(dim=(2, 3), keepdim=True).expand(-1, 3, 32, 32)


class Zeros(nn.Module):
    def forward(self, h):
        return torch.zeros(h.shape[0], 3, 32, 32)


def test_the_quadrant_rebuilt_is_the_quadrant_of_the_map_it_came_from():
    m = make(d_recon=1.0)
    d = m.discriminator
    d.recon["full"], d.recon["part"] = Zeros(), MeanUp()
    x = quadrant_image()
    maps = {16: quadrant_image(size=16, channels=4), 8: torch.zeros(5, 4, 8, 8)}
    torch.manual_seed(5)
    err = d.reconstruction_error(x, maps)
    # the zero image is 0.25 from x on average; the part decoder returns exactly its map quadrant's value, so the
    # part error is 0 only if map and image quadrants agree (a swapped or transposed quadrant would add 0.1-0.3)
    assert err.item() == pytest.approx(0.25, abs=1e-6)
    # and the quadrants drawn vary per image: with a zero part decoder the error is 0.25 + the mean value drawn
    d.recon["part"] = Zeros()
    torch.manual_seed(5)
    quad = noise.randint(0, 4, 5)
    torch.manual_seed(5)
    err = d.reconstruction_error(x, maps)
    want = 0.25 + torch.tensor([0.1, 0.2, 0.3, 0.4])[quad].mean().item()
    assert err.item() == pytest.approx(want, abs=1e-6)
    assert len(set(quad.tolist())) > 1


def test_d_loss_adds_the_weighted_reconstruction_error_and_g_loss_ignores_it():
    m = make(d_recon=2.0).train()
    g = torch.Generator().manual_seed(1)
    x, cond = torch.rand(6, 3, 32, 32, generator=g) * 2 - 1, torch.randint(1, 4, (6, 2), generator=g)
    out = m.loss("d", x, cond)
    assert out["recon"].item() > 0.05  # untrained decoders are far from the image
    want = out["loss_d_real"] + out["loss_d_fake"] + 2.0 * out["recon"]
    assert out["loss"].item() == pytest.approx(want.item(), rel=1e-6)
    assert "recon" not in m.loss("g", x, cond)
    # the decoders train with D and only with D
    names = {id(p) for p in m.discriminator.recon.parameters()}
    assert names <= {id(p) for p in m.phase_parameters("d")}
    assert not names & {id(p) for p in m.phase_parameters("g")}
    assert "recon" not in make().loss("d", x, cond)  # off by default: no decoders, no term
    assert make().discriminator.recon is None


def test_d_learns_to_rebuild_the_real_images():
    m = make(d_recon=1.0).train()
    g = torch.Generator().manual_seed(2)
    x = F.interpolate(torch.rand(8, 3, 4, 4, generator=g) * 2 - 1, size=32, mode="bilinear")  # smooth images
    cond = torch.randint(1, 4, (8, 2), generator=g)
    opt = torch.optim.Adam(m.phase_parameters("d"), lr=2e-3)
    errs = []
    for _ in range(40):
        out = m.loss("d", x, cond)
        errs.append(out["recon"].item())
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert errs[-1] < 0.5 * errs[0]


@pytest.mark.parametrize("args,res,match", [({"d_recon": -1.0}, 32, "must be >= 0"),
                                              ({"d_recon": 1.0, "arch": "r3gan", "loss": "rpgan"}, 32, "r3gan")])
def test_bad_settings_are_refused(args, res, match):
    with pytest.raises(UserError, match=match):
        make(res=res, **args)
