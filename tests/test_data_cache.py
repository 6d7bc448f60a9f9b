"""Synthetic catalog determinism, the preprocessing cache and the split."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from prodgen.config import DataConfig
from prodgen.data import assign_split, inspect_catalog, load_catalog, make_split, prepare_images
from prodgen.data.synthetic import CATEGORIES, COLOURS


def test_synthetic_is_deterministic_and_varied(tmp_path):
    a = prepare_images(load_catalog(DataConfig(synthetic_size=200, synthetic_seed=3)), 32, cache_dir=tmp_path / "a", progress=False)
    b = prepare_images(load_catalog(DataConfig(synthetic_size=200, synthetic_seed=3)), 32, cache_dir=tmp_path / "b", progress=False)
    c = prepare_images(load_catalog(DataConfig(synthetic_size=200, synthetic_seed=4)), 32, cache_dir=tmp_path / "c", progress=False)
    assert a.images.numpy().tobytes() == b.images.numpy().tobytes()
    assert not np.array_equal(a.images.numpy(), c.images.numpy())
    assert a.images[:, :, 0, 0].min() == 255  # white background in the corners


def test_synthetic_attributes_and_titles():
    cat = load_catalog(DataConfig(synthetic_size=3000))
    assert len(set(cat.values("category"))) >= 7 and len(CATEGORIES) >= 7
    assert len(set(cat.values("colour"))) >= 10 and len(COLOURS) >= 10
    assert set(cat.values("pattern")) == {"plain", "striped", "dotted", "checked"}
    rec = next(r for r in cat.records if r.attributes == {"category": "t-shirt", "colour": "red", "pattern": "striped"})
    assert rec.title == "Red striped t-shirt"
    assert cat.default_condition == ("category", "colour")


def test_cache_hit_skips_decoding_and_invalidates_on_change(tmp_path):
    img = tmp_path / "cat" / "images"
    img.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (40, 40), (i * 80, 0, 0)).save(img / f"{i}.jpg")
    (tmp_path / "cat" / "styles.csv").write_text("id,articleType\n0,A\n1,B\n2,A\n")
    cfg = DataConfig(catalog=str(tmp_path / "cat"))
    first = prepare_images(load_catalog(cfg), 32, cache_dir=tmp_path / "cache", progress=False)
    cat = load_catalog(cfg)
    cat.loader = lambda r: (_ for _ in ()).throw(AssertionError("decoded despite a cache hit"))
    again = prepare_images(cat, 32, cache_dir=tmp_path / "cache", progress=False)
    assert again.key == first.key and np.array_equal(again.images.numpy(), first.images.numpy())
    other_res = prepare_images(load_catalog(cfg), 64, cache_dir=tmp_path / "cache", progress=False)
    assert other_res.key != first.key and other_res.images.shape[-1] == 64
    Image.new("RGB", (40, 40), (0, 255, 0)).save(img / "1.jpg")  # the photo changes
    os.utime(img / "1.jpg", ns=(1, 2_000_000_000_000_000_000))
    changed = prepare_images(load_catalog(cfg), 32, cache_dir=tmp_path / "cache", progress=False)
    assert changed.key != first.key
    assert int(changed.images[1, 1, 16, 16]) > 200 and int(first.images[1, 1, 16, 16]) < 50


def test_split_is_deterministic_order_independent_and_proportional():
    ids = [f"item-{i}" for i in range(10000)]
    s = make_split(ids)
    assert abs(len(s["train"]) - 8000) < 200 and abs(len(s["test"]) - 1000) < 100
    rev = make_split(list(reversed(ids)))
    assert set(rev["test"]) == set(s["test"])
    assert all(assign_split(i) == "test" for i in s["test"][:50])
    assert make_split(ids[:100])["test"] == [i for i in s["test"] if int(i.split("-")[1]) < 100]


def test_inspect_report_and_contact_sheet(tmp_path):
    cat = load_catalog(DataConfig(synthetic_size=120))
    rep = inspect_catalog(cat, resolution=32, contact_sheet=tmp_path / "sheet.png", cache_dir=tmp_path, progress=False)
    assert rep.n_records == 120 and rep.n_usable_images == 120 and rep.skipped == {}
    assert sum(rep.counts["category"].values()) == 120
    assert sum(rep.split_sizes.values()) == 120
    text = rep.to_text()
    assert "category: 7 values" in text and "skipped: none" in text
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.size[0] == 8 * (96 + 4) + 4


def test_resolutions_show_the_same_photos(tmp_path):
    imgs = {res: prepare_images(load_catalog(DataConfig(synthetic_size=8)), res, cache_dir=tmp_path, progress=False).images
            for res in (32, 64, 128)}
    for res, x in imgs.items():
        assert x.shape == (8, 3, res, res) and x.dtype == torch.uint8
    small = imgs[32].float()
    for res in (64, 128):  # area-averaged down to 32 px, each is the 32-px photo up to resampling differences
        down = torch.nn.functional.avg_pool2d(imgs[res].float(), res // 32)
        assert (down - small).abs().mean() < 4 < 30 < (down - small.roll(1, 0)).abs().mean()  # not another photo


def _prepare_in_daemon(cfg, cache, q):
    try:
        q.put(prepare_images(load_catalog(cfg), 32, cache_dir=cache, progress=False).images.shape[0])
    except Exception as e:  # noqa: BLE001
        q.put(f"{type(e).__name__}: {e}")


def test_a_daemon_process_decodes_a_big_catalog_without_children(tmp_path, monkeypatch):
    """A studio worker is a daemon process, which may not start a process pool: the big-catalog path decodes with
    threads, so it works there too, and gives the same pixels in the same order as the one-thread path."""
    import multiprocessing as mp

    import prodgen.data.cache as cache_mod

    img = tmp_path / "cat" / "images"
    img.mkdir(parents=True)
    for i in range(6):
        Image.new("RGB", (40, 40), (i * 40, 0, 0)).save(img / f"{i}.jpg")
    (tmp_path / "cat" / "styles.csv").write_text("id,articleType\n" + "".join(f"{i},A\n" for i in range(6)))
    monkeypatch.setattr(cache_mod, "PARALLEL_MIN", 4)  # "big" (the fork below inherits it)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_prepare_in_daemon, args=(DataConfig(catalog=str(tmp_path / "cat")), tmp_path / "c", q), daemon=True)
    p.start()
    got = q.get(timeout=60)
    p.join(10)
    assert got == 6, got
    cat = load_catalog(DataConfig(catalog=str(tmp_path / "cat")))
    monkeypatch.setattr(cache_mod, "DECODE_CHUNK", 4)  # two chunks of threads
    threaded = prepare_images(cat, 32, cache_dir=tmp_path / "d", progress=False)
    monkeypatch.setattr(cache_mod, "PARALLEL_MIN", 100)
    serial = prepare_images(cat, 32, cache_dir=tmp_path / "e", progress=False)
    assert threaded.ids == serial.ids and torch.equal(threaded.images, serial.images)
    reds = sorted(float(threaded.images[k, 0].float().mean()) for k in range(6))  # each photo once (JPEG: +-2)
    assert all(abs(r - e) <= 2 for r, e in zip(reds, [0, 40, 80, 120, 160, 200]))
