"""Sketch -> product (issue 13): image maps, the pix2pix family, faithfulness metrics, the flood-fill baseline,
``generate --sketch`` end to end on a tiny run, with the hand-drawn-style sketches in tests/data/sketches/."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny import TINY_ARGS, train_tiny_run
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.conditioning.maps import (
    SKETCH_EXTENT,
    close_outline,
    coarsen_masks,
    derive_maps,
    edge_map,
    frame_drawing,
    jitter_edges,
    outline_map,
    silhouette_map,
    sketch_map,
    warp_maps,
)
from prodgen.errors import UserError
from prodgen.evaluate.metrics.faithfulness import chamfer_distance, edge_f1, mean_with_interval, silhouette_iou
from prodgen.evaluate.sketch import MeanColours, faithfulness, fill_region, flood_fill_baseline
from prodgen.models import model_class

SKETCHES = Path(__file__).parent / "data" / "sketches"
runner = CliRunner()


def square_photo(res: int = 32, lo: int = 8, hi: int = 24, rgb=(200, 30, 30)) -> torch.Tensor:
    """(1, 3, R, R) in [-1, 1]: a filled colour square on white."""
    img = torch.full((1, 3, res, res), 255, dtype=torch.uint8)
    for c in range(3):
        img[0, c, lo:hi, lo:hi] = rgb[c]
    return img.float() / 127.5 - 1


def outline(res: int, lo: int, hi: int) -> np.ndarray:
    m = np.zeros((res, res), bool)
    m[lo, lo:hi] = m[hi - 1, lo:hi] = m[lo:hi, lo] = m[lo:hi, hi - 1] = True
    return m


# -- maps ---------------------------------------------------------------------------------------------------------
def test_edges_trace_the_outline_and_the_silhouette_is_the_product():
    x = square_photo()
    edges = edge_map(x)[0, 0].numpy()
    truth = np.zeros((32, 32), bool)
    truth[7:25, 7:25] = True
    truth[9:23, 9:23] = False  # the 2-px band around the square's boundary
    assert edges.sum() > 40 and edges[truth.astype(bool) == 0].sum() == 0  # only on the boundary, and all round it
    assert edge_f1(edges, outline(32, 8, 24), tolerance=1.0)[0] > 0.9
    sil = silhouette_map(x)[0, 0].numpy()
    want = np.zeros((32, 32), np.float32)
    want[8:24, 8:24] = 1
    assert np.array_equal(sil, want)
    assert torch.equal(derive_maps("silhouette", x), silhouette_map(x))


def test_edge_jitter_dilates_and_drops_as_drawn():
    m = torch.zeros(2, 1, 9, 9)
    m[:, 0, 4, 4] = 1
    out = jitter_edges(m, torch.tensor([0.1, 0.9]), torch.ones(2, 1, 9, 9), p_dilate=0.5, p_drop=0.05)
    assert out[0].sum() == 9 and out[1].sum() == 1  # the first map dilated 3x3, the second kept
    drop = torch.ones(2, 1, 9, 9)
    drop[1, 0, 4, 4] = 0.0
    assert jitter_edges(m, torch.ones(2), drop, 0.5, 0.05)[1].sum() == 0


def test_hand_sketches_become_thin_centred_maps():
    for f in sorted(SKETCHES.glob("*.png")):
        m = sketch_map(f, "edges", 64)[0].numpy() > 0
        assert m.shape == (64, 64) and m.sum() > 60, f.name
        blocks = m[:-1, :-1] & m[1:, :-1] & m[:-1, 1:] & m[1:, 1:]
        assert blocks.sum() <= 2, f"{f.name}: lines are not thinned to about 1 px"
        ys, xs = np.nonzero(m)
        assert abs((ys.min() + ys.max()) / 2 - 31.5) < 6 and abs((xs.min() + xs.max()) / 2 - 31.5) < 6  # letterboxed
    sil = sketch_map(SKETCHES / "tshirt.png", "silhouette", 64)[0].numpy()
    assert 0.15 < sil.mean() < 0.6  # the closed T-shirt outline is filled


def test_frame_drawing_crops_to_the_lines_and_centres_them_at_the_catalog_extent():
    img = np.full((50, 100, 3), 255, np.uint8)
    img[5:15, 5:25] = 0  # a 20 x 10 dark box in the top-left corner of a wide canvas
    img[30, 90] = 240  # a faint speck: under SKETCH_INK of the darkest ink, not a line
    out = np.asarray(frame_drawing(Image.fromarray(img)))
    side = round(20 / SKETCH_EXTENT)
    assert out.shape == (side, side, 3)
    dark = out.mean(axis=2) < 128
    ys, xs = np.nonzero(dark)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == ((side - 10) // 2, (side - 10) // 2 + 9, (side - 20) // 2,
                                                        (side - 20) // 2 + 19)
    blank = Image.new("RGB", (30, 20), "white")
    assert frame_drawing(blank) is blank


def test_sketch_fit_lines_frames_a_small_drawing_like_a_product_and_canvas_keeps_the_canvas():
    img = np.full((400, 400, 3), 255, np.uint8)
    img[20:80, 30:33] = 0  # a small L in the top-left corner
    img[77:80, 30:70] = 0
    canvas = sketch_map(img, "edges", 64, fit="canvas")[0].numpy() > 0
    lines = sketch_map(img, "edges", 64, fit="lines")[0].numpy() > 0
    ys, xs = np.nonzero(canvas)
    assert ys.max() < 16 and xs.max() < 16  # as drawn: in the corner, 1/6 of the frame
    ys, xs = np.nonzero(lines)
    extent = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) / 64
    assert abs(extent - SKETCH_EXTENT) < 0.06
    assert abs((ys.min() + ys.max()) / 2 - 31.5) < 2 and abs((xs.min() + xs.max()) / 2 - 31.5) < 2
    with pytest.raises(ValueError, match="fit"):
        sketch_map(img, "edges", 64, fit="page")


def test_people_drawn_quickdraw_doodles_become_framed_maps():
    """tests/data/sketches/quickdraw: 28 x 28 doodles drawn by people (Quick, Draw!; see the folder's README)."""
    files = sorted((SKETCHES / "quickdraw").glob("*.png"))
    assert len(files) == 13
    for f in files:
        m = sketch_map(f, "edges", 64)[0].numpy() > 0
        ys, xs = np.nonzero(m)
        assert m.sum() > 40, f.name
        assert 0.8 < max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) / 64 < 0.95, f.name


