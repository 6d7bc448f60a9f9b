from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests/tiny.py helpers

REAL_CATALOG = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion-products"


@pytest.fixture(scope="session", autouse=True)
def _isolated_session(tmp_path_factory):
    """The same settings for the whole session, so module- and session-scoped fixtures (and the processes they start,
    e.g. the torchrun workers of test_distributed) never see the user's cache or their CPU's "auto" precision."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRODGEN_CACHE", str(tmp_path_factory.getbasetemp() / "prodgen-cache"))
        mp.setenv("PRODGEN_SIGNING_DIR", str(tmp_path_factory.getbasetemp() / "prodgen-signing"))
        mp.setenv("PRODGEN_AUTO_PRECISION", "fp32")
        yield


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own preprocessing cache, never the user's."""
    monkeypatch.setenv("PRODGEN_CACHE", str(tmp_path_factory.getbasetemp() / "prodgen-cache"))
    monkeypatch.setenv("PRODGEN_SIGNING_DIR", str(tmp_path_factory.getbasetemp() / "prodgen-signing"))  # never ~/.config
    # --precision auto is bf16 for the GAN where this CPU trains faster in bf16 (device.cpu_bf16_gains): the suite
    # computes the same numbers on every machine (tests of "auto" itself unset this)
    monkeypatch.setenv("PRODGEN_AUTO_PRECISION", "fp32")


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def real_catalog() -> Path:
    if not (REAL_CATALOG / "styles.csv").exists():
        pytest.skip(f"real catalog not found at {REAL_CATALOG}")
    return REAL_CATALOG
