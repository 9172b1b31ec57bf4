"""Fixtures for the data tests: isolated paths, the HD excerpt (helpers: datahelpers.py)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "hd_audio_small"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test reads the user's data, cache or environment, or writes outside tmp_path."""
    for var in ("DELAYPROP_DATA", "DELAYPROP_DATA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DELAYPROP_CACHE", str(tmp_path / "env-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def hd_small() -> Path:
    """The shipped 40-recording excerpt (read-only: copy it before changing it)."""
    return FIXTURE


@pytest.fixture
def hd_copy(tmp_path) -> Path:
    """A writable copy of the excerpt."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "hd_audio"))
