"""Turning graded inputs into spikes, for targets that carry only binary events."""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from delayprop.errors import DataError

__all__ = ["sigma_delta_spikes"]


def sigma_delta_spikes(x: NDArray, threshold: float = 1.0, dt: float = 1.0
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Deterministic sigma-delta (integrate-and-fire) encoding of graded inputs.

    Each channel integrates its value every step, ``acc += x[t]``; whenever
    ``acc >= threshold`` it emits a spike in that step and ``acc -= threshold``. With
    values in [0, threshold] a channel spikes at most once per step and its spike count
    over a trial is ``floor(sum x / threshold)`` — a rate code that keeps the timing of
    the spectrogram to within a few steps.

    Parameters
    ----------
    x : array [samples, steps, channels]
        Graded values (e.g. RawHD features in [0, 1]).
    threshold : float
        Charge per spike.
    dt : float
        Step in ms; spike times are ``step * dt``.

    Returns
    -------
    list of (times_ms, ids)
        One per sample, sorted by time then channel.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise DataError(f"sigma-delta encoding needs [samples, steps, channels], got "
                        f"shape {x.shape}")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > threshold:
        raise DataError(f"sigma-delta encoding needs values in [0, {threshold}] (one spike "
                        f"per step at most); got [{np.nanmin(x)}, {np.nanmax(x)}]")
    acc = np.zeros((x.shape[0], x.shape[2]))
    spikes = np.zeros(x.shape, bool)
    for t in range(x.shape[1]):
        acc += x[:, t]
        fire = acc >= threshold
        spikes[:, t] = fire
        acc[fire] -= threshold
    out = []
    for sample in spikes:
        steps, ids = np.nonzero(sample)
        out.append((steps * dt, ids.astype(np.int64)))
    return out
