"""The real task: training epochs on RawHD's graded input (issue: speed on the real task).

RawHD feeds 40 log-mel values at each of 80 steps (3,200 input events per sample), 14x the
work per sample of the synthetic spike workload (bench_train.py). The network is the
README's RawHD recipe: 40 graded inputs -> 256 LIF (tau 20 ms) -> 20 leaky integrators
(softmax cross-entropy on the voltage sum); input -> hidden with per-synapse delays 0..24
(D = 25), learned; Adam (2e-3 weights, 0.05 delays); weights Normal(0, 0.2 sqrt(40/fan-in)).

Runs (each in its own process, so that each peak RSS is its own):

- ``dense_b32`` and ``dense_b256``: dense input -> hidden, batch 32 and 256;
- ``sparse87_b32`` and ``sparse97_b32``: 87.5 % and 96.9 % of input -> hidden absent;

each trained for 3 epochs of the whole training split and timed over the 2nd and 3rd
(the first also grows the spike tapes; its time is reported too), then one validation
pass over the test split; and the same epoch and validation again with the
per-step dendritic-ring path (``trial_inputs=False``), same initial values and batches, for
the ratio. Reported per run: seconds per epoch, samples/s, forward synaptic events/s,
hidden spikes per neuron, validation seconds, peak RSS, and ring/trial ratios.

Data: RawHD features from ``$DELAYPROP_DATA`` or ``../shared/data`` beside the repository
(8,150 train / 2,270 test); without them, a synthetic graded workload of the same shape and
statistics, and every record says ``"data": "synthetic"``.

    python benchmarks/bench_rawhd.py [--runs dense_b32 ...] [--limit N] [--no-ring]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _common import HERE, emit, peak_rss_mib

RUNS = {"dense_b32": (0.0, 32), "dense_b256": (0.0, 256),
        "sparse87_b32": (0.875, 32), "sparse97_b32": (0.96875, 32)}
CHANNELS, STEPS, HIDDEN, CLASSES, D = 40, 80, 256, 20, 25
EPOCHS = 3
TARGETS = {"dense_b32_s_per_epoch": 2.0, "sparse87_vs_dense": 0.3, "validation_s": 0.3,
           "peak_rss_mib": 300}


# ---------------------------------------------------------------------------- data
def data_root() -> Path | None:
    env = os.environ.get("DELAYPROP_DATA")
    for root in ([Path(env)] if env else []) + [HERE.parent.parent / "shared" / "data"]:
        if (root / "hd_audio").is_dir() or root.name == "hd_audio":
            return root
    return None


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """RawHD-shaped graded samples: 40 channels x 80 steps, every value non-zero (as
    log-mel features are), a louder word of 30-60 steps inside each sample."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 0.05, size=(n, STEPS, CHANNELS)).astype(np.float32) + 0.01
    start = rng.integers(0, 30, n)
    length = rng.integers(30, 50, n)
    profile = rng.gamma(2.0, 0.25, size=(CLASSES, CHANNELS)).astype(np.float32)
    y = rng.integers(0, CLASSES, n)
    for i in range(n):
        x[i, start[i]:start[i] + length[i]] += profile[y[i]]
    return x, y


def load(limit: int | None):
    root = data_root()
    if root is None:
        (x, y), (xt, yt) = synthetic(8150, 0), synthetic(2270, 1)
        source = "synthetic"
    else:
        from delayprop.data import load_dataset
        train = load_dataset("rawhd", "train", path=root)
        test = load_dataset("rawhd", "test", path=root)
        x, y, xt, yt = train.x, train.y, test.x, test.y
        source = "rawhd"
    if limit:
        x, y = x[:limit], y[:limit]
    return source, x, y, xt, yt


# ---------------------------------------------------------------------------- one run
def build(sparsity: float, batch: int, trial: bool):
    from delayprop.training import (Adam, Connection, Dense, EventPropCompiler,
                                    FixedProbability, GradedInput, LeakyIntegrate,
                                    LeakyIntegrateFire, Network, Normal, Population,
                                    SoftmaxCrossEntropy, Uniform)
    keep = 1.0 - sparsity
    net = Network()
    with net:
        inp = Population(GradedInput(), CHANNELS, name="input")
        hid = Population(LeakyIntegrateFire(tau_mem=20.0, v_thresh=1.0), HIDDEN, name="hidden")
        out = Population(LeakyIntegrate(tau_mem=20.0), CLASSES, name="output")
        weight = Normal(0.0, 0.2 * np.sqrt(1.0 / keep))
        conn = Dense(weight) if sparsity == 0 else FixedProbability(weight, p=keep)
        ih = Connection(inp, hid, conn, delay=Uniform(0, D - 1), max_delay_steps=D, name="ih")
        Connection(hid, out, Dense(Normal(0.0, 0.05)), name="ho")
    compiler = EventPropCompiler(STEPS, {out: SoftmaxCrossEntropy()}, Adam(2e-3),
                                 batch_size=batch, delay_learning=[ih],
                                 delay_optimiser=Adam(0.05), seed=0, trial_inputs=trial)
    compiled = compiler.compile(net, f"bench_rawhd_{sparsity}_{batch}_{int(trial)}")
    return compiled, inp, out


