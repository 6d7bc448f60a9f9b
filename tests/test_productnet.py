"""ProductNet: learns the synthetic catalog's attributes, round-trips, refuses wrong inputs."""

from __future__ import annotations

import pytest
import torch

from prodgen.config import DataConfig
from prodgen.evaluate.features import FitSettings, fit_productnet, productnet_for
from prodgen.evaluate.productnet import ProductNet


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("pn")
    data = DataConfig(catalog="synthetic", resolution=32, synthetic_size=600)
    acc = fit_productnet(data, out, FitSettings(epochs=8, batch_size=64, width=8), progress=False)
    return out, acc, data


def test_heldout_accuracy_clearly_beats_chance(fitted):
    _, acc, _ = fitted
    assert set(acc) >= {"category", "colour", "pattern"}
    assert acc["category"]["accuracy"] > 0.6 > 1 / acc["category"]["classes"] * 2  # 7 classes: chance 0.14
    assert acc["colour"]["accuracy"] > 0.5 > acc["colour"]["majority_baseline"]


def test_round_trip_frozen_and_deterministic(fitted):
    out, _, _ = fitted
    net, vocab, acc = ProductNet.from_pretrained(out)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    f1, l1 = net.extract(x)
    net.train()  # extract switches to eval mode itself
    f2, _ = net.extract(x)
    assert torch.equal(f1, f2) and f1.shape == (5, 256) and len(l1) == len(vocab.attributes)
    assert net.training  # and restores the mode afterwards


def test_never_resizes_silently(fitted):
    out, _, _ = fitted
    net, _, _ = ProductNet.from_pretrained(out)
    with pytest.raises(ValueError, match="never resized"):
        net.extract(torch.zeros(2, 3, 64, 64))


def test_cached_fit_is_reused(fitted, monkeypatch):
    out, _, data = fitted
    net, _, _ = productnet_for(data, features=out)
    assert net.cfg.resolution == 32
