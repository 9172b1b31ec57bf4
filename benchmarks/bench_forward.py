"""Forward-simulation benchmark on the shared workload (issue: engine).

Network: 40 spike sources -> 256 LIF (tau_mem 20 ms, threshold 1) -> 20 leaky integrators,
exponential synapses (tau_syn 5 ms), input -> hidden dense with per-synapse delays drawn
uniformly from 0..24 (max 25 steps), hidden -> output dense without delay; 80 steps of
1 ms per sample; the workload's 1024 training samples.

Reported: samples per second of delayprop's generated C++ at batch 1 (GeNN's set-up) and
at a large batch, against a vectorised NumPy simulation of the same network in the same
process (the baseline); peak RSS. GeNN 5.4's CPU backend needs ~0.29 s for 256 samples of
this network at batch 1 on this machine type (reference figure, measured elsewhere: 883
samples/s); the target is >= 10x that.

    python benchmarks/bench_forward.py [--batch 256] [--backend cpu|cuda]
                                       [--out results/bench.jsonl]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from _common import best_of, emit, load_workload, peak_rss_mib

from delayprop.compile import Model, init_postsynaptic, init_weight_update
from delayprop.genn_models import (LIF, ExpCurr, LeakyIntegrator, SpikeSourceArray,
                                   StaticPulse, StaticPulseDendriticDelay)

N_IN, N_HID, N_OUT, T, D = 40, 256, 20, 80, 25
GENN_SAMPLES_PER_S = 256 / 0.29


def network_params(seed=1):
    rng = np.random.default_rng(seed)
    return {"w_ih": rng.normal(0.6, 0.4, (N_IN, N_HID)),
            "d_ih": rng.integers(0, D, (N_IN, N_HID)).astype(np.uint8),
            "w_ho": rng.normal(0.0, 0.3, (N_HID, N_OUT))}


def build(batch, params, precision="float", record=False, backend="cpu"):
    m = Model(precision, f"bench_forward_b{batch}", backend, batch_size=batch)
    inp = m.add_neuron_population("input", N_IN, SpikeSourceArray)
    hid = m.add_neuron_population("hidden", N_HID, LIF,
                                  {"tau_mem": 20.0, "v_thresh": 1.0, "v_reset": 0.0})
    out = m.add_neuron_population("output", N_OUT, LeakyIntegrator, {"tau_mem": 20.0})
    hid.spike_recording_enabled = record
    m.add_synapse_population("ih", "DENSE", inp, hid, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": params["w_ih"], "d": params["d_ih"]}),
        init_postsynaptic(ExpCurr, {"tau": 5.0}), D)
    m.add_synapse_population("ho", "DENSE", hid, out, init_weight_update(
        StaticPulse, vars={"g": params["w_ho"]}), init_postsynaptic(ExpCurr, {"tau": 5.0}))
    m.build()
    m.load()
    return m, inp, hid, out


def spike_lists(X):
    """Per sample (steps, channels) of its spikes: what a data loader hands over."""
    return [np.nonzero(x) for x in X]


def run_engine(m, inp, hid, out, spikes_per_sample):
    """Simulate every sample; return the output V at the end and the hidden spike count."""
    batch = m.batch_size
    n_samples = len(spikes_per_sample)
    vsum = np.zeros((n_samples, N_OUT))
    spikes = 0
    for start in range(0, n_samples, batch):
        chunk = spikes_per_sample[start:start + batch]
        chunk += [(np.zeros(0, int), np.zeros(0, int))] * (batch - len(chunk))
        inp.set_spikes([(t.astype(float), c) for t, c in chunk])
        m.reinitialise()
        m.run(T)
        if hid.spike_recording_enabled:
            spikes += sum(len(t) for t, _ in hid.spike_recording_data)
        n = min(batch, n_samples - start)
        out.vars["V"].pull_from_device()          # no-op on the CPU
        vsum[start:start + n] = out.vars["V"].view[:n]
    return vsum, spikes


def run_numpy(X, params):
    """The same network in vectorised NumPy (float32, batch = all samples)."""
    X = X.astype(np.float32)
    n = len(X)
    a_m, a_s = np.float32(np.exp(-1 / 20)), np.float32(np.exp(-1 / 5))
    init = np.float32(5.0 * (1 - np.exp(-1 / 5)))
    w_ih = params["w_ih"].astype(np.float32)
    w_ho = params["w_ho"].astype(np.float32)
    d_ih = params["d_ih"].astype(np.int64)
    # per delay value, the weight matrix of the synapses with that delay
    w_by_delay = np.stack([np.where(d_ih == d, w_ih, 0) for d in range(D)])
    ring = np.zeros((D, n, N_HID), np.float32)
    in_h = np.zeros((n, N_HID), np.float32)
    in_o = np.zeros((n, N_OUT), np.float32)
    v_h = np.zeros((n, N_HID), np.float32)
    v_o = np.zeros((n, N_OUT), np.float32)
    prev_in = np.zeros((n, N_IN), np.float32)
    prev_h = np.zeros((n, N_HID), np.float32)
    for k in range(T):
        for d in range(D):
            ring[(k + d) % D] += prev_in @ w_by_delay[d]
        in_h += ring[k % D]
        ring[k % D] = 0
        i_h = init * in_h
        in_h *= a_s
        in_o += prev_h @ w_ho
        i_o = init * in_o
        in_o *= a_s
        v_h = a_m * v_h + (1 - a_m) * i_h
        spk = v_h >= 1.0
        v_h[spk] = 0.0
        v_o = a_m * v_o + (1 - a_m) * i_o
        prev_in = X[:, k]
        prev_h = spk.astype(np.float32)
    return v_o


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backend", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--out", default=None, help="append JSON lines to this file")
    args = ap.parse_args(argv)
    X = load_workload()["X_train"]
    data = spike_lists(X)
    params = network_params()
    results = {}
    for batch in (1, args.batch):
        m, inp, hid, out = build(batch, params, backend=args.backend)
        run_engine(m, inp, hid, out, data[:batch])               # warm-up
        seconds = best_of(lambda: run_engine(m, inp, hid, out, data), args.repeats)
        results[batch] = seconds
        m.unload()
    m, inp, hid, out = build(args.batch, params, record=True,    # activity check
                             backend=args.backend)
    _, spikes = run_engine(m, inp, hid, out, data)
    m.unload()
    t0 = time.perf_counter()
    run_numpy(X, params)
    numpy_s = time.perf_counter() - t0
    best = min(results.values())
    return emit({
        "benchmark": "forward", "backend": args.backend, "samples": len(X), "steps": T,
        "seconds_batch1": round(results[1], 4),
        f"seconds_batch{args.batch}": round(results[args.batch], 4),
        "samples_per_s": round(len(X) / best, 1),
        "numpy_baseline_s": round(numpy_s, 4),
        "speedup_vs_numpy": round(numpy_s / best, 2),
        "ratio_vs_genn_reference": round(len(X) / best / GENN_SAMPLES_PER_S, 2),
        "hidden_spikes_per_neuron": round(spikes / len(X) / N_HID, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1)}, args.out)


if __name__ == "__main__":
    main()
