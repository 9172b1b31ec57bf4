"""SHD/SSC on small HDF5 files written here in the authors' schema."""
from __future__ import annotations

import numpy as np
import pytest
from datahelpers import write_spike_h5

from delayprop.data import HD_CLASS_NAMES, SPIKE_DTYPE, SpikingHD, bin_events, load_dataset
from delayprop.errors import ConfigError, DataError

KEYS = [f"word{k}" for k in range(20)]


@pytest.fixture
def shd_dir(tmp_path):
    times = [[0.0, 0.0049, 0.0051, 0.0123, 0.0199, 0.025], [0.5, 1.2], []]
    units = [[3, 3, 3, 1, 699, 0], [10, 20], []]
    write_spike_h5(tmp_path / "shd_train.h5", times, units, [4, 17, 0], keys=KEYS)
    return tmp_path


def test_events_are_exact_times_in_ms(shd_dir):
    split = SpikingHD("shd", "train", shd_dir)
    assert split.is_events and split.num_steps is None and split.dt is None
    assert (split.num_channels, split.num_classes, len(split)) == (700, 20, 3)
    ev = split.x[0]
    assert ev.dtype == SPIKE_DTYPE
    np.testing.assert_array_equal(ev["t"], np.array([0.0, 0.0049, 0.0051, 0.0123, 0.0199,
                                                     0.025]) * 1000.0)
    np.testing.assert_array_equal(ev["x"], [3, 3, 3, 1, 699, 0])
    assert split.x[2].size == 0
    np.testing.assert_array_equal(split.y, [4, 17, 0])
    assert split.class_names == tuple(KEYS)
    assert split.sample_ids[1] == "shd_train.h5#1"
    assert split.name == "shd/train"


def test_binning_hand_worked(shd_dir):
    split = SpikingHD("shd", "train", shd_dir, num_steps=4, dt=5.0)
    assert split.x.dtype == np.uint8 and split.x.shape == (3, 4, 700)
    expected = np.zeros((3, 4, 700), dtype=np.uint8)
    expected[0, 0, 3] = 2        # 0.0 and 4.9 ms
    expected[0, 1, 3] = 1        # 5.1 ms
    expected[0, 2, 1] = 1        # 12.3 ms
    expected[0, 3, 699] = 1      # 19.9 ms; 25 ms lies beyond 4 x 5 ms and is dropped
    np.testing.assert_array_equal(split.x, expected)    # sample 1: 500 and 1200 ms dropped
    assert split.info["dropped_spikes"] == 3
    assert split.dt == 5.0 and split.num_steps == 4


def test_binning_agrees_with_numpy_histogram():
    rng = np.random.default_rng(4)
    events = []
    for n in (0, 50, 3000):
        ev = np.empty(n, dtype=SPIKE_DTYPE)
        ev["t"] = rng.uniform(0, 120.0, n)
        ev["x"] = rng.integers(0, 700, n)
        events.append(ev)
    counts, dropped = bin_events(events, num_steps=10, dt=10.0, channels=700)
    for ev, got in zip(events, counts):
        hist, _ = np.histogramdd(np.column_stack([ev["t"], ev["x"]]),
                                 bins=(np.arange(11) * 10.0, np.arange(701) - 0.5))
        np.testing.assert_array_equal(got, hist)
    assert dropped == sum(int((ev["t"] >= 100.0).sum()) for ev in events)


def test_crowded_bins_switch_to_float32():
    ev = np.zeros(300, dtype=SPIKE_DTYPE)
    counts, _ = bin_events([ev], num_steps=2, dt=1.0, channels=3)
    assert counts.dtype == np.float32 and counts[0, 0, 0] == 300


def test_steps_or_dt_alone_use_the_default_window(shd_dir):
    by_steps = SpikingHD("shd", "train", shd_dir, num_steps=100)
    assert by_steps.dt == pytest.approx(14.0)             # 1400 ms / 100
    by_dt = SpikingHD("shd", "train", shd_dir, dt=3.0)
    assert by_dt.num_steps == 467                          # ceil(1400 / 3)
    assert SpikingHD("shd", "train", shd_dir, dt=7.0).num_steps == 200
    window = SpikingHD("shd", "train", shd_dir, num_steps=10, duration=100.0)
    assert window.dt == pytest.approx(10.0)


