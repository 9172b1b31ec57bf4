"""Log-mel features and normalisations against closed forms and hand-worked values."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from datahelpers import SR, tone

from delayprop.data import RawHDConfig
from delayprop.data._features import (apply_normaliser, fit_normaliser, fit_steps, log_db,
                                      log_mel, mel_filterbank, pre_emphasis)
from delayprop.errors import DataError

CFG = RawHDConfig()
BANK = mel_filterbank(CFG)


def slaney_centres(n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Centre frequencies (Hz) of the mel bands, from the Slaney mel formula by hand."""
    f_sp, brk, brk_mel, step = 200.0 / 3, 1000.0, 15.0, math.log(6.4) / 27.0

    def mel(f):
        return f / f_sp if f < brk else brk_mel + math.log(f / brk) / step

    def hz(m):
        return m * f_sp if m < brk_mel else brk * math.exp(step * (m - brk_mel))

    points = np.linspace(mel(fmin), mel(fmax), n_mels + 2)
    return np.array([hz(m) for m in points[1:-1]])


def unit(db):
    """The default normalisation by hand: 0 dB -> 1, -80 dB (floor) -> 0."""
    return (db + 80.0) / 80.0


def test_pre_emphasis_hand_worked():
    np.testing.assert_allclose(pre_emphasis(np.array([1.0, 2.0, 3.0]), 0.5), [1.0, 1.5, 2.0])


def test_log_db_hand_worked():
    cfg = RawHDConfig(top_db=25.0)
    power = np.array([[1.0, 0.1], [1e-3, 0.0]])
    # 10 log10(P / 1): 0, -10, -30 -> raised to the floor -25, and 0 -> amin -> floor
    np.testing.assert_allclose(log_db(power, cfg), [[0.0, -10.0], [-25.0, -25.0]])
    absolute = RawHDConfig(db_ref=0.1, top_db=25.0)
    np.testing.assert_allclose(log_db(power, absolute), [[10.0, 0.0], [-15.0, -15.0]])


@pytest.mark.parametrize("band", [5, 20, 35])
def test_tone_at_a_band_centre_peaks_in_that_band(band):
    freq = slaney_centres(40, 0.0, SR / 2)[band]
    db, _ = log_mel(tone(freq, 0.6), CFG, BANK)
    steady = db[3:55]                            # whole windows inside the 0.6 s tone
    assert (steady.argmax(axis=1) == band).all(), (
        f"{freq:.0f} Hz tone: argmax channels {np.unique(steady.argmax(axis=1))}, "
        f"expected {band}")


def test_onset_lands_on_the_step_of_its_time():
    # tone from 0.3 s = sample 6615; frame t covers samples [220 t - 256, 220 t + 256)
    db, frames = log_mel(tone(1000.0, 0.8, onset=0.3), CFG, BANK)
    x = unit(db)
    assert frames == 1 + int(0.8 * SR) // 220
    assert (x[:29] == 0).all(), "frames ending before the onset must be exactly silence"
    band = slaney_centres(40, 0.0, SR / 2).__sub__(1000.0).__abs__().argmin()
    assert x[32:, band].min() > 0.95, "frames fully inside the tone must be near the top"


def test_gain_does_not_change_features():
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 0.1, SR).astype(np.float32)   # every bin far above amin
    loud, _ = log_mel(signal, CFG, BANK)
    quiet, _ = log_mel(signal * np.float32(0.01), CFG, BANK)
    np.testing.assert_allclose(loud, quiet, atol=1e-3)


def test_crop_keeps_the_first_steps_of_the_recording():
    rng = np.random.default_rng(1)
    long = rng.normal(0, 0.1, int(1.2 * SR)).astype(np.float32)
    # frame 79 reaches sample 79 * 220 + 256 = 17636: 18000 samples decide steps 0..79
    full, frames = log_mel(long, CFG, BANK)
    head, _ = log_mel(long[:18000], CFG, BANK)
    assert frames == 1 + long.size // 220 > 80
    np.testing.assert_array_equal(full, head)


def test_short_recording_is_padded_with_silence():
    db, frames = log_mel(tone(700.0, 0.3), CFG, BANK)
    assert frames == 1 + 6615 // 220 == 31
    assert db.shape == (80, 40)
    assert (unit(db)[31:] == 0).all()
    assert unit(db).max() == 1.0, "the loudest bin is the 0 dB reference"


