"""`prodgen evaluate` end to end: rows at the same n, floors, memorisation, splits; figures with known answers."""

from __future__ import annotations

import json

import pytest
import torch

from prodgen.config import ConditionConfig, DataConfig, RunConfig, TrainConfig
from prodgen.errors import UserError
from prodgen.evaluate.evaluate import evaluate_run
from prodgen.evaluate.features import FitSettings, fit_productnet
from prodgen.train import train

TINY_GAN = {"z_dim": 16, "cond_dim": 16, "g_base": 8, "g_cap": 32, "d_base": 8, "d_cap": 16}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=600)
    fit_productnet(data, root / "pn", FitSettings(epochs=8, batch_size=64, width=8), progress=False)
    cfg = RunConfig(model="gan", model_args=TINY_GAN, data=data, condition=ConditionConfig(min_count=5),
                    train=TrainConfig(steps=3, batch_size=8, log_every=1, sample_every=100, checkpoint_every=100))
    train(cfg, root / "run", progress=False)
    return root


@pytest.fixture(scope="module")
def default_eval(setup):
    return evaluate_run(setup / "run", features=setup / "pn", progress=False, n_boot=30)


def _split_sizes(run):
    return {k: len(v) for k, v in json.loads((run / "split.json").read_text()).items()}


def test_every_row_is_judged_at_the_same_n_by_default(setup, default_eval):
    res, sizes = default_eval, _split_sizes(setup / "run")
    assert res["split"] == "test" and res["floor_split"] == "val"
    assert res["n_generated"] == res["n_floor"] == res["n_floor_available"] == sizes["val"]  # default n: the floor's photos
    assert res["n_real"] == sizes["test"] and res["n_train"] == sizes["train"]
    for row in res["rows"].values():
        assert (row["n_gen"], row["n_real"]) == (sizes["val"], sizes["test"])
        assert row["kid_subset_size"] == min(1000, sizes["val"], sizes["test"])  # the same subset size on both sides
    assert not any("not at the same n" in w for w in res["warnings"])
    saved = json.loads((setup / "run" / "eval" / res["out"].split("/")[-1] / "metrics.json").read_text())
    assert saved["rows"] == res["rows"]  # what the page and the table show is what was saved


def test_figures_order_model_baseline_and_floor_as_they_must(default_eval):
    rows = default_eval["rows"]
    model, floor, base = rows["model"], rows["real_floor"], rows["class_mean_baseline"]
    # an untrained generator is far worse than real photos are from each other
    assert model["fid"] > 3 * floor["fid"] and model["kid_mean"] > floor["kid_mean"] + 3 * floor["kid_std"]
    for row in (model, floor):
        assert row["fid_ci95_low"] <= row["fid"] <= row["fid_ci95_high"]
    assert model["fid_ci95_low"] > floor["fid_ci95_high"]  # the difference is far outside the noise
    assert floor["recall"] > 0.8 and floor["coverage"] > 0.8  # real photos cover real photos...
    assert model["recall"] < 0.2 and model["coverage"] < floor["coverage"] - 0.3  # ...an untrained generator does not
    # ProductNet recognises real photos' own attributes; an untrained model's output is near chance
    assert floor["acc/category"] > 0.8 > 0.3 > model["acc/category"]
    # the class-mean image has the right category silhouette (high category accuracy) but no variety at all
    assert base["acc/category"] > 0.8 and base["recall"] < 0.2
    # memorisation: new real photos are as far from the training set as held-out ones (ratio ~1, ~1% near copies)
    assert 0.8 < floor["memorisation_ratio"] < 1.25 and floor["near_copy_share"] < 0.1
    assert model["near_copy_share"] == 0.0 and model["memorisation_ratio"] > 1.2  # noise is far from every photo
    # per-condition diversity: every shared category, its mean is the row's figure
    per = default_eval["diversity_per_condition"]
    assert per and all(v["ratio"] == pytest.approx(v["model"] / v["real"], rel=1e-3) for v in per.values())
    assert sum(v["model"] for v in per.values()) / len(per) == pytest.approx(model["diversity_within_condition"], rel=1e-3)
    # within whole conditions (category and colour equal) real photos vary less than within a category, which also
    # spans colours (grouping by the first attribute alone would make the two equal)
    assert model["n_same_condition_groups"] >= 3
    assert 0 < floor["diversity_same_condition"] < floor["diversity_within_condition"]


