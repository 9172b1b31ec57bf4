#!/usr/bin/env python3
"""Deterministic synthetic RawHD-shaped spike classification workload for benchmarks.

The one workload every delayprop speed figure is reported on, so that figures from
different versions and from other simulators (GeNN/mlGeNN, the paper's PyTorch code)
compare like with like.

Task: 20 classes, 40 input channels, 80 time steps (dt = 1 ms). Each class has a
template: every channel is active with probability 0.5 and then has one preferred spike
time drawn uniformly from [0, 80). A sample is its class template + Gaussian jitter
(sd 3 steps), rounded and clipped to [0, 79], plus random extra spikes (each of the
80 x 40 cells set with probability 0.02). Everything comes from
numpy.random.default_rng(seed) (seed 0): templates, then training set, then test set,
so the same arguments always give byte-identical arrays (see digest()).

make_workload() returns X_train [N, 80, 40] uint8, y_train [N] int64, X_test, y_test,
templates [20, 40]. dense_to_spikes() gives (times in ms, ids) sorted by time then id.

    python workload.py --out /tmp/workload.npz      # prints shapes and a digest
"""
# Vendored unchanged from the team's workload generator (shared/bench/workload.py) so the
# benchmarks run on a fresh clone; benchmarks/_common.py checks its digest.
import argparse
import hashlib
import json

import numpy as np

NUM_CLASSES = 20
NUM_CHANNELS = 40
NUM_STEPS = 80
DT_MS = 1.0

ACTIVE_FRACTION = 0.5
JITTER_SD = 3.0
EXTRA_SPIKE_PROB = 0.02


def make_templates(rng, num_classes=NUM_CLASSES, num_channels=NUM_CHANNELS,
                   num_steps=NUM_STEPS, active_fraction=ACTIVE_FRACTION):
    """[classes, channels] preferred spike times (float), NaN = inactive."""
    active = rng.random((num_classes, num_channels)) < active_fraction
    times = rng.uniform(0.0, num_steps, size=(num_classes, num_channels))
    return np.where(active, times, np.nan)


def make_samples(rng, templates, num_samples, num_steps=NUM_STEPS,
                 jitter_sd=JITTER_SD, extra_prob=EXTRA_SPIKE_PROB):
    """Dense binary samples [N, T, C] (uint8) and labels [N] (int64)."""
    num_classes, num_channels = templates.shape
    labels = rng.integers(0, num_classes, size=num_samples).astype(np.int64)
    X = np.zeros((num_samples, num_steps, num_channels), dtype=np.uint8)

    # Jittered template spikes
    tmpl = templates[labels]                                   # [N, C]
    jitter = rng.normal(0.0, jitter_sd, size=tmpl.shape)
    t = np.clip(np.rint(tmpl + jitter), 0, num_steps - 1)      # NaN stays NaN
    n_idx, c_idx = np.nonzero(~np.isnan(t))
    X[n_idx, t[n_idx, c_idx].astype(np.int64), c_idx] = 1

    # Random extra spikes
    extra = rng.random((num_samples, num_steps, num_channels)) < extra_prob
    X |= extra.astype(np.uint8)
    return X, labels


def make_workload(num_train=1024, num_test=256, seed=0):
    rng = np.random.default_rng(seed)
    templates = make_templates(rng)
    X_train, y_train = make_samples(rng, templates, num_train)
    X_test, y_test = make_samples(rng, templates, num_test)
    return {"X_train": X_train, "y_train": y_train,
            "X_test": X_test, "y_test": y_test,
            "templates": templates}


def dense_to_spikes(x, dt=DT_MS):
    """One dense sample [T, C] -> (times [ms] float64, ids int64),
    sorted by time then channel id."""
    t_idx, c_idx = np.nonzero(x)          # row-major => sorted by time, id
    return t_idx.astype(np.float64) * dt, c_idx.astype(np.int64)


def dense_to_spike_lists(X, dt=DT_MS):
    """[N, T, C] -> list of (times, ids) tuples, one per sample."""
    return [dense_to_spikes(x, dt) for x in X]


def spikes_to_dense(times, ids, num_steps=NUM_STEPS,
                    num_channels=NUM_CHANNELS, dt=DT_MS):
    """Inverse of dense_to_spikes."""
    x = np.zeros((num_steps, num_channels), dtype=np.uint8)
    x[np.rint(np.asarray(times) / dt).astype(np.int64),
      np.asarray(ids, dtype=np.int64)] = 1
    return x


def load(path):
    d = np.load(path)
    return {k: d[k] for k in d.files}


def load_or_make(path=None, num_train=1024, num_test=256, seed=0):
    """Load the .npz if given and present, else generate in memory."""
    if path is not None:
        try:
            d = load(path)
            if (len(d["y_train"]) == num_train
                    and len(d["y_test"]) == num_test):
                return d
        except FileNotFoundError:
            pass
    return make_workload(num_train, num_test, seed)


def digest(d):
    h = hashlib.sha256()
    for k in ("X_train", "y_train", "X_test", "y_test"):
        h.update(np.ascontiguousarray(d[k]).tobytes())
    return h.hexdigest()[:16]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/workload.npz")
    ap.add_argument("--num-train", type=int, default=1024)
    ap.add_argument("--num-test", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    d = make_workload(args.num_train, args.num_test, args.seed)
    np.savez_compressed(args.out, **d)
    info = {"out": args.out, "sha256_16": digest(d),
            "X_train": list(d["X_train"].shape),
            "X_test": list(d["X_test"].shape),
            "spikes_per_sample_mean": float(d["X_train"].sum((1, 2)).mean()),
            "spikes_per_sample_max": int(d["X_train"].sum((1, 2)).max()),
            "max_spikes_per_channel": int(d["X_train"].sum(1).max()),
            "class_counts_train": np.bincount(d["y_train"],
                                              minlength=NUM_CLASSES).tolist()}
    print(json.dumps(info))


if __name__ == "__main__":
    main()
