"""``delayprop data fetch``: download the authors' archives, verify, resume, unpack.

Files come from ``base_url`` (default https://zenkelab.org/datasets/, or the
``DELAYPROP_DATA_URL`` environment variable, e.g. a mirror or a local server). Each archive
is downloaded to ``<root>/<file>.part``; a rerun after an interruption asks the server for
the rest only (HTTP ``Range``). The finished file is checked against its MD5 sum before
it is renamed and unpacked; a mismatch deletes it. MD5 sums come from the ``md5sums.txt``
the authors publish next to the files, else from a ``md5sums.txt`` in ``<root>``, else from
the table below.

Without network access: download the files elsewhere, copy them into ``<root>`` and run the
same command again — files already there are verified and unpacked without a connection.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import h5py
from tqdm import tqdm

import delayprop
from delayprop.data._paths import data_root
from delayprop.errors import ConfigError, DataError
from delayprop.storage import temporary

__all__ = ["ARCHIVES", "DEFAULT_BASE_URL", "URL_ENV", "fetch", "md5sum"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://zenkelab.org/datasets/"
URL_ENV = "DELAYPROP_DATA_URL"

#: Archives per data set.
ARCHIVES = {
    "rawhd": ("hd_audio.tar.gz",),
    "shd": ("shd_train.h5.gz", "shd_test.h5.gz"),
    "ssc": ("ssc_train.h5.gz", "ssc_valid.h5.gz", "ssc_test.h5.gz"),
}

#: MD5 sums used only when no md5sums.txt can be read (offline verification of copied
#: files). The SHD values appear identically in two independent loaders (the authors'
#: site was then compneuro.net); the SSC value is quoted by a project that pins it. The
#: authors' md5sums.txt, when reachable, takes precedence; a disagreement is logged.
KNOWN_MD5 = {
    "shd_train.h5.gz": "d47c9825dee33347913e8ce0f2be08b0",
    "shd_test.h5.gz": "3062a80ec0c5719404d5b02e166543b1",
    "ssc_valid.h5.gz": "555645b13e15fe270fbfe39cb763f805",
}

_CHUNK = 1 << 20
_TIMEOUT = 60.0


def md5sum(path: Path) -> str:
    """MD5 hex digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _parse_md5sums(text: str) -> dict[str, str]:
    sums = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 32:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _target(root: Path, archive: str) -> Path:
    """What unpacking ``archive`` produces (its presence means 'already fetched')."""
    if archive.endswith(".tar.gz"):
        return root / archive[:-len(".tar.gz")]
    return root / archive[:-len(".gz")]


def _offline_help(url: str, root: Path, name: str) -> str:
    return (f"No network? Download {url} on a machine that has access, copy it into {root} "
            f"and run `delayprop data fetch {name}` again: files already there are verified "
            "and unpacked without a connection. Or use a reachable mirror with --base-url "
            f"(or {URL_ENV}), or point DELAYPROP_DATA at a folder that already holds the data.")


def _checksums(base_url: str, root: Path) -> tuple[dict[str, str], str]:
    """MD5 sums and where they came from: published list, local md5sums.txt, built-in."""
    url = base_url + "md5sums.txt"
    try:
        with urllib.request.urlopen(_request(url), timeout=_TIMEOUT) as response:
            sums = _parse_md5sums(response.read().decode("utf-8", "replace"))
        for name, value in sums.items():
            if name in KNOWN_MD5 and KNOWN_MD5[name] != value:
                logger.warning("%s lists MD5 %s for %s; delayprop knew %s — using the "
                               "published value", url, value, name, KNOWN_MD5[name])
        return sums, url
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        logger.info("cannot read %s (%s); using local or built-in checksums", url, reason)
    local = root / "md5sums.txt"
    if local.is_file():
        return _parse_md5sums(local.read_text(encoding="utf-8", errors="replace")), str(local)
    return dict(KNOWN_MD5), f"{url} (unreachable: {reason}) and delayprop's built-in table"


