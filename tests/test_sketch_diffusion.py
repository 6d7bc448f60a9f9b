"""Sketch -> product with the diffusion U-Net (image_condition=): the map enters as extra input channels. Known
answer: under the exact EDM denoiser of the data "the photo is its own map", every sample must come out as its map,
so the map reaches the net row by row (guidance included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny import COND_SIZES, TINY_ARGS
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.errors import UserError
from prodgen.models import model_class
from prodgen.models.diffusion import EDM_T_SCALE

SKETCHES = Path(__file__).parent / "data" / "sketches"
SD = 0.5


def make(**args):
    torch.manual_seed(0)
    return model_class("diffusion").from_args({**TINY_ARGS["diffusion"], "image_condition": "edges", **args},
                                              COND_SIZES, 32)


def maps_pair() -> torch.Tensor:
    a, b = torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32)
    a[0, 0, 8:24, 8] = 1
    b[0, 0, 4, 4:28] = 1
    return torch.cat([a, b])


def test_the_map_enters_as_extra_channels_and_changes_the_image():
    m = make().eval()
    p = m.config.patch
    assert m.net.unet.config.in_channels == 3 * p * p + p * p and m.net.unet.config.out_channels == 3 * p * p
    assert model_class("diffusion").from_args(TINY_ARGS["diffusion"], COND_SIZES, 32).net.unet.config.in_channels == 3 * p * p
    maps = maps_pair()
    cond = torch.tensor([[1, 2], [1, 2]])

    def g(mp):
        return m.sample(2, cond, generator=torch.Generator().manual_seed(0), image_map=mp)

    assert torch.equal(g(maps), g(maps))
    assert (g(maps) - g(maps.flip(0))).abs().mean() > 1e-4  # another map per row, other images
    with pytest.raises(UserError, match="image_condition"):
        make(image_condition="depth")
    with pytest.raises(UserError, match="no image condition"):
        model_class("diffusion").from_args(TINY_ARGS["diffusion"], COND_SIZES, 32).sample(2, cond, image_map=maps)


@pytest.mark.parametrize("guidance", [1.0, 3.0])
def test_exact_denoiser_of_map_data_draws_each_rows_map(guidance):
    m = make(objective="edm")

    def denoise(xin, t, emb, image_map):
        p = m.config.patch
        assert xin.shape[1] == 3 and image_map is not None  # (the patching happens inside the real net)
        x0 = (image_map.double() * 2 - 1).expand(-1, 3, -1, -1)  # the data: each row's map, in [-1, 1]
        sigma = torch.exp(4 * t.double() / EDM_T_SCALE)[:, None, None, None]
        root = (sigma**2 + SD**2).sqrt()
        x = xin.double() * root
        assert p > 0
        return ((x0 - SD**2 / root**2 * x) / (sigma * SD / root)).float()

    m.net.denoise = denoise
    maps = maps_pair()
    z = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    emb = torch.zeros(2, m.net.embed.tables[0].embedding_dim)
    out = m.generate_from_embedding(z, emb, steps=8, guidance=guidance, image_map=maps)
    assert (out - (maps * 2 - 1).expand(-1, 3, -1, -1)).abs().max() < 1e-3
    swapped = m.generate_from_embedding(z, emb, steps=8, guidance=guidance, image_map=maps.flip(0))
    assert (swapped - (maps.flip(0) * 2 - 1).expand(-1, 3, -1, -1)).abs().max() < 1e-3


def test_training_uses_the_photos_maps_and_fills_the_preview():
    from prodgen.conditioning.maps import edge_map

    m = make(map_dilate=0.0, map_drop=0.0).train()
    seen = []
    real = m.net.forward
    m.net.forward = lambda x, t, cond, text=None, image_map=None: (seen.append(image_map), real(x, t, cond, text, image_map))[1]
    x = torch.full((2, 3, 32, 32), 1.0)
    x[:, :, 8:24, 8:24] = -0.5  # a dark square on white: its outline is the edge map
    out = m.loss("diffusion", x, torch.tensor([[1, 1], [2, 2]]))
    assert torch.isfinite(out["loss"]) and torch.equal(seen[0], edge_map(x))
    assert bool(m.preview_filled) and torch.equal(m.preview_maps[:2], edge_map(x))


def test_cli_trains_a_diffusion_sketch_model_and_generates_from_a_drawing(tmp_path):
    runner = CliRunner()
    tiny = [a for k, v in TINY_ARGS["diffusion"].items() for a in ("--model-arg", f"{k}={json.dumps(v)}")]
    res = runner.invoke(app, ["train", "--model", "diffusion", "--condition", "edges,category,colour", "--catalog",
                              "synthetic", "--resolution", "32", "--steps", "2", "--batch-size", "4",
                              "--out", str(tmp_path / "run"), "--quiet", *tiny],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["model"] == "diffusion" and cfg["model_args"]["image_condition"] == "edges"
    assert cfg["condition"]["attributes"] == ["category", "colour"]
    res = runner.invoke(app, ["generate", str(tmp_path / "run"), "--sketch", str(SKETCHES / "shoe.png"), "-n", "2",
                              "--steps", "2", "--out", str(tmp_path / "g"), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "g" / "generation.json").read_text())["image_condition"] == "edges"
    res = runner.invoke(app, ["generate", str(tmp_path / "run"), "-n", "1", "--out", str(tmp_path / "h"), "--quiet"])
    assert res.exit_code != 0 and "--sketch" in str(res.exception)
