"""The whole RawHD set (10,420 recordings), when the real data is present.

Found through ``DELAYPROP_DATA`` (as set when pytest starts) or the workplace copy at
``../shared/data`` next to the repository; skipped with the reason otherwise. It uses the
persistent feature cache (``$DELAYPROP_CACHE/data`` or the per-user cache, as set when pytest
starts — the same file training reads): the first run preprocesses all recordings
(~20-30 s on 2 cores), later runs load the cache in about a second.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from delayprop.data import RawHD, cache_root, parse_label
from delayprop.data._hd_files import locate_hd_audio
from delayprop.errors import DataError

_CANDIDATES = [os.environ.get("DELAYPROP_DATA"),
               str(Path(__file__).resolve().parents[3] / "shared" / "data")]


def _real_data() -> Path | None:
    for candidate in filter(None, _CANDIDATES):
        try:
            return locate_hd_audio(candidate)
        except DataError:
            continue
    return None


REAL = _real_data()
CACHE = cache_root()          # captured before the fixtures redirect caches to tmp_path


@pytest.mark.skipif(REAL is None, reason="full Heidelberg Digits audio not found (set "
                    "DELAYPROP_DATA or run `delayprop data fetch rawhd`)")
def test_full_rawhd():
    splits = {s: RawHD(REAL, s, cache_dir=CACHE) for s in ("train", "test")}
    assert (len(splits["train"]), len(splits["test"])) == (8150, 2270)
    assert not set(splits["train"].sample_ids) & set(splits["test"].sample_ids)
    for name, split in splits.items():
        assert split.x.shape == (len(split), 80, 40) and split.x.dtype == np.float32
        assert np.isfinite(split.x).all()
        np.testing.assert_array_equal(split.x.max(axis=(1, 2)), 1.0)
        assert split.x.min() == 0.0
        counts = np.bincount(split.y, minlength=20)
        assert counts.size == 20 and counts.min() > 0
        assert counts.max() / counts.min() < 1.5, f"{name} classes unbalanced: {counts}"
        assert [parse_label(n) for n in split.sample_ids] == split.y.tolist()
        assert split.info["skipped"] == []
