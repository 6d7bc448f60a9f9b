"""bench/texture_energy.py: the high-frequency energy inside a product, against known answers."""

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from texture_energy import interior_energy, summary  # noqa: E402


def _product(fill: torch.Tensor, size: int = 32, lo: int = 8, hi: int = 24) -> torch.Tensor:
    """A (1, 3, size, size) image in [-1, 1]: white, with ``fill`` (grey levels in [0, 1]) in a square."""
    img = torch.ones(1, 3, size, size)
    img[..., lo:hi, lo:hi] = fill
    return img * 2 - 1


def test_a_plain_product_has_none_and_a_check_has_the_box_filters_answer():
    assert interior_energy(_product(torch.tensor(0.3))).item() == pytest.approx(0.0, abs=1e-6)
    # a 1-px check of greys 0.2 / 0.6: each interior pixel differs from its 3x3 mean by 4 x 0.4 / 9
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    check = torch.where((yy + xx) % 2 == 0, 0.2, 0.6)
    assert interior_energy(_product(check)).item() == pytest.approx(4 * 0.4 / 9, rel=1e-4)


def test_the_outline_does_not_count_and_a_product_without_an_interior_is_left_out():
    # a plain dark square on white: the outline's step would give energy without the 2-px erosion
    plain = interior_energy(_product(torch.tensor(0.0))).item()
    assert plain == pytest.approx(0.0, abs=1e-6)
    assert interior_energy(_product(torch.tensor(0.0)), erode=0).item() > 0.01
    tiny = interior_energy(_product(torch.tensor(0.0), lo=14, hi=19))  # 5 x 5: a 1 x 1 interior
    assert math.isnan(tiny.item())


def test_summary_averages_images_with_an_interior_per_colour():
    energy = torch.tensor([0.1, 0.3, float("nan"), 0.5])
    colours = torch.tensor([1, 1, 1, 2])
    out = summary(energy, colours, {1: "Black", 2: "White"}, min_rows=2)
    assert out["images"] == 3 and out["mean"] == pytest.approx(0.3) and out["median"] == pytest.approx(0.3)
    assert out["per_colour"] == {"Black": {"images": 2, "mean": pytest.approx(0.2)}}  # White has 1 image < 2
