"""Trains a tiny network in double precision and writes what it learned (run by
test_mpi.py, alone or under mpirun; rank 0 writes). Usage:

    python mpi_worker.py OUT.npz {plain,rigl,graded} EPOCHS [--load CKPT] [--save CKPT]

``graded``: graded input with a channel-shift augmentation drawn for every batch.
"""
import argparse
import json

import numpy as np

from delayprop.training import (Adam, ChannelShift, Connection, Dense, EventPropCompiler,
                                FixedProbability, GradedInput, LeakyIntegrate,
                                LeakyIntegrateFire, Network,
                                Normal, Population, RigL, SoftmaxCrossEntropy, SpikeInput,
                                Uniform, load_checkpoint, save_checkpoint)

T, C, H, D = 30, 8, 12, 6
SAMPLES, BATCH = 21, 5          # the last batch holds 1 sample: one rank has none of it


def task(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = (rng.random((n, T, C)) < 0.05).astype(np.float32)
    for i in range(n):
        x[i, rng.integers(2, 10, 4) + 14 * y[i], np.arange(4)] = 1.0
    return x, y


def build(kind):
    net = Network()
    with net:
        inp = Population(GradedInput() if kind == "graded" else SpikeInput(), C,
                         name="input")
        hid = Population(LeakyIntegrateFire(10.0, 1.0), H, name="hidden")
        out = Population(LeakyIntegrate(10.0), 2, name="output")
        conn = Dense(Normal(0.5, 0.6)) if kind in ("plain", "graded") else \
            FixedProbability(Normal(0.0, 1.5), p=0.3)
        ih = Connection(inp, hid, conn, delay=Uniform(0, D - 1), max_delay_steps=D, name="ih")
        Connection(hid, out, Dense(Normal(0.0, 0.5)), name="ho")
    extra = {"reg_lambda": 0.05, "reg_nu_upper": 1.0} if kind != "rigl" else {"rewiring": {ih: RigL(fan_in=4, l1=0.05, every_batches=2,
                                    regrow_delay="gradient")}}
    if kind == "plain" and "dropout" in EventPropCompiler.__dataclass_fields__:
        extra["dropout"] = 0.1        # drawn for the global batch; each rank keeps its rows
    comp = EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, Adam(0.05), batch_size=BATCH,
                             delay_learning=True, precision="double", seed=3,
                             delay_optimiser=Adam(0.5), **extra)
    return comp.compile(net, f"mpi_{kind}"), inp, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("kind", choices=("plain", "rigl", "graded"))
    ap.add_argument("epochs", type=int)
    ap.add_argument("--load")
    ap.add_argument("--save")
    a = ap.parse_args()
    net, inp, out = build(a.kind)
    x, y = task(SAMPLES, 0)
    xv, yv = task(7, 1)
    if a.load:
        load_checkpoint(a.load, net)
    augment = {inp: ChannelShift(2)} if a.kind == "graded" else None
    history = net.train({inp: x}, {out: y}, a.epochs, validation_x={inp: xv},
                        validation_y={out: yv}, augment=augment)
    result = {f"{c}.{v}": net.param(c, v).copy() for c in ("ih", "ho") for v in ("g", "d")
              if v == "g" or c in net.delays}
    for name, rw in net.rewired.items():
        result[f"{name}.active"] = rw.active
        result[f"{name}.theta"] = rw.theta
        result[f"{name}.delay"] = rw.delay
    if net.comm.is_root:
        if a.save:
            save_checkpoint(a.save, net)
        np.savez(a.out, history=json.dumps(history), ranks=net.comm.size,
                 reductions=net.comm.reductions, **result)
    net.close()


if __name__ == "__main__":
    main()