def test_report_shows_n_the_closest_pairs_and_intervals(setup, default_eval):
    res = default_eval
    out = setup / "run" / "eval" / res["out"].split("/")[-1]
    page = (out / "report.html").read_text()
    assert "real vs real (floor)" in page and "n judged" in page and "near-copy share" in page
    assert f"<td>{res['n_generated']}</td>" in page and f"<td>{res['n_real']}</td>" in page
    pairs = res["closest_pairs"]
    assert len(pairs) == 8 and [p["distance"] for p in pairs] == sorted(p["distance"] for p in pairs)
    assert all((out / f"closest-{j}.png").exists() for j in range(8)) and f"distance {pairs[0]['distance']:.3g}" in page
    assert f"[{res['rows']['model']['fid_ci95_low']:.2f}, {res['rows']['model']['fid_ci95_high']:.2f}]" in page


def test_seen_as_counts_agree_with_the_accuracy_figures_and_reach_the_report(setup, default_eval):
    res = default_eval
    page = (setup / "run" / "eval" / res["out"].split("/")[-1] / "report.html").read_text()
    for key in ("model", "real_floor"):
        seen = res["seen_as"][key]["category"]
        right = sum(row.get(cls, 0) for cls, row in seen.items())
        asked = sum(sum(row.values()) for row in seen.values())
        assert asked == res["rows"][key]["n_gen"]  # every judged image with a category, once
        assert right / asked == pytest.approx(res["rows"][key]["acc/category"])
    for cls, (correct, total) in res["per_class_accuracy"]["category"].items():
        assert res["seen_as"]["model"]["category"][cls].get(cls, 0) == correct
        assert sum(res["seen_as"]["model"]["category"][cls].values()) == total
    # the untrained model's most frequent miss of its most asked class is on the page, with its count
    cls, row = max(res["seen_as"]["model"]["category"].items(), key=lambda kv: sum(kv[1].values()))
    k, q = min((-k, q) for q, k in row.items() if q != cls)  # most often first, ties by name
    k = -k
    assert "missed, taken for" in page and f"{q} {k}" in page


def test_smaller_n_subsamples_the_floor_and_larger_n_says_it_is_not_matched(setup):
    sizes = _split_sizes(setup / "run")
    small = evaluate_run(setup / "run", n=30, features=setup / "pn", progress=False, n_boot=5)
    assert small["n_floor"] == 30 and small["n_floor_available"] == sizes["val"]
    assert {r["n_gen"] for r in small["rows"].values()} == {30}
    assert any("unreliable" in w for w in small["warnings"])
    large = evaluate_run(setup / "run", n=sizes["val"] + 20, features=setup / "pn", progress=False, n_boot=5)
    assert large["rows"]["model"]["n_gen"] == sizes["val"] + 20 and large["rows"]["real_floor"]["n_gen"] == sizes["val"]
    assert any("not at the same n" in w and f"--n {sizes['val']}" in w for w in large["warnings"])


def test_val_split_uses_the_test_photos_as_floor_and_train_is_refused(setup):
    sizes = _split_sizes(setup / "run")
    res = evaluate_run(setup / "run", split="val", features=setup / "pn", progress=False, n_boot=5)
    assert (res["split"], res["floor_split"]) == ("val", "test")
    assert res["n_generated"] == res["n_floor"] == sizes["test"] and res["n_real"] == sizes["val"]
    with pytest.raises(UserError, match="held-out split"):
        evaluate_run(setup / "run", split="train", features=setup / "pn", progress=False)


def test_evaluation_is_deterministic(setup, default_eval):
    again = evaluate_run(setup / "run", features=setup / "pn", progress=False, n_boot=30)
    drop = lambda rows: {k: {m: v for m, v in r.items() if m != "images_per_s"} for k, r in rows.items()}  # noqa: E731
    assert drop(again["rows"]) == drop(default_eval["rows"]) and again["out"] != default_eval["out"]