def test_file_path_directly_and_via_environment(shd_dir, monkeypatch):
    assert len(SpikingHD("shd", "train", shd_dir / "shd_train.h5")) == 3
    monkeypatch.setenv("DELAYPROP_DATA", str(shd_dir))
    assert len(load_dataset("shd", "train", num_steps=4)) == 3


def test_ssc_without_keys_has_35_numbered_classes(tmp_path):
    write_spike_h5(tmp_path / "ssc" / "ssc_valid.h5", [[0.1]], [[5]], [34])
    split = load_dataset("ssc", "valid", tmp_path)
    assert split.num_classes == 35 and split.class_names[34] == "class 34"


def test_shd_without_keys_uses_the_digit_names(tmp_path):
    write_spike_h5(tmp_path / "shd_test.h5", [[0.1]], [[5]], [12])
    assert SpikingHD("shd", "test", tmp_path).class_names == HD_CLASS_NAMES


@pytest.mark.parametrize("dataset", ["spikes/times", "spikes/units", "labels"])
def test_missing_dataset_is_named(tmp_path, dataset):
    write_spike_h5(tmp_path / "shd_train.h5", [[0.1]], [[1]], [0], drop=(dataset,))
    with pytest.raises(DataError, match=rf"shd_train.h5: dataset '{dataset}' is missing"):
        SpikingHD("shd", "train", tmp_path)


@pytest.mark.parametrize("times, units, labels, message", [
    ([[0.1], [0.2]], [[1]], [0, 1], "spikes/times has 2 samples, spikes/units 1, labels 2"),
    ([[0.1, 0.2]], [[1]], [0], "sample 0 has 2 spike times but 1 units"),
    ([[0.1]], [[700]], [0], r"sample 0 has channel ids 700..700, outside \[0, 700\)"),
    ([[-0.1]], [[1]], [0], "sample 0 has negative or non-finite spike times"),
    ([[0.1]], [[1]], [20], r"labels must lie in \[0, 20\), got 20..20"),
])
def test_inconsistent_contents(tmp_path, times, units, labels, message):
    write_spike_h5(tmp_path / "shd_train.h5", times, units, labels, keys=KEYS)
    with pytest.raises(DataError, match=message):
        SpikingHD("shd", "train", tmp_path)


def test_not_an_hdf5_file(tmp_path):
    (tmp_path / "shd_train.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match="shd_train.h5: cannot open as HDF5"):
        SpikingHD("shd", "train", tmp_path)


def test_missing_file_points_to_fetch_and_to_a_compressed_copy(tmp_path):
    with pytest.raises(DataError, match=r"SHD test file shd_test.h5 not found .*"
                                        r"delayprop data fetch shd"):
        SpikingHD("shd", "test", tmp_path)
    (tmp_path / "shd_test.h5.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"Found .*shd_test.h5.gz: decompress it"):
        SpikingHD("shd", "test", tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "nmnist"}, r"SpikingHD name must be one of \('shd', 'ssc'\)"),
    ({"split": "valid"}, r"shd split must be one of \('train', 'test'\)"),
    ({"num_steps": 0}, "num_steps must be a whole number >= 1, got 0"),
    ({"dt": -1.0}, "dt must be a number of ms > 0, got -1.0"),
    ({"num_steps": 10, "duration": 0.0}, "duration must be a number of ms > 0"),
    ({"duration": 100.0}, "duration only applies with num_steps or dt"),
])
def test_bad_arguments(shd_dir, kwargs, message):
    args = {"name": "shd", "split": "train", "path": shd_dir, **kwargs}
    with pytest.raises(ConfigError, match=message):
        SpikingHD(**args)


def test_unknown_option_and_oversized_binning(shd_dir):
    with pytest.raises(ConfigError, match=r"no option 'steps' \(did you mean 'num_steps'"):
        load_dataset("shd", "train", shd_dir, steps=10)
    with pytest.raises(ConfigError, match=r"needs .* GiB; use fewer steps"):
        SpikingHD("shd", "train", shd_dir, num_steps=10_000_000, dt=1.0)
