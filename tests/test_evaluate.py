"""`prodgen evaluate` end to end on a tiny synthetic run, and sanity ordering of the figures."""

from __future__ import annotations

import json

import pytest
import torch

from prodgen.config import ConditionConfig, DataConfig, RunConfig, TrainConfig
from prodgen.evaluate.evaluate import evaluate_run
from prodgen.evaluate.features import FitSettings, fit_productnet
from prodgen.train import train


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=600)
    fit_productnet(data, root / "pn", FitSettings(epochs=8, batch_size=64, width=8), progress=False)
    cfg = RunConfig(model="gan", model_args={"z_dim": 16, "cond_dim": 16, "g_base": 8, "g_cap": 32, "d_base": 8, "d_cap": 16},
                    data=data, condition=ConditionConfig(min_count=5),
                    train=TrainConfig(steps=3, batch_size=8, log_every=1, sample_every=100, checkpoint_every=100))
    train(cfg, root / "run", progress=False)
    return root


def test_evaluate_writes_metrics_with_floors_and_report(setup):
    res = evaluate_run(setup / "run", n=120, features=setup / "pn", progress=False)
    m = json.loads((setup / "run" / "eval" / res["out"].split("/")[-1] / "metrics.json").read_text())
    rows = m["rows"]
    assert set(rows) == {"model", "real_floor", "class_mean_baseline"}
    # an untrained generator is far worse than real photos are from each other
    assert rows["model"]["fid"] > 3 * rows["real_floor"]["fid"]
    assert rows["model"]["fid_ci95_low"] <= rows["model"]["fid"] <= rows["model"]["fid_ci95_high"]
    assert 0.0 <= rows["model"]["precision"] <= 1.0 and 0.0 <= rows["real_floor"]["coverage"] <= 1.0
    # real photos are recognised by ProductNet far better than an untrained model's output
    assert rows["real_floor"]["acc/category"] > 0.8 > rows["model"]["acc/category"]
    assert m["n_generated"] == 120 and any("unreliable" in w for w in m["warnings"])
    html = (setup / "run" / "eval" / res["out"].split("/")[-1] / "report.html").read_text()
    assert "real vs real (floor)" in html and "nearest.png" in html


def test_floor_below_blur_below_noise(setup):
    """Sanity ordering on real data: real-vs-real < blurred real < noise, in ProductNet FID."""
    from prodgen.evaluate.metrics import FrechetDistance
    from prodgen.evaluate.productnet import ProductNet
    from prodgen.data import load_catalog, prepare_images

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

    assert fid(a, b) < fid(a, blur) < fid(a, noise)


def test_compare_puts_runs_in_one_page(setup, tmp_path):
    from prodgen.evaluate.compare import write_compare_report

    results = [evaluate_run(setup / "run", n=60, features=setup / "pn", seed=s, progress=False) for s in (0, 1)]
    page = write_compare_report(results, tmp_path / "cmp")
    html = page.read_text()
    assert html.count("real vs real (floor)") == 2 and (tmp_path / "cmp" / "1-samples.png").exists()
    assert results[0]["rows"]["real_floor"]["fid"] == results[1]["rows"]["real_floor"]["fid"]  # same real data and extractor