def test_sketch_input_errors_are_user_errors(tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 200), "white").save(blank)
    with pytest.raises(UserError, match="blank"):
        sketch_map(blank, "edges", 32)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(UserError, match="cannot be used"):
        sketch_map(bad, "edges", 32)
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\0" * (21 * 1024 * 1024))
    with pytest.raises(UserError, match="MB limit"):
        sketch_map(huge, "edges", 32)


# -- metrics ------------------------------------------------------------------------------------------------------
def test_edge_f1_and_chamfer_known_answers():
    a = np.zeros((20, 20), bool)
    a[2:18, 5] = True  # a vertical line
    assert edge_f1(a, a)[0] == 1.0 and chamfer_distance(a, a)[0] == 0.0
    for k in (1, 2, 3):
        b = np.roll(a, k, axis=1)
        assert chamfer_distance(a, b)[0] == pytest.approx(k)
        assert edge_f1(a, b, tolerance=k)[0] == 1.0 and edge_f1(a, b, tolerance=k - 0.5)[0] == 0.0
    half = a.copy()
    half[10:18, 5] = False  # half the line: precision 1, recall 0.5 -> F1 2/3
    assert edge_f1(half, a, tolerance=0)[0] == pytest.approx(2 / 3)
    far = np.zeros((20, 20), bool)
    far[2:18, 15] = True
    assert edge_f1(a, far, tolerance=1)[0] == 0.0 and chamfer_distance(a, far)[0] == pytest.approx(10)
    empty = np.zeros((20, 20), bool)
    assert edge_f1(empty, empty)[0] == 1.0 and edge_f1(a, empty)[0] == 0.0
    assert math.isnan(chamfer_distance(a, empty)[0]) and chamfer_distance(empty, empty)[0] == 0.0
    batch = torch.from_numpy(np.stack([a, far])[:, None].astype(np.float32))
    assert np.allclose(chamfer_distance(batch, batch.flip(0)), [10, 10])


