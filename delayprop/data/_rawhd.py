"""RawHD: Heidelberg Digits audio as 40 mel channels x 80 steps of graded input values."""
from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from delayprop.data._config import RawHDConfig, merge_config
from delayprop.data._features import apply_normaliser, fit_normaliser
from delayprop.data._hd_build import FeatureTable, load_or_build
from delayprop.data._hd_files import CLASS_NAMES, SPLITS, locate_hd_audio
from delayprop.data._split import Split, _init_fields
from delayprop.errors import ConfigError, DataError

__all__ = ["RawHD", "ON_ERROR"]

logger = logging.getLogger(__name__)

ON_ERROR = ("raise", "skip")
_SHOW = 5


class RawHD(Split):
    """One split of RawHD: log-mel features of the Heidelberg Digits recordings.

    The first use preprocesses all 10,420 recordings of both splits (in parallel, with a
    progress bar on a terminal) into one cache file; later uses load that file. See
    :class:`RawHDConfig` for every preprocessing parameter and the choice of
    normalisation, and ``delayprop/data/README.md`` for where the audio comes from.

    Parameters
    ----------
    path : path-like, optional
        The HD audio folder (holding ``audio/`` and the split lists) or a folder containing
        it as ``hd_audio/``; default: ``DELAYPROP_DATA``, else the per-user data folder.
    split : {'train', 'test'}
    config : RawHDConfig, optional
        Preprocessing parameters; keyword arguments in ``overrides`` replace single fields.
    cache_dir : path-like, optional
        Folder of the feature cache; default: ``$DELAYPROP_CACHE/data``, else the per-user
        cache folder.
    on_error : {'raise', 'skip'}
        What to do when recordings of this split cannot be used (missing, corrupt,
        truncated, empty, silent, or with a name that gives no label): ``'raise'`` a
        :class:`DataError` listing them, or ``'skip'`` them with a logged warning that
        counts them (they are then listed in ``info['skipped']``).
    num_workers : int, optional
        Processes for preprocessing; default: the usable CPU cores.
    progress : bool, optional
        Progress bar while preprocessing; default: only on a terminal.
    **overrides
        Fields of :class:`RawHDConfig`, e.g. ``time_mode="resample"``.

    Attributes
    ----------
    x : ndarray of float32, shape [samples, num_steps, n_mels]
        Normalised features; ``x[n, t, c]`` is the input value of channel ``c`` at step
        ``t``; always finite.
    y : ndarray of int64
        Labels: spoken digit for English, digit + 10 for German.
    info : mapping
        ``config`` (all parameters), ``normalisation`` (the statistics used, fitted on the
        training split), ``cache`` (file), ``folder``, ``skipped`` (name and reason of each
        skipped recording), ``frames`` (spectrogram frames of each sample before fitting
        to ``num_steps``).

    Raises
    ------
    DataError
        Data not found (the message says where it looked and how to get it), a split list
        that is missing or inconsistent, or unusable recordings with ``on_error='raise'``.
    ConfigError
        Bad parameters.

    Examples
    --------
    >>> from delayprop.data import RawHD
    >>> train = RawHD(split="train")                        # doctest: +SKIP
    >>> train.x.shape, train.y[:3], train.class_names[12]   # doctest: +SKIP
    ((8150, 80, 40), array([0, 1, 2]), 'zwei')
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, split: str = "train",
                 config: RawHDConfig | None = None, *,
                 cache_dir: str | os.PathLike[str] | None = None, on_error: str = "raise",
                 num_workers: int | None = None, progress: bool | None = None,
                 **overrides: Any) -> None:
        if split not in SPLITS:
            raise ConfigError(f"RawHD split must be one of {SPLITS}, got {split!r}")
        if on_error not in ON_ERROR:
            raise ConfigError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        config = merge_config(config, overrides)
        folder = locate_hd_audio(path)
        table = load_or_build(folder, config, cache_dir=cache_dir, num_workers=num_workers,
                              progress=progress)
        rows, skipped = _usable_rows(table, split, on_error)
        train_rows, _ = _usable_rows(table, "train", "skip", quiet=True)
        # the table holds every split and is read from the cache row by row: only this
        # split's rows are ever in memory, normalised where they were read
        stats = fit_normaliser(table.db, config, rows=train_rows)
        x = apply_normaliser(table.db[rows], stats, copy=False)
        if not np.isfinite(x.sum(dtype=np.float64)):    # a NaN or inf anywhere shows here
            bad = np.flatnonzero(~np.isfinite(x).all(axis=(1, 2)))
            raise DataError(f"RawHD {split}: non-finite features in {bad.size} sample(s), "
                            f"first {table.names[rows[bad[0]]]} — please report this bug "
                            f"and delete the cache {table.path}")
        info = {"config": config.to_dict(), "normalisation": stats, "cache": str(table.path),
                "folder": str(folder), "skipped": skipped, "frames": table.frames[rows],
                "preprocess_seconds": table.seconds}
        _init_fields(self, {
            "name": f"rawhd/{split}", "x": x, "y": table.labels[rows],
            "num_channels": config.n_mels, "num_steps": config.num_steps,
            "num_classes": len(CLASS_NAMES), "class_names": CLASS_NAMES,
            "dt": config.step_ms, "sample_ids": tuple(table.names[i] for i in rows),
            "info": info})
        Split.__post_init__(self)

    @property
    def config(self) -> RawHDConfig:
        """The preprocessing parameters of this split."""
        return RawHDConfig(**self.info["config"])


def _usable_rows(table: FeatureTable, split: str, on_error: str,
                 quiet: bool = False) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Rows of ``split`` whose features are usable, and the others with their reasons."""
    rows = table.rows(split)
    bad = [int(i) for i in rows if table.problem[i]]
    if not bad:
        return rows, []
    skipped = [{"name": table.names[i], "reason": table.problem[i]} for i in bad]
    listing = "\n  ".join(table.problem[i] for i in bad[:_SHOW])
    more = f"\n  ... and {len(bad) - _SHOW} more" if len(bad) > _SHOW else ""
    if on_error == "raise":
        raise DataError(
            f"RawHD {split}: {len(bad)} of {rows.size} recordings cannot be used:\n  "
            f"{listing}{more}\nReplace or remove these files (a fresh copy comes with "
            "`delayprop data fetch rawhd --force`), or pass on_error='skip' to leave them "
            "out; the feature cache is rebuilt when a file's size changes.")
    if not quiet:
        logger.warning("RawHD %s: skipped %d of %d recordings that cannot be used:\n  %s%s",
                       split, len(bad), rows.size, listing, more)
    keep = np.array([i for i in rows if not table.problem[i]], dtype=np.int64)
    return keep, skipped

