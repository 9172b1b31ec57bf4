"""Preprocess every Heidelberg Digits recording once, in parallel, into one cache file.

The cache holds the features of both splits *before* normalisation (decibels,
``[files, num_steps, n_mels]``), so that changing the normalisation never re-reads audio.
Its key hashes: the cache format, the feature code version, every feature parameter of
:class:`RawHDConfig`, both split lists with each file's size (a replaced or truncated file
changes it), and the versions of delayprop, librosa (filter bank) and scipy (resampling).
Recordings that cannot be used are recorded with the reason, not dropped silently.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

import delayprop
from delayprop.data._audio import read_audio
from delayprop.data._cache import build_lock, hash_key, load_valid, save_atomic
from delayprop.data._config import RawHDConfig
from delayprop.data._features import log_mel, mel_filterbank
from delayprop.data._hd_files import SPLITS, HDFile, read_manifest
from delayprop.data._paths import cache_root
from delayprop.errors import ConfigError, DataError

__all__ = ["FEATURE_CODE_VERSION", "FeatureTable", "cache_path_for", "load_or_build"]

logger = logging.getLogger(__name__)

#: Bump whenever _audio.py or _features.py change the numbers they produce.
FEATURE_CODE_VERSION = 2

# Runs with fewer recordings than this stay in-process: starting workers costs more.
_MIN_FILES_PER_WORKER = 64


@dataclass(frozen=True)
class FeatureTable:
    """The cached preprocessing result for both splits, in split-list order.

    ``db[i]`` is meaningful only where ``problem[i] == ""``.
    """
    db: NDArray[np.float32]
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


def _versions() -> dict[str, str]:
    found = {"delayprop": delayprop.__version__}
    for package in ("librosa", "scipy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def cache_path_for(manifest: list[HDFile], config: RawHDConfig,
                   cache_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The cache file for this manifest and config, and its full key."""
    key = hash_key({"feature_code": FEATURE_CODE_VERSION, "versions": _versions(),
                    "config": config.feature_params(),
                    "files": [[f.split, f.name, f.size] for f in manifest]})
    return cache_root(cache_dir) / f"rawhd-{key[:20]}.npz", key


# --- worker side -------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(config: RawHDConfig, filterbank: NDArray[np.float64]) -> None:
    _WORKER["config"] = config
    from scipy import sparse

    _WORKER["filterbank"] = sparse.csr_matrix(filterbank)


def _process(item: tuple[int, str]) -> tuple[int, NDArray[np.float32] | None, str, int, int,
                                             int]:
    """Features of one file: (index, features or None, problem, frames, rate, channels)."""
    index, path = item
    config, filterbank = _WORKER["config"], _WORKER["filterbank"]
    try:
        audio = read_audio(path, config.sample_rate, config.silence_threshold)
    except DataError as err:
        return index, None, str(err), 0, 0, 0
    try:
        feats, frames = log_mel(audio.signal, config, filterbank)
    except DataError as err:
        return index, None, f"{path}: {err}", 0, audio.source_rate, audio.source_channels
    return index, feats, "", frames, audio.source_rate, audio.source_channels


# --- parent side -------------------------------------------------------------------------
def _worker_count(requested: int | None, jobs: int) -> int:
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise ConfigError(f"num_workers must be a whole number >= 1, got {requested!r}")
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, jobs // _MIN_FILES_PER_WORKER))


def _run(manifest: list[HDFile], config: RawHDConfig, workers: int,
         progress: bool | None) -> dict[str, Any]:
    """Compute features for every usable manifest entry; collect problems for the rest."""
    n = len(manifest)
    out: dict[str, Any] = {
        "db": np.zeros((n, config.num_steps, config.n_mels), dtype=np.float32),
        "frames": np.zeros(n, dtype=np.int64), "source_rate": np.zeros(n, dtype=np.int64),
        "source_channels": np.zeros(n, dtype=np.int64), "problem": [""] * n}
    jobs = []
    for i, entry in enumerate(manifest):
        if entry.problem:
            out["problem"][i] = entry.problem
        elif entry.size < 0:
            out["problem"][i] = f"{entry.path}: listed in {entry.split}_filenames.txt but " \
                                "the file does not exist"
        else:
            jobs.append((i, entry.path))
    filterbank = mel_filterbank(config)
    bar = dict(total=len(jobs), desc="RawHD features", unit="file", smoothing=0.1,
               disable=None if progress is None else not progress)  # None: only on a TTY
    if workers == 1:
        _init_worker(config, filterbank)
        results = map(_process, jobs)
        _collect(results, out, bar)
    else:
        with multiprocessing.get_context().Pool(workers, _init_worker,
                                                (config, filterbank)) as pool:
            _collect(pool.imap_unordered(_process, jobs, chunksize=32), out, bar)
    return out


def _collect(results: Any, out: dict[str, Any], bar_args: dict[str, Any]) -> None:
    with tqdm(**bar_args) as bar:
        for index, feats, problem, frames, rate, channels in results:
            if feats is not None:
                out["db"][index] = feats
            out["problem"][index] = problem
            out["frames"][index] = frames
            out["source_rate"][index] = rate
            out["source_channels"][index] = channels
            bar.update(1)


def _table(arrays: dict[str, NDArray[Any]], meta: dict[str, Any], path: Path,
           seconds: float | None = None) -> FeatureTable:
    return FeatureTable(db=arrays["db"], names=tuple(meta["names"]),
                        splits=arrays["splits"], labels=arrays["labels"],
                        frames=arrays["frames"], source_rate=arrays["source_rate"],
                        source_channels=arrays["source_channels"],
                        problem=tuple(meta["problem"]), path=path, seconds=seconds)


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
    path, key = cache_path_for(manifest, config, cache_dir)
    found = load_valid(path, key)
    if found is not None:
        logger.debug("RawHD features from cache %s", path)
        return _table(*found, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create the feature cache folder {path.parent} ({err}); pass "
                        "cache_dir=... (--cache-dir) or set DELAYPROP_CACHE to a writable "
                        "folder") from err
    with build_lock(path):
        found = load_valid(path, key)      # another process may have built it meanwhile
        if found is not None:
            return _table(*found, path)
        workers = _worker_count(num_workers, len(manifest))
        logger.info("preprocessing %d HD recordings from %s with %d worker(s); cache: %s",
                    len(manifest), folder, workers, path)
        start = time.perf_counter()
        out = _run(manifest, config, workers, progress)
        seconds = time.perf_counter() - start
        arrays = {"db": out["db"], "frames": out["frames"],
                  "source_rate": out["source_rate"],
                  "source_channels": out["source_channels"],
                  "splits": np.array([SPLITS.index(f.split) for f in manifest], dtype=np.int8),
                  "labels": np.array([f.label for f in manifest], dtype=np.int64)}
        meta = {"key": key, "folder": str(folder), "config": config.feature_params(),
                "names": [f.name for f in manifest], "problem": out["problem"],
                "seconds": seconds}
        save_atomic(path, arrays, meta)
    failed = sum(1 for p in out["problem"] if p)
    logger.info("preprocessed %d recordings in %.1f s (%d unusable); wrote %s (%.0f MB)",
                len(manifest), seconds, failed, path, path.stat().st_size / 2**20)
    return _table(arrays, meta, path, seconds)
