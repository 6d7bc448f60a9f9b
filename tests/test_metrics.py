"""Every metric against an independent reference or a known answer on fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.ndimage
import torch

from prodgen.evaluate.metrics import (
    ClassifierScore,
    ConditionalAccuracy,
    FrechetDistance,
    KernelInceptionDistance,
    PrecisionRecallDensityCoverage,
    bootstrap_fid,
    diversity_by_condition,
    frechet_distance,
    frechet_distance_of_samples,
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


def test_fid_of_samples_matches_scipy_also_with_fewer_samples_than_dimensions():
    rng = np.random.default_rng(10)
    for n1, n2, d in ((500, 400, 16), (40, 60, 64), (30, 500, 64)):  # covariance route; low-rank route (one or both)
        a = rng.normal(size=(n1, d))
        b = rng.normal(size=(n2, d)) @ rng.normal(size=(d, d)) * 0.3 + 0.2
        assert frechet_distance_of_samples(a, b) == pytest.approx(_fid_scipy(a, b), rel=1e-6)
        assert frechet_distance_of_samples(a, b) == pytest.approx(_fid(a, b), rel=1e-8)


def test_weighted_fid_with_a_mask_is_the_fid_of_the_rows_kept_and_equal_weights_change_nothing():
    rng = np.random.default_rng(11)
    for n1, n2, d in ((600, 500, 16), (60, 80, 64)):  # covariance route; low-rank route
        a = rng.normal(size=(n1, d))
        b = rng.normal(size=(n2, d)) @ rng.normal(size=(d, d)) * 0.3 + 0.2
        mask = (rng.random(n1) < 0.5).astype(float)
        kept = frechet_distance_of_samples(a[mask > 0], b)
        assert frechet_distance_of_samples(a, b, w1=mask * 3.0) == pytest.approx(kept, rel=1e-9)
        assert frechet_distance_of_samples(a, b, w1=np.full(n1, 0.2), w2=np.full(n2, 7.0)) == pytest.approx(
            frechet_distance_of_samples(a, b), rel=1e-9)
    with pytest.raises(ValueError, match="weights"):
        frechet_distance_of_samples(a, b, w1=-np.ones(len(a)))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance_of_samples(a, b, w1=np.eye(len(a))[0])


def test_class_weights_make_a_skewed_reference_match_a_balanced_sample():
    """Known answer: a reference with 90% of class A and 10% of class B, re-weighted by 1 / class share, has the
    Gaussian fit of a 50/50 mixture, so its FID to a fresh 50/50 sample falls to the two-balanced-samples floor;
    unweighted, the mixture mismatch keeps it far above."""
    rng = np.random.default_rng(12)
    d = 8
    centre = np.zeros(d)
    centre[0] = 6.0

    def draw(n_a, n_b):
        return np.concatenate([rng.normal(size=(n_a, d)), rng.normal(size=(n_b, d)) + centre])

    ref = draw(2700, 300)
    balanced = draw(1500, 1500)
    weights = np.r_[np.full(2700, 1 / 2700), np.full(300, 1 / 300)]
    floor = frechet_distance_of_samples(draw(1500, 1500), balanced)
    plain = frechet_distance_of_samples(ref, balanced)
    weighted = frechet_distance_of_samples(ref, balanced, w1=weights)
    assert plain > 5.76  # (0.4 * 6)^2 = 5.76 from the means alone, plus the covariance term
    assert weighted < 3 * floor + 0.05 < 0.05 * plain
    lo, hi = bootstrap_fid(torch.tensor(ref), torch.tensor(balanced), 50, seed=0, real_weights=weights)
    plain_lo, _ = bootstrap_fid(torch.tensor(ref), torch.tensor(balanced), 50, seed=0)
    assert lo <= weighted <= hi < plain_lo


def test_fid_of_shifted_gaussians_is_the_squared_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20000, 4))
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    b = rng.normal(size=(20000, 4)) + shift
    assert _fid(a, b) == pytest.approx((shift**2).sum(), abs=0.05)


def _fid_np(a: np.ndarray, b: np.ndarray) -> float:
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def _two_gaussians(rng, n, d=12):
    """Real N(0, I) and generated N(0.3, diag(0.8..1.3)^2): population FID 1.41, E[FID] at n=300 about 1.76."""
    scale = np.linspace(0.8, 1.3, d)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)) * scale + 0.3


def test_bootstrap_interval_covers_the_expected_fid_at_this_n_on_both_sides():
    """Over 50 seeded draws the 95% interval covers E[FID at n=300] (Monte Carlo) in most, and misses on both sides.

    A biased interval fails: the percentile interval of resampled FIDs sits above the truth (resampling adds the
    finite-n bias again), and resampling only the generated side is too narrow.
    """
    n, trials = 300, 50
    mc = np.random.default_rng(12345)
    truth = np.mean([_fid_np(*_two_gaussians(mc, n)) for _ in range(1000)])  # E[FID_n]; its MC error is about 0.002
    below = above = 0
    for t in range(trials):
        real, fake = (torch.tensor(v) for v in _two_gaussians(np.random.default_rng(t), n))
        lo, hi = bootstrap_fid(real, fake, n_boot=100, seed=t)
        point = _fid_np(real.numpy(), fake.numpy())
        assert lo <= point <= hi
        below += truth < lo
        above += truth > hi
    assert trials - below - above >= 0.8 * trials, (below, above)  # nominal 95%
    assert below <= 0.1 * trials and above <= 0.1 * trials, (below, above)  # nominal 2.5% each side


def test_bootstrap_interval_shrinks_with_n_and_is_seeded():
    rng = np.random.default_rng(2)
    small = [torch.tensor(v) for v in _two_gaussians(rng, 200)]
    large = [torch.tensor(v) for v in _two_gaussians(rng, 2000)]
    lo_s, hi_s = bootstrap_fid(*small, n_boot=50)
    lo_l, hi_l = bootstrap_fid(*large, n_boot=50)
    assert hi_l - lo_l < 0.5 * (hi_s - lo_s)  # the spread falls about as 1/sqrt(n): 0.32 expected
    assert bootstrap_fid(*small, n_boot=50) == (lo_s, hi_s)


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


def _kid_np(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written out with numpy (reference)."""
    d = x.shape[1]
    kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