def timed_epoch(sparsity, batch, trial, x, y, xt, yt) -> dict:
    net, inp, out = build(sparsity, batch, trial)
    with net:
        synapses = int(net.model.synapse_populations["ih"].num_synapses)
        # 3 epochs, timed: the 2nd and 3rd (the 1st also grows the spike tapes and touches
        # fresh memory, once per run), as the epochs of a 40-epoch run
        history = net.train({inp: x}, {out: y}, EPOCHS)
        t0 = time.perf_counter()
        test = net.evaluate({inp: xt}, {out: yt})
        validation = time.perf_counter() - t0
    h = history[-1]
    seconds = statistics.mean(e["seconds"] for e in history[1:])
    return {"s_per_epoch": seconds, "first_epoch_s": history[0]["seconds"],
            "spikes_per_neuron": h["spikes_per_neuron"],
            "validation_s": validation, "test_acc": test["accuracy"], "synapses": synapses,
            "loss": h["loss"]}


def run_one(name: str, limit: int | None, ring: bool) -> dict:
    sparsity, batch = RUNS[name]
    source, x, y, xt, yt = load(limit)
    trial = timed_epoch(sparsity, batch, True, x, y, xt, yt)
    rss = peak_rss_mib()                          # before the ring run adds its own arrays
    n = len(x)
    # forward synaptic events: each non-zero input value reaches every synapse of its
    # channel; each hidden spike reaches the 20 readouts
    fan_out = trial["synapses"] / CHANNELS
    events = np.count_nonzero(x) * fan_out + trial["spikes_per_neuron"] * HIDDEN * n * CLASSES
    record = {"benchmark": "rawhd", "run": name, "data": source, "samples": n,
              "batch": batch, "sparsity": sparsity, "synapses_ih": trial["synapses"],
              "s_per_epoch": round(trial["s_per_epoch"], 3),
              "first_epoch_s": round(trial["first_epoch_s"], 3),
              "samples_per_s": round(n / trial["s_per_epoch"]),
              "synaptic_events_per_s": float(f"{events / trial['s_per_epoch']:.3g}"),
              "ms_per_sample": round(1e3 * trial["s_per_epoch"] / n, 4),
              "hidden_spikes_per_neuron": round(trial["spikes_per_neuron"], 3),
              "validation_s": round(trial["validation_s"], 3),
              "validation_samples": len(xt), "peak_rss_mib": round(rss, 1)}
    if ring:
        ref = timed_epoch(sparsity, batch, False, x, y, xt, yt)
        record.update({
            "ring_s_per_epoch": round(ref["s_per_epoch"], 3),
            "ring_validation_s": round(ref["validation_s"], 3),
            "ring_hidden_spikes_per_neuron": round(ref["spikes_per_neuron"], 3),
            "speedup_vs_ring": round(ref["s_per_epoch"] / trial["s_per_epoch"], 2),
            "validation_speedup_vs_ring": round(ref["validation_s"] / trial["validation_s"], 2),
            "loss_trial_vs_ring": [round(trial["loss"], 5), round(ref["loss"], 5)]})
    return record


# ---------------------------------------------------------------------------- driver
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    ap.add_argument("--limit", type=int, default=None,
                    help="train on the first N samples only (the record says so)")
    ap.add_argument("--no-ring", action="store_true",
                    help="skip the comparison with the per-step dendritic-ring path")
    ap.add_argument("--out", default=None, help="append JSON lines to this file")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:                               # one run, in its own process
        print(json.dumps(run_one(args.child, args.limit, not args.no_ring)), flush=True)
        return
    records = []
    for name in args.runs:
        cmd = [sys.executable, __file__, "--child", name] + \
            (["--limit", str(args.limit)] if args.limit else []) + \
            (["--no-ring"] if args.no_ring else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"bench_rawhd: run {name} failed")
        records.append(emit(json.loads(proc.stdout.strip().splitlines()[-1]), args.out))
    summary(records, args.out)
    return records


def summary(records: list[dict], out) -> None:
    by = {r["run"]: r for r in records}
    lines = [f"{'run':14s} {'s/epoch':>8s} {'ms/sample':>9s} {'events/s':>9s} "
             f"{'spk/neur':>8s} {'valid s':>7s} {'RSS MiB':>7s} {'vs ring':>7s}"]
    for r in records:
        lines.append(f"{r['run']:14s} {r['s_per_epoch']:8.3f} {r['ms_per_sample']:9.4f} "
                     f"{r['synaptic_events_per_s']:9.3g} {r['hidden_spikes_per_neuron']:8.2f} "
                     f"{r['validation_s']:7.3f} {r['peak_rss_mib']:7.1f} "
                     f"{r.get('speedup_vs_ring', float('nan')):6.2f}x")
    data = records[0]["data"] if records else "?"
    lines.append(f"data: {data}" + (" (no RawHD found: a synthetic graded workload of the "
                                    "same shape)" if data == "synthetic" else ""))
    if "dense_b32" in by and "sparse87_b32" in by:
        ratio = by["sparse87_b32"]["s_per_epoch"] / by["dense_b32"]["s_per_epoch"]
        lines.append(f"87.5 % sparse / dense epoch time: {ratio:.2f} "
                     f"(target <= {TARGETS['sparse87_vs_dense']})")
        emit({"benchmark": "rawhd_sparse_ratio", "data": data,
              "sparse87_vs_dense": round(ratio, 3)}, out)
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
