"""The ``audio`` data set: your own folder of recordings, both layouts, every split rule."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import soundfile as sf
from audiohelpers import SPEAKERS, TONES, burst, class_folders, flat_folder, write

from delayprop.cli import main
from delayprop.data import (AudioFolder, RawHDConfig, audio_features, load_dataset, log_mel,
                            mel_filterbank)
from delayprop.data import _build
from delayprop.errors import ConfigError, DataError

PATTERN = "{label}_{speaker}_{index}.wav"


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def load(root, split, cache, **options):
    return load_dataset("audio", split, root, cache_dir=cache, **options)


# --- layouts -------------------------------------------------------------------------------
def test_class_folders_with_speech_commands_lists(tmp_path, cache):
    root = class_folders(tmp_path / "sc")
    write(root / "_background_noise_" / "noise.wav", burst(50, 16000), 16000)   # not a class
    (root / "validation_list.txt").write_text("low/bob_nohash_0.wav\nmid/bob_nohash_0.wav\n"
                                              "high/bob_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("\n".join(f"{c}/ann_nohash_{k}.wav"
                                                     for c in TONES for k in range(2)) + "\n")
    train, valid, test = (load(root, s, cache) for s in ("train", "valid", "test"))
    assert train.class_names == ("high", "low", "mid")            # from the folders, sorted
    assert (len(train), len(valid), len(test)) == (24 - 3 - 6, 3, 6)
    assert train.num_classes == 3 and train.x.shape == (15, 80, 40)
    assert set(test.sample_ids) == {f"{c}/ann_nohash_{k}.wav" for c in TONES for k in (0, 1)}
    assert [train.class_names[y] for y in test.y] == [s.split("/")[0] for s in test.sample_ids]
    assert train.info["split"] == {"rule": "lists", "listed_but_absent": 0,
                                   "lists": ["validation_list.txt", "testing_list.txt"],
                                   "counts": {"train": 15, "valid": 3, "test": 6}}
    assert not any("_background_noise_" in s for s in train.sample_ids)
    # normalised with training statistics: every training sample spans [0, 1]
    assert train.x.min() == 0.0 and np.isclose(train.x.max(), 1.0)


def test_flat_folder_with_a_template(tmp_path, cache):
    root = flat_folder(tmp_path / "flat")
    test = load(root, "test", cache, labels=PATTERN, test_speakers="bob,dan")
    assert test.class_names == ("high", "low", "mid")
    assert sorted({s.split("_")[1] for s in test.sample_ids}) == ["bob", "dan"]
    assert len(test) == 3 * 2 * 3
    assert [test.class_names[y] for y in test.y] == [s.split("_")[0] for s in test.sample_ids]


def test_nested_folder_with_a_regular_expression_and_numeric_labels(tmp_path, cache):
    root = tmp_path / "digits"
    for digit in (0, 2, 10):
        for speaker in ("s1", "s2"):
            for k in range(2):
                write(root / speaker / f"d{digit}-take{k}.flac",
                      burst(200 + 150 * digit, 16000, seed=digit * 7 + k), 16000)
    train = load(root, "train", cache, labels=r"(?P<speaker>s\d)/d(?P<label>\d+)-take\d\.flac",
                 test_speakers=["s2"])
    assert train.class_names == ("0", "2", "10")                  # by value, not as text
    assert sorted(set(train.y.tolist())) == [0, 1, 2]
    assert all(s.startswith("s1/") for s in train.sample_ids)


def test_flat_folder_without_a_pattern_says_how_to_give_one(tmp_path, cache):
    root = flat_folder(tmp_path / "flat", takes=1)
    with pytest.raises(DataError, match=r"no class folders .* --labels '\{label\}_\{speaker\}"):
        load(root, "train", cache)


# --- split rules ---------------------------------------------------------------------------
def test_fraction_of_speakers_is_seeded_and_keeps_speakers_apart(tmp_path, cache):
    root = flat_folder(tmp_path / "f", speakers=tuple(f"p{i}" for i in range(10)), takes=1)
    splits = {}
    for seed in (0, 0, 1):
        test = load(root, "test", cache, labels=PATTERN, test_fraction=0.3, split_seed=seed)
        splits.setdefault(seed, []).append(test.info["split"]["test_speakers"])
    assert splits[0][0] == splits[0][1] and len(splits[0][0]) == 3
    assert splits[1][0] != splits[0][0]
    train = load(root, "train", cache, labels=PATTERN, test_fraction=0.3, split_seed=1)
    train_speakers = {s.split("_")[1] for s in train.sample_ids}
    assert train_speakers.isdisjoint(splits[1][0]) and len(train_speakers) == 7


def test_without_speakers_a_fraction_of_each_class_is_held_out(tmp_path, cache, caplog):
    root = flat_folder(tmp_path / "f", speakers=("x",), takes=5)
    with caplog.at_level(logging.WARNING):
        test = load(root, "test", cache, labels="{label}_x_{n}.wav", test_fraction=0.4)
    assert np.bincount(test.y).tolist() == [2, 2, 2]
    assert test.info["split"]["by"] == "file"
    assert "give no speaker" in caplog.text


def test_index_range(tmp_path, cache):
    root = flat_folder(tmp_path / "f", takes=5)
    test = load(root, "test", cache, labels=PATTERN, test_index="0-1")
    assert sorted({int(s.rsplit("_", 1)[1][0]) for s in test.sample_ids}) == [0, 1]
    assert len(test) == 3 * 4 * 2 and test.info["split"]["test_index"] == [0, 1]


@pytest.mark.parametrize("options, message", [
    ({"test_speakers": "bob", "test_fraction": 0.2}, "give one split rule, not test_speakers "
                                                     "and test_fraction"),
    ({"test_speakers": "zed"}, r"test speakers \['zed'\] do not occur; the 4 speakers are: "
                               "ann, bob, cid, dan"),
    ({"test_fraction": 1.5}, r"test_fraction must lie in \(0, 1\)"),
    ({"test_index": "4-1"}, "test_index needs 0 <= FIRST <= LAST"),
    ({"labels": "{speaker}.wav"}, "names no label"),
])
def test_bad_split_options(tmp_path, cache, options, message):
    root = flat_folder(tmp_path / "f", takes=1)
    with pytest.raises((ConfigError, DataError), match=message):
        load(root, "train", cache, **{"labels": PATTERN, **options})


def test_a_class_without_test_samples_is_an_error(tmp_path, cache):
    root = flat_folder(tmp_path / "f", takes=1)
    for speaker in SPEAKERS[1:]:
        (root / f"high_{speaker}_0.wav").unlink()       # 'high' only from ann
    with pytest.raises(DataError, match=r"1 class\(es\) have no usable test sample \(high\)"):
        load(root, "train", cache, labels=PATTERN, test_speakers="bob")


# --- sources: rates, channels, bad files ---------------------------------------------------
def test_low_rate_caps_the_mel_range_and_says_why(tmp_path, cache, caplog):
    root = flat_folder(tmp_path / "f", takes=1, rates={"dan": 8000}, stereo=("bob",))
    with caplog.at_level(logging.WARNING):
        train = load(root, "train", cache, labels=PATTERN, test_speakers="ann")
    assert train.config.fmax == 4000.0
    assert "mel range capped at fmax = 4000 Hz: 3 file(s) are recorded at 8000 Hz" in caplog.text
    report = train.info["report"]
    assert report["source_rates"] == {"8000": 3, "16000": 9}
    assert report["resampled"] == 12 and report["mixed_down"] == 3
    # the top band is not empty: white noise at 8 kHz puts power into every band
    noise = np.random.default_rng(1).standard_normal(8000).astype(np.float32) * 0.3
    capped = audio_features(noise, train.config, sample_rate=8000)
    uncapped = audio_features(noise, RawHDConfig(), sample_rate=8000)
    floor = -RawHDConfig().top_db
    assert np.median(capped[:, -1]) > floor + 60        # the top band carries the noise
    assert np.median(uncapped[:, -1]) < floor + 10      # what the cap prevents: an empty band
    with pytest.raises(ConfigError, match=r"fmax = 8000 Hz is too high: 3 file\(s\) are "
                                          r"recorded at 8000 Hz .*Lower fmax to 4000"):
        load(root, "train", cache, labels=PATTERN, fmax=8000.0)


def test_bad_files_are_skipped_counted_listed_or_raised(tmp_path, cache, caplog):
    root = flat_folder(tmp_path / "f", takes=2)
    whole = (root / "low_bob_1.wav").read_bytes()
    (root / "low_bob_1.wav").write_bytes(whole[:len(whole) // 2])      # truncated data
    (root / "mid_cid_0.wav").write_bytes(b"not audio at all" * 10)
    write(root / "high_dan_1.wav", np.zeros((800, 1), np.float32), 16000)   # silent
    (root / "README.wav").write_bytes(whole)                            # name does not match
    with caplog.at_level(logging.WARNING):
        train = load(root, "train", cache, labels=PATTERN, test_speakers="ann")
    reasons = {s["name"]: s["reason"] for s in train.info["skipped"]}
    assert set(reasons) == {"low_bob_1.wav", "mid_cid_0.wav", "high_dan_1.wav", "README.wav"}
    assert "truncated: the WAV header declares" in reasons["low_bob_1.wav"]
    assert "does not match the labels pattern" in reasons["README.wav"]
    assert len(train) == 3 * 3 * 2 - 3
    warnings = [r for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(warnings) == 1 and "4 of 25 audio files" in warnings[0].getMessage()
    listing = train.info["bad_files_list"]
    assert len(open(listing).read().splitlines()) == 1 + 4
    with pytest.raises(DataError, match=r"4 of 25 audio files cannot be used \(1 names not "
                                        r"matching the pattern, 1 not decodable, 1 "
                                        r"silent, 1 truncated\); first: "):
        load(root, "train", cache, labels=PATTERN, test_speakers="ann", on_error="raise")


def test_features_are_cached_and_a_changed_file_is_rebuilt(tmp_path, cache, monkeypatch):
    root = flat_folder(tmp_path / "f", takes=1)
    first = load(root, "train", cache, labels=PATTERN, test_speakers="ann")
    assert first.info["preprocess_seconds"] is not None

    def refuse(*args, **kwargs):
        raise AssertionError("preprocessed although a valid cache exists")
    real_run = _build._run
    monkeypatch.setattr(_build, "_run", refuse)
    again = load(root, "test", cache, labels=PATTERN, test_speakers="bob")   # other split rule
    assert again.info["cache"] == first.info["cache"]
    write(root / "low_bob_0.wav", burst(700, 16000, seed=99), 16000)       # replaced file
    with pytest.raises(AssertionError, match="preprocessed"):
        load(root, "train", cache, labels=PATTERN, test_speakers="ann")
    monkeypatch.setattr(_build, "_run", real_run)
    assert load(root, "train", cache, labels=PATTERN,
                test_speakers="ann").info["cache"] != first.info["cache"]


def test_public_feature_functions_agree_with_the_loader(tmp_path):
    data = burst(900, 16000, seed=3)
    path = write(tmp_path / "one.flac", data, 16000)
    from_file = audio_features(path)
    from_array = audio_features(sf.read(path, dtype="float32")[0], sample_rate=16000)
    np.testing.assert_array_equal(from_file, from_array)
    from delayprop.data import read_audio
    signal = read_audio(path, 22050, 1e-4).signal
    np.testing.assert_array_equal(log_mel(signal, RawHDConfig())[0], from_file)
    np.testing.assert_array_equal(log_mel(signal, RawHDConfig(), mel_filterbank(RawHDConfig()))[0],
                                  from_file)
    with pytest.raises(ConfigError, match="needs its sample_rate"):
        audio_features(data)


# --- command line --------------------------------------------------------------------------
def test_prepare_with_unparsable_names_exits_1_with_one_summary_line(tmp_path, capsys):
    root = flat_folder(tmp_path / "f", takes=1)
    for i in range(40):
        write(root / f"recording {i}.wav", burst(300, 16000, seed=i), 16000)
    rc = main(["--quiet", "data", "prepare", "audio", "--path", str(root), "--labels", PATTERN,
               "--test-speakers", "ann", "--cache-dir", str(tmp_path / "c"), "--workers", "1"])
    out, err = capsys.readouterr()
    assert rc == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "40 of 52 audio files cannot be used (40 names not matching the pattern)" in lines[0]
    assert lines[0].count("does not match") == 3                   # the first few, no more
    listing = lines[0].rsplit("full list: ", 1)[1]
    assert len(open(listing).read().splitlines()) == 41
    assert "12 usable of 52 audio files; 3 classes (high, low, mid)" in out
    assert "split by speakers (test speakers: ann): train 9, valid 0, test 3" in out
    rc = main(["--quiet", "data", "prepare", "audio", "--path", str(root), "--labels",
               "{label}-{speaker}.flac", "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "matches none of the 52 audio files" in err


def test_train_on_a_folder_writes_the_split_and_classes_into_the_run(tmp_path, capsys):
    root = flat_folder(tmp_path / "f", takes=2)
    (root / "mid_cid_1.wav").write_bytes(b"RIFF")                      # a bad file
    out = tmp_path / "run"
    rc = main(["--quiet", "train", "--data", "audio", "--data-path", str(root), "--labels",
               PATTERN, "--test-speakers", "dan", "--on-bad-file", "skip", "--epochs", "1",
               "--hidden", "8", "--batch-size", "8", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["data_options"] == {"labels": PATTERN, "test_speakers": "dan",
                                                "on_error": "skip"}
    assert record["data"]["class_names"] == ["high", "low", "mid"]
    assert record["data"]["split"] == {"rule": "speakers", "test_speakers": ["dan"],
                                       "counts": {"train": 17, "valid": 0, "test": 6}}
    assert record["data"]["skipped"] == 1
    from delayprop.graph import load_graph
    assert load_graph(out / "graph_final.npz").population("output").size == 3
    assert (out / "summary.json").is_file()
    rc = main(["--quiet", "train", "--data", "audio", "--data-path", str(root), "--labels",
               PATTERN, "--on-bad-file", "error", "--epochs", "1", "--out", str(tmp_path / "r2")])
    err = capsys.readouterr().err
    assert rc == 1 and "mid_cid_1.wav: cannot decode audio" in err
    assert "Traceback" not in err


def test_data_options_are_checked_per_data_set():
    from delayprop.training.experiment import ExperimentConfig
    with pytest.raises(ConfigError, match="'labels' does not apply to data set 'rawhd'"):
        ExperimentConfig(data="rawhd", data_options={"labels": PATTERN})
    with pytest.raises(ConfigError, match=r"unknown data option 'label' \(did you mean 'labels'"):
        ExperimentConfig(data="audio", data_options={"label": PATTERN})


def test_a_two_class_folder_trains_above_chance(tmp_path):
    from delayprop.training.experiment import ExperimentConfig, run_experiment
    root = flat_folder(tmp_path / "f", classes={"low": 300.0, "high": 2400.0},
                       speakers=tuple(f"p{i}" for i in range(6)), takes=4)
    # weight sd 0.3: with the default 0.1 this 32-neuron network can start silent (no
    # hidden spike, no gradient to the input weights) and stay at chance on some seeds
    cfg = ExperimentConfig(data="audio", data_path=str(root), epochs=4, hidden=32,
                           batch_size=8, weight_sd=0.3,
                           data_options={"labels": PATTERN, "test_speakers": "p0,p1"})
    summary = run_experiment(cfg, tmp_path / "run", quiet=True)
    assert summary["test_samples"] == 16 and summary["train_samples"] == 32
    assert summary["test_accuracy"] >= 0.85          # chance: 0.5