@pytest.mark.parametrize("shift,low,high", [(0.3, 0.7, 1.5), (0.0, 0.8, 2.5)])
def test_kid_std_matches_the_spread_over_independent_draws(shift, low, high):
    """kid_std is the spread of KID over new draws of both sides (Monte Carlo known answer), also when m = n.

    At m = n every subset is the whole sample, so the spread of the subsets is 0: that figure understated it.
    Same distribution (shift 0): the bootstrap of the degenerate statistic errs wide (about 1.6x), never narrow.
    """
    n, d = 300, 16

    def draw(seed):
        rng = np.random.default_rng(seed)
        return rng.normal(size=(n, d)), rng.normal(size=(n, d)) + shift

    truth = np.std([_kid_np(*draw(1000 + s)) for s in range(150)])
    for s in range(3):
        real, fake = draw(s)
        m = KernelInceptionDistance(n_subsets=5, subset_size=1000, seed=s)
        m.update(torch.tensor(real), True)
        m.update(torch.tensor(fake), False)
        got = m.compute()
        assert got["kid_subset_size"] == n and got["kid_mean"] == pytest.approx(_kid_np(real, fake), rel=1e-6)
        assert low * truth < got["kid_std"] < high * truth, (got["kid_std"], truth)


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
    heldout = torch.randn(2000, 8, generator=g)  # many, so that the 1st percentile is sharp (sd of the share ~0.002)
    copies = memorisation_ratio(train[:300].clone(), train, heldout)
    assert copies["ratio"] < 0.01 and copies["near_copy_share"] == 1.0
    fresh = memorisation_ratio(torch.randn(3000, 8, generator=g), train, heldout)
    assert fresh["ratio"] == pytest.approx(1.0, abs=0.1)
    assert fresh["near_copy_share"] == pytest.approx(0.01, abs=0.006)  # as new as held-out photos: ~1% below their 1st pct.
    ref = torch.cdist(heldout.double(), train.double()).min(1).values
    assert copies["near_copy_threshold"] == pytest.approx(float(np.percentile(ref.numpy(), 1)), rel=1e-5)


def test_a_few_exact_copies_are_counted_and_shown_first_though_the_mean_hides_them():
    g = torch.Generator().manual_seed(7)
    train = torch.randn(2000, 16, generator=g)
    heldout = torch.randn(400, 16, generator=g)
    fresh = torch.randn(500, 16, generator=g)
    k, picks = 5, [3, 99, 512, 1500, 1999]
    where = [17, 120, 250, 333, 480]  # positions of the copies among the generated images
    generated = fresh.clone()
    generated[where] = train[picks]
    m = memorisation_ratio(generated, train, heldout, closest=8)
    assert m["ratio"] > 0.9  # the mean barely moves: 5 copies in 500
    assert m["near_copy_share"] >= k / len(generated)
    assert {(c["generated"], c["train"]) for c in m["closest"][:k]} == set(zip(where, picks))  # copies first, any order
    assert all(c["distance"] < 1e-2 for c in m["closest"][:k]) and m["closest"][k]["distance"] > 0.1
    assert [c["distance"] for c in m["closest"]] == sorted(c["distance"] for c in m["closest"])


