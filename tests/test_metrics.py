"""Every metric against an independent reference or a known answer on fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from prodgen.evaluate.metrics import (
    ClassifierScore,
    ConditionalAccuracy,
    FrechetDistance,
    KernelInceptionDistance,
    PrecisionRecallDensityCoverage,
    bootstrap_fid,
    diversity_by_condition,
    memorisation_ratio,
)


def _fid_scipy(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def _fid(a, b, chunks=1):
    m = FrechetDistance()
    for part in torch.tensor(a).chunk(chunks):
        m.update(part, real=True)
    for part in torch.tensor(b).chunk(chunks):
        m.update(part, real=False)
    return m.compute()["fid"]


def test_fid_matches_scipy_and_streams():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 16))
    b = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16)) * 0.5 + 0.3
    ref = _fid_scipy(a, b)
    assert _fid(a, b) == pytest.approx(ref, rel=1e-6)
    assert _fid(a, b, chunks=7) == pytest.approx(ref, rel=1e-9)
    assert abs(_fid(a, a)) < 1e-6


def test_fid_of_shifted_gaussians_is_the_squared_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20000, 4))
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    b = rng.normal(size=(20000, 4)) + shift
    assert _fid(a, b) == pytest.approx((shift**2).sum(), abs=0.05)


def test_bootstrap_interval_contains_point_and_shrinks_with_n():
    rng = np.random.default_rng(2)
    real = torch.tensor(rng.normal(size=(2000, 8)))
    small = torch.tensor(rng.normal(size=(200, 8)) + 0.3)
    large = torch.tensor(rng.normal(size=(2000, 8)) + 0.3)
    lo_s, hi_s = bootstrap_fid(real, small, n_boot=50)
    lo_l, hi_l = bootstrap_fid(real, large, n_boot=50)
    m = FrechetDistance()
    m.update(real, True)
    m.update(small, False)
    assert lo_s <= m.compute()["fid"] <= hi_s
    assert hi_l - lo_l < hi_s - lo_s


def test_kid_unbiased_on_identical_distributions_positive_when_shifted():
    rng = np.random.default_rng(3)
    same = KernelInceptionDistance(n_subsets=20, subset_size=200, seed=0)
    same.update(torch.tensor(rng.normal(size=(600, 16))), True)
    same.update(torch.tensor(rng.normal(size=(600, 16))), False)
    r = same.compute()
    assert abs(r["kid_mean"]) < 3 * r["kid_std"] + 1e-4
    shifted = KernelInceptionDistance(n_subsets=20, subset_size=200, seed=0)
    shifted.update(torch.tensor(rng.normal(size=(600, 16))), True)
    shifted.update(torch.tensor(rng.normal(size=(600, 16)) + 1.0), False)
    s = shifted.compute()
    assert s["kid_mean"] > 10 * r["kid_std"]
    assert shifted.compute() == s  # seeded
    small = KernelInceptionDistance(subset_size=1000)
    small.update(torch.randn(50, 4), True)
    small.update(torch.randn(30, 4), False)
    assert small.compute()["kid_subset_size"] == 30


def test_classifier_score_extremes():
    confident = torch.eye(5).repeat(20, 1) * 50  # every class equally often, each image certain
    s = ClassifierScore(splits=1)
    s.update(confident)
    assert s.compute()["is_mean"] == pytest.approx(5.0, rel=1e-6)
    same = ClassifierScore(splits=1)
    same.update(torch.tensor([[9.0, 0, 0]] * 40))
    assert same.compute()["is_mean"] == pytest.approx(1.0, abs=1e-6)


def _blobs(rng, n, centres):
    return torch.tensor(np.concatenate([rng.normal(size=(n, 2)) * 0.3 + c for c in centres]), dtype=torch.float32)


def test_prdc_known_answers():
    rng = np.random.default_rng(4)
    real = _blobs(rng, 500, [(-10, 0), (10, 0)])

    def run(fake):
        m = PrecisionRecallDensityCoverage(k=5)
        m.update(real, True)
        m.update(fake, False)
        return m.compute()

    same = run(_blobs(rng, 500, [(-10, 0), (10, 0)]))
    assert same["precision"] > 0.9 and same["recall"] > 0.9 and same["coverage"] > 0.9
    assert 0.8 < same["density"] < 1.2
    far = run(_blobs(rng, 500, [(100, 100)]))
    assert far["precision"] == 0 and far["recall"] == 0 and far["coverage"] == 0 and far["density"] == 0
    half = run(_blobs(rng, 1000, [(-10, 0)]))  # one of the two real modes
    assert half["precision"] > 0.9
    assert half["recall"] == pytest.approx(0.5, abs=0.05) and half["coverage"] == pytest.approx(0.5, abs=0.05)


def test_memorisation_ratio_copies_vs_fresh():
    g = torch.Generator().manual_seed(5)
    train = torch.randn(1000, 8, generator=g)
    heldout = torch.randn(300, 8, generator=g)
    assert memorisation_ratio(train[:300].clone(), train, heldout)["ratio"] < 0.01
    assert memorisation_ratio(torch.randn(300, 8, generator=g), train, heldout)["ratio"] == pytest.approx(1.0, abs=0.15)


def test_conditional_accuracy_ignores_unspecified_and_counts_per_class():
    m = ConditionalAccuracy()
    m.update({"colour": torch.tensor([1, 2, 2, 3, 1])}, {"colour": torch.tensor([1, 2, 1, 0, 1])})
    assert m.compute() == {"acc/colour": pytest.approx(3 / 4)}
    assert m.per_class() == {"colour": {1: (2, 3), 2: (1, 1)}}


def test_diversity_by_condition():
    feats = torch.tensor([[0.0, 0], [3, 4], [0, 0], [0, 0]])
    labels = torch.tensor([1, 1, 2, 2])
    assert diversity_by_condition(feats, labels) == {1: pytest.approx(5.0), 2: 0.0}


def test_psnr_ssim_known_values_and_small_image_msssim():
    from prodgen.evaluate.metrics import restoration_scores, with_baseline

    g = torch.Generator().manual_seed(6)
    clean = torch.rand(4, 3, 64, 64, generator=g) * 0.8
    same = restoration_scores(clean, clean)
    assert same["psnr"] == 100.0 and same["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert restoration_scores(clean + 0.1, clean)["psnr"] == pytest.approx(20.0, abs=1e-4)  # MSE 0.01 -> 20 dB
    small = torch.rand(2, 3, 32, 32, generator=g)
    assert 0 < restoration_scores((small * 0.9 + 0.05), small)["ms_ssim"] <= 1
    both = with_baseline(clean + 0.01, clean + 0.1, clean)
    assert both["method"]["psnr"] > both["baseline"]["psnr"]
    with pytest.raises(ValueError, match="one shape"):
        restoration_scores(clean, clean[:, :, :32, :32])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        restoration_scores(clean * 2, clean)
