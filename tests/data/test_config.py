"""RawHDConfig: defaults, derived values, and a clear error for every bad value."""
from __future__ import annotations

import dataclasses
import json

import pytest

from delayprop.data import RawHDConfig
from delayprop.errors import ConfigError


def test_defaults_give_80_steps_of_40_channels_about_10_ms_apart():
    cfg = RawHDConfig()
    assert (cfg.num_steps, cfg.n_mels, cfg.sample_rate) == (80, 40, 22050)
    assert cfg.step_ms == pytest.approx(1000 * 220 / 22050)      # 9.977 ms
    assert cfg.fmax_hz == 11025.0
    assert json.loads(json.dumps(cfg.to_dict())) == cfg.to_dict()
    assert "normalisation" not in cfg.feature_params()
    assert RawHDConfig(**cfg.to_dict()) == cfg


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RawHDConfig().num_steps = 100


@pytest.mark.parametrize("field, value", [
    ("sample_rate", 0), ("n_fft", 512.0), ("win_length", True), ("hop_length", -1),
    ("n_mels", None), ("num_steps", 0)])
def test_sizes_must_be_positive_whole_numbers(field, value):
    with pytest.raises(ConfigError, match=f"RawHDConfig.{field} must be a whole number > 0"):
        RawHDConfig(**{field: value})


@pytest.mark.parametrize("field, value", [
    ("time_mode", "stretch"), ("normalisation", "zscore"), ("window", "kaiser"),
    ("mel_scale", "bark"), ("mel_norm", "area")])
def test_options_list_the_valid_choices(field, value):
    with pytest.raises(ConfigError, match=rf"RawHDConfig.{field} must be one of \(.*\), "
                                          rf"got '{value}'"):
        RawHDConfig(**{field: value})


def test_window_longer_than_fft():
    with pytest.raises(ConfigError, match="win_length must be <= n_fft = 512 samples, got 551"):
        RawHDConfig(win_length=551)


@pytest.mark.parametrize("value", [-0.1, 1.0, "0.9"])
def test_pre_emphasis_range(value):
    with pytest.raises(ConfigError, match=r"pre_emphasis must lie in \[0, 1\)"):
        RawHDConfig(pre_emphasis=value)


@pytest.mark.parametrize("fmin, fmax", [(-1.0, None), (500.0, 400.0), (0.0, 20000.0),
                                        ("0", None)])
def test_frequency_range(fmin, fmax):
    with pytest.raises(ConfigError, match=r"0 <= fmin < fmax <= sample_rate/2 = 11025 Hz"):
        RawHDConfig(fmin=fmin, fmax=fmax)


@pytest.mark.parametrize("field, value", [("amin", 0.0), ("top_db", float("inf")),
                                          ("top_db", "80")])
def test_log_parameters_positive(field, value):
    with pytest.raises(ConfigError, match=f"RawHDConfig.{field} must be a finite number > 0"):
        RawHDConfig(**{field: value})


@pytest.mark.parametrize("value", [-1e-4, float("nan")])
def test_silence_threshold(value):
    with pytest.raises(ConfigError, match="silence_threshold must be a finite number >= 0"):
        RawHDConfig(silence_threshold=value)


@pytest.mark.parametrize("value", ["min", 0.0, -1.0])
def test_db_ref(value):
    with pytest.raises(ConfigError, match="db_ref must be 'max' or a power > 0"):
        RawHDConfig(db_ref=value)


def test_from_dict_rejects_unknown_names_with_a_hint():
    assert RawHDConfig.from_dict({"num_steps": 100}).num_steps == 100
    with pytest.raises(ConfigError, match=r"no parameter 'n_mel' \(did you mean 'n_mels'\?\)"):
        RawHDConfig.from_dict({"n_mel": 40})
