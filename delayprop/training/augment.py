"""Data augmentation of graded inputs, drawn afresh for every training batch.

The held-out speakers of RawHD differ from the training speakers mostly in pitch and
formants (a shift along the mel axis) and in timing; shifting the training examples by a
few mel bands or steps teaches the network to ignore both. An augmentation is a callable
``(batch [n, steps, channels], rng) -> batch`` of the same shape; it is applied to
training batches only (never to validation or evaluation data) and draws from the
network's checkpointed RNG, so an augmented run resumes bit for bit.
"""
from __future__ import annotations

import numpy as np

from delayprop.errors import ConfigError

__all__ = ["Augmentation", "ChannelShift", "TimeShift", "Compose"]


class Augmentation:
    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


def _shift_along(batch: np.ndarray, shifts: np.ndarray, axis: int) -> np.ndarray:
    """Each sample i moved by ``shifts[i]`` positions along ``axis`` (1: time, 2:
    channels); what moves in from outside is 0, what moves out is lost."""
    out = np.zeros_like(batch)
    # views with the shifted axis second, so one slicing serves every axis
    source, target = np.moveaxis(batch, axis, 1), np.moveaxis(out, axis, 1)
    size = source.shape[1]
    for i, s in enumerate(shifts):
        s = int(s)
        if abs(s) < size:
            target[i, max(s, 0):size + min(s, 0)] = source[i, max(-s, 0):size - max(s, 0)]
    return out


class _Shift(Augmentation):
    axis: int                  # 1: time, 2: channels

    def __init__(self, max_shift: int):
        if int(max_shift) != max_shift or max_shift < 0:
            raise ConfigError(f"{type(self).__name__}: max_shift must be a whole number "
                              f">= 0, got {max_shift!r}")
        self.max_shift = int(max_shift)

    def __call__(self, batch, rng):
        if self.max_shift == 0:
            return batch
        shifts = rng.integers(-self.max_shift, self.max_shift + 1, size=len(batch))
        return _shift_along(batch, shifts, self.axis)

    def __repr__(self):
        return f"{type(self).__name__}({self.max_shift})"


class ChannelShift(_Shift):
    """Move every sample by a whole number of channels drawn uniformly from
    ``[-max_shift, max_shift]`` (for mel features: a shift in pitch)."""
    axis = 2


class TimeShift(_Shift):
    """Move every sample by a whole number of steps drawn uniformly from
    ``[-max_shift, max_shift]``."""
    axis = 1


class Compose(Augmentation):
    """Several augmentations, applied in order."""

    def __init__(self, *augmentations: Augmentation):
        self.augmentations = augmentations

    def __call__(self, batch, rng):
        for aug in self.augmentations:
            batch = aug(batch, rng)
        return batch

    def __repr__(self):
        return f"Compose{self.augmentations!r}"
