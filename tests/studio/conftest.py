"""Shared fixtures of the studio tests."""

import pytest
from server_kit import train_tiny


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """A tiny trained GAN run folder (``gan``) shared by the session's studio tests."""
    root = tmp_path_factory.getbasetemp() / "studio-runs"
    if not (root / "gan" / "model.safetensors").exists():
        train_tiny(root)
    return root


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the browser tests (skipped without playwright or Chromium)."""
    from live import require_chromium

    sync_api, chromium = require_chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()
