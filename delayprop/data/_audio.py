"""Decode one recording into a mono float signal at the analysis rate, checking it first."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from delayprop.data._wav import wav_truncation
from delayprop.errors import DataError

__all__ = ["Audio", "read_audio", "to_mono_at_rate"]


@dataclass(frozen=True)
class Audio:
    """A decoded recording.

    Parameters
    ----------
    signal : ndarray of float32, shape [samples]
        Mono, at ``sample_rate``, full scale 1.
    sample_rate : int
        Rate of ``signal`` in Hz.
    source_rate : int
        Rate of the file in Hz (differs from ``sample_rate`` when resampled).
    source_channels : int
        Channels of the file (more than one: mixed down by averaging).
    """
    signal: NDArray[np.float32]
    sample_rate: int
    source_rate: int
    source_channels: int


def read_audio(path: str | os.PathLike[str], sample_rate: int,
               silence_threshold: float) -> Audio:
    """Decode ``path`` with soundfile, mix to mono, resample to ``sample_rate``.

    Raises
    ------
    DataError
        The message starts with the file name and says what is wrong: the file cannot be
        decoded (corrupt, truncated, not audio), holds fewer samples than its header
        announces, holds no samples, holds non-finite samples, or is all silent (peak
        below ``silence_threshold`` after mixing to mono).
    """
    name = os.fspath(path)
    try:
        with sf.SoundFile(name) as handle:
            announced = handle.frames
            rate = handle.samplerate
            kind = getattr(handle, "format", "")
            data = handle.read(dtype="float32", always_2d=True)
    except sf.SoundFileError as err:
        raise DataError(f"{name}: cannot decode audio ({_one_line(err)}); the file is "
                        "corrupt, truncated or not audio") from err
    if 0 < announced != data.shape[0]:
        raise DataError(f"{name}: truncated — decoded {data.shape[0]} samples, the header "
                        f"announces {announced}")
    if kind in ("WAV", "WAVEX"):
        # libsndfile shrinks a cut WAV's frame count to the bytes present: ask the header
        cut = wav_truncation(name)
        if cut:
            raise DataError(f"{name}: {cut}")
    return to_mono_at_rate(data, int(rate), sample_rate, silence_threshold, name)


def to_mono_at_rate(data: NDArray[np.floating], rate: int, sample_rate: int,
                    silence_threshold: float, name: str = "signal") -> Audio:
    """Check decoded samples ``[frames]`` or ``[frames, channels]``, mix down, resample.

    Raises
    ------
    DataError
        Empty, non-finite or all-silent input; the message starts with ``name``.
    """
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise DataError(f"{name}: audio must be [frames] or [frames, channels], got shape "
                        f"{list(data.shape)}")
    if data.shape[0] == 0:
        raise DataError(f"{name}: empty recording (0 samples)")
    if not np.isfinite(data).all():
        raise DataError(f"{name}: holds non-finite samples (NaN or inf)")
    channels = data.shape[1]
    signal = data.mean(axis=1, dtype=np.float64) if channels > 1 else data[:, 0]
    peak = float(np.abs(signal).max())
    if peak < silence_threshold:
        raise DataError(f"{name}: all silent — peak amplitude {peak:.3g} after mixing "
                        f"{channels} channel(s) to mono, below silence_threshold "
                        f"{silence_threshold:g}")
    if rate != sample_rate:
        from scipy.signal import resample_poly  # deferred: slow import, rarely needed

        g = math.gcd(int(rate), int(sample_rate))
        signal = resample_poly(signal, sample_rate // g, rate // g)
    return Audio(signal=np.asarray(signal, dtype=np.float32), sample_rate=sample_rate,
                 source_rate=int(rate), source_channels=int(channels))


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())
