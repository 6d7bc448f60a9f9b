"""--sketch-snap (issue 13): the shape index of a sketch run, Chamfer matching with mirrors and type restriction,
its file format, and `prodgen shape-index` / `generate --sketch-snap` end to end on a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import train_tiny_run
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.conditioning.shape_index import SHAPE_INDEX, ShapeIndex, chamfer_to_each, distance_to_lines
from prodgen.errors import UserError

SKETCHES = Path(__file__).parent / "data" / "sketches"
runner = CliRunner()


def vline(x: int, res: int = 32, y0: int = 4, y1: int = 28) -> np.ndarray:
    m = np.zeros((res, res), bool)
    m[y0:y1, x] = True
    return m


def ell(res: int = 32, mirrored: bool = False) -> np.ndarray:
    """An L: a vertical stroke at x=6 and a foot to the right along y=26 (mirrored: the foot points left)."""
    m = np.zeros((res, res), bool)
    m[4:27, 6] = True
    m[26, 6:20] = True
    return m[:, ::-1].copy() if mirrored else m


def test_chamfer_known_answers():
    cands = np.stack([vline(10), vline(13), np.zeros((32, 32), bool)])
    dts = np.stack([distance_to_lines(c) for c in cands])
    d = chamfer_to_each(vline(10), cands, dts)
    assert d[0] == 0.0 and d[1] == pytest.approx(6.0) and np.isinf(d[2])  # 3 px each way; no lines: never chosen
    with pytest.raises(ValueError, match="no line pixels"):
        chamfer_to_each(np.zeros((32, 32), bool), cands, dts)


def test_nearest_keeps_to_the_type_finds_mirrors_and_cycles():
    maps = np.stack([vline(8), vline(16), vline(24), ell(mirrored=True), vline(9)])
    index = ShapeIndex(maps, np.array([1, 1, 1, 1, 2]), ["a", "b", "c", "d", "e"], "edges", "category")
    q = torch.from_numpy(vline(9).astype(np.float32))[None]
    got = index.nearest(q, 1, 2)
    # x=8: 1 px each way; x=24 mirrored is x=7: 2 px each way; x=16 mirrored is x=15 (6 px): third
    assert [m.id for m in got] == ["a", "c"] and [m.chamfer_px for m in got] == pytest.approx([2.0, 4.0])
    assert [m.mirrored for m in got] == [False, True]
    assert index.nearest(q, 0, 1)[0].id == "e"  # type left open: every photo; the exact copy wins
    assert index.nearest(q, 2, 3)[0].id == "e" and [m.id for m in index.nearest(q, 2, 3)] == ["e", "e", "e"]
    # an L matches the photo of a mirrored L, mirrored back, and its map comes back mirrored
    m = index.nearest(torch.from_numpy(ell().astype(np.float32)), 1, 1)[0]
    assert m.id == "d" and m.mirrored and m.chamfer_px == 0.0
    assert np.array_equal(index.maps_of([m])[0, 0].numpy() > 0.5, ell())
    with pytest.raises(UserError, match="no training photo"):
        index.nearest(q, 3, 1)


def test_silhouettes_are_matched_by_their_outlines():
    def square(lo, hi):
        m = np.zeros((32, 32), bool)
        m[lo:hi, lo:hi] = True
        return m

    index = ShapeIndex(np.stack([square(4, 28), square(10, 22), square(13, 19)]), np.ones(3, np.int64),
                       ["big", "mid", "small"], "silhouette", "category")
    assert index.nearest(torch.from_numpy(square(9, 23).astype(np.float32)), 1, 1)[0].id == "mid"
    assert index.nearest(torch.from_numpy(square(5, 27).astype(np.float32)), 1, 1)[0].id == "big"


def test_the_index_file_round_trips_and_damage_names_the_fix(tmp_path):
    rng = np.random.default_rng(0)
    maps = rng.random((5, 24, 24)) < 0.1  # 576 bits a map: not a multiple of the packing's byte boundary per row
    index = ShapeIndex(maps, np.arange(5), [f"id{i}" for i in range(5)], "edges", "category", {"photos": 5})
    index.save(tmp_path)
    back = ShapeIndex.load(tmp_path)
    assert np.array_equal(back.maps, maps) and back.ids == index.ids and back.info == {"photos": 5}
    assert back.kind == "edges" and back.attribute == "category" and back.types.tolist() == [0, 1, 2, 3, 4]
    (tmp_path / SHAPE_INDEX).write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match="rebuild it with `prodgen shape-index"):
        ShapeIndex.load(tmp_path)
    with pytest.raises(UserError, match="prodgen shape-index"):
        ShapeIndex.load(tmp_path / "nowhere")


@pytest.fixture(scope="module")
def sketch_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("snap") / "run", "pix2pix", steps=2)


def test_generate_sketch_snap_end_to_end(sketch_run, tmp_path):
    from prodgen.provenance.verify import verify_file

    args = ["generate", str(sketch_run), "--sketch", str(SKETCHES / "tshirt.png"), "--attr", "colour=red", "-n", "3",
            "--seed", "4", "--quiet", "--sketch-snap"]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "none")])
    assert res.exit_code != 0 and "prodgen shape-index" in str(res.exception) and not (tmp_path / "none").exists()
    res = runner.invoke(app, ["generate", str(sketch_run), "-n", "1", "--sketch-snap", "--quiet", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "--sketch" in str(res.exception)
    res = runner.invoke(app, ["shape-index", str(sketch_run), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    index = ShapeIndex.load(sketch_run)
    split = json.loads((sketch_run / "split.json").read_text())
    assert index.attribute == "category" and sorted(index.ids) == sorted(split["train"]) and index.resolution == 32
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "a")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    side = json.loads((tmp_path / "a" / "generation.json").read_text())
    shapes = [im["shape_of"] for im in side["images"]]
    assert len({s["id"] for s in shapes}) == 3 and all(s["id"] in split["train"] for s in shapes)
    assert [s["chamfer_px"] for s in shapes] == sorted(s["chamfer_px"] for s in shapes)  # nearest first
    info = verify_file(tmp_path / "a" / "000001.png")
    assert info["valid"] and info["shape_of"] == shapes[1] and "snap" in info["request"]["sketch"]
    # image i is the model's image from photo i's map: the same as generating from that map directly
    from prodgen.sample import Pipeline

    pipe = Pipeline.from_pretrained(sketch_run)
    m = index.maps_of([next(x for x in index.nearest(pipe.sketch_map(SKETCHES / "tshirt.png"), int(pipe.condition(
        {"colour": "red"})[0]), 3) if x.id == shapes[1]["id"])])
    direct = pipe.generate_batch(pipe.condition({"colour": "red"})[None], [5], image_map=m)
    png = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(tmp_path / "a" / "000001.png"))
    assert np.array_equal(png, ((direct[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy())
