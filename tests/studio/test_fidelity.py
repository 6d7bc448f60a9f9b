"""The fidelity check a reviewer sees: known answers for CIEDE2000, product-region differences and flags."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch
from PIL import Image

from prodgen.apps.background import restage
from prodgen.apps.variations import masked_recolour
from prodgen.conditioning import Vocabulary
from prodgen.data.synthetic import CATEGORIES, COLOURS, PATTERNS, render
from prodgen.errors import UserError
from prodgen.evaluate.productnet import ProductNet, ProductNetConfig
from prodgen.studio.fidelity import (STATED_COLOURS, Thresholds, ciede2000, edit_fidelity, generated_fidelity, lab,
                                     nearest_colour_name, product_region, read_attributes, stated_colour_rgb)


def photo(category="t-shirt", colour="red", pattern="plain", seed=0) -> np.ndarray:
    return np.asarray(render(category, colour, pattern, np.random.default_rng(seed)))


def chw(a: np.ndarray) -> np.ndarray:
    return a.transpose(2, 0, 1).astype(np.float32) / 255.0


def hwc(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)


def jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def hue_shift(a: np.ndarray, degrees: float) -> np.ndarray:
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(a)
    hsv[..., 0] = (hsv[..., 0] + degrees / 360) % 1
    return (hsv2rgb(hsv) * 255).round().astype(np.uint8)


# Sharma, Wu, Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data": pairs 1, 7 and 17 of their table 1.
@pytest.mark.parametrize("lab1, lab2, expected", [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
])
def test_ciede2000_matches_sharma_2005(lab1, lab2, expected):
    assert float(ciede2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)


def test_lab_of_srgb_red_is_the_published_value():
    # sRGB (255, 0, 0) under D65: L* 53.24, a* 80.09, b* 67.20 (e.g. Lindbloom's calculator).
    assert lab(np.array([255, 0, 0], dtype=np.uint8)) == pytest.approx([53.24, 80.09, 67.20], abs=0.01)


def test_identical_image_is_zero_and_not_flagged():
    src = photo()
    r = edit_fidelity(src, src.copy(), stated_colour="Red")
    assert r["pixel_mad"] == 0 and r["de_mean"] == 0 and r["de_p95"] == 0 and r["changed_fraction"] == 0
    assert r["flagged"] is False and r["reasons"] == []
    assert 0.1 < r["product_fraction"] < 0.9
    assert r["colour"]["source_median"] == r["colour"]["edited_median"]
    assert r["colour"]["de_stated_source"] == r["colour"]["de_stated_edited"]


def test_background_swap_keeps_the_product_and_is_not_flagged():
    src = photo("handbag", "blue", "striped", seed=3)
    out, _ = restage(chw(src), "gradient:#ffffff:#8899aa", shadow=True)
    edited = hwc(out)
    assert np.abs(edited.astype(int) - src.astype(int)).max() > 50  # the backdrop really changed
    r = edit_fidelity(src, edited, stated_colour="Blue")
    assert r["pixel_mad"] == 0 and r["de_mean"] == 0
    assert not r["flagged"]


def test_recolour_of_the_product_is_flagged_with_the_stated_colour():
    src = photo("dress", "red", "plain", seed=1)
    edited = hwc(masked_recolour(chw(src), np.array(COLOURS["blue"]) / 255))
    r = edit_fidelity(src, edited, stated_colour="red")
    assert r["flagged"]
    assert r["de_mean"] > 20
    assert r["colour"]["stated"] == "Red" and r["colour"]["source_reads_as"] == "Red"
    assert r["colour"]["edited_reads_as"] in {"Blue", "Navy Blue"}
    assert any("moved away from the stated colour Red" in x for x in r["reasons"])


def test_hue_shifted_product_is_flagged():
    src = photo("shoe", "green", "plain", seed=2)
    r = edit_fidelity(src, hue_shift(src, 30))
    assert r["flagged"] and r["de_mean"] > Thresholds().de_mean
    assert any("colour changed" in x for x in r["reasons"])


def test_known_pixel_difference_and_lightness_difference():
    """A flat grey box 100 -> 110: pixel difference exactly 10; CIEDE2000 of a pure lightness change is dL / S_L."""
    src = np.full((64, 64, 3), 255, np.uint8)
    src[16:48, 12:52] = 100
    edited = src.copy()
    edited[16:48, 12:52] = 110
    r = edit_fidelity(src, edited)
    assert r["pixel_mad"] == 10.0
    assert r["product_fraction"] == pytest.approx((32 - 4) * (40 - 4) / 64**2, abs=1e-4)  # the box less its 2-pixel edge band
    l1, l2 = lab(np.array([100, 100, 100], np.uint8))[0], lab(np.array([110, 110, 110], np.uint8))[0]
    lbar = (l1 + l2) / 2
    s_l = 1 + 0.015 * (lbar - 50) ** 2 / np.sqrt(20 + (lbar - 50) ** 2)
    assert r["de_mean"] == pytest.approx(abs(l2 - l1) / s_l, abs=2e-3)
    assert r["de_p95"] == pytest.approx(r["de_mean"], abs=2e-3)


def test_local_change_is_caught_by_the_percentile_not_the_mean():
    src = photo("t-shirt", "white", "plain", seed=5)
    mask, _ = product_region(src)
    ys, xs = np.nonzero(mask)
    edited = src.copy()
    sel = np.zeros_like(mask)
    sel[ys.min() + (ys.max() - ys.min()) // 3:, :] = True
    sel &= mask
    keep = np.flatnonzero(sel.ravel())[: int(0.12 * mask.sum())]  # 12% of the product turns black: a "label"
    edited.reshape(-1, 3)[keep] = 0
    r = edit_fidelity(src, edited)
    assert r["changed_fraction"] == pytest.approx(len(keep) / mask.sum(), abs=0.005)
    assert r["flagged"] and any("changed clearly" in x for x in r["reasons"])


def test_inpaint_mask_is_left_out():
    src = photo("handbag", "brown", "plain", seed=6)
    mask, _ = product_region(src)
    edited = src.copy()
    ignore = np.zeros(mask.shape, bool)
    ignore[:, : mask.shape[1] // 2] = True
    edited[ignore & mask] = 255
    assert edit_fidelity(src, edited)["flagged"]
    r = edit_fidelity(src, edited, ignore=ignore)
    assert r["pixel_mad"] == 0 and not r["flagged"]


def test_upscaled_edit_is_compared_at_source_size():
    src = photo("cap", "orange", "plain", seed=7)
    up = np.asarray(Image.fromarray(src).resize((256, 256), Image.BICUBIC))
    r = edit_fidelity(src, up)
    assert not r["flagged"] and r["de_mean"] < 2
    assert any("resized" in n for n in r["notes"])


def test_thresholds_separate_known_cases():
    """The table in prodgen.studio.fidelity's doc: swaps and careful re-saves never flagged, recolours always."""
    names = list(COLOURS)
    flagged = {"swap": 0, "jpeg90": 0, "recolour": 0}
    for i in range(24):
        k = names[i % 12]
        src = photo(CATEGORIES[i % 7], k, PATTERNS[i % 4], seed=i)
        swap = hwc(restage(chw(src), "studio:#dddddd", shadow=True)[0])
        recolour = hwc(masked_recolour(chw(src), np.array(COLOURS[names[(i + 5) % 12]]) / 255))
        for case, edited in (("swap", swap), ("jpeg90", jpeg(src, 90)), ("recolour", recolour)):
            flagged[case] += edit_fidelity(src, edited, stated_colour=k)["flagged"]
    assert flagged == {"swap": 0, "jpeg90": 0, "recolour": 24}


