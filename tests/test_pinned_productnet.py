"""The pinned ProductNet (bench/extractors/productnet64): every quality figure from session 14 on is measured with it,
so its files must be the checksummed ones and its recorded held-out accuracy must come out again when it is loaded
and run on the catalog's test split (a known answer: a change in loading, preprocessing or the split breaks it)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from prodgen.config import DataConfig

PINNED = Path(__file__).resolve().parents[1] / "bench" / "extractors" / "productnet64"
TEST_SPLIT_SHA256 = "6eed5accb167fba096b371812ebe0cdf74717c79a9af4ee3a95e9e403df23c4c"


def test_pinned_files_match_their_checksums():
    lines = (PINNED.parent / "productnet64.sha256").read_text().split("\n")
    sums = dict(reversed(line.split()) for line in lines if line.strip())
    assert set(sums) == {"productnet.safetensors", "productnet.json", "vocab.json"}
    for name, digest in sums.items():
        assert hashlib.sha256((PINNED / name).read_bytes()).hexdigest() == digest, name


def test_pinned_productnet_reproduces_its_recorded_accuracy(real_catalog):
    from prodgen.data import load_catalog, make_split, prepare_images
    from prodgen.evaluate.features import heldout_accuracy
    from prodgen.evaluate.productnet import ProductNet

    net, vocab, recorded = ProductNet.from_pretrained(PINNED)
    data = DataConfig(catalog=str(real_catalog), resolution=64)
    cat = load_catalog(data)
    tensors = prepare_images(cat, 64, progress=False)
    ids = make_split(tensors.ids, data.split_fractions)["test"]
    by_id = {r.id: r for r in cat.records}
    # The catalog's fingerprint is a cache key (it hashes file sizes and mtimes, so every copy of the catalog has its
    # own); what must not change is the test split's content: its ids and their labels.
    h = hashlib.sha256()
    for i in ids:
        a = by_id[i].attributes
        h.update(f"{i}:{a.get('articleType')}:{a.get('baseColour')}:{a.get('subCategory')}:{a.get('gender')};".encode())
    assert h.hexdigest() == TEST_SPLIT_SHA256, "the catalog's test split changed since the pinned ProductNet was fitted"
    x = tensors.images[tensors.index_of(ids)]
    y = vocab.encode_records(by_id[i].attributes for i in ids)
    got = heldout_accuracy(net, x, y, vocab)
    assert len(ids) == recorded["_n_test"] == 796
    for head in ("articleType", "baseColour", "subCategory", "gender"):
        # the same images and weights: at most an argmax tie flipped by another CPU's float rounding
        assert abs(got[head]["accuracy"] - recorded[head]["accuracy"]) <= 2 / got[head]["n"], head
        assert got[head]["majority_baseline"] == recorded[head]["majority_baseline"], head
    # and it is a trained network, far above the majority class (an untrained one sits near or below it)
    assert got["articleType"]["accuracy"] > 0.75 > 3 * got["articleType"]["majority_baseline"]
    assert json.loads((PINNED / "config.json").read_text())["fit"]["epochs"] == 8
