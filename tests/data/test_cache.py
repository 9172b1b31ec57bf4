"""The RawHD feature cache: reused, keyed on what matters, never half-written."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from delayprop.data import RawHD, RawHDConfig
from delayprop.data import _build, _cache, _hd_build
from delayprop.errors import DataError


def _npz_files(folder):
    return sorted(folder.glob("rawhd-*.npz"))


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def _forbid_preprocessing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("preprocessed although a valid cache exists")
    monkeypatch.setattr(_build, "_run", refuse)


def test_second_load_reads_the_cache(hd_small, cache, monkeypatch):
    first = RawHD(hd_small, "train", cache_dir=cache)
    assert first.info["preprocess_seconds"] is not None
    _forbid_preprocessing(monkeypatch)
    again = RawHD(hd_small, "train", cache_dir=cache)
    np.testing.assert_array_equal(first.x, again.x)
    assert again.info["cache"] == first.info["cache"]
    assert again.info["preprocess_seconds"] is None
    assert len(_npz_files(cache)) == 1


def test_default_cache_folder_follows_delayprop_cache(hd_small, tmp_path, monkeypatch):
    monkeypatch.setenv("DELAYPROP_CACHE", str(tmp_path / "shared-cache"))
    split = RawHD(hd_small, "test")
    assert split.info["cache"].startswith(str(tmp_path / "shared-cache" / "data"))


def test_normalisation_reuses_the_cache_feature_parameters_do_not(hd_small, cache,
                                                                 monkeypatch):
    RawHD(hd_small, "train", cache_dir=cache)
    _forbid_preprocessing(monkeypatch)
    RawHD(hd_small, "train", cache_dir=cache, normalisation="channel_zscore")
    monkeypatch.undo()
    RawHD(hd_small, "train", cache_dir=cache, top_db=60.0)
    assert len(_npz_files(cache)) == 2


def test_a_changed_recording_changes_the_key(hd_copy, cache):
    before = RawHD(hd_copy, "train", cache_dir=cache)
    path = hd_copy / "audio" / before.sample_ids[0]
    path.write_bytes(path.read_bytes()[:2000])           # truncated: size differs
    after = RawHD(hd_copy, "train", cache_dir=cache, on_error="skip")
    assert len(after) == 19 and after.info["cache"] != before.info["cache"]


def test_truncated_cache_is_rebuilt(hd_small, cache, caplog):
    good = RawHD(hd_small, "train", cache_dir=cache)
    (path,) = _npz_files(cache)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="delayprop.data"):
        again = RawHD(hd_small, "train", cache_dir=cache)
    assert "is unreadable" in caplog.text and "rebuilding" in caplog.text
    assert again.info["preprocess_seconds"] is not None
    np.testing.assert_array_equal(good.x, again.x)


def test_cache_written_for_another_key_is_not_used(hd_small, cache, caplog):
    RawHD(hd_small, "train", cache_dir=cache)
    (path,) = _npz_files(cache)
    _cache.save_atomic(path, {"db": np.zeros(1)}, {"key": "something else"})
    with caplog.at_level(logging.WARNING, logger="delayprop.data"):
        again = RawHD(hd_small, "train", cache_dir=cache)
    assert "written for another format or key" in caplog.text
    assert again.x.shape == (20, 80, 40)


def test_a_killed_write_leaves_no_cache(hd_small, cache, monkeypatch):
    real_savez = np.savez

    def savez_then_die(handle, **arrays):
        real_savez(handle, **{k: v for k, v in list(arrays.items())[:2]})
        raise KeyboardInterrupt                      # killed half-way through the write

    monkeypatch.setattr(_cache.np, "savez", savez_then_die)
    with pytest.raises(KeyboardInterrupt):
        RawHD(hd_small, "train", cache_dir=cache)
    assert _npz_files(cache) == [] and list(cache.glob("*.tmp")) == []
    monkeypatch.undo()
    assert RawHD(hd_small, "train", cache_dir=cache).x.shape == (20, 80, 40)


def test_temporary_files_of_dead_writers_are_removed(hd_small, cache):
    manifest = _hd_build.read_manifest(hd_small)
    path, _ = _hd_build.cache_path_for(manifest, RawHDConfig(), cache)
    cache.mkdir()
    stale = cache / f".{path.name}.abc123.tmp"
    stale.write_bytes(b"half a cache")
    RawHD(hd_small, "train", cache_dir=cache)
    assert not stale.exists()


def test_progress_bar_on_request(hd_small, cache, capsys):
    RawHD(hd_small, "train", cache_dir=cache, progress=True)
    assert "RawHD features" in capsys.readouterr().err
    RawHD(hd_small, "train", cache_dir=cache / "quiet", progress=False)
    assert "RawHD features" not in capsys.readouterr().err


def test_hash_key_is_canonical():
    assert _cache.hash_key({"a": 1, "b": [1, 2]}) == _cache.hash_key({"b": [1, 2], "a": 1})
    assert _cache.hash_key({"a": 1}) != _cache.hash_key({"a": 2})


def test_unwritable_cache_folder_says_how_to_move_it(hd_small, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match=r"cannot create the feature cache folder .*a-file/c.*"
                                        r"set DELAYPROP_CACHE to a writable folder"):
        RawHD(hd_small, "train", cache_dir=blocker / "c")
