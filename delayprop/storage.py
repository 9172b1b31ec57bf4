"""Files that survive faults: atomic writes and readable errors.

Every write goes to a temporary file beside its target, is flushed to disk (fsync) and only
then renamed over the target, so a killed process or a full disk leaves either the old file
or the new one, never half of one. A failing file operation becomes a
:class:`~delayprop.errors.StorageError` naming the path and the cause in words (disk full,
read-only file system, ...); a damaged ``.npz`` (empty, truncated, other content) a
:class:`~delayprop.errors.DamagedFileError`.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from delayprop.errors import DamagedFileError, DataError, DelaypropError, StorageError

__all__ = ["describe_os_error", "storage_error", "guarded", "write_atomic", "write_text",
           "temporary", "commit", "fsync_directory", "read_npz"]

_CAUSES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EISDIR: "it is a directory",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or directory",
    errno.EEXIST: "a file of that name is in the way",
    errno.EIO: "an input/output error of the device",
}


def describe_os_error(err: OSError) -> str:
    """The cause of ``err`` in words, with its errno name (e.g. 'the disk is full (ENOSPC)')."""
    if err.errno in _CAUSES:
        return f"{_CAUSES[err.errno]} ({errno.errorcode[err.errno]})"
    return err.strerror or str(err) or type(err).__name__


def storage_error(action: str, path, err: OSError) -> StorageError:
    """A StorageError for ``action`` ('write', 'read', 'create') on ``path`` failing with
    ``err``."""
    out = StorageError(f"cannot {action} {path}: {describe_os_error(err)}")
    out.errno, out.filename = err.errno, str(path)
    return out


@contextlib.contextmanager
def guarded(path, action: str = "write"):
    """Turn an OSError inside the block into a StorageError about ``path``."""
    try:
        yield
    except DelaypropError:
        raise
    except OSError as err:
        raise storage_error(action, getattr(err, "filename", None) or path, err) from err


def fsync_directory(directory) -> None:
    """Make renames inside ``directory`` durable (a no-op where directories cannot be
    opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass                      # some file systems refuse fsync on directories
    finally:
        os.close(fd)


def usual_permissions(fd: int) -> None:
    """Give a file made by ``tempfile.mkstemp`` (0600) the permissions a plain ``open``
    would (0666 less the umask), so the renamed result reads like any other file."""
    mask = os.umask(0)
    os.umask(mask)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666 & ~mask)


def temporary(path, write: Callable, binary: bool = True) -> Path:
    """Write a temporary file beside ``path`` with ``write(file)``, flushed to disk; return
    its path (rename it with :func:`commit`). On failure nothing is left behind."""
    path = Path(path)
    with guarded(path.parent, "create"):
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise storage_error("write", path, err) from err
    usual_permissions(fd)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": ""})) \
                as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, DelaypropError):
            raise storage_error("write", path, err) from err
        raise
    return Path(tmp)


def commit(tmp: Path, path) -> None:
    """Rename the temporary file ``tmp`` over ``path``."""
    try:
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise storage_error("write", path, err) from err


def write_atomic(path, write: Callable, binary: bool = True) -> Path:
    """Write ``path`` atomically with ``write(file)``."""
    path = Path(path)
    commit(temporary(path, write, binary), path)
    fsync_directory(path.parent)
    return path


def write_text(path, text: str) -> Path:
    return write_atomic(path, lambda f: f.write(text), binary=False)


def read_npz(path, what: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file ``path`` (read eagerly, so damage shows here);
    ``what`` names the file's kind in messages ('checkpoint', 'network graph')."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError as err:
        raise DataError(f"{what} {path} not found") from err
    except OSError as err:
        raise storage_error("read", path, err) from err
    if not head:
        raise DamagedFileError(f"{what} {path} is damaged: the file is empty")
    if head != b"PK\x03\x04":
        # never np.load such a file: numpy would suggest unpickling it
        raise DamagedFileError(f"{what} {path} is damaged: it is not an .npz archive "
                               f"(other content)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise DamagedFileError(f"{what} {path} is damaged: truncated or corrupted "
                               f"({err or type(err).__name__})") from err
    except ValueError as err:
        if "pickle" in str(err):
            raise DamagedFileError(f"{what} {path} is damaged: it holds object arrays, "
                                   f"which delayprop never writes") from err
        raise DamagedFileError(f"{what} {path} is damaged: {err}") from err
    except OSError as err:
        raise storage_error("read", path, err) from err