def test_stated_colour_table_covers_the_fashion_catalog(real_catalog):
    with open(real_catalog / "styles.csv", newline="", encoding="utf-8", errors="replace") as f:
        names = {row["baseColour"] for row in csv.DictReader(f) if row.get("baseColour")}
    missing = [n for n in names if stated_colour_rgb(n)[0] is None]
    assert missing == []


def test_stated_colour_names():
    canon, rgb, note = stated_colour_rgb("navy blue")
    assert canon == "Navy Blue" and list(rgb) == [0, 0, 128] and note is None
    assert stated_colour_rgb("navy")[0] == "Navy Blue"  # the synthetic catalog's name
    assert all(stated_colour_rgb(k)[0] is not None for k in COLOURS)
    canon, rgb, note = stated_colour_rgb("Multi")
    assert canon == "Multi" and rgb is None and "multi-coloured" in note
    canon, rgb, note = stated_colour_rgb("Chartreuse Dream")
    assert canon is None and rgb is None and "STATED_COLOURS" in note
    assert nearest_colour_name(np.array([200, 16, 46], dtype=np.uint8)) == "Red"
    assert set(STATED_COLOURS) >= {"Black", "Blue", "White", "Grey", "Brown", "Red", "Green", "Navy Blue"}


def test_unknown_stated_colour_gives_none_with_a_note():
    src = photo()
    r = edit_fidelity(src, src, stated_colour="Unobtainium")
    assert r["colour"]["de_stated_source"] is None and "not in the colour table" in r["colour"]["note"]
    assert not r["flagged"]


