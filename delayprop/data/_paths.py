"""Where the data and the feature caches live.

Data root, in order of precedence:

1. an explicit ``path`` argument (``--path`` on the command line);
2. the ``DELAYPROP_DATA`` environment variable;
3. the per-user data directory, ``platformdirs.user_data_dir("delayprop")`` (on Linux
   ``~/.local/share/delayprop``), where ``delayprop data fetch`` puts downloads.

Feature caches go to ``cache_dir`` if given, else ``$DELAYPROP_CACHE/data`` (the variable
that also moves the compiled-code cache), else ``platformdirs.user_cache_dir("delayprop")``
``/data`` (on Linux ``~/.cache/delayprop/data``, which follows ``XDG_CACHE_HOME``).
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["DATA_ENV", "CACHE_ENV", "data_root", "cache_root", "describe_root"]

DATA_ENV = "DELAYPROP_DATA"
CACHE_ENV = "DELAYPROP_CACHE"


def data_root(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds (or will hold) the data sets.

    Parameters
    ----------
    path : path-like, optional
        Explicit location; wins over ``DELAYPROP_DATA`` and the per-user default.

    Returns
    -------
    Path
        The resolved folder (it need not exist).
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("delayprop"))


def describe_root(path: str | os.PathLike[str] | None = None) -> str:
    """Say where :func:`data_root` looked, for error messages."""
    root = data_root(path)
    if path is not None:
        return f"{root} (the path given)"
    if os.environ.get(DATA_ENV):
        return f"{root} (from {DATA_ENV})"
    return f"{root} (the per-user default; set {DATA_ENV} or pass a path to look elsewhere)"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder for feature caches (created on demand by the writers)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    base = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("delayprop"))
    return base / "data"
