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
