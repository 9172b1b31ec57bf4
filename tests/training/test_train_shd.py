"""Training on spike data in the SHD format (times in seconds, 700 channels), end to end."""
import json

import h5py
import numpy as np

from delayprop.cli import main


def write_shd(path, n, rng):
    times, units, labels = [], [], []
    for i in range(n):
        label = i % 2
        k = rng.integers(20, 40)
        # class 0 fires early on low channels, class 1 late on high channels
        t = rng.uniform(0.01, 0.2, k) + 0.3 * label
        u = rng.integers(0, 350, k) + 350 * label
        times.append(t)
        units.append(u)
        labels.append(label)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.dtype("float64")))
        du = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.dtype("uint16")))
        for i in range(n):
            ds[i], du[i] = times[i], units[i]
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))


def test_train_on_shd_format_spikes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)
    rng = np.random.default_rng(0)
    write_shd(tmp_path / "shd_train.h5", 24, rng)
    write_shd(tmp_path / "shd_test.h5", 8, rng)
    out = tmp_path / "run"
    assert main(["--quiet", "train", "--data", "shd", "--data-path", str(tmp_path),
                 "--hidden", "8", "--epochs", "2", "--batch-size", "8", "--max-delay", "10",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_samples"] == 24 and summary["test_samples"] == 8
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["data"] == "shd"