def test_bad_input_names_the_problem():
    src = photo()
    with pytest.raises(UserError, match="uint8"):
        edit_fidelity(src.astype(np.float32) / 255, src)
    with pytest.raises(UserError, match="H x W x 3"):
        edit_fidelity(src[..., 0], src)
    with pytest.raises(UserError, match="ignore mask"):
        edit_fidelity(src, src, ignore=np.zeros((4, 4), bool))


def test_generated_fidelity_rows():
    rows = generated_fidelity({"category": "dress", "colour": "red", "pattern": "<unspecified>"},
                              {"category": {"value": "dress", "confidence": 0.91}, "colour": ("Blue", 0.6),
                               "pattern": {"value": "plain", "confidence": 0.5}, "gender": {"value": "women", "confidence": 0.7}})
    by = {r["attribute"]: r for r in rows}
    assert [r["attribute"] for r in rows] == ["category", "colour", "pattern", "gender"]
    assert by["category"] == {"attribute": "category", "requested": "dress", "read": "dress", "confidence": 0.91, "match": True}
    assert by["colour"]["match"] is False and by["colour"]["read"] == "Blue"
    assert by["pattern"]["match"] is None  # nothing was asked for
    assert by["gender"]["requested"] is None and by["gender"]["match"] is None
    assert generated_fidelity({"colour": "red"}, {})[0] == {"attribute": "colour", "requested": "red", "read": None,
                                                           "confidence": None, "match": None}
    with pytest.raises(UserError):
        generated_fidelity(["colour"], {})


def test_read_attributes_with_a_productnet():
    torch.manual_seed(0)
    vocab = Vocabulary.fit(["category", "colour"], [{"category": c, "colour": k} for c in CATEGORIES for k in COLOURS],
                           min_count=1)
    net = ProductNet(ProductNetConfig(resolution=32, attributes=["category", "colour"],
                                      head_sizes=[len(vocab["category"]), len(vocab["colour"])], width=8, feature_dim=16)).eval()
    read = read_attributes(net, vocab, photo())  # 128x128 -> resized to 32
    assert set(read) == {"category", "colour"}
    assert read["category"]["value"] in CATEGORIES and read["colour"]["value"] in COLOURS
    assert 0 < read["colour"]["confidence"] <= 1 and read["colour"]["resized"] is True
    rows = generated_fidelity({"category": "dress"}, read)
    assert rows[0]["match"] == (read["category"]["value"] == "dress")
