from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests/tiny.py helpers

REAL_CATALOG = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion-products"


def _suite_env(base: Path) -> dict[str, str]:
    """What every test (and every process a test starts) runs with: its own preprocessing cache and signing keys, never
    the user's (~/.cache, ~/.config); and --precision auto pinned to fp32, since "auto" is bf16 for the GAN where this
    CPU trains faster in bf16 (device.cpu_bf16_gains), so the suite computes the same numbers on every machine (tests of
    "auto" itself unset it)."""
    return {"PRODGEN_CACHE": str(base / "prodgen-cache"), "PRODGEN_SIGNING_DIR": str(base / "prodgen-signing"),
            "PRODGEN_AUTO_PRECISION": "fp32"}


@pytest.fixture(scope="session", autouse=True)
def _isolated_session(tmp_path_factory):
    """Set for the whole session too, so module- and session-scoped fixtures (and the processes they start, e.g. the
    torchrun workers of test_distributed) see it: they run before the per-test fixture below."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _suite_env(tmp_path_factory.getbasetemp()).items():
            mp.setenv(key, value)
        yield


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Set again for every test, whatever an earlier test left behind."""
    for key, value in _suite_env(tmp_path_factory.getbasetemp()).items():
        monkeypatch.setenv(key, value)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def real_catalog() -> Path:
    if not (REAL_CATALOG / "styles.csv").exists():
        pytest.skip(f"real catalog not found at {REAL_CATALOG}")
    return REAL_CATALOG
