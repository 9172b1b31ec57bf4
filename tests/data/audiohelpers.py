"""Small audio folders for the ``audio`` data set tests, written by the tests themselves."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

#: class -> tone frequency in Hz (well inside 4 kHz, so 8 kHz files carry them too)
TONES = {"low": 300.0, "mid": 900.0, "high": 2400.0}
SPEAKERS = ("ann", "bob", "cid", "dan")


def burst(freq: float, sr: int, seconds: float = 0.4, seed: int = 0,
          channels: int = 1) -> np.ndarray:
    """A tone with a little noise (a different draw per seed), ``[frames, channels]``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.4 * np.sin(2 * np.pi * freq * (1 + 0.01 * (seed % 5)) * t)
    x = x + 0.01 * rng.standard_normal(t.size)
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)


def write(path: Path, data: np.ndarray, sr: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "FLAC" if path.suffix == ".flac" else "WAV"
    sf.write(path, data, sr, format=fmt, subtype="PCM_16")
    return path


def flat_folder(root: Path, classes=TONES, speakers=SPEAKERS, takes: int = 3,
                sr: int = 16000, rates: dict[str, int] | None = None,
                stereo: tuple[str, ...] = ()) -> Path:
    """Layout (b): ``root/<label>_<speaker>_<index>.wav``; ``rates`` per speaker."""
    seed = 0
    for label, freq in classes.items():
        for speaker in speakers:
            rate = (rates or {}).get(speaker, sr)
            for k in range(takes):
                seed += 1
                write(root / f"{label}_{speaker}_{k}.wav",
                      burst(freq, rate, seed=seed, channels=2 if speaker in stereo else 1),
                      rate)
    return root


def class_folders(root: Path, classes=TONES, speakers=SPEAKERS, takes: int = 2,
                  sr: int = 16000) -> Path:
    """Layout (a), Speech Commands style: ``root/<label>/<speaker>_nohash_<k>.wav``."""
    seed = 0
    for label, freq in classes.items():
        for speaker in speakers:
            for k in range(takes):
                seed += 1
                write(root / label / f"{speaker}_nohash_{k}.wav", burst(freq, sr, seed=seed),
                      sr)
    return root
