"""Shared fixtures: real-data tests skip cleanly when the offline mirror is not configured."""

from __future__ import annotations

import os

import pytest

# Before any test module imports torch: see genai_roadmap/__init__.py (spinning OpenMP threads on shared cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def need_data():
    """Skip a test that needs the real datasets when ROADMAP_DATA_DIR is unset (CI sets it)."""
    if not os.environ.get("ROADMAP_DATA_DIR"):
        pytest.skip("ROADMAP_DATA_DIR is not set: real-data test skipped")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the dataset cache (decoded CIFAR etc.) shared across tests but out of the user's home."""
    if "ROADMAP_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("ROADMAP_CACHE_DIR", str(tmp_path_factory.getbasetemp().parent / "roadmap-cache"))
