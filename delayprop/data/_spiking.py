"""SHD and SSC: the authors' HDF5 spike files, as exact events or binned counts.

Schema of ``shd_{train,test}.h5`` and ``ssc_{train,valid,test}.h5`` (Cramer et al. 2022)::

    spikes/times   variable-length float arrays, one per sample, spike times in SECONDS
    spikes/units   variable-length integer arrays, the channel (0..699) of each spike
    labels         one integer class per sample
    extra/keys     optional: class names, index = label

Times are converted to ms. Binning puts a spike at time ``t`` (ms) into step
``floor(t / dt)``; spikes at or after ``num_steps * dt`` are dropped and counted.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray

from delayprop.data._hd_files import CLASS_NAMES as HD_CLASS_NAMES
from delayprop.data._paths import data_root, describe_root
from delayprop.data._split import SPIKE_DTYPE, Split, _init_fields
from delayprop.errors import ConfigError, DataError

__all__ = ["SpikingHD", "SPIKING_SETS", "bin_events"]

logger = logging.getLogger(__name__)

#: Per data set: splits, classes, channels, and the default window in ms used to turn
#: ``num_steps`` into ``dt`` (the longest SHD sample lasts 1.37 s, SSC samples 1 s).
SPIKING_SETS: dict[str, dict[str, Any]] = {
    "shd": {"splits": ("train", "test"), "classes": 20, "channels": 700,
            "duration": 1400.0},
    "ssc": {"splits": ("train", "valid", "test"), "classes": 35, "channels": 700,
            "duration": 1000.0},
}
_REQUIRED = ("spikes/times", "spikes/units", "labels")
_MAX_DENSE_BYTES = 8 * 2**30


def _locate(name: str, split: str, path: str | os.PathLike[str] | None) -> Path:
    filename = f"{name}_{split}.h5"
    root = data_root(path)
    if root.is_file():
        return root
    for candidate in (root / filename, root / name / filename):
        if candidate.is_file():
            return candidate
    gz = root / f"{filename}.gz"
    hint = (f" Found {gz}: decompress it (gunzip) or run `delayprop data fetch {name}`."
            if gz.is_file() else "")
    raise DataError(f"{name.upper()} {split} file {filename} not found in "
                    f"{describe_root(path)}.{hint} Get it with `delayprop data fetch {name}` "
                    "(downloads the authors' files from https://zenkelab.org/datasets/), or "
                    "point at a copy with path=... / --path or DELAYPROP_DATA")


def _read(file: Path, channels: int) -> tuple[list[NDArray[np.void]], NDArray[np.int64],
                                               tuple[str, ...] | None]:
    """Events per sample (t in ms), labels, and class names if the file has them."""
    try:
        handle = h5py.File(file, "r")
    except OSError as err:
        raise DataError(f"{file}: cannot open as HDF5 ({err}); the file is incomplete or "
                        "not an SHD/SSC file — fetch it again") from err
    with handle:
        for dataset in _REQUIRED:
            if dataset not in handle:
                raise DataError(f"{file}: dataset '{dataset}' is missing; an SHD/SSC file "
                                f"holds {', '.join(_REQUIRED)} — fetch the file again")
        times, units = handle["spikes/times"][()], handle["spikes/units"][()]
        labels = np.asarray(handle["labels"][()]).astype(np.int64).reshape(-1)
        keys = handle["extra/keys"][()] if "extra/keys" in handle else None
    if not (len(times) == len(units) == labels.size):
        raise DataError(f"{file}: spikes/times has {len(times)} samples, spikes/units "
                        f"{len(units)}, labels {labels.size}; they must agree")
    events = []
    for i, (t, u) in enumerate(zip(times, units)):
        t = np.asarray(t, dtype=np.float64)
        u = np.asarray(u)
        if t.shape != u.shape:
            raise DataError(f"{file}: sample {i} has {t.size} spike times but {u.size} units")
        if t.size and not (np.isfinite(t).all() and t.min() >= 0):
            raise DataError(f"{file}: sample {i} has negative or non-finite spike times")
        if u.size and (u.min() < 0 or u.max() >= channels):
            raise DataError(f"{file}: sample {i} has channel ids {u.min()}..{u.max()}, "
                            f"outside [0, {channels})")
        ev = np.empty(t.size, dtype=SPIKE_DTYPE)
        ev["t"] = t * 1000.0
        ev["x"] = u
        events.append(ev)
    names = None
    if keys is not None:
        names = tuple(k.decode() if isinstance(k, bytes) else str(k) for k in keys)
    return events, labels, names


def _steps(name: str, num_steps: int | None, dt: float | None,
           duration: float | None) -> tuple[int, float] | None:
    """Resolve (num_steps, dt in ms) from whichever were given; None keeps events."""
    if num_steps is None and dt is None:
        if duration is not None:
            raise ConfigError(f"{name}: duration only applies with num_steps or dt")
        return None
    window = SPIKING_SETS[name]["duration"] if duration is None else duration
    if num_steps is not None and (isinstance(num_steps, bool) or not isinstance(num_steps, int)
                                  or num_steps < 1):
        raise ConfigError(f"{name}: num_steps must be a whole number >= 1, got {num_steps!r}")
    for label, value in (("dt", dt), ("duration", window)):
        if value is not None and not (math.isfinite(float(value)) and float(value) > 0):
            raise ConfigError(f"{name}: {label} must be a number of ms > 0, got {value!r}")
    if num_steps is None:
        num_steps = int(math.ceil(window / dt - 1e-9))
    if dt is None:
        dt = window / num_steps
    return num_steps, float(dt)


def bin_events(events: list[NDArray[np.void]], num_steps: int, dt: float,
               channels: int) -> tuple[NDArray[Any], int]:
    """Spike counts ``[samples, num_steps, channels]`` and the number of dropped spikes.

    A spike at ``t`` ms lands in step ``floor(t / dt)``; spikes with step ``>= num_steps``
    are dropped. Counts are ``uint8``, or ``float32`` if a bin holds more than 255 spikes.
    """
    size = len(events) * num_steps * channels
    if size > _MAX_DENSE_BYTES:
        raise ConfigError(f"binning {len(events)} samples into {num_steps} steps x {channels} "
                          f"channels needs {size / 2**30:.1f} GiB; use fewer steps (larger "
                          "dt) or keep exact events (num_steps=None, dt=None)")
    out: NDArray[Any] = np.zeros((len(events), num_steps, channels), dtype=np.uint8)
    dropped = 0
    for i, ev in enumerate(events):
        step = np.floor(ev["t"] / dt).astype(np.int64)
        keep = step < num_steps
        dropped += int(ev.size - keep.sum())
        flat = step[keep] * channels + ev["x"][keep].astype(np.int64)
        counts = np.bincount(flat, minlength=num_steps * channels)
        if out.dtype == np.uint8 and counts.max(initial=0) > 255:
            out = out.astype(np.float32)          # rare: a bin with more than 255 spikes
        out[i] = counts.reshape(num_steps, channels)
    return out, dropped


class SpikingHD(Split):
    """One split of SHD (Spiking Heidelberg Digits) or SSC (Spiking Speech Commands).

    Parameters
    ----------
    name : {'shd', 'ssc'}
    split : {'train', 'test'} for SHD, {'train', 'valid', 'test'} for SSC
    path : path-like, optional
        The ``<name>_<split>.h5`` file itself or a folder holding it (directly or in a
        ``<name>/`` subfolder); default: ``DELAYPROP_DATA``, else the per-user data folder.
    num_steps : int, optional
        Bin into this many steps.
    dt : float, optional
        Step in ms. Give ``num_steps``, ``dt`` or both to bin; with only one of them the
        window is ``duration``. Give neither to keep exact events.
    duration : float, optional
        Window in ms for binning (default 1400 ms for SHD, 1000 ms for SSC).

    Attributes
    ----------
    x : list of ndarray, or ndarray
        Without binning: one structured array per sample, fields ``t`` (ms, float64) and
        ``x`` (channel, uint16). With binning: counts ``[samples, num_steps, 700]``.
    info : mapping
        ``file``, ``dropped_spikes`` (spikes beyond the window when binned).

    Raises
    ------
    DataError
        File not found, not HDF5, a dataset missing, or inconsistent contents (the message
        names the file, the sample and what is wrong).
    ConfigError
        Bad ``name``, ``split``, ``num_steps``, ``dt`` or ``duration``.
    """

    def __init__(self, name: str = "shd", split: str = "train",
                 path: str | os.PathLike[str] | None = None, *, num_steps: int | None = None,
                 dt: float | None = None, duration: float | None = None) -> None:
        if name not in SPIKING_SETS:
            raise ConfigError(f"SpikingHD name must be one of {tuple(SPIKING_SETS)}, got "
                              f"{name!r}")
        spec = SPIKING_SETS[name]
        if split not in spec["splits"]:
            raise ConfigError(f"{name} split must be one of {spec['splits']}, got {split!r}")
        steps = _steps(name, num_steps, dt, duration)
        file = _locate(name, split, path)
        events, labels, names = _read(file, spec["channels"])
        classes = len(names) if names else spec["classes"]
        if names is None:
            names = HD_CLASS_NAMES if name == "shd" else tuple(f"class {k}" for k in
                                                               range(classes))
        info: dict[str, Any] = {"file": str(file), "dropped_spikes": 0}
        x: Any = events
        if steps is not None:
            x, info["dropped_spikes"] = bin_events(events, steps[0], steps[1],
                                                   spec["channels"])
            if info["dropped_spikes"]:
                logger.info("%s %s: dropped %d spikes at or after %.1f ms (num_steps x dt)",
                            name, split, info["dropped_spikes"], steps[0] * steps[1])
        _init_fields(self, {
            "name": f"{name}/{split}", "x": x, "y": labels,
            "num_channels": spec["channels"], "num_steps": None if steps is None else steps[0],
            "num_classes": classes, "class_names": names,
            "dt": None if steps is None else steps[1],
            "sample_ids": tuple(f"{file.name}#{i}" for i in range(labels.size)),
            "info": info})
        Split.__post_init__(self)
