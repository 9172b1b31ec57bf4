"""``load_dataset``: one entry point for every data set."""
from __future__ import annotations

import difflib
import os
from dataclasses import fields
from typing import Any

from delayprop.data._config import RawHDConfig
from delayprop.data._folder import AudioFolder
from delayprop.data._rawhd import RawHD
from delayprop.data._spiking import SPIKING_SETS, SpikingHD
from delayprop.data._split import Split
from delayprop.errors import ConfigError

__all__ = ["DATASETS", "load_dataset"]

DATASETS = ("rawhd", "shd", "ssc", "audio")
_RAWHD_OPTIONS = ("config", "cache_dir", "on_error", "num_workers", "progress")
_AUDIO_OPTIONS = (*_RAWHD_OPTIONS, "labels", "test_speakers", "test_fraction", "test_index",
                  "split_seed")
_SPIKING_OPTIONS = ("num_steps", "dt", "duration")


def _check_options(name: str, given: dict[str, Any], known: list[str]) -> None:
    for key in given:
        if key not in known:
            hint = difflib.get_close_matches(key, known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"load_dataset({name!r}) has no option {key!r}{extra}; known: "
                              f"{', '.join(known)}")


def load_dataset(name: str, split: str, path: str | os.PathLike[str] | None = None,
                 **config: Any) -> Split:
    """Load one split of a data set.

    Parameters
    ----------
    name : {'rawhd', 'shd', 'ssc', 'audio'}
    split : str
        ``'train'`` or ``'test'`` (SSC, and ``audio`` with Speech Commands' lists, also
        ``'valid'``).
    path : path-like, optional
        Where the data is; default: ``DELAYPROP_DATA``, else the per-user data folder
        (see ``delayprop/data/README.md``).
    **config
        RawHD: fields of :class:`RawHDConfig` (e.g. ``time_mode='resample'``) and the
        options ``config``, ``cache_dir``, ``on_error``, ``num_workers``, ``progress`` of
        :class:`RawHD`. ``audio`` (your own folder, :class:`AudioFolder`): the same, and
        ``labels`` (file-name pattern), ``test_speakers``, ``test_fraction``,
        ``test_index``, ``split_seed``. SHD/SSC: ``num_steps``, ``dt`` (ms), ``duration`` (ms) of
        :class:`SpikingHD`; without them samples stay exact events.

    Returns
    -------
    Split
        A :class:`RawHD`, :class:`AudioFolder` or :class:`SpikingHD` (all are
        :class:`Split`).

    Raises
    ------
    ConfigError
        Unknown data set, split or option.
    DataError
        Data missing or unusable (the message says where it looked and what to do).

    Examples
    --------
    >>> from delayprop.data import load_dataset
    >>> train = load_dataset("rawhd", "train")                   # doctest: +SKIP
    >>> train.x.shape                                            # doctest: +SKIP
    (8150, 80, 40)
    >>> shd = load_dataset("shd", "test", num_steps=100)         # doctest: +SKIP
    >>> shd.x.shape, shd.dt                                      # doctest: +SKIP
    ((2264, 100, 700), 14.0)
    """
    if name == "rawhd":
        _check_options(name, config, [*_RAWHD_OPTIONS, *(f.name for f in fields(RawHDConfig))])
        return RawHD(path, split, **config)
    if name == "audio":
        _check_options(name, config, [*_AUDIO_OPTIONS, *(f.name for f in fields(RawHDConfig))])
        return AudioFolder(path, split, **config)
    if name in SPIKING_SETS:
        _check_options(name, config, list(_SPIKING_OPTIONS))
        return SpikingHD(name, split, path, **config)
    raise ConfigError(f"data set must be one of {DATASETS}, got {name!r}")
