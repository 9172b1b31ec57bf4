"""Build cache: one directory per (source, compiler, flags, delayprop version) key.

Layout::

    $DELAYPROP_CACHE (default: the per-user cache dir, e.g. ~/.cache/delayprop)/build/
        <key>/            model.so (or .cu build), source, build.log, meta.json
        <key>.lock        file lock held while <key>/ is being built

A build happens in a private temporary directory next to its final place and is moved
there with one ``os.replace``; two processes building the same model at once take turns on
the lock, and the second finds the first one's finished result. A directory without its
``meta.json`` (written last) is never used.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import platformdirs
from filelock import FileLock

__all__ = ["cache_root", "cache_key", "cached_build"]

META = "meta.json"


def cache_root() -> Path:
    """The build cache directory: ``$DELAYPROP_CACHE/build`` or the per-user cache."""
    base = os.environ.get("DELAYPROP_CACHE") or platformdirs.user_cache_dir("delayprop")
    return Path(base) / "build"


def cache_key(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def cached_build(key: str, build: Callable[[Path], dict], root: Path | None = None) -> Path:
    """Return the directory of a finished build for ``key``, building it if needed.

    ``build(tmpdir)`` writes its outputs into ``tmpdir`` and returns metadata (JSON-able);
    it may raise, in which case nothing is left in the cache.
    """
    root = Path(root) if root is not None else cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    if (final / META).exists():
        return final
    with FileLock(str(root / f"{key}.lock")):
        if (final / META).exists():          # another process finished it meanwhile
            return final
        if final.exists():                   # a half-written directory from a killed run
            shutil.rmtree(final, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{key}.", suffix=".tmp", dir=root))
        try:
            meta = build(tmp)
            (tmp / META).write_text(json.dumps(meta, indent=1))
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final
