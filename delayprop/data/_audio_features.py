"""``audio_features``: the RawHD / ``audio`` log-mel features of one file or array."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

from delayprop.data._audio import read_audio, to_mono_at_rate
from delayprop.data._config import RawHDConfig
from delayprop.data._features import log_mel, mel_filterbank
from delayprop.errors import ConfigError

__all__ = ["audio_features"]


def audio_features(source: str | os.PathLike[str] | NDArray[Any],
                   config: RawHDConfig | None = None, *, sample_rate: int | None = None,
                   filterbank: Any = None) -> NDArray[np.float32]:
    """Log-mel features ``[num_steps, n_mels]`` in dB, as the data sets compute them.

    The values are decibels before normalisation (0 dB = the loudest bin with the default
    ``db_ref='max'``); :func:`fit_normaliser` and :func:`apply_normaliser` turn a stack of
    them into network inputs as the loaders do.

    Parameters
    ----------
    source : path-like or ndarray
        An audio file soundfile can read, or samples ``[frames]`` / ``[frames, channels]``
        at ``sample_rate`` (full scale 1).
    config : RawHDConfig, optional
        Feature settings (default: RawHD's).
    sample_rate : int
        Rate of an array ``source`` in Hz (required for arrays, ignored for files).
    filterbank : array, optional
        From :func:`mel_filterbank`, to save building it on every call.

    Raises
    ------
    DataError
        Unreadable, truncated, empty, non-finite or silent audio.

    Examples
    --------
    >>> import numpy as np
    >>> from delayprop.data import audio_features
    >>> t = np.arange(16000) / 16000
    >>> audio_features(np.sin(2 * np.pi * 440 * t), sample_rate=16000).shape
    (80, 40)
    """
    config = config or RawHDConfig()
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise ConfigError("audio_features of an array needs its sample_rate in Hz")
        audio = to_mono_at_rate(source, int(sample_rate), config.sample_rate,
                                config.silence_threshold, "array")
    else:
        audio = read_audio(source, config.sample_rate, config.silence_threshold)
    bank = mel_filterbank(config) if filterbank is None else filterbank
    return log_mel(audio.signal, config, bank)[0]
