"""`prodgen demo` end to end (a few steps instead of minutes)."""

from __future__ import annotations

from PIL import Image

from prodgen.data.synthetic import CATEGORIES
from prodgen.demo import DEMO_COLOURS, run_demo


def test_demo_writes_grid_of_every_category_and_a_page(tmp_path):
    page = run_demo(tmp_path / "demo", minutes=None, steps=4, progress=False, eval_every=0)
    assert page == tmp_path / "demo" / "index.html"
    html = page.read_text()
    assert "category-colour.png" in html and "Latest samples" in html
    grid = Image.open(tmp_path / "demo" / "category-colour.png")
    # one 64-px row (32 px at scale 2, plus padding) per category, DEMO_COLOURS columns
    assert grid.size[1] >= len(CATEGORIES) * 64 and grid.size[0] >= DEMO_COLOURS * 64
    assert (tmp_path / "demo" / "ema.safetensors").exists()
