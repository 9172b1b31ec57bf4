"""Decoding: mix-down, resampling, and a clear error for every kind of bad recording."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from datahelpers import FIXTURE, SR, tone, write_flac

from delayprop.data import RawHDConfig
from delayprop.data._audio import read_audio
from delayprop.data._features import log_mel, mel_filterbank
from delayprop.errors import DataError

CFG = RawHDConfig()
BANK = mel_filterbank(CFG)
REAL = FIXTURE / "audio" / "lang-english_speaker-00_trial-0_digit-3.flac"


def test_mono_file_is_read_unchanged():
    audio = read_audio(REAL, SR, 1e-4)
    raw, rate = sf.read(REAL, dtype="float32")
    assert (audio.source_rate, audio.source_channels, rate) == (SR, 1, SR)
    np.testing.assert_array_equal(audio.signal, raw)


def test_stereo_is_mixed_down_to_the_channel_mean(tmp_path):
    left, right = tone(440.0, 0.5), tone(1500.0, 0.5, amp=0.25)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    audio = read_audio(path, SR, 1e-4)
    assert audio.source_channels == 2
    np.testing.assert_allclose(audio.signal, (left + right) / 2, atol=1e-7)


def test_other_sample_rate_is_resampled_to_the_same_features(tmp_path):
    # the same 1 kHz tone written at 44.1 kHz and at 22.05 kHz
    path44 = tmp_path / "t44.wav"
    sf.write(path44, tone(1000.0, 0.6, sr=44100), 44100, subtype="FLOAT")
    path22 = tmp_path / "t22.wav"
    sf.write(path22, tone(1000.0, 0.6, sr=SR), SR, subtype="FLOAT")
    a44, a22 = read_audio(path44, SR, 1e-4), read_audio(path22, SR, 1e-4)
    assert (a44.source_rate, a44.sample_rate, a44.signal.size) == (44100, SR, a22.signal.size)
    f44, _ = log_mel(a44.signal, CFG, BANK)
    f22, _ = log_mel(a22.signal, CFG, BANK)
    loud = f22 > -30.0            # bins that carry the tone (> 200 of them), not leakage
    assert loud.sum() > 150
    np.testing.assert_allclose(f44[loud], f22[loud], atol=0.3)


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "garbage.flac"
    path.write_bytes(b"fLaC" + np.random.default_rng(0).bytes(4000))
    with pytest.raises(DataError, match=r"garbage\.flac: cannot decode audio .*corrupt"):
        read_audio(path, SR, 1e-4)


def test_truncated_file_names_the_file(tmp_path):
    path = tmp_path / "cut.flac"
    data = REAL.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.flac: (cannot decode audio|truncated)"):
        read_audio(path, SR, 1e-4)


@pytest.mark.parametrize("subtype, extra_chunk", [("PCM_16", False), ("FLOAT", True)])
def test_truncated_wav_is_named_although_libsndfile_shrinks_its_frame_count(
        tmp_path, subtype, extra_chunk):
    whole = tmp_path / "whole.wav"
    sf.write(whole, tone(440, 0.5), SR, subtype=subtype)
    data = whole.read_bytes()
    if extra_chunk:                  # a LIST chunk before 'data' must be walked over
        fmt_end = 12 + 8 + int.from_bytes(data[16:20], "little")
        chunk = b"LIST" + (5).to_bytes(4, "little") + b"INFOx" + b"\0"   # odd size: padded
        data = data[:fmt_end] + chunk + data[fmt_end:]
        (tmp_path / "padded.wav").write_bytes(data)
        assert read_audio(tmp_path / "padded.wav", SR, 1e-4).signal.size == int(0.5 * SR)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[:len(data) - 3000])
    with sf.SoundFile(cut) as handle:                # the decoder alone does not notice
        assert 0 < handle.frames < int(0.5 * SR)
    frame = 2 if subtype == "PCM_16" else 4
    declared = int(0.5 * SR) * frame
    with pytest.raises(DataError, match=rf"cut\.wav: truncated: the WAV header declares "
                                        rf"{declared} bytes of audio data, the file holds "
                                        rf"{declared - 3000} \({(declared - 3000) // frame} of "
                                        rf"{declared // frame} frames\)"):
        read_audio(cut, SR, 1e-4)


def test_empty_recording(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(DataError, match=r"empty\.wav: empty recording \(0 samples\)"):
        read_audio(path, SR, 1e-4)


def test_all_silent_recording(tmp_path):
    path = write_flac(tmp_path / "silent.flac", np.zeros(SR, dtype=np.float32))
    with pytest.raises(DataError, match=r"silent\.flac: all silent — peak amplitude 0"):
        read_audio(path, SR, 1e-4)


def test_stereo_that_cancels_is_silent(tmp_path):
    signal = tone(440.0, 0.3)
    path = tmp_path / "cancel.wav"
    sf.write(path, np.stack([signal, -signal], axis=1), SR, subtype="FLOAT")
    with pytest.raises(DataError, match=r"all silent .* after mixing 2 channel"):
        read_audio(path, SR, 1e-4)


def test_non_finite_samples(tmp_path):
    signal = tone(440.0, 0.3)
    signal[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, signal, SR, subtype="FLOAT")
    with pytest.raises(DataError, match=r"nan\.wav: holds non-finite samples"):
        read_audio(path, SR, 1e-4)


def test_missing_file_is_a_decode_error(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.flac: cannot decode audio"):
        read_audio(tmp_path / "nothere.flac", SR, 1e-4)


def test_fewer_samples_than_the_header_announces(monkeypatch):
    class ShortFile:                       # a decoder that stops early without an error
        frames, samplerate = 1000, SR

        def __init__(self, name):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, dtype, always_2d):
            return np.full((600, 1), 0.1, dtype=np.float32)

    from delayprop.data import _audio
    monkeypatch.setattr(_audio.sf, "SoundFile", ShortFile)
    with pytest.raises(DataError, match=r"short.flac: truncated — decoded 600 samples, the "
                                        r"header announces 1000"):
        read_audio("short.flac", SR, 1e-4)
