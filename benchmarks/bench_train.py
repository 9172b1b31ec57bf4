"""Training benchmark on the shared workload (issue: EventProp training).

The network of benchmarks/README.md: 40 spike inputs -> 256 LIF (tau_mem 20 ms, tau_syn
5 ms, threshold 1) -> 20 leaky integrators (softmax cross-entropy on the voltage sum);
input -> hidden dense with per-synapse delays (max 25 steps, learned), hidden -> output
dense without delay; Adam (1e-3 weights, 0.1 delays); 1024 training samples of 80 steps.
Initial values as in mlGeNN's reference run (benchmarks/README.md): input -> hidden
Normal(0.3, 0.1), hidden -> output Normal(0, 0.03), delays uniform on [0, 25): about 2.2
hidden spikes per neuron. A network that spikes less does less work, so hidden spikes per
neuron are printed beside every time.

Reported per batch size: seconds per training epoch (median of the epochs after the
first), with learned delays and without delays (same process), inference time on the
256 test samples, peak RSS, and train/test accuracy after 5 epochs. The reference,
measured elsewhere on this machine type (benchmarks README): mlGeNN 2.3/GeNN 5.4 CPU
0.887 s/epoch with learned delays, 0.611 s without, batch 1, ~79 MB.

    python benchmarks/bench_train.py [--epochs 5] [--batches 32 256] [--backend cpu|cuda]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _common import emit, load_workload, peak_rss_mib

from delayprop.training import (Adam, Connection, Dense, EventPropCompiler, LeakyIntegrate,
                                LeakyIntegrateFire, Network, Normal, Population,
                                SoftmaxCrossEntropy, SpikeInput, Uniform)

MLGENN_DELAYS_S = 0.887
MLGENN_NO_DELAYS_S = 0.611


def build(batch: int, delays: bool, seed: int = 0, backend: str = "cpu"):
    net = Network()
    with net:
        inp = Population(SpikeInput(), 40, name="input")
        hid = Population(LeakyIntegrateFire(20.0, 1.0), 256, name="hidden")
        out = Population(LeakyIntegrate(20.0), 20, name="output")
        Connection(inp, hid, Dense(Normal(0.3, 0.1)), delay=Uniform(0, 25) if delays else 0,
                   max_delay_steps=25 if delays else None, name="ih")
        Connection(hid, out, Dense(Normal(0.0, 0.03)), name="ho")
    compiler = EventPropCompiler(80, {out: SoftmaxCrossEntropy()}, Adam(1e-3), batch_size=batch,
                                 delay_learning=delays, delay_optimiser=Adam(0.1), seed=seed,
                                 backend=backend)
    return compiler.compile(net, f"bench_train_{batch}_{int(delays)}"), inp, out


def run(batch: int, delays: bool, data: dict, epochs: int, backend: str = "cpu") -> dict:
    net, inp, out = build(batch, delays, backend=backend)
    history = net.train({inp: data["X_train"]}, {out: data["y_train"]}, epochs)
    t0 = time.perf_counter()
    test = net.evaluate({inp: data["X_test"]}, {out: data["y_test"]})
    inference = time.perf_counter() - t0
    net.close()
    seconds = [h["seconds"] for h in history[1:]] or [history[0]["seconds"]]
    return {"s_per_epoch": statistics.median(seconds), "train_acc": history[-1]["accuracy"],
            "test_acc": test["accuracy"], "inference_s": inference,
            "spikes_per_neuron": history[-1]["spikes_per_neuron"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 256])
    ap.add_argument("--backend", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--out", default=None, help="append JSON lines to this file")
    args = ap.parse_args(argv)
    data = load_workload()
    records = []
    for batch in args.batches:
        with_delays = run(batch, True, data, args.epochs, args.backend)
        without = run(batch, False, data, args.epochs, args.backend)
        records.append(emit({
            "benchmark": "train", "backend": args.backend, "batch": batch,
            "epochs": args.epochs,
            "s_per_epoch_delays": round(with_delays["s_per_epoch"], 4),
            "s_per_epoch_no_delays": round(without["s_per_epoch"], 4),
            "ratio_delays_vs_no_delays": round(with_delays["s_per_epoch"]
                                               / without["s_per_epoch"], 2),
            "speedup_vs_mlgenn_reference": round(MLGENN_DELAYS_S / with_delays["s_per_epoch"], 1),
            "inference_256_test_s": round(with_delays["inference_s"], 4),
            "train_acc_delays": round(with_delays["train_acc"], 3),
            "test_acc_delays": round(with_delays["test_acc"], 3),
            "test_acc_no_delays": round(without["test_acc"], 3),
            "hidden_spikes_per_neuron": round(with_delays["spikes_per_neuron"], 3),
            "hidden_spikes_per_neuron_no_delays": round(without["spikes_per_neuron"], 3),
            "peak_rss_mib": round(peak_rss_mib(), 1)}, args.out))
    return records


if __name__ == "__main__":
    main()