def test_silhouette_iou_and_interval():
    a = np.zeros((10, 10))
    a[:, :4] = 1
    b = np.zeros((10, 10))
    b[:, 2:6] = 1
    assert silhouette_iou(a, b)[0] == pytest.approx(20 / 60)
    assert silhouette_iou(a, a)[0] == 1.0 and silhouette_iou(a, 1 - a)[0] == 0.0
    s = mean_with_interval(np.array([0.2, 0.4, np.nan, 0.6]))
    assert s["mean"] == pytest.approx(0.4) and s["n"] == 3 and s["n_undefined"] == 1
    assert 0.2 <= s["ci95_low"] <= 0.4 <= s["ci95_high"] <= 0.6
    w = mean_with_interval(np.array([0.2, 0.4, np.nan, 0.6]), weights=np.array([0.0, 1.0, 5.0, 3.0]))
    assert w["mean"] == pytest.approx((0.4 + 3 * 0.6) / 4) and w["n"] == 3
    assert 0.4 <= w["ci95_low"] <= w["mean"] <= w["ci95_high"] <= 0.6
    same = mean_with_interval(np.array([0.2, 0.4, 0.6]), weights=np.full(3, 2.0))
    assert same == mean_with_interval(np.array([0.2, 0.4, 0.6]))


def test_faithfulness_of_a_photo_to_its_own_maps_is_perfect():
    x = square_photo()
    e = faithfulness(x, edge_map(x), "edges")
    assert e["edge_f1"][0] == 1.0 and e["chamfer_px"][0] == 0.0
    assert faithfulness(x, silhouette_map(x), "silhouette")["silhouette_iou"][0] == 1.0
    moved = square_photo(lo=12, hi=28)
    assert faithfulness(moved, edge_map(x), "edges")["chamfer_px"][0] > 2


# -- the flood-fill baseline --------------------------------------------------------------------------------------
def test_flood_fill_fills_exactly_the_inside_of_a_closed_contour_in_the_category_colour():
    m = outline(32, 8, 24)
    region = fill_region(m.astype(np.float32), "edges")
    want = np.zeros((32, 32), bool)
    want[8:24, 8:24] = True
    assert np.array_equal(region, want)
    opened = m.copy()
    opened[8, 15] = False  # a 1-px gap is bridged
    assert np.array_equal(fill_region(opened.astype(np.float32), "edges"), want)
    photos = torch.cat([((square_photo(rgb=(200, 30, 30)) + 1) * 127.5).round().to(torch.uint8)] * 5
                       + [((square_photo(rgb=(20, 20, 220)) + 1) * 127.5).round().to(torch.uint8)] * 5)
    cond = torch.tensor([[1, 1]] * 5 + [[2, 3]] * 5)
    colours = MeanColours.fit(photos, cond)
    assert np.allclose(colours.colour(torch.tensor([1, 1])), [200, 30, 30])
    assert np.allclose(colours.colour(torch.tensor([2, 0])), [20, 20, 220])  # unseen pair: its article type's colour
    maps = torch.from_numpy(np.stack([m, m])[:, None].astype(np.float32))
    out = flood_fill_baseline(maps, torch.tensor([[1, 1], [2, 3]]), colours, "edges")
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 32, 32)
    assert (out[0][:, want] == torch.tensor([200, 30, 30])[:, None]).all()
    assert (out[1][:, want] == torch.tensor([20, 20, 220])[:, None]).all()
    assert (out[:, :, ~want] == 255).all()


# -- the model ----------------------------------------------------------------------------------------------------
def make(**args):
    torch.manual_seed(0)
    return model_class("pix2pix").from_args({**TINY_ARGS["pix2pix"], **args}, [4, 5], 32)


def test_generator_follows_the_map_and_l1_only_has_no_discriminator():
    m = make().eval()
    a, b = torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32)
    a[0, 0, 8:24, 8] = 1
    b[0, 0, 4, 4:28] = 1
    cond = torch.tensor([[1, 2]])
    g = lambda mp: m.sample(1, cond, generator=torch.Generator().manual_seed(0), image_map=mp)  # noqa: E731
    assert torch.equal(g(a), g(a)) and (g(a) - g(b)).abs().mean() > 1e-3
    l1 = make(adv_weight=0)
    assert l1.phases == ("g",) and l1.discriminator is None and m.phases == ("d", "g")
    with pytest.raises(UserError, match="not both 0"):
        make(adv_weight=0, l1_weight=0)
    with pytest.raises(UserError, match="image_condition"):
        make(image_condition="depth")


