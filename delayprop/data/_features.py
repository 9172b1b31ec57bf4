"""Log-mel features of one recording, and the normalisations, as pure numpy functions.

The STFT is computed here with numpy (same framing as ``librosa.stft(center=True,
pad_mode="constant")``, checked against librosa in the tests) and only the mel filter bank
comes from librosa, built once in the parent process. This keeps librosa — whose first
import compiles numba kernels, 25 s on a fresh installation and 2 s afterwards — out of the
worker processes and out of every cached load.
"""
from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from delayprop.data._config import RawHDConfig
from delayprop.errors import DataError

__all__ = ["mel_filterbank", "pre_emphasis", "power_spectrogram", "log_db", "fit_steps",
           "log_mel", "fit_normaliser", "apply_normaliser"]

logger = logging.getLogger(__name__)

_STD_FLOOR = 1e-6


def mel_filterbank(config: RawHDConfig) -> NDArray[np.float64]:
    """Mel filter bank ``[n_mels, n_fft // 2 + 1]`` from ``librosa.filters.mel``."""
    import librosa  # deferred: importing librosa compiles numba kernels

    return librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft,
                               n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax_hz,
                               htk=config.mel_scale == "htk", norm=config.mel_norm,
                               dtype=np.float64)


def pre_emphasis(signal: NDArray[np.floating], coefficient: float) -> NDArray[np.float64]:
    """``y[0] = s[0]``, ``y[n] = s[n] - coefficient * s[n-1]``."""
    s = np.asarray(signal, dtype=np.float64)
    out = s.copy()
    out[1:] -= coefficient * s[:-1]
    return out


