"""Cache members read row by row (StoredArray): the same values as numpy's reader, in the
order asked, and a split costs only its own rows of memory."""
import numpy as np
import pytest

from delayprop.data._cache import StoredArray, load_valid, save_atomic
from delayprop.data._features import apply_normaliser, fit_normaliser
from delayprop.data import RawHDConfig


@pytest.fixture
def stored(tmp_path):
    rng = np.random.default_rng(0)
    db = rng.normal(size=(37, 5, 3)).astype(np.float32)
    path = tmp_path / "cache.npz"
    save_atomic(path, {"db": db, "labels": np.arange(37)}, {"key": "k"})
    return path, db


def test_rows_in_any_order_match_numpy(stored):
    path, db = stored
    arrays, meta = load_valid(path, "k", lazy=("db",))
    lazy = arrays["db"]
    assert isinstance(lazy, StoredArray) and isinstance(arrays["labels"], np.ndarray)
    assert lazy.shape == db.shape and len(lazy) == 37 and lazy.dtype == np.float32
    for rows in (np.array([3, 4, 5, 9, 1, 2, 36]), slice(10, 20), slice(None), 7, -1,
                 np.array([], dtype=int), np.array([5, 5, 4])):
        np.testing.assert_array_equal(lazy[rows], db[rows])


def test_chunked_statistics_equal_the_whole_split(stored):
    path, db = stored
    lazy = load_valid(path, "k", lazy=("db",))[0]["db"]
    rows = np.arange(0, 37, 2)
    for mode in ("unit", "channel_zscore"):
        config = RawHDConfig(normalisation=mode)
        whole = fit_normaliser(db[rows], config)
        chunked = fit_normaliser(lazy, config, rows=rows)
        assert chunked["mode"] == whole["mode"] == mode
        for key in set(whole) - {"mode"}:
            np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-12, err_msg=key)


def test_in_place_normalisation(stored):
    _, db = stored
    stats = fit_normaliser(db, RawHDConfig())
    expected = apply_normaliser(db, stats)
    work = db.copy()
    out = apply_normaliser(work, stats, copy=False)
    assert out is work
    np.testing.assert_array_equal(out, expected)


def test_a_truncated_cache_is_unreadable_not_wrong(stored, tmp_path):
    path, db = stored
    data = path.read_bytes()
    short = tmp_path / "short.npz"
    short.write_bytes(data[:len(data) // 2])
    assert load_valid(short, "k", lazy=("db",)) is None       # logged, then rebuilt