def test_l1_training_on_a_fixed_batch_reduces_l1_and_fills_the_preview_maps():
    torch.set_num_threads(1)  # a tiny network: a second thread only waits (the autouse fixture resets it)
    m = make(adv_weight=0, map_dilate=0.0, map_drop=0.0, dropout=0.0).train()
    x = torch.cat([square_photo(rgb=(200, 30, 30)), square_photo(lo=4, hi=20, rgb=(30, 30, 200))] * 2)
    cond = torch.tensor([[1, 1], [2, 2], [1, 1], [2, 2]])
    opt = torch.optim.Adam(m.phase_parameters("g"), lr=2e-3)
    first = None
    for _ in range(40):
        out = m.loss("g", x, cond)
        first = first if first is not None else float(out["l1"].detach())
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert float(out["l1"].detach()) < 0.5 * first
    assert bool(m.preview_filled) and torch.equal(m.preview_maps[:4], edge_map(x))


def test_outline_map_is_the_product_boundary_and_map_outline_trains_on_it():
    x = square_photo()  # a 16 x 16 square at 8..23 on a 32-px frame
    o = outline_map(x)[0, 0].numpy()
    assert np.array_equal(o > 0, outline(32, 8, 24))  # exactly the square's 1-px boundary, no inner edges
    two = torch.cat([square_photo(), square_photo(lo=4, hi=20, rgb=(30, 30, 200))])
    edges, outlines = edge_map(two), outline_map(two)
    assert not torch.equal(edges, outlines)
    for p, want in ((0.0, edges), (1.0, outlines)):
        m = make(map_outline=p, map_dilate=0.0, map_drop=0.0).train()
        assert torch.equal(m.training_maps(two), want), p
        assert torch.equal(m.preview_maps[:2], edges)  # previews stay Canny maps
    striped = square_photo()
    striped[0, :, 14:18, 8:24] = torch.tensor([-0.8, -0.8, 0.6]).view(3, 1, 1)  # a blue band: inner Canny edges
    assert float(edge_map(striped).sum()) >= float(outline_map(striped).sum()) + 10
    m = make(map_outline=0.5, map_dilate=0.0, map_drop=0.0).train()
    torch.manual_seed(3)
    batch = torch.cat([striped] * 400)
    got = m.training_maps(batch)
    share = float((got == outline_map(striped)).flatten(1).all(1).float().mean())
    assert 0.42 < share < 0.58  # about half the rows are outlines (the rest are the Canny maps)
    with pytest.raises(UserError, match="map_outline"):
        make(map_outline=1.5)


def test_warp_maps_known_answers_and_map_warp_bends_training_maps():
    m = torch.zeros(2, 1, 64, 64)
    m[:, 0, 10:54, 32] = 1  # a vertical line at x = 32
    assert torch.equal(warp_maps(m, torch.zeros(2, 2, 4, 4), 0.05), m)  # no displacement: the same map
    field = torch.zeros(2, 2, 4, 4)
    field[:, 0] = 1.0  # a uniform x displacement of strength x (R - 1) px: content moves left by 4 px
    shifted = warp_maps(m, field, 4 / 63)
    assert torch.equal(shifted[:, :, :, 28], m[:, :, :, 32]) and shifted[:, :, :, 32].sum() == 0
    striped = square_photo()
    m, m2 = (make(map_warp=0.05, map_dilate=0.0, map_drop=0.0).train() for _ in range(2))
    torch.manual_seed(5)
    a = m.training_maps(torch.cat([striped] * 4))
    torch.manual_seed(5)
    assert torch.equal(a, m2.training_maps(torch.cat([striped] * 4)))  # seeded
    edges = edge_map(striped)
    assert all(not torch.equal(a[i], edges[0]) for i in range(4))  # every map bent
    assert (a.flatten(1).sum(1) - edges.sum()).abs().max() < 0.5 * edges.sum()  # a bent outline, not noise
    with pytest.raises(UserError, match="map_warp"):
        make(map_warp=0.5)