def test_conditional_accuracy_ignores_unspecified_and_counts_per_class():
    m = ConditionalAccuracy()
    m.update({"colour": torch.tensor([1, 2, 2, 3, 1])}, {"colour": torch.tensor([1, 2, 1, 0, 1])})
    assert m.compute() == {"acc/colour": pytest.approx(3 / 4)}
    assert m.per_class() == {"colour": {1: (2, 3), 2: (1, 1)}}
    # what each class was taken for: class 1 twice right and once as 2; the unspecified target (0) is not counted
    assert m.confusion() == {"colour": {1: {1: 2, 2: 1}, 2: {2: 1}}}
    m.update({"colour": torch.tensor([3])}, {"colour": torch.tensor([2])})
    assert m.confusion()["colour"][2] == {2: 1, 3: 1} and m.per_class()["colour"][2] == (1, 2)


def test_diversity_by_condition():
    feats = torch.tensor([[0.0, 0], [3, 4], [0, 0], [0, 0]])
    labels = torch.tensor([1, 1, 2, 2])
    assert diversity_by_condition(feats, labels) == {1: pytest.approx(5.0), 2: 0.0}


def test_diversity_by_whole_condition_groups_rows_not_their_first_attribute():
    """Two colours of one category: each (category, colour) group holds copies (0 within), while the category as a
    whole varies by colour (5). Grouping by the first attribute alone would report 5 for the noise's variety."""
    feats = torch.tensor([[0.0, 0], [0, 0], [3, 4], [3, 4], [6, 8]])
    cond = torch.tensor([[1, 1], [1, 1], [1, 2], [1, 2], [2, 1]])
    assert diversity_by_condition(feats, cond) == {(1, 1): 0.0, (1, 2): 0.0}  # (2, 1) has one image: no pair
    first = diversity_by_condition(feats, cond[:, 0])
    assert first[1] == pytest.approx(4 * 5.0 / 6)  # 4 of the 6 pairs differ by 5


def _ssim_ref(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM (Wang et al. 2004) written out with scipy: 11-px Gaussian window (sigma 1.5), reflected borders, mean over
    every pixel and channel, then over images."""
    c1, c2 = 0.01**2, 0.03**2
    f = lambda a: scipy.ndimage.gaussian_filter(a, sigma=1.5, truncate=5 / 1.5, mode="reflect")  # noqa: E731
    per_image = []
    for a, b in zip(x.astype(np.float64), y.astype(np.float64)):
        maps = []
        for u, v in zip(a, b):
            mu, mv = f(u), f(v)
            suu, svv, suv = f(u * u) - mu**2, f(v * v) - mv**2, f(u * v) - mu * mv
            maps.append(((2 * mu * mv + c1) * (2 * suv + c2)) / ((mu**2 + mv**2 + c1) * (suu + svv + c2)))
        per_image.append(np.mean(maps))
    return float(np.mean(per_image))


def test_psnr_ssim_known_values_and_small_image_msssim():
    from prodgen.evaluate.metrics import restoration_scores, with_baseline

    g = torch.Generator().manual_seed(6)
    clean = torch.rand(4, 3, 64, 64, generator=g) * 0.8
    same = restoration_scores(clean, clean)
    assert same["psnr"] == 100.0 and same["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert restoration_scores(clean + 0.1, clean)["psnr"] == pytest.approx(20.0, abs=1e-4)  # MSE 0.01 -> 20 dB
    noisy = (clean + torch.randn(clean.shape, generator=g) * 0.05).clamp(0, 1)
    assert restoration_scores(noisy, clean)["ssim"] == pytest.approx(_ssim_ref(noisy.numpy(), clean.numpy()), abs=1e-5)
    small = torch.rand(2, 3, 32, 32, generator=g)  # below 160 px: 3 scales, 7-px kernel
    ms = [restoration_scores((small + torch.randn(small.shape, generator=g) * s).clamp(0, 1), small) for s in (0.01, 0.05, 0.2)]
    assert [m["ms_ssim_scales"] for m in ms] == [3.0] * 3
    assert 1 > ms[0]["ms_ssim"] > ms[1]["ms_ssim"] > ms[2]["ms_ssim"] > 0.5  # falls as the noise grows
    assert restoration_scores(small, small)["ms_ssim"] == pytest.approx(1.0, abs=1e-6)
    both = with_baseline(clean + 0.01, clean + 0.1, clean)
    assert both["method"]["psnr"] > both["baseline"]["psnr"]
    with pytest.raises(ValueError, match="one shape"):
        restoration_scores(clean, clean[:, :, :32, :32])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        restoration_scores(clean * 2, clean)