def _request(url: str, offset: int = 0) -> urllib.request.Request:
    headers = {"User-Agent": f"delayprop/{delayprop.__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.Request(url, headers=headers)


def _download(url: str, part: Path, name: str, progress: bool | None) -> None:
    """Download ``url`` into ``part``, continuing after the bytes already there."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = urllib.request.urlopen(_request(url, offset), timeout=_TIMEOUT)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:       # nothing left to send: the part is complete
            return
        raise DataError(f"cannot download {url}: the server answered HTTP {err.code} "
                        f"{err.reason}. Check --base-url / {URL_ENV}.") from err
    except (urllib.error.URLError, OSError) as err:
        raise DataError(f"cannot download {url}: {getattr(err, 'reason', err)}. "
                        f"{_offline_help(url, part.parent, name)}") from err
    with response:
        resumed = offset > 0 and response.status == 206 and \
            response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
        if offset and not resumed:
            logger.info("%s: the server does not resume; downloading from the start", url)
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        received = offset
        with open(part, "ab" if resumed else "wb") as out, \
                tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=part.name,
                     disable=None if progress is None else not progress) as bar:
            try:
                for block in iter(lambda: response.read1(_CHUNK), b""):  # what arrived
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as err:
                raise DataError(f"download of {url} interrupted after {received} bytes "
                                f"({err}); run the same command again to resume") from err
        if total is not None and received < total:
            raise DataError(f"download of {url} stopped after {received} of {total} bytes; "
                            "run the same command again to resume")


def _obtain(url: str, archive: Path, md5: str, name: str, progress: bool | None) -> None:
    """Make ``archive`` a verified copy of ``url`` (download, resume, or reuse)."""
    if archive.is_file():
        if md5sum(archive) == md5:
            logger.info("%s is already here and verified", archive)
            return
        logger.warning("%s does not match MD5 %s; downloading it again", archive, md5)
        archive.unlink()
    part = archive.with_name(archive.name + ".part")
    _download(url, part, name, progress)
    actual = md5sum(part)
    if actual != md5:
        part.unlink()
        raise DataError(f"{url}: checksum mismatch — MD5 {actual}, expected {md5}. The "
                        "download was removed; run the command again (if it fails again the "
                        "mirror serves a different file)")
    os.replace(part, archive)


def _gunzip(archive: Path, target: Path) -> None:
    tmp = None
    try:
        with gzip.open(archive, "rb") as source:
            tmp = temporary(target, lambda out: shutil.copyfileobj(source, out, _CHUNK))
        with h5py.File(tmp, "r") as handle:
            missing = [d for d in ("spikes/times", "spikes/units", "labels") if d not in handle]
        if missing:
            raise DataError(f"{archive}: unpacked file lacks {', '.join(missing)}; not an "
                            "SHD/SSC file")
        os.replace(tmp, target)
    except (OSError, EOFError) as err:
        raise DataError(f"{archive}: cannot unpack ({err}); delete it and fetch again") from err
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _untar(archive: Path, target: Path) -> None:
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        if not hasattr(tarfile, "data_filter"):
            raise DataError(f"{archive}: this Python ({sys.version.split()[0]}) cannot unpack "
                            "archives safely (tarfile extraction filters need 3.10.12+ or "
                            f"3.11.4+); upgrade Python, or unpack it yourself into {target}")
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")   # refuses absolute paths, '..', devices
        found = [p.parent for p in [tmp / "train_filenames.txt",
                                    *tmp.glob("*/train_filenames.txt")] if p.is_file()]
        if not found:
            raise DataError(f"{archive}: no train_filenames.txt inside; not the HD audio "
                            "archive")
        if target.exists():
            shutil.rmtree(target)
        os.replace(found[0], target)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"{archive}: cannot unpack ({err}); delete it and fetch again") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch(name: str, path: str | os.PathLike[str] | None = None, *,
          base_url: str | None = None, force: bool = False, keep_archives: bool = False,
          progress: bool | None = None) -> list[Path]:
    """Download, verify and unpack one data set into the data root.

    Parameters
    ----------
    name : {'rawhd', 'shd', 'ssc'}
    path : path-like, optional
        Data root (default: ``DELAYPROP_DATA``, else the per-user data folder).
    base_url : str, optional
        Where the files are (default: ``DELAYPROP_DATA_URL``, else the authors' site).
    force : bool
        Fetch and unpack again even if the unpacked data is already there.
    keep_archives : bool
        Keep the ``.gz`` archives after unpacking (default: delete them).
    progress : bool, optional
        Progress bars; default: only on a terminal.

    Returns
    -------
    list of Path
        What was unpacked: ``<root>/hd_audio`` or ``<root>/<name>_<split>.h5`` files.

    Raises
    ------
    DataError
        Unreachable server (the message says what to do offline), HTTP error, checksum
        mismatch, a file that cannot be unpacked, or no known checksum.
    """
    if name not in ARCHIVES:
        raise ConfigError(f"data set must be one of {tuple(ARCHIVES)}, got {name!r}")
    root = data_root(path)
    root.mkdir(parents=True, exist_ok=True)
    base = base_url or os.environ.get(URL_ENV) or DEFAULT_BASE_URL
    base = base if base.endswith("/") else base + "/"
    todo = [a for a in ARCHIVES[name] if force or not _target(root, a).exists()]
    if not todo:
        logger.info("%s is already in %s (use --force to fetch it again)", name, root)
        return [_target(root, a) for a in ARCHIVES[name]]
    sums, source = _checksums(base, root)
    for archive in todo:
        if archive not in sums:
            raise DataError(f"no MD5 sum known for {archive}: looked in {source}. "
                            f"{_offline_help(base + archive, root, name)} Copy "
                            f"{base}md5sums.txt into {root} as well.")
        _obtain(base + archive, root / archive, sums[archive], name, progress)
        target = _target(root, archive)
        (_untar if archive.endswith(".tar.gz") else _gunzip)(root / archive, target)
        if not keep_archives:
            (root / archive).unlink()
        logger.info("unpacked %s into %s", archive, target)
    return [_target(root, a) for a in ARCHIVES[name]]