def test_coarsen_masks_known_answers_and_map_coarse_in_training_and_sampling():
    m = torch.zeros(1, 1, 64, 64)
    m[0, 0, 16:48, 8:40] = 1  # whole 4-px cells of a 16 x 16 raster
    lost = m - coarsen_masks(m, 16)
    assert lost.min() == 0 and lost.nonzero()[:, 2:].tolist() == [[16, 8], [16, 39], [47, 8], [47, 39]]  # corners only
    assert torch.equal(coarsen_masks(m, 64), m) and torch.equal(coarsen_masks(m, 128), m)  # no coarser than the frame
    strap = m.clone()
    strap[0, 0, 4:16, 20:22] = 1  # a 2-px strap above the body: finer than a 4-px cell
    got = coarsen_masks(strap, 16)
    assert got[0, 0, 4:14, 20:22].sum() == 0 and torch.equal(got[0, 0, 17:47], m[0, 0, 17:47])  # strap gone, body kept
    assert set(got.unique().tolist()) <= {0.0, 1.0}
    bar = torch.zeros(1, 1, 64, 64)
    bar[0, 0, 16:48, 20:28] = 1  # an 8-px bar: 2 cells wide at 16, half a cell at 4
    assert (bar - coarsen_masks(bar, 16)).sum() == 4  # its corners
    assert coarsen_masks(bar, 4).sum() < bar.sum()
    # The model: silhouette masks through the raster in training and when sampling; edges refuse it.
    torch.manual_seed(0)
    model = model_class("pix2pix").from_args({**TINY_ARGS["pix2pix"], "image_condition": "silhouette",
                                              "map_coarse": 4}, [4, 5], 32).train()
    x = torch.cat([square_photo(lo=9, hi=23), square_photo(lo=4, hi=20)])  # the first square cuts cells of 8 px
    masks = silhouette_map(x)
    assert not torch.equal(coarsen_masks(masks, 4), masks)
    assert torch.equal(model.training_maps(x), coarsen_masks(masks, 4))
    assert torch.equal(model.maps_for(masks[:1], 3), coarsen_masks(masks[:1], 4).expand(3, -1, -1, -1))
    plain = make(image_condition="silhouette")
    assert torch.equal(plain.maps_for(masks[:1], 1), masks[:1])  # off: maps as given
    for bad in (2, 3.5):
        with pytest.raises(UserError, match="map_coarse"):
            make(image_condition="silhouette", map_coarse=bad)
    with pytest.raises(UserError, match="silhouette"):
        make(map_coarse=16)


# -- generate --sketch end to end ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sketch_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("p2p") / "run", "pix2pix", steps=3)


def test_generate_from_a_hand_sketch_is_seeded_and_signed(sketch_run, tmp_path):
    from prodgen.provenance.verify import verify_file

    args = ["generate", str(sketch_run), "--sketch", str(SKETCHES / "tshirt.png"), "--attr", "colour=red", "-n", "3",
            "--seed", "4", "--quiet"]
    for out in ("a", "b"):
        res = runner.invoke(app, [*args, "--out", str(tmp_path / out)], catch_exceptions=False)
        assert res.exit_code == 0, res.output
    files = sorted(p.name for p in (tmp_path / "a").glob("0*.png"))
    assert files == ["000000.png", "000001.png", "000002.png"]
    for f in files:
        assert np.array_equal(np.asarray(Image.open(tmp_path / "a" / f)), np.asarray(Image.open(tmp_path / "b" / f)))
    side = json.loads((tmp_path / "a" / "generation.json").read_text())
    import hashlib

    assert side["image_condition"] == "edges"
    assert side["request"]["sketch"]["sha256"] == hashlib.sha256((SKETCHES / "tshirt.png").read_bytes()).hexdigest()
    info = verify_file(tmp_path / "a" / "000000.png")
    assert info["valid"] and info["kind"] == "generated" and info["request"]["sketch"]["file"] == "tshirt.png"
    # another drawing, same seed and attributes: another image
    res = runner.invoke(app, ["generate", str(sketch_run), "--sketch", str(SKETCHES / "shoe.png"), "--attr", "colour=red",
                              "-n", "1", "--seed", "4", "--quiet", "--out", str(tmp_path / "c")], catch_exceptions=False)
    assert res.exit_code == 0
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "c" / "000000.png")),
                              np.asarray(Image.open(tmp_path / "a" / "000000.png")))
    assert side["request"]["sketch"]["fit"] == "lines"
    # the same drawing framed as its whole canvas: recorded, and another map, so another image
    res = runner.invoke(app, [*args[:-1], "--sketch-fit", "canvas", "--quiet", "--out", str(tmp_path / "d")],
                        catch_exceptions=False)
    assert res.exit_code == 0
    assert json.loads((tmp_path / "d" / "generation.json").read_text())["request"]["sketch"]["fit"] == "canvas"
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "d" / "000000.png")),
                              np.asarray(Image.open(tmp_path / "a" / "000000.png")))


