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
import struct
import zipfile
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from numpy.typing import NDArray

from delayprop.storage import commit, temporary

__all__ = ["CACHE_FORMAT", "hash_key", "save_atomic", "load_valid", "build_lock",
           "StoredArray"]

logger = logging.getLogger(__name__)

#: Version of the on-disk layout; bump it when the arrays or meta change.
CACHE_FORMAT = 1


def hash_key(payload: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON form of ``payload``."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_atomic(path: Path, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> None:
    """Write ``arrays`` and ``meta`` to ``path`` so that it appears complete or not at all."""
    payload = {"format": CACHE_FORMAT, **meta}
    commit(temporary(path, lambda f: np.savez(f, __meta__=np.array(json.dumps(payload)),
                                              **arrays)), path)


def load_valid(path: Path, key: str, lazy: Collection[str] = ()
               ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Read a cache file written for ``key``.

    Members named in ``lazy`` come back as :class:`StoredArray` (rows read on demand)
    instead of being read whole: a split of a data set then costs only its own rows of
    memory, not the table of every split.

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
            arrays = {name: StoredArray.open(path, name) if name in lazy else npz[name]
                      for name in npz.files if name != "__meta__"}
    except (OSError, ValueError, KeyError, EOFError, struct.error,
            zipfile.BadZipFile) as err:
        logger.warning("cache %s is unreadable (%s); rebuilding", path, err)
        return None
    return arrays, meta


class StoredArray:
    """An array stored uncompressed in an ``.npz`` file, read row by row on demand.

    ``stored[rows]`` (an int, a slice or an index array) returns a new ndarray holding
    those rows of the first axis, in the order asked, read with one file read per run of
    consecutive rows. Nothing is memory-mapped, so rows read and dropped do not stay in
    the process's resident memory.
    """

    def __init__(self, path: Path, offset: int, shape: tuple[int, ...], dtype: np.dtype):
        self.path, self.offset = Path(path), offset
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    @classmethod
    def open(cls, path: Path, name: str) -> "StoredArray":
        """The member ``name`` of the ``.npz`` at ``path`` (stored, C order)."""
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"{name}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"member {name} is compressed")
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
            if local[:4] != b"PK\x03\x04":
                raise ValueError(f"no local header for member {name}")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
        if fortran or dtype.hasobject:
            raise ValueError(f"member {name} is not a plain C-ordered array")
        return cls(path, offset, shape, dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> NDArray[Any]:
        index = np.arange(self.shape[0])[rows]
        scalar = index.ndim == 0
        index = np.atleast_1d(index)
        out = np.empty((len(index),) + self.shape[1:], self.dtype)
        flat = out.reshape(len(index), self.row_bytes // self.dtype.itemsize).view(np.uint8)
        with open(self.path, "rb") as f:
            start = 0
            while start < len(index):            # one read per run of consecutive rows
                stop = start + 1
                while stop < len(index) and index[stop] == index[stop - 1] + 1:
                    stop += 1
                f.seek(self.offset + int(index[start]) * self.row_bytes)
                want = (stop - start) * self.row_bytes
                if f.readinto(memoryview(flat[start:stop]).cast("B")) != want:
                    raise OSError(f"{self.path} is shorter than its header says")
                start = stop
        return out[0] if scalar else out


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
