"""The one interface every data set offers: :class:`Split`.

A split is a set of labelled samples. Its inputs ``x`` come in one of two forms:

- **dense** — a numpy array ``[samples, steps, channels]``. For RawHD the values are graded
  (``float32``): the network feeds ``x[n, t, c]`` as the value of input channel ``c`` at step
  ``t``, and zero means "no event". For binned SHD/SSC they are spike counts (``uint8``, or
  ``float32`` in the rare case a bin holds more than 255 spikes).
- **events** — a list with one structured array per sample, dtype :data:`SPIKE_DTYPE`:
  field ``t`` is the spike time in ms (``float64``), field ``x`` the channel id
  (``uint16``), sorted by time as in the source file.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

from delayprop.errors import DataError

__all__ = ["SPIKE_DTYPE", "Split", "Inputs"]

#: One spike: ``t`` = time in ms, ``x`` = input channel id.
SPIKE_DTYPE = np.dtype([("t", np.float64), ("x", np.uint16)])

#: Dense ``[samples, steps, channels]`` values, or one :data:`SPIKE_DTYPE` array per sample.
Inputs = Union[NDArray[Any], Sequence[NDArray[np.void]]]


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class Split:
    """Labelled samples of one split of one data set.

    Parameters
    ----------
    name : str
        ``"<dataset>/<split>"``, e.g. ``"rawhd/train"``.
    x : ndarray or list of ndarray
        Dense ``[samples, steps, channels]`` array, or one structured array (dtype
        :data:`SPIKE_DTYPE`, ``t`` in ms) per sample; see the module docstring.
    y : ndarray of int64, shape [samples]
        Class labels, ``0 <= y < num_classes``.
    num_channels : int
        Number of input channels (40 for RawHD, 700 for SHD/SSC).
    num_steps : int or None
        Steps per sample for dense inputs; ``None`` for event lists.
    num_classes : int
        Number of classes (20 for RawHD and SHD, 35 for SSC).
    class_names : tuple of str
        ``class_names[k]`` names label ``k``.
    dt : float or None
        Duration of one step in ms of the source signal for dense inputs (RawHD: the hop of
        the spectrogram in audio time; binned SHD/SSC: the bin width), ``None`` for event
        lists. The network's own simulation step is set by the training, not by this.
    sample_ids : tuple of str
        One identifier per sample (the audio file name for RawHD, ``"<file>#<index>"`` for
        SHD/SSC), in the order of ``x``.
    info : mapping
        Provenance: source path, configuration, normalisation statistics, skipped samples.

    Notes
    -----
    ``len(split)`` is the number of samples; ``split[i]`` returns ``(x[i], y[i])`` as tonic
    does; iterating yields those pairs.
    """
    name: str
    x: Inputs
    y: NDArray[np.int64]
    num_channels: int
    num_steps: int | None
    num_classes: int
    class_names: tuple[str, ...]
    dt: float | None = None
    sample_ids: tuple[str, ...] = ()
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _init_fields(self, {"info": _freeze(self.info), "sample_ids": tuple(self.sample_ids),
                            "class_names": tuple(self.class_names)})
        _check_split(self)

    @property
    def is_events(self) -> bool:
        """True when ``x`` is a list of per-sample spike arrays, False when dense."""
        return not isinstance(self.x, np.ndarray)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, int]:
        return self.x[index], int(self.y[index])

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        for i in range(len(self)):
            yield self[i]

    def subset(self, indices: Sequence[int] | NDArray[np.integer]) -> Split:
        """A plain :class:`Split` holding only the given samples, in the given order.

        Parameters
        ----------
        indices : sequence of int
            Sample indices (e.g. to carve a validation set out of a training split).
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise DataError(f"{self.name}: subset indices must lie in [0, {len(self)}), got "
                            f"values from {idx.min()} to {idx.max()}")
        x = self.x[idx] if not self.is_events else [self.x[i] for i in idx]
        ids = tuple(self.sample_ids[i] for i in idx) if self.sample_ids else ()
        return Split(name=self.name, x=x, y=self.y[idx], num_channels=self.num_channels,
                     num_steps=self.num_steps, num_classes=self.num_classes,
                     class_names=self.class_names, dt=self.dt, sample_ids=ids,
                     info={**self.info, "subset_of": len(self)})

    def __repr__(self) -> str:
        if self.is_events:
            kind = f"events[{len(self)}]"
        else:
            kind = f"{self.x.dtype}{list(self.x.shape)}"
        return (f"{type(self).__name__}(name={self.name!r}, samples={len(self)}, x={kind}, "
                f"channels={self.num_channels}, steps={self.num_steps}, "
                f"classes={self.num_classes})")


def _init_fields(obj: Split, values: Mapping[str, Any]) -> None:
    """Set fields of a frozen split (used by ``__post_init__`` and subclass constructors)."""
    for key, value in values.items():
        object.__setattr__(obj, key, value)


def _check_split(split: Split) -> None:
    """Check the invariants of a split; raise :class:`DataError` naming the split."""
    y = np.asarray(split.y)
    if y.ndim != 1:
        raise DataError(f"{split.name}: y must be one label per sample, got shape {y.shape}")
    object.__setattr__(split, "y", y.astype(np.int64, copy=False))
    n = y.shape[0]
    if len(split.x) != n:
        raise DataError(f"{split.name}: x holds {len(split.x)} samples but y holds {n}")
    if split.sample_ids and len(split.sample_ids) != n:
        raise DataError(f"{split.name}: {len(split.sample_ids)} sample ids for {n} samples")
    if n and (y.min() < 0 or y.max() >= split.num_classes):
        raise DataError(f"{split.name}: labels must lie in [0, {split.num_classes}), got "
                        f"{y.min()}..{y.max()}")
    if len(split.class_names) != split.num_classes:
        raise DataError(f"{split.name}: {len(split.class_names)} class names for "
                        f"{split.num_classes} classes")
    if isinstance(split.x, np.ndarray):
        expected = (n, split.num_steps, split.num_channels)
        if split.x.shape != expected:
            raise DataError(f"{split.name}: dense x must have shape [samples, steps, "
                            f"channels] = {list(expected)}, got {list(split.x.shape)}")