def test_floor_below_blur_below_noise_on_the_synthetic_catalog(setup):
    """Sanity ordering of ProductNet FID on synthetic catalog photos: real-vs-real < blurred real < noise."""
    from prodgen.data import load_catalog, prepare_images
    from prodgen.evaluate.metrics import FrechetDistance
    from prodgen.evaluate.productnet import ProductNet

    net, _, _ = ProductNet.from_pretrained(setup / "pn")
    t = prepare_images(load_catalog(DataConfig(catalog="synthetic", resolution=32, synthetic_size=600)), 32, progress=False)
    x = t.images.float() / 127.5 - 1
    a, b = x[:300], x[300:]
    blur = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(b, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    noise = torch.rand_like(b) * 2 - 1

    def fid(u, v):
        m = FrechetDistance()
        m.update(net.extract(u)[0], real=True)
        m.update(net.extract(v)[0], real=False)
        return m.compute()["fid"]

    assert 2 * fid(a, b) < fid(a, blur) < fid(a, noise) / 2


def test_compare_puts_runs_in_one_page(setup, tmp_path):
    from prodgen.evaluate.compare import write_compare_report

    results = [evaluate_run(setup / "run", n=60, features=setup / "pn", seed=s, progress=False, n_boot=5) for s in (0, 1)]
    page = write_compare_report(results, tmp_path / "cmp")
    html = page.read_text()
    assert html.count("real vs real (floor)") == 2 and (tmp_path / "cmp" / "1-samples.png").exists()
    assert html.count("n judged") == 2
    assert results[0]["rows"]["model"]["fid"] != results[1]["rows"]["model"]["fid"]  # other seeds, other images


@pytest.mark.real_data
@pytest.mark.slow
def test_real_catalog_evaluation_compares_like_with_like(real_catalog, tmp_path):
    """On the fashion catalog (6,850 / 875 / 796 photos): the default n is the 875 val photos, every row is judged
    against the 796 test photos, and the real floor behaves as real photos must (ratio ~1, ~1% near copies).

    The extractor is an untrained ProductNet (fitting one here takes minutes): distances and FID need features, not
    accuracy, so conditional accuracy is not checked.
    """
    from prodgen.conditioning import Vocabulary
    from prodgen.data import load_catalog, make_split
    from prodgen.evaluate.productnet import ProductNet, ProductNetConfig

    data = DataConfig(catalog=str(real_catalog), resolution=32)
    cat = load_catalog(data)
    train_ids = set(make_split([r.id for r in cat.records])["train"])
    vocab = Vocabulary.fit(["articleType", "baseColour"], [r.attributes for r in cat.records if r.id in train_ids], 20)
    torch.manual_seed(0)
    net = ProductNet(ProductNetConfig(32, vocab.names, vocab.sizes, width=8, catalog=cat.name,
                                      catalog_fingerprint=cat.fingerprint))
    net.save_pretrained(tmp_path / "pn", vocab, {})
    cfg = RunConfig(model="gan", model_args=TINY_GAN, data=data,
                    train=TrainConfig(steps=2, batch_size=8, log_every=1, sample_every=100, checkpoint_every=100))
    train(cfg, tmp_path / "run", progress=False)
    res = evaluate_run(tmp_path / "run", features=tmp_path / "pn", progress=False, n_boot=10)
    assert (res["n_generated"], res["n_floor"], res["n_real"], res["n_train"]) == (875, 875, 796, 6850)
    assert {(r["n_gen"], r["n_real"]) for r in res["rows"].values()} == {(875, 796)}
    model, floor = res["rows"]["model"], res["rows"]["real_floor"]
    assert model["fid_ci95_low"] > floor["fid_ci95_high"] and floor["recall"] > 0.8 > model["recall"]
    assert 0.85 < floor["memorisation_ratio"] < 1.15 and floor["near_copy_share"] < 0.04
