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


def box(res: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((res, res), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_shape_model_projects_a_drawing_onto_the_types_shapes():
    tall = [box(32, 4, 28, 12 - d, 20 + d) for d in (0, 1, 2)]  # type 1: tall boxes of three widths
    wide = [box(32, 12, 20, 4, 28)]  # type 2: one wide box
    index = ShapeIndex(np.stack(tall + wide), np.array([1, 1, 1, 2]), ["a", "b", "c", "d"], "silhouette", "articleType")
    mean, basis, std = index.shape_model(1, 5)
    assert basis.shape == (5, 32 * 32) and std[0] > 1 and std[2] < 1e-3  # 6 masks (3 mirrored = themselves): 2 real directions
    assert np.allclose(basis @ basis.T, np.eye(len(basis)), atol=1e-4)  # orthonormal directions
    # The wide box asked as type 2 (one shape, mirrored = itself: no variance) comes back as that box, whatever is drawn.
    drawn = torch.from_numpy(tall[0].astype(np.float32))[None]
    lost = np.argwhere((index.project(drawn, 2, 3)[0].numpy() > 0.5) != wide[0]).tolist()
    assert lost == [[12, 4], [12, 27], [19, 4], [19, 27]]  # the wide box less its corners (smoothed, cut at one half)
    # A tall box drawn at a width between the catalog's is kept near it; one drawn wider than any is pulled in.
    mid = torch.from_numpy(box(32, 4, 28, 11, 21).astype(np.float32))[None]
    got = index.project(mid, 1, 2)[0].numpy() > 0.5
    assert np.abs(got.astype(int) - box(32, 4, 28, 11, 21)).sum() == 4  # its corners
    fat = torch.from_numpy(box(32, 4, 28, 2, 30).astype(np.float32))[None]
    cols = np.nonzero((index.project(fat, 1, 2)[0].numpy() > 0.5).any(0))[0]
    assert cols.min() == 9 and cols.max() == 22  # 3 std out along the width direction: 1 px past the widest (10..21)
    with pytest.raises(UserError, match="silhouette"):
        ShapeIndex(np.stack(tall), np.array([1, 1, 1]), ["a", "b", "c"], "edges", "articleType").shape_model(1, 2)


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


def test_generate_sketch_shape_pulls_the_drawing_towards_the_types_masks(tmp_path_factory, sketch_run, tmp_path):
    from prodgen.provenance.verify import verify_file
    from prodgen.sample import Pipeline

    run = train_tiny_run(tmp_path_factory.mktemp("shape") / "run", "pix2pix", steps=2, image_condition="silhouette")
    args = ["generate", str(run), "--sketch", str(SKETCHES / "tshirt.png"), "--attr", "category=t-shirt",
            "--attr", "colour=red", "-n", "2", "--seed", "4", "--quiet", "--sketch-shape", "2"]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "none")])
    assert res.exit_code != 0 and "prodgen shape-index" in str(res.exception)
    assert runner.invoke(app, ["shape-index", str(run), "--quiet"]).exit_code == 0
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "a")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    pipe = Pipeline.from_pretrained(run)
    cond = pipe.condition({"category": "t-shirt", "colour": "red"})
    drawn = pipe.sketch_map(SKETCHES / "tshirt.png")
    index = ShapeIndex.load(run)
    want = index.project(drawn, int(cond[0]), 2)
    assert not torch.equal(want, drawn)  # the projection moved the drawing
    direct = pipe.generate_batch(cond[None].expand(2, -1), [4, 5], image_map=want[None])
    png = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(tmp_path / "a" / "000001.png"))
    assert np.array_equal(png, ((direct[1].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy())
    info = verify_file(tmp_path / "a" / "000000.png")
    assert info["valid"] and info["request"]["sketch"]["shape_model"]["components"] == 2
    assert info["request"]["sketch"]["shape_model"]["map_pixels"] == int(want.sum())
    # Refusals: with --sketch-snap, without --sketch, without the type, and on an edges run.
    for extra, words in ((["--sketch-snap"], "choose one"),):
        res = runner.invoke(app, [*args, *extra, "--out", str(tmp_path / "b")])
        assert res.exit_code != 0 and words in str(res.exception)
    res = runner.invoke(app, ["generate", str(run), "--attr", "category=t-shirt", "--sketch-shape", "2", "--quiet",
                              "--out", str(tmp_path / "c")])
    assert res.exit_code != 0 and "--sketch" in str(res.exception)
    res = runner.invoke(app, ["generate", str(run), "--sketch", str(SKETCHES / "tshirt.png"), "--attr", "colour=red",
                              "--sketch-shape", "2", "--quiet", "--out", str(tmp_path / "d")])
    assert res.exit_code != 0 and "--attr category=" in str(res.exception)
    runner.invoke(app, ["shape-index", str(sketch_run), "--quiet"], catch_exceptions=False)
    res = runner.invoke(app, ["generate", str(sketch_run), "--sketch", str(SKETCHES / "tshirt.png"), "--attr",
                              "category=t-shirt", "--sketch-shape", "2", "--quiet", "--out", str(tmp_path / "e")])
    assert res.exit_code != 0 and "edge maps" in str(res.exception)
