"""Preprocess every Heidelberg Digits recording once, in parallel, into one cache file.

The cache (built by :mod:`delayprop.data._build`) holds the features of both splits
*before* normalisation, so that changing the normalisation never re-reads audio. Its key
covers both split lists with each file's size (a replaced or truncated file changes it).
Recordings that cannot be used are recorded with the reason, not dropped silently.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from delayprop.data._build import Built, Job, cache_key, load_or_build_features
from delayprop.data._cache import StoredArray
from delayprop.data._config import RawHDConfig
from delayprop.data._hd_files import SPLITS, HDFile, read_manifest

__all__ = ["FeatureTable", "cache_path_for", "load_or_build"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureTable:
    """The cached preprocessing result for both splits, in split-list order.

    ``db[i]`` is meaningful only where ``problem[i] == ""``. ``db`` is an ndarray right
    after a build and a StoredArray (rows read from the cache on demand) after a load;
    ``db[rows]`` gives an ndarray either way.
    """
    db: NDArray[np.float32] | StoredArray
    names: tuple[str, ...]
    splits: NDArray[np.int8]
    labels: NDArray[np.int64]
    frames: NDArray[np.int64]
    source_rate: NDArray[np.int64]
    source_channels: NDArray[np.int64]
    problem: tuple[str, ...]
    path: Path
    seconds: float | None = None

    def rows(self, split: str) -> NDArray[np.int64]:
        """Indices of the entries of ``split``."""
        return np.flatnonzero(self.splits == SPLITS.index(split))


def _files_key(manifest: list[HDFile]) -> list[list]:
    return [[f.split, f.name, f.size] for f in manifest]


def cache_path_for(manifest: list[HDFile], config: RawHDConfig,
                   cache_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The cache file for this manifest and config, and its full key."""
    return cache_key(_files_key(manifest), config, "rawhd", cache_dir)


def _job(entry: HDFile) -> Job:
    if entry.problem:
        return Job(entry.path, entry.problem)
    if entry.size < 0:
        return Job(entry.path, f"{entry.path}: listed in {entry.split}_filenames.txt but the "
                               "file does not exist")
    return Job(entry.path)


def _table(built: Built) -> FeatureTable:
    a, meta = built.arrays, built.meta
    return FeatureTable(db=a["db"], names=tuple(meta["names"]), splits=a["splits"],
                        labels=a["labels"], frames=a["frames"], source_rate=a["source_rate"],
                        source_channels=a["source_channels"], problem=built.problem,
                        path=built.path, seconds=built.seconds)


def load_or_build(folder: Path, config: RawHDConfig, *,
                  cache_dir: str | os.PathLike[str] | None = None,
                  num_workers: int | None = None,
                  progress: bool | None = None) -> FeatureTable:
    """Load the feature cache for ``folder`` and ``config``, building it first if needed.

    Parameters
    ----------
    folder : Path
        The HD audio folder (see :func:`~delayprop.data._hd_files.locate_hd_audio`).
    config : RawHDConfig
    cache_dir : path-like, optional
        Where cache files live (default: see :mod:`delayprop.data._paths`).
    num_workers : int, optional
        Processes for the build; default: the usable CPU cores, one per 64 files at most.
    progress : bool, optional
        Show a progress bar while building; default: only on a terminal.
    """
    manifest = read_manifest(folder)
    extra = {"splits": np.array([SPLITS.index(f.split) for f in manifest], dtype=np.int8),
             "labels": np.array([f.label for f in manifest], dtype=np.int64)}
    built = load_or_build_features(
        [_job(f) for f in manifest], config, files_key=_files_key(manifest), prefix="rawhd",
        cache_dir=cache_dir, num_workers=num_workers, progress=progress,
        desc="RawHD features", extra_arrays=extra,
        extra_meta={"folder": str(folder), "names": [f.name for f in manifest]},
        lazy=("db",))
    return _table(built)