def test_resample_mode_maps_the_whole_recording_onto_the_steps():
    cfg = RawHDConfig(time_mode="resample")
    # 1.6 s, tone from 0.8 s: frames 0..79 are silent, frame 80 is the first touched;
    # step j samples frame (j + 0.5) * 161 / 80 - 0.5, so steps 0..39 read silent frames
    # only and steps >= 41 read frames >= 83, whole windows inside the tone
    db, frames = log_mel(tone(1000.0, 1.6, onset=0.8), cfg, BANK)
    assert frames == 161
    x = unit(db)
    assert (x[:40] == 0).all()
    assert x[41:].max(axis=1).min() > 0.95
    assert cfg.step_ms is None


def test_fit_steps_interpolates_linearly():
    cfg = RawHDConfig(time_mode="resample", num_steps=2)
    db = np.array([[0.0], [10.0], [20.0], [30.0]])
    # positions (j + 0.5) * 4 / 2 - 0.5 = 0.5 and 2.5
    np.testing.assert_allclose(fit_steps(db, cfg)[:, 0], [5.0, 25.0])


def test_inaudible_signal_is_an_error():
    cfg = RawHDConfig(amin=1.0)
    with pytest.raises(DataError, match="no mel power above the log floor"):
        log_mel(tone(1000.0, 0.2, amp=1e-3), cfg, BANK)


def _db_sets():
    rng = np.random.default_rng(2)
    train = rng.normal(-40, 10, (6, 5, 3)).astype(np.float32)
    test = rng.normal(-30, 5, (4, 5, 3)).astype(np.float32)
    return train, test


def test_unit_normalisation_uses_the_training_maximum():
    train, test = _db_sets()
    stats = fit_normaliser(train, RawHDConfig(normalisation="unit"))
    floor = float(train.max()) - 80.0
    expected = np.maximum((test - floor) / 80.0, 0.0)
    np.testing.assert_allclose(apply_normaliser(test, stats), expected, rtol=1e-6)
    assert apply_normaliser(train, stats).max() == pytest.approx(1.0)


def test_channel_zscore_uses_training_statistics_only():
    train, test = _db_sets()
    stats = fit_normaliser(train, RawHDConfig(normalisation="channel_zscore"))
    z_train = apply_normaliser(train, stats)
    np.testing.assert_allclose(z_train.mean(axis=(0, 1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(z_train.std(axis=(0, 1)), 1.0, atol=1e-5)
    flat = train.reshape(-1, 3).astype(np.float64)
    mean = flat.sum(axis=0) / flat.shape[0]
    std = np.sqrt(((flat - mean) ** 2).sum(axis=0) / flat.shape[0])
    np.testing.assert_allclose(apply_normaliser(test, stats), (test - mean) / std, rtol=1e-5)


def test_sample_zscore_standardises_each_sample():
    train, test = _db_sets()
    stats = fit_normaliser(train, RawHDConfig(normalisation="sample_zscore"))
    z = apply_normaliser(test, stats)
    np.testing.assert_allclose(z.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(1, 2)), 1.0, atol=1e-5)


def test_none_normalisation_returns_decibels_unchanged():
    train, test = _db_sets()
    stats = fit_normaliser(train, RawHDConfig(normalisation="none"))
    out = apply_normaliser(test, stats)
    np.testing.assert_array_equal(out, test)
    assert out is not test


def test_constant_channel_is_centred_not_divided_by_zero(caplog):
    train = np.zeros((3, 4, 2), dtype=np.float32)
    train[:, :, 1] = np.arange(12).reshape(3, 4)
    with caplog.at_level(logging.WARNING):
        stats = fit_normaliser(train, RawHDConfig(normalisation="channel_zscore"))
    assert "no variance" in caplog.text
    out = apply_normaliser(train, stats)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[:, :, 0], 0.0)


@pytest.mark.parametrize("mode", ["unit", "channel_zscore"])
def test_statistics_need_training_samples(mode):
    with pytest.raises(DataError, match="training split holds no usable recording"):
        fit_normaliser(np.zeros((0, 80, 40), dtype=np.float32),
                       RawHDConfig(normalisation=mode))
