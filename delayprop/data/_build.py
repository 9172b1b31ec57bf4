"""Preprocess a list of audio files once, in parallel, into one keyed cache file.

Shared by RawHD and the ``audio`` folder data set. The cache holds each file's features
*before* normalisation (decibels, ``[files, num_steps, n_mels]``), its frame count, source
rate and channel count, and the reason it cannot be used (empty string when usable). Its key
hashes the cache format, the feature code version, every feature parameter, the caller's
description of the files (names with sizes, and mtimes where the caller gives them) and the
versions of delayprop, librosa (filter bank) and scipy (resampling).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Collection, Mapping, Sequence
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
from delayprop.data._paths import cache_root
from delayprop.errors import ConfigError, DataError

__all__ = ["FEATURE_CODE_VERSION", "Built", "Job", "cache_key", "load_or_build_features"]

logger = logging.getLogger(__name__)

#: Bump whenever _audio.py or _features.py change the numbers they produce.
FEATURE_CODE_VERSION = 2

# Runs with fewer files than this per worker stay in-process: starting workers costs more.
_MIN_FILES_PER_WORKER = 64


@dataclass(frozen=True)
class Job:
    """One file to preprocess; a non-empty ``problem`` marks it unusable without reading."""
    path: str
    problem: str = ""


@dataclass(frozen=True)
class Built:
    """Cached arrays and meta of one build; ``seconds`` is None when read from the cache."""
    arrays: Mapping[str, NDArray[Any]]
    meta: Mapping[str, Any]
    path: Path
    seconds: float | None = None

    @property
    def problem(self) -> tuple[str, ...]:
        return tuple(self.meta["problem"])


def _versions() -> dict[str, str]:
    found = {"delayprop": delayprop.__version__}
    for package in ("librosa", "scipy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def cache_key(files: Any, config: RawHDConfig, prefix: str,
              cache_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The cache file for these files (a JSON-ready description) and config, and its key."""
    key = hash_key({"feature_code": FEATURE_CODE_VERSION, "versions": _versions(),
                    "config": config.feature_params(), "files": files})
    return cache_root(cache_dir) / f"{prefix}-{key[:20]}.npz", key


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


def _run(jobs: Sequence[Job], config: RawHDConfig, workers: int, progress: bool | None,
         desc: str) -> dict[str, Any]:
    """Compute features for every usable job; collect problems for the rest."""
    n = len(jobs)
    out: dict[str, Any] = {
        "db": np.zeros((n, config.num_steps, config.n_mels), dtype=np.float32),
        "frames": np.zeros(n, dtype=np.int64), "source_rate": np.zeros(n, dtype=np.int64),
        "source_channels": np.zeros(n, dtype=np.int64), "problem": [""] * n}
    todo = []
    for i, job in enumerate(jobs):
        if job.problem:
            out["problem"][i] = job.problem
        else:
            todo.append((i, job.path))
    filterbank = mel_filterbank(config)
    bar = dict(total=len(todo), desc=desc, unit="file", smoothing=0.1,
               disable=None if progress is None else not progress)  # None: only on a TTY
    if workers == 1:
        _init_worker(config, filterbank)
        _collect(map(_process, todo), out, bar)
    else:
        with multiprocessing.get_context().Pool(workers, _init_worker,
                                                (config, filterbank)) as pool:
            _collect(pool.imap_unordered(_process, todo, chunksize=32), out, bar)
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


def load_or_build_features(jobs: Sequence[Job], config: RawHDConfig, *, files_key: Any,
                           prefix: str, cache_dir: str | os.PathLike[str] | None = None,
                           num_workers: int | None = None, progress: bool | None = None,
                           desc: str = "features",
                           extra_arrays: Mapping[str, NDArray[Any]] | None = None,
                           extra_meta: Mapping[str, Any] | None = None,
                           lazy: Collection[str] = ()) -> Built:
    """Load the feature cache for ``jobs`` and ``config``, building it first if needed.

    Parameters
    ----------
    jobs : sequence of Job
        Files in the order of the cached rows.
    config : RawHDConfig
        Feature parameters (``normalisation`` is not part of the key).
    files_key : JSON-ready
        What identifies the files for the key (names with sizes and mtimes).
    prefix : str
        Start of the cache file's name (``rawhd``, ``audio``).
    extra_arrays, extra_meta
        Stored alongside (e.g. labels and split of each file).
    lazy : names of arrays
        Come back from an existing cache as StoredArray (rows read on demand).
    """
    path, key = cache_key(files_key, config, prefix, cache_dir)
    found = load_valid(path, key, lazy)
    if found is not None:
        logger.debug("features from cache %s", path)
        return Built(*found, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create the feature cache folder {path.parent} ({err}); pass "
                        "cache_dir=... (--cache-dir) or set DELAYPROP_CACHE to a writable "
                        "folder") from err
    with build_lock(path):
        found = load_valid(path, key, lazy)  # another process may have built it meanwhile
        if found is not None:
            return Built(*found, path)
        workers = _worker_count(num_workers, len(jobs))
        logger.info("preprocessing %d recordings with %d worker(s); cache: %s",
                    len(jobs), workers, path)
        start = time.perf_counter()
        out = _run(jobs, config, workers, progress, desc)
        seconds = time.perf_counter() - start
        arrays = {"db": out["db"], "frames": out["frames"], "source_rate": out["source_rate"],
                  "source_channels": out["source_channels"], **(extra_arrays or {})}
        meta = {"key": key, "config": config.feature_params(), "problem": out["problem"],
                "seconds": seconds, **(extra_meta or {})}
        save_atomic(path, arrays, meta)
    failed = sum(1 for p in out["problem"] if p)
    logger.info("preprocessed %d recordings in %.1f s (%d unusable); wrote %s (%.0f MB)",
                len(jobs), seconds, failed, path, path.stat().st_size / 2**20)
    return Built(arrays, meta, path, seconds)