def test_sketch_errors_name_the_fix(sketch_run, tmp_path):
    from prodgen.sample import Pipeline

    res = runner.invoke(app, ["generate", str(sketch_run), "-n", "1", "--out", str(tmp_path / "x"), "--quiet"])
    assert res.exit_code != 0 and "--sketch" in str(res.exception) and not (tmp_path / "x").exists()
    res = runner.invoke(app, ["generate", str(sketch_run), "--sketch", str(SKETCHES / "shoe.png"), "--sketch-fit", "page",
                              "-n", "1", "--out", str(tmp_path / "y"), "--quiet"])
    assert res.exit_code == 2 and "'page' is not one of lines, canvas" in res.output and not (tmp_path / "y").exists()
    gan = train_tiny_run(tmp_path / "gan", "gan", steps=1)
    with pytest.raises(UserError, match="without an image condition"):
        Pipeline.from_pretrained(gan).generate({}, n=1, sketch=SKETCHES / "shoe.png")
    res = runner.invoke(app, ["train", "--model", "gan", "--condition", "edges,category", "--catalog", "synthetic",
                              "--steps", "1", "--out", str(tmp_path / "r"), "--dry-run"])
    assert res.exit_code != 0 and "needs --model pix2pix or diffusion" in str(res.exception)
    res = runner.invoke(app, ["train", "--condition", "silhouette,category,colour", "--catalog", "synthetic",
                              "--steps", "1", "--out", str(tmp_path / "r"), "--dry-run"])
    assert res.exit_code == 0, res.output
    cfg = json.loads(res.stdout[: res.stdout.rindex("}") + 1])
    assert cfg["model"] == "pix2pix" and cfg["model_args"]["image_condition"] == "silhouette"
    assert cfg["condition"]["attributes"] == ["category", "colour"]


def test_evaluation_draws_from_the_held_out_photos_maps(sketch_run):
    from prodgen.evaluate.evaluate import generate_matching
    from prodgen.sample import Pipeline

    pipe = Pipeline.from_pretrained(sketch_run)
    photos = torch.cat([square_photo(), square_photo(lo=2, hi=12)])
    maps = edge_map(photos)
    cond = torch.tensor([[1, 1], [1, 1]])
    got = generate_matching(pipe, cond, 4, seed=0, maps=maps)
    assert got.images.shape == (4, 3, 32, 32) and got.images.dtype == torch.uint8
    same = generate_matching(pipe, cond[:1].expand(2, -1), 2, seed=0, maps=maps[:1].expand(2, -1, -1, -1))
    assert torch.equal(got.images[0], same.images[0]) and not torch.equal(got.images[1], same.images[1])
    with pytest.raises(UserError, match="--sketch"):
        generate_matching(pipe, cond, 2, seed=0)


def test_pix2pix_n_steps_plus_resume_equals_2n_steps(tmp_path):
    """The Trainer's exact resume holds for pix2pix: map jitter draws from the training RNG, the preview maps are saved."""
    from tiny import shapes_data

    from prodgen.config import TrainConfig
    from prodgen.train import Trainer

    def trainer(folder, steps):
        data, vocab = shapes_data(n=24)
        torch.manual_seed(0)
        model = model_class("pix2pix").from_args(TINY_ARGS["pix2pix"], vocab.sizes, 32)
        cfg = TrainConfig(steps=steps, batch_size=8, device="cpu", log_every=2, sample_every=100, checkpoint_every=2,
                          sample_grid=8, threads=1)
        return Trainer(model, data, vocab, folder, cfg, cond_dropout=0.2)

    full = trainer(tmp_path / "full", 4)
    full.run(progress=False)
    trainer(tmp_path / "half", 2).run(progress=False)
    resumed = trainer(tmp_path / "half", 4)
    torch.manual_seed(999)
    resumed.resume()
    resumed.run(progress=False)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert bool(resumed.model.preview_filled) and resumed.model.preview_maps.sum() > 0
    assert (tmp_path / "half" / "samples" / "step-000004.png").is_file()


