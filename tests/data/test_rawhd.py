"""RawHD on the shipped 40-recording excerpt and on synthetic folders."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from datahelpers import hd_name, make_hd_folder, tone

from delayprop.data import HD_CLASS_NAMES, RawHD, RawHDConfig, Split, load_dataset, parse_label
from delayprop.errors import ConfigError, DataError

DIGITS_EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DIGITS_DE = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_excerpt_gives_80_by_40_graded_inputs(hd_small, cache):
    train = RawHD(hd_small, "train", cache_dir=cache)
    test = RawHD(hd_small, "test", cache_dir=cache)
    for split in (train, test):
        assert isinstance(split, Split) and not split.is_events
        assert split.x.shape == (20, 80, 40) and split.x.dtype == np.float32
        assert (split.num_steps, split.num_channels, split.num_classes) == (80, 40, 20)
        assert np.isfinite(split.x).all()
        # 'unit': every recording spans [0, 1] exactly (0 dB reference -> 1, floor -> 0)
        np.testing.assert_array_equal(split.x.max(axis=(1, 2)), 1.0)
        assert split.x.min() == 0.0
        # the lists hold English digits 0-9 then German digits 0-9
        np.testing.assert_array_equal(split.y, np.arange(20))
        assert split.dt == pytest.approx(1000 * 220 / 22050)
    assert train.name == "rawhd/train" and test.name == "rawhd/test"
    assert train.sample_ids[13] == "lang-german_speaker-00_trial-0_digit-3.flac"
    assert train.info["skipped"] == []


def test_class_names_follow_the_label_convention():
    assert HD_CLASS_NAMES == tuple(DIGITS_EN + DIGITS_DE)
    assert parse_label("lang-english_speaker-07_trial-3_digit-7.flac") == 7
    assert parse_label("lang-german_speaker-03_trial-1_digit-7.flac") == 17
    assert parse_label("audio/lang-german_speaker-11_trial-40_digit-0.flac") == 10


@pytest.mark.parametrize("name", ["lang-french_speaker-00_trial-0_digit-1.flac",
                                  "lang-english_speaker-00_trial-0_digit-12.flac",
                                  "english_0_1.flac",
                                  "lang-english_speaker-00_trial-0_digit-1.wav"])
def test_unparseable_names(name):
    with pytest.raises(DataError, match="cannot parse a label from this file name"):
        parse_label(name)


def test_normalisation_statistics_come_from_the_training_split(hd_small, cache):
    raw = {s: RawHD(hd_small, s, cache_dir=cache, normalisation="none").x
           for s in ("train", "test")}
    mean = raw["train"].mean(axis=(0, 1), dtype=np.float64)
    std = raw["train"].std(axis=(0, 1), dtype=np.float64)
    test = RawHD(hd_small, "test", cache_dir=cache, normalisation="channel_zscore")
    np.testing.assert_allclose(test.x, (raw["test"] - mean) / std, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(test.info["normalisation"]["mean"], mean, rtol=1e-6)
    # the unit scale maps the decibels linearly: (dB + 80) / 80 with the floor at 0
    unit = RawHD(hd_small, "test", cache_dir=cache)
    np.testing.assert_allclose(unit.x, np.maximum((raw["test"] + 80) / 80, 0), atol=1e-6)


def test_sample_zscore_is_zenke_and_vogels_per_sample_standardisation(hd_small, cache):
    split = RawHD(hd_small, "train", cache_dir=cache, normalisation="sample_zscore")
    np.testing.assert_allclose(split.x.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(split.x.std(axis=(1, 2)), 1, atol=1e-5)


def test_parallel_build_equals_serial_build(hd_small, tmp_path):
    serial = RawHD(hd_small, "train", cache_dir=tmp_path / "a", num_workers=1)
    parallel = RawHD(hd_small, "train", cache_dir=tmp_path / "b", num_workers=2)
    np.testing.assert_array_equal(serial.x, parallel.x)


def test_data_not_found_says_where_and_how(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"not found in .*nowhere \(the path given\).*"
                                        r"delayprop data fetch rawhd"):
        RawHD(tmp_path / "nowhere")
    monkeypatch.setenv("DELAYPROP_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError, match=r"env \(from DELAYPROP_DATA\)"):
        RawHD()
    monkeypatch.delenv("DELAYPROP_DATA")
    with pytest.raises(DataError, match=r"per-user default; set DELAYPROP_DATA"):
        RawHD()


def test_data_root_precedence(hd_copy, tmp_path, monkeypatch):
    # DELAYPROP_DATA may name the HD folder's parent; an explicit path wins over it
    monkeypatch.setenv("DELAYPROP_DATA", str(hd_copy.parent))
    assert len(RawHD(split="test", cache_dir=tmp_path / "c")) == 20
    with pytest.raises(DataError, match="the path given"):
        RawHD(tmp_path / "elsewhere", cache_dir=tmp_path / "c")


def _corrupt(folder, name):
    path = folder / "audio" / name
    path.write_bytes(path.read_bytes()[:3000])


def test_unusable_recording_raises_with_its_name(hd_copy, cache):
    bad = "lang-german_speaker-00_trial-0_digit-4.flac"
    _corrupt(hd_copy, bad)
    with pytest.raises(DataError, match=rf"(?s)RawHD train: 1 of 20 recordings cannot be "
                                        rf"used:\n  .*{bad}: cannot decode audio.*"
                                        rf"on_error='skip'"):
        RawHD(hd_copy, "train", cache_dir=cache)
    assert len(RawHD(hd_copy, "test", cache_dir=cache)) == 20     # the other split is fine


def test_unusable_recording_is_skipped_counted_and_logged(hd_copy, cache, caplog):
    bad = "lang-german_speaker-00_trial-0_digit-4.flac"
    _corrupt(hd_copy, bad)
    with caplog.at_level(logging.WARNING, logger="delayprop.data"):
        split = RawHD(hd_copy, "train", cache_dir=cache, on_error="skip")
    assert "skipped 1 of 20 recordings" in caplog.text and bad in caplog.text
    assert len(split) == 19 and bad not in split.sample_ids
    assert 14 not in split.y
    assert [s["name"] for s in split.info["skipped"]] == [bad]


def test_missing_file_and_bad_name_in_a_split_list(tmp_path):
    folder = make_hd_folder(
        tmp_path / "hd",
        train={hd_name("english", 1): tone(500.0, 0.4), hd_name("english", 2): None,
               "recording-7.flac": tone(900.0, 0.4)},
        test={hd_name("german", 1): tone(700.0, 0.4)})
    with pytest.raises(DataError, match=r"2 of 3 recordings cannot be used") as err:
        RawHD(folder, cache_dir=tmp_path / "c")
    assert "digit-2.flac: listed in train_filenames.txt but the file does not exist" in \
        str(err.value)
    assert "recording-7.flac: cannot parse a label" in str(err.value)
    split = RawHD(folder, cache_dir=tmp_path / "c", on_error="skip")
    np.testing.assert_array_equal(split.y, [1])


def test_every_training_recording_unusable(tmp_path):
    folder = make_hd_folder(tmp_path / "hd", train={hd_name("english", 1): None},
                            test={hd_name("german", 1): tone(700.0, 0.4)})
    with pytest.raises(DataError, match="training split holds no usable recording"):
        RawHD(folder, "test", cache_dir=tmp_path / "c", on_error="skip")


def test_inconsistent_split_lists(tmp_path):
    one = hd_name("english", 1)
    folder = make_hd_folder(tmp_path / "dup", train={one: tone(500.0, 0.3)}, test={})
    (folder / "train_filenames.txt").write_text(f"{one}\n\n{one}\n")
    with pytest.raises(DataError, match=rf"{one} is listed twice \(entries 1 and 2\)"):
        RawHD(folder, cache_dir=tmp_path / "c")
    both = make_hd_folder(tmp_path / "both", train={one: tone(500.0, 0.3)},
                          test={one: tone(500.0, 0.3)})
    with pytest.raises(DataError, match="1 file\\(s\\) are in both train_filenames.txt"):
        RawHD(both, cache_dir=tmp_path / "c")
    (both / "test_filenames.txt").unlink()
    with pytest.raises(DataError, match="test_filenames.txt: split list missing"):
        RawHD(both, cache_dir=tmp_path / "c")


def test_load_dataset_passes_config_and_checks_options(hd_small, cache):
    split = load_dataset("rawhd", "test", hd_small, cache_dir=cache, time_mode="resample",
                         num_steps=50)
    assert split.x.shape == (20, 50, 40) and split.dt is None
    assert split.config.time_mode == "resample"
    with pytest.raises(ConfigError, match=r"no option 'num_step' \(did you mean 'num_steps'"):
        load_dataset("rawhd", "test", hd_small, num_step=50)
    with pytest.raises(ConfigError,
                       match=r"data set must be one of \('rawhd', 'shd', 'ssc', 'audio'\)"):
        load_dataset("rawHD", "test")


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "valid"}, r"RawHD split must be one of \('train', 'test'\), got 'valid'"),
    ({"on_error": "ignore"}, r"on_error must be one of \('raise', 'skip'\)"),
    ({"config": {"num_steps": 80}}, "config must be a RawHDConfig, got dict"),
    ({"n_mel": 40}, r"no parameter 'n_mel' \(did you mean 'n_mels'\?\)"),
    ({"num_workers": 0}, "num_workers must be a whole number >= 1, got 0"),
])
def test_bad_arguments(hd_small, cache, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        RawHD(hd_small, cache_dir=cache, **kwargs)


def test_config_object_and_overrides_combine(hd_small, cache):
    split = RawHD(hd_small, "test", RawHDConfig(num_steps=60), cache_dir=cache, n_mels=20)
    assert split.x.shape == (20, 60, 20)
    assert split.config == RawHDConfig(num_steps=60, n_mels=20)


def test_split_interface(hd_small, cache):
    split = RawHD(hd_small, "test", cache_dir=cache)
    x, y = split[3]
    assert y == 3 and x.shape == (80, 40)
    assert [label for _, label in split] == list(range(20))
    sub = split.subset([5, 0])
    assert type(sub) is Split and len(sub) == 2
    np.testing.assert_array_equal(sub.x[0], split.x[5])
    assert sub.sample_ids == (split.sample_ids[5], split.sample_ids[0])
    assert "RawHD(name='rawhd/test', samples=20, x=float32[20, 80, 40]" in repr(split)
    with pytest.raises(DataError, match=r"subset indices must lie in \[0, 20\)"):
        split.subset([20])


@pytest.mark.parametrize("kwargs, message", [
    ({"y": np.zeros((2, 1))}, "y must be one label per sample"),
    ({"y": np.array([0, 1, 2])}, "x holds 2 samples but y holds 3"),
    ({"y": np.array([0, 5])}, r"labels must lie in \[0, 3\), got 0..5"),
    ({"class_names": ("a", "b")}, "2 class names for 3 classes"),
    ({"sample_ids": ("a",)}, "1 sample ids for 2 samples"),
    ({"num_steps": 4}, r"dense x must have shape \[samples, steps, channels\] = \[2, 4, 2\]"),
])
def test_split_checks_its_invariants(kwargs, message):
    base = dict(name="toy/train", x=np.zeros((2, 5, 2)), y=np.array([0, 2]), num_channels=2,
                num_steps=5, num_classes=3, class_names=("a", "b", "c"))
    assert len(Split(**base)) == 2
    with pytest.raises(DataError, match=message):
        Split(**{**base, **kwargs})


def test_non_finite_features_are_caught_before_anyone_trains_on_them(hd_small, cache,
                                                                    monkeypatch):
    from delayprop.data import _rawhd

    def broken(db, stats, copy=True):
        out = np.array(db, dtype=np.float32)
        out[2, 5, 7] = np.nan
        return out

    monkeypatch.setattr(_rawhd, "apply_normaliser", broken)
    with pytest.raises(DataError, match=r"RawHD test: non-finite features in 1 sample\(s\), "
                                        r"first lang-english_speaker-04_trial-0_digit-2.flac"):
        RawHD(hd_small, "test", cache_dir=cache)
