"""Feature cache files: keyed, written atomically, validated when read.

A cache file is an uncompressed ``.npz`` whose ``__meta__`` entry holds JSON with the cache
format and the key it was written for. It is written to a temporary file in the same
folder, flushed to disk and then renamed over the final name (``os.replace``), so a run
killed mid-write leaves at most a stray ``.tmp`` file, never a cache that loads as valid.
Writers hold a file lock (``<cache>.lock``) so that two processes do not build the same
cache at once; the one that waits finds the finished file.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from numpy.typing import NDArray

__all__ = ["CACHE_FORMAT", "hash_key", "save_atomic", "load_valid", "build_lock"]

logger = logging.getLogger(__name__)

#: Version of the on-disk layout; bump it when the arrays or meta change.
CACHE_FORMAT = 1


def hash_key(payload: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON form of ``payload``."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_atomic(path: Path, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> None:
    """Write ``arrays`` and ``meta`` to ``path`` so that it appears complete or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            payload = {"format": CACHE_FORMAT, **meta}
            np.savez(handle, __meta__=np.array(json.dumps(payload)), **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load_valid(path: Path, key: str) -> tuple[dict[str, NDArray[Any]], dict[str, Any]] | None:
    """Read a cache file written for ``key``.

    Returns
    -------
    (arrays, meta) or None
        ``None`` when the file does not exist, cannot be read (truncated, corrupt), has
        another format or was written for another key; the last three are logged as
        warnings.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["__meta__"]))
            if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
                logger.warning("cache %s was written for another format or key; rebuilding",
                               path)
                return None
            arrays = {name: npz[name] for name in npz.files if name != "__meta__"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        logger.warning("cache %s is unreadable (%s); rebuilding", path, err)
        return None
    return arrays, meta


@contextlib.contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` and remove temporary files that dead writers left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
                logger.info("removed %s, left by an interrupted cache write", stale)
        yield