def test_close_outline_joins_the_ends_of_an_open_outline_and_leaves_shapes_alone():
    square = np.zeros((64, 64), bool)
    square[10:50, 10:50] = True
    inner = np.zeros((64, 64), bool)
    inner[12:48, 12:48] = True
    outline = square & ~inner  # a 2-px outline of the square (a doodle's line at 64 px)...
    open_outline = outline.copy()
    open_outline[48:50, 22:38] = False  # ...with a 16-px gap in its bottom side: filling it leaves the line
    from scipy import ndimage

    filled = ndimage.binary_fill_holes(open_outline)
    assert filled.sum() == open_outline.sum()  # what sketch_map filled before: the line itself
    got = close_outline(filled)
    assert got.sum() >= square.sum() - 16 * 2 and not (open_outline & ~got).any()  # the square, less the gap's notch
    assert (got & ~square).sum() == 0
    assert np.array_equal(close_outline(square), square)  # a shape: as it is
    assert np.array_equal(close_outline(ndimage.binary_fill_holes(outline)), square)  # a closed outline: as it is
    stroke = np.zeros((64, 64), bool)
    stroke[30:32, 5:60] = True  # one straight stroke: its two ends joined along itself, nothing to fill
    assert np.array_equal(close_outline(stroke), stroke)
    assert not close_outline(np.zeros((8, 8), bool)).any()


def test_sketch_map_close_fills_an_open_doodle_and_edges_refuse_it():
    canvas = np.full((200, 200, 3), 255, np.uint8)
    canvas[20:180, 20:24] = 0  # a U: left, right and bottom sides, open at the top
    canvas[20:180, 176:180] = 0
    canvas[176:180, 20:180] = 0
    plain = sketch_map(canvas, "silhouette", 64)
    closed = sketch_map(canvas, "silhouette", 64, close=True)
    assert closed.sum() > 5 * plain.sum()  # the U's ends joined across its top, and the inside filled
    assert not (plain.bool() & ~closed.bool()).any()
    with pytest.raises(UserError, match="silhouette"):
        sketch_map(canvas, "edges", 64, close=True)


def test_generate_sketch_close_draws_from_the_closed_outline_and_says_so(tmp_path_factory, sketch_run, tmp_path):
    from prodgen.provenance.verify import verify_file
    from prodgen.sample import Pipeline

    run = train_tiny_run(tmp_path_factory.mktemp("close") / "run", "pix2pix", steps=2, image_condition="silhouette")
    canvas = np.full((200, 200, 3), 255, np.uint8)
    canvas[20:180, 20:24] = canvas[20:180, 176:180] = canvas[176:180, 20:180] = 0  # a U, open at the top
    drawing = tmp_path / "u.png"
    Image.fromarray(canvas).save(drawing)
    args = ["generate", str(run), "--sketch", str(drawing), "--attr", "colour=red", "-n", "2", "--seed", "3", "--quiet"]
    res = runner.invoke(app, [*args, "--sketch-close", "--out", str(tmp_path / "a")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    pipe = Pipeline.from_pretrained(run)
    closed, plain = pipe.sketch_map(drawing, close=True), pipe.sketch_map(drawing)
    assert closed.sum() > 3 * plain.sum()
    direct = pipe.generate_batch(pipe.condition({"colour": "red"})[None].expand(2, -1), [3, 4], image_map=closed[None])
    png = np.asarray(Image.open(tmp_path / "a" / "000001.png"))
    assert np.array_equal(png, ((direct[1].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy())
    info = verify_file(tmp_path / "a" / "000000.png")
    assert info["valid"] and info["request"]["sketch"]["close"] is True
    assert info["request"]["sketch"]["map_pixels"] == int(closed.sum())
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "b")], catch_exceptions=False)  # off: the drawn U
    assert "close" not in verify_file(tmp_path / "b" / "000000.png")["request"]["sketch"]
    res = runner.invoke(app, ["generate", str(sketch_run), "--sketch", str(drawing), "--sketch-close", "--quiet",
                              "--out", str(tmp_path / "c")])
    assert res.exit_code != 0 and "silhouette run" in str(res.exception)
    res = runner.invoke(app, ["generate", str(run), "--sketch-close", "--quiet", "--out", str(tmp_path / "d")])
    assert res.exit_code != 0 and "--sketch" in str(res.exception)
