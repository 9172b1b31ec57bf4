"""Data-parallel training over MPI on the real task: what the communication costs.

The RawHD network of bench_rawhd.py (dense, learned delays, batch 32) trained for 3
epochs (timed over the 2nd and 3rd) in two ways on the same machine, in one command:

- 1 rank x 2 OpenMP threads (one process shares each batch among its threads);
- 2 ranks x 1 thread (``mpiexec -n 2``: each rank simulates half of every batch and the
  gradients are summed with one Allreduce per optimiser step).

Reported: seconds per epoch of each, their ratio, Allreduce calls and bytes reduced per
optimiser step, the milliseconds of one Allreduce in training (including the wait for the
slower rank) and alone (after a barrier), hidden spikes per neuron; and a projection of
an SSC-sized epoch (75,466 samples, batch 256) on 8 and 64 single-core ranks from the
measured cost per sample and a ring Allreduce over a cluster network (``--bandwidth-gbs``,
``--latency-us``), for the RawHD network's and the SSC network's gradient sizes. Needs mpi4py and mpiexec (``pip install -e
".[mpi]"``); data as in bench_rawhd.py (RawHD or a labelled synthetic stand-in).

    python benchmarks/bench_mpi.py [--limit N] [--out results/benchmarks.jsonl]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

from _common import emit

import bench_rawhd

EPOCHS = 3


def child(limit: int | None) -> None:
    """One configuration (as launched by main): train, time, print one JSON line (rank 0)."""
    source, x, y, _, _ = bench_rawhd.load(limit)
    net, inp, out = bench_rawhd.build(0.0, 32, True)
    with net:
        history = net.train({inp: x}, {out: y}, EPOCHS)
        comm = net.comm
        steps = EPOCHS * -(-len(x) // 32)
        calls, sent, waited = comm.reductions, comm.bytes_reduced, comm.reduce_seconds
        pure_ms = _pure_allreduce_ms(comm, sent // max(calls, 1))
        if comm.is_root:
            print(json.dumps({
                "data": source, "samples": len(x), "ranks": comm.size,
                "threads": int(os.environ.get("OMP_NUM_THREADS", "0")),
                "s_per_epoch": statistics.mean(h["seconds"] for h in history[1:]),
                "hidden_spikes_per_neuron": history[-1]["spikes_per_neuron"],
                "allreduce_per_step": calls / steps,
                "bytes_reduced_per_step": sent / max(calls, 1),
                # in training (waits for the slower rank too), and alone after a barrier
                "allreduce_ms_in_training": 1e3 * waited / max(calls, 1),
                "allreduce_ms_alone": pure_ms}),
                flush=True)


def _pure_allreduce_ms(comm, nbytes: int, repeats: int = 50) -> float | None:
    """Milliseconds of one Allreduce of ``nbytes`` with every rank ready (None: 1 rank)."""
    if comm.size == 1:
        return None
    import time
    import numpy as np
    buffer = {"g": np.zeros(max(nbytes // 8, 1))}
    comm.barrier()
    t0 = time.perf_counter()
    for _ in range(repeats):
        comm.sum(buffer)
    return 1e3 * (time.perf_counter() - t0) / repeats


def launch(ranks: int, threads: int, limit: int | None) -> dict:
    cmd = [sys.executable, __file__, "--child"] + (["--limit", str(limit)] if limit else [])
    if ranks > 1:
        exe = shutil.which("mpiexec") or shutil.which("mpirun")
        if exe is None:
            raise SystemExit("bench_mpi: no mpiexec/mpirun on PATH (pip install -e '.[mpi]')")
        cmd = [exe, "-n", str(ranks)] + cmd
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"bench_mpi: {ranks} rank(s) x {threads} thread(s) failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


#: SSC's training split, and what its network (700 -> 256 -> 35, learned input delays)
#: reduces per optimiser step in float64: input weights and delays, output weights
SSC_SAMPLES = 75_466
SSC_BYTES_PER_STEP = 8 * (700 * 256 * 2 + 256 * 35)


def projection(seconds_per_sample: float, bytes_rawhd: int, bandwidth_gbs: float,
               latency_us: float) -> dict:
    """Projected seconds per SSC-sized epoch at batch 256 on 8 and 64 single-core ranks:
    compute (``seconds_per_sample`` of one core, measured) / ranks, plus one ring Allreduce
    per step, ``2 (N-1)/N bytes / bandwidth + 2 (N-1) latency``. Assumes RawHD's cost
    per sample (an SSC sample has more input events) and no load imbalance."""
    steps = -(-SSC_SAMPLES // 256)
    out = {}
    for ranks in (8, 64):
        compute = SSC_SAMPLES * seconds_per_sample / ranks
        for name, nbytes in (("rawhd_net", bytes_rawhd), ("ssc_net", SSC_BYTES_PER_STEP)):
            reduce = (2 * (ranks - 1) / ranks * nbytes / (bandwidth_gbs * 1e9)
                      + 2 * (ranks - 1) * latency_us * 1e-6)
            out[f"ssc_epoch_s_{ranks}ranks_{name}"] = round(compute + steps * reduce, 2)
            out[f"allreduce_share_{ranks}ranks_{name}"] = round(
                steps * reduce / (compute + steps * reduce), 3)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N training samples only")
    ap.add_argument("--out", default=None, help="append JSON lines to this file")
    ap.add_argument("--bandwidth-gbs", type=float, default=10.0,
                    help="cluster network bandwidth for the projection (GB/s; 10: 100 Gb/s "
                         "InfiniBand)")
    ap.add_argument("--latency-us", type=float, default=2.0,
                    help="cluster network latency per message for the projection (us)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.limit)
        return
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise SystemExit("bench_mpi: mpi4py is not installed (pip install -e '.[mpi]')")
    one = launch(1, 2, args.limit)
    two = launch(2, 1, args.limit)
    record = {"benchmark": "mpi", "data": one["data"], "samples": one["samples"], "batch": 32,
              "s_per_epoch_1rank_2threads": round(one["s_per_epoch"], 3),
              "s_per_epoch_2ranks_1thread": round(two["s_per_epoch"], 3),
              "ratio_2ranks_vs_1rank": round(two["s_per_epoch"] / one["s_per_epoch"], 2),
              "allreduce_per_step": round(two["allreduce_per_step"], 2),
              "bytes_reduced_per_step": int(two["bytes_reduced_per_step"]),
              "allreduce_ms_in_training": round(two["allreduce_ms_in_training"], 3),
              "allreduce_ms_alone": round(two["allreduce_ms_alone"], 3),
              "hidden_spikes_per_neuron": [round(one["hidden_spikes_per_neuron"], 3),
                                           round(two["hidden_spikes_per_neuron"], 3)]}
    per_sample = two["s_per_epoch"] * 2 / two["samples"]        # one core
    record.update(projection(per_sample, int(two["bytes_reduced_per_step"]),
                             args.bandwidth_gbs, args.latency_us),
                  projection_assumes={"bandwidth_gbs": args.bandwidth_gbs,
                                      "latency_us": args.latency_us, "batch": 256,
                                      "seconds_per_sample_one_core": round(per_sample, 6)})
    emit(record, args.out)


if __name__ == "__main__":
    main()
