"""Does sparsity pay? Training epoch time vs the fraction of input->hidden synapses kept.

The shared workload and network of bench_train.py (40 -> 256 LIF -> 20, learned delays,
max 25 steps, batch 32), with input->hidden SPARSE at 50 %, 75 %, 87.5 %, 93.75 % and
96.9 % sparsity, against the DENSE network in the same process. Each sparse network is run
as a static sparse group and with RigL rewiring (fan-in unconstrained), so the cost of
rewiring shows separately. Weights are scaled by 1/sqrt(fan-in) so activity stays
comparable; the hidden spike count is reported beside each time.

    python benchmarks/bench_sparsity.py [--epochs 3]
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np

from _common import emit, load_workload, peak_rss_mib

from delayprop.training import (Adam, Connection, Dense, EventPropCompiler, FixedProbability,
                                LeakyIntegrate, LeakyIntegrateFire, Network, Normal,
                                Population, RigL, SoftmaxCrossEntropy, SpikeInput, Uniform)

SPARSITIES = (0.5, 0.75, 0.875, 0.9375, 0.96875)


def epoch_time(data, sparsity: float, rewire: bool, epochs: int) -> tuple[float, float]:
    keep = 1.0 - sparsity
    net = Network()
    with net:
        inp = Population(SpikeInput(), 40, name="input")
        hid = Population(LeakyIntegrateFire(20.0, 1.0), 256, name="hidden")
        out = Population(LeakyIntegrate(20.0), 20, name="output")
        weight = Normal(0.15 / keep, 0.15 / np.sqrt(keep))
        conn = Dense(weight) if sparsity == 0 else FixedProbability(weight, p=keep)
        ih = Connection(inp, hid, conn, delay=Uniform(0, 25), max_delay_steps=25, name="ih")
        Connection(hid, out, Dense(Normal(0.0, 0.1)), name="ho")
    comp = EventPropCompiler(80, {out: SoftmaxCrossEntropy()}, Adam(1e-3), batch_size=32,
                             delay_learning=True, rewiring={ih: RigL()} if rewire else {})
    c = comp.compile(net, f"bench_sparsity_{sparsity}_{int(rewire)}")
    history = c.train({inp: data["X_train"]}, {out: data["y_train"]}, epochs)
    c.close()
    return (statistics.median(h["seconds"] for h in history[1:]),
            history[-1]["spikes_per_neuron"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    data = load_workload()
    dense, dense_spikes = epoch_time(data, 0.0, False, args.epochs)
    rows = [{"sparsity": 0.0, "s_per_epoch": dense, "ratio_vs_dense": 1.0,
             "spikes_per_neuron": dense_spikes}]
    for s in SPARSITIES:
        static, spikes = epoch_time(data, s, False, args.epochs)
        rewired, _ = epoch_time(data, s, True, args.epochs)
        rows.append({"sparsity": s, "s_per_epoch": static, "ratio_vs_dense": static / dense,
                     "s_per_epoch_rigl": rewired, "spikes_per_neuron": spikes})
    for row in rows:
        emit({"benchmark": "sparsity", **{k: round(v, 4) for k, v in row.items()},
              "peak_rss_mib": round(peak_rss_mib(), 1)}, args.out)
    return rows


if __name__ == "__main__":
    main()