def power_spectrogram(signal: NDArray[np.floating], config: RawHDConfig) -> NDArray[np.float64]:
    """Power STFT ``|X|^2``, shape ``[frames, n_fft // 2 + 1]``.

    Frames are centred: frame ``k`` is centred on sample ``k * hop_length`` of the signal,
    which is zero-padded by ``n_fft // 2`` on both sides, so there are
    ``1 + len(signal) // hop_length`` frames. The window (periodic, ``win_length`` samples)
    sits in the middle of the ``n_fft`` samples.
    """
    n_fft, hop = config.n_fft, config.hop_length
    window = _window(config.window, config.win_length, n_fft)
    padded = np.pad(np.asarray(signal, dtype=np.float64), n_fft // 2)
    n_frames = 1 + (padded.size - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n_frames]
    spectrum = np.fft.rfft(frames * window, axis=1)
    return spectrum.real ** 2 + spectrum.imag ** 2


@functools.lru_cache(maxsize=8)
def _window(name: str, win_length: int, n_fft: int) -> NDArray[np.float64]:
    """Periodic window of ``win_length`` samples centred in ``n_fft`` zeros (read-only)."""
    from scipy.signal import get_window  # deferred: scipy.signal takes 1.5 s to import

    window = np.zeros(n_fft)
    start = (n_fft - win_length) // 2
    window[start:start + win_length] = get_window(name, win_length, fftbins=True)
    window.flags.writeable = False
    return window


def log_db(mel_power: NDArray[np.float64], config: RawHDConfig) -> NDArray[np.float64]:
    """Decibels ``10 log10(max(P, amin) / ref)``, raised to at least ``max - top_db``.

    ``ref`` is the largest value of ``mel_power`` when ``db_ref == 'max'``. Equal to
    ``librosa.power_to_db(P, ref=..., amin=amin, top_db=top_db)``.
    """
    peak = float(mel_power.max())
    ref = peak if config.db_ref == "max" else float(config.db_ref)
    db = 10.0 * np.log10(np.maximum(mel_power, config.amin))
    db -= 10.0 * np.log10(max(ref, config.amin))
    return np.maximum(db, db.max() - config.top_db)


def fit_steps(db: NDArray[np.float64], config: RawHDConfig) -> NDArray[np.float32]:
    """Bring ``[frames, n_mels]`` decibels to ``[num_steps, n_mels]``.

    ``crop_pad``: keep the first ``num_steps`` frames; pad a shorter sequence with the
    floor ``max - top_db`` (silence). ``resample``: linear interpolation in time, step ``j``
    sampling frame position ``(j + 0.5) * frames / num_steps - 0.5``.
    """
    frames, steps = db.shape[0], config.num_steps
    if config.time_mode == "crop_pad":
        out = np.full((steps, db.shape[1]), db.max() - config.top_db)
        keep = min(frames, steps)
        out[:keep] = db[:keep]
        return out.astype(np.float32)
    pos = np.clip((np.arange(steps) + 0.5) * frames / steps - 0.5, 0.0, frames - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, frames - 1)
    w = (pos - lo)[:, None]
    return ((1.0 - w) * db[lo] + w * db[hi]).astype(np.float32)


def log_mel(signal: NDArray[np.floating], config: RawHDConfig,
            filterbank: Any = None) -> tuple[NDArray[np.float32], int]:
    """Features ``[num_steps, n_mels]`` (dB, before normalisation) of a mono signal.

    Mel power → (``crop_pad``: the first ``num_steps`` frames) → :func:`log_db` →
    :func:`fit_steps`. With ``db_ref='max'`` the reference is thus the loudest bin the
    network sees: 0 dB in every sample.

    Parameters
    ----------
    signal : ndarray, shape [samples]
        Mono audio at ``config.sample_rate``, full scale 1.
    config : RawHDConfig
    filterbank : ndarray or sparse matrix, shape [n_mels, n_fft // 2 + 1], optional
        From :func:`mel_filterbank` (pass it as ``scipy.sparse.csr_matrix`` when calling
        this many times); built from ``config`` when not given.

    Returns
    -------
    features : ndarray of float32, shape [num_steps, n_mels]
    frames : int
        Number of spectrogram frames of the whole recording.

    Raises
    ------
    DataError
        If the analysed frames hold no mel power above the log floor ``amin``.
    """
    from scipy import sparse

    if filterbank is None:
        filterbank = mel_filterbank(config)
    power = power_spectrogram(pre_emphasis(signal, config.pre_emphasis), config)
    frames = power.shape[0]
    if config.time_mode == "crop_pad":
        power = power[:config.num_steps]
    # Each mel filter spans a few FFT bins: a sparse product needs no BLAS, whose thread
    # start-up made this tiny product 45x slower (OpenBLAS, 2 threads) than the rest.
    bank = filterbank if sparse.issparse(filterbank) else sparse.csr_matrix(filterbank)
    mel = np.asarray((bank @ power.T).T)
    if not mel.max() > config.amin:
        raise DataError(f"no mel power above the log floor amin={config.amin:g} in the "
                        f"{mel.shape[0]} analysed frames: nothing audible")
    return fit_steps(log_db(mel, config), config), int(frames)


def fit_normaliser(train_db, config: RawHDConfig, rows=None) -> dict[str, Any]:
    """Statistics of the training split that :func:`apply_normaliser` needs.

    ``train_db`` is the training split ``[samples, steps, channels]``, or, with ``rows``,
    a table (an ndarray or a cache's StoredArray) whose ``rows`` are the training split;
    the table is then read in chunks of rows, so the split is never copied whole.

    Returns a JSON-ready dict: ``{"mode": ...}`` plus ``floor`` and ``scale`` (unit),
    ``mean`` and ``std`` per channel (channel_zscore).
    """
    mode = config.normalisation
    stats: dict[str, Any] = {"mode": mode}
    count = train_db.shape[0] if rows is None else len(rows)
    if mode in ("unit", "channel_zscore") and count == 0:
        raise DataError(f"normalisation {mode!r} needs training statistics, but the "
                        "training split holds no usable recording")
    if mode == "unit":
        top = max(float(chunk.max()) for chunk in _row_chunks(train_db, rows))
        stats["floor"] = top - config.top_db
        stats["scale"] = float(config.top_db)
    elif mode == "channel_zscore":
        if rows is None:
            mean = train_db.mean(axis=(0, 1), dtype=np.float64)
            std = train_db.std(axis=(0, 1), dtype=np.float64)
        else:                                    # two passes over chunks, in float64
            n = count * train_db.shape[1]
            mean = sum(c.sum(axis=(0, 1), dtype=np.float64)
                       for c in _row_chunks(train_db, rows)) / n
            std = np.sqrt(sum(((c - mean) ** 2).sum(axis=(0, 1))
                              for c in _row_chunks(train_db, rows)) / n)
        flat = np.flatnonzero(std < _STD_FLOOR)
        if flat.size:
            logger.warning("mel channels %s have no variance in the training split; they "
                           "are only centred, not scaled", flat.tolist())
            std[flat] = 1.0
        stats["mean"] = mean.tolist()
        stats["std"] = std.tolist()
    return stats


def _row_chunks(db, rows, size: int = 512):
    """``db`` (or its ``rows``) in chunks of ``size`` rows."""
    if rows is None:
        rows = np.arange(db.shape[0])
    for start in range(0, len(rows), size):
        yield np.asarray(db[rows[start:start + size]])


def apply_normaliser(db: NDArray[np.float32], stats: dict[str, Any], *,
                     copy: bool = True) -> NDArray[np.float32]:
    """Normalise ``[samples, steps, channels]`` decibels with :func:`fit_normaliser` stats.

    Returns a new float32 array (``db`` is not modified); with ``copy=False`` a float32,
    C-ordered ``db`` is normalised in place and returned.
    """
    mode = stats["mode"]
    out = np.array(db, dtype=np.float32, order="C", copy=copy or None)
    if mode == "unit":
        out -= np.float32(stats["floor"])
        out /= np.float32(stats["scale"])
        np.maximum(out, 0.0, out=out)
    elif mode == "channel_zscore":
        out -= np.asarray(stats["mean"], dtype=np.float32)
        out /= np.asarray(stats["std"], dtype=np.float32)
    elif mode == "sample_zscore":
        mean = db.mean(axis=(1, 2), keepdims=True, dtype=np.float64)
        std = db.std(axis=(1, 2), keepdims=True, dtype=np.float64)
        out -= mean.astype(np.float32)
        out /= np.where(std < _STD_FLOOR, 1.0, std).astype(np.float32)
    return out
