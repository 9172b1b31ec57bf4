#!/usr/bin/env python
"""PyNN network exported by delayprop 0.1.0.

Populations:
  input: 40 x spike_source
  hidden: 256 x lif
  output: 20 x li
Units: times and delays in ms, weights in nA, V in mV (cm = tau_m nF, so R = 1 MOhm and
1 nA -> 1 mV, the model units of delayprop). A delayprop delay of d steps is a PyNN
delay of (d + 1) * DT ms. Leaky-integrator readouts are IF_curr_exp cells with
v_thresh = NEVER, a finite threshold (s16.15 fixed point on SpiNNaker holds it) that their
V never reaches.

Time (see BACKENDS; LAYER numbers the populations, inputs 0, each feed-forward layer one
more): an input spike of delayprop step k is a SpikeSourceArray spike at (k + shift) * DT
ms, and a spike or V of delayprop step k of population P appears in the recording at
(k + shift + lag * LAYER[P]) * DT ms; spike_steps() and v_steps() map recordings back to
delayprop steps. On NEST, shift = 2: PyNN-NEST relays SpikeSourceArray spikes through
parrot neurons and takes min_delay = DT off every time, so a time <= DT would be dropped or
refused. lag = 1: NEST stamps a spike of the update step k*DT..(k+1)*DT at its end,
(k + 1) * DT, so each layer adds one step. Delays absorb it: a projection from P to Q gets
(LAYER[Q] - LAYER[P] - 1) * lag * DT added (0 from one layer to the next), which keeps
delayprop's arrival step exactly, except where that would leave a delay below DT:
none here (every arrival step is delayprop's).

Run:  python network.py [--simulator spiNNaker] [--spikes input.npz] [--steps N] [--out DIR]
      input.npz holds, for each spike source population <pop>, the int arrays
      <pop>_steps and <pop>_ids (neuron <pop>_ids[i] spikes in step <pop>_steps[i]).
      DIR gets <pop>.pkl (PyNN's own recording) and steps.npz (<pop>_steps, <pop>_ids of
      every spike and <pop>_v [steps, size], all in delayprop steps).
Use:  import network; pops, projs = network.build(pyNN.nest, spikes)   (any PyNN backend)
"""
import argparse
import importlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DT = 1.0  # ms
NUM_STEPS = 80
MAX_DELAY = 16.0  # ms, the largest synaptic delay
NEVER = 30000.0  # mV, threshold of leaky-integrator readouts: they never fire
LAYER = {'input': 0, 'hidden': 1, 'output': 2}

# per PyNN backend: extra setup() arguments, input shift and recording lag (steps), and
# whether setup() takes max_delay (sPyNNaker chooses its own delay extensions)
BACKENDS = {
    "nest": dict(setup=dict(spike_precision="on_grid"), shift=2, lag=1, max_delay=True,
                 stepped=True),
    "spiNNaker": dict(setup={}, shift=0, lag=0, max_delay=False, stepped=False),
}
OTHER = dict(setup={}, shift=0, lag=0, max_delay=True, stepped=False)
# NEST integrates tau_m dV/dt = -V + I exactly over a step; delayprop steps it. Scaling the
# weights into each population by STEPPED[pop] = (1 - exp(-DT/tau_m)) * init / P21 (init =
# (tau_s/DT)(1 - exp(-DT/tau_s)), P21 NEST's current-to-V propagator) makes NEST's V
# follow delayprop's discrete update (backends with stepped=True)
STEPPED = {'hidden': 1.0008332986792792, 'output': 1.0008332986792792}


def backend(sim):
    """The BACKENDS entry of PyNN simulator module `sim` (pyNN.nest -> 'nest')."""
    return BACKENDS.get(sim.__name__.rsplit(".", 1)[-1], OTHER)


def load_list(path, extra=0, scale=1.0):
    """(pre, post, weight [nA], delay [ms]) tuples of one connection list file; `extra`
    steps are added to every delay, which stays >= DT, and weights are multiplied by
    `scale`."""
    rows = np.loadtxt(HERE / path, ndmin=2).reshape(-1, 4)
    return [(int(i), int(j), float(w) * scale, max(float(d) + extra * DT, DT))
            for i, j, w, d in rows]


def connections(sim, path, source, target):
    """FromListConnector of one list file, with backend `sim`'s delay and weight rules."""
    b = backend(sim)
    extra = b["lag"] * (LAYER[target] - LAYER[source] - 1)
    scale = STEPPED[target] if b["stepped"] else 1.0
    return sim.FromListConnector(load_list(path, extra, scale))


def spike_times(name, size, spikes, shift=0):
    """Per neuron of spike source `name`, a sorted list of plain float times (ms)."""
    steps = np.asarray(spikes.get(name + "_steps", []), dtype=np.int64)
    ids = np.asarray(spikes.get(name + "_ids", []), dtype=np.int64)
    if ids.shape != steps.shape or (ids.size and (ids.min() < 0 or ids.max() >= size
                                                  or steps.min() < 0)):
        raise ValueError(f"{name}: spike ids must lie in [0, {size}) and steps be >= 0, "
                         f"one id per step")
    times = (steps + shift) * DT
    return [[float(t) for t in np.sort(times[ids == i])] for i in range(size)]


def spike_source(sim, name, size, spikes):
    times = spike_times(name, size, spikes, backend(sim)["shift"])
    if sim.__name__.endswith("spiNNaker"):
        # sPyNNaker takes plain lists only, and [] (not [[], ...]) when no neuron spikes
        return sim.SpikeSourceArray(spike_times=times if any(times) else [])
    from pyNN.parameters import Sequence
    return sim.SpikeSourceArray(spike_times=[Sequence(t) for t in times])


def spike_steps(sim, pop):
    """(steps, ids) int arrays of the spikes `pop` recorded, in delayprop steps."""
    late = backend(sim)["shift"] + backend(sim)["lag"] * LAYER[pop.label]
    steps, ids = [], []
    for i, train in enumerate(pop.get_data("spikes", clear=False).segments[-1].spiketrains):
        k = np.rint(np.asarray(train.magnitude, dtype=float) / DT).astype(np.int64)
        steps.append(k - late)
        ids.append(np.full(len(k), i, dtype=np.int64))
    steps = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    order = np.lexsort((ids, steps))
    return steps[order], ids[order]


def v_steps(sim, pop, steps):
    """V [steps, size] of `pop` in delayprop steps (V after the update of each step)."""
    late = backend(sim)["shift"] + backend(sim)["lag"] * LAYER[pop.label]
    signal = pop.get_data("v", clear=False).segments[-1].filter(name="v")[0]
    k = np.rint(np.asarray(signal.times.magnitude, dtype=float) / DT).astype(np.int64)
    rows = k - late
    keep = (rows >= 0) & (rows < steps)
    v = np.full((steps, pop.size), np.nan)
    v[rows[keep]] = np.asarray(signal.magnitude)[keep]
    return v


def run_steps(sim, steps):
    """Run long enough to record delayprop steps 0 .. steps - 1."""
    b = backend(sim)
    sim.run((steps + b["shift"] + b["lag"] * max(LAYER.values())) * DT)


def build(sim, spikes=None):
    """Create every population and projection with PyNN simulator module `sim`.

    Returns (populations, projections), dicts keyed by name ("<projection>/<receptor>").
    """
    spikes = {} if spikes is None else spikes
    b = backend(sim)
    limits = dict(max_delay=max(MAX_DELAY, 2 * DT)) if b["max_delay"] else {}
    sim.setup(timestep=DT, min_delay=DT, **limits, **b["setup"])
    pops, projs = {}, {}
    pops['input'] = sim.Population(40, spike_source(sim, 'input', 40, spikes), label='input')
    pops['hidden'] = sim.Population(256, sim.IF_curr_exp(tau_m=20.0, cm=20.0, v_rest=0.0, v_reset=0.0, v_thresh=1.0, tau_refrac=0.0, tau_syn_E=5.0, tau_syn_I=5.0, i_offset=0.0),
                               initial_values={'v': 0.0}, label='hidden')
    pops['output'] = sim.Population(20, sim.IF_curr_exp(tau_m=20.0, cm=20.0, v_rest=0.0, v_reset=0.0, v_thresh=NEVER, tau_refrac=0.0, tau_syn_E=5.0, tau_syn_I=5.0, i_offset=0.0),
                               initial_values={'v': 0.0}, label='output')
    projs['input_hidden/excitatory'] = sim.Projection(
        pops['input'], pops['hidden'],
        connections(sim, 'connections/input_hidden_excitatory.txt', 'input', 'hidden'), sim.StaticSynapse(),
        receptor_type='excitatory', label='input_hidden/excitatory')
    projs['input_hidden/inhibitory'] = sim.Projection(
        pops['input'], pops['hidden'],
        connections(sim, 'connections/input_hidden_inhibitory.txt', 'input', 'hidden'), sim.StaticSynapse(),
        receptor_type='inhibitory', label='input_hidden/inhibitory')
    projs['hidden_output/excitatory'] = sim.Projection(
        pops['hidden'], pops['output'],
        connections(sim, 'connections/hidden_output_excitatory.txt', 'hidden', 'output'), sim.StaticSynapse(),
        receptor_type='excitatory', label='hidden_output/excitatory')
    projs['hidden_output/inhibitory'] = sim.Projection(
        pops['hidden'], pops['output'],
        connections(sim, 'connections/hidden_output_inhibitory.txt', 'hidden', 'output'), sim.StaticSynapse(),
        receptor_type='inhibitory', label='hidden_output/inhibitory')
    return pops, projs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulator", default='spiNNaker',
                        help="PyNN backend module pyNN.<name> (default %(default)s)")
    parser.add_argument("--spikes", help="npz with <pop>_steps and <pop>_ids arrays")
    parser.add_argument("--steps", type=int, default=NUM_STEPS, help="steps to run")
    parser.add_argument("--out", default="pynn_results", help="folder for recorded data")
    args = parser.parse_args(argv)
    sim = importlib.import_module("pyNN." + args.simulator)
    spikes = dict(np.load(args.spikes)) if args.spikes else {}
    pops, _ = build(sim, spikes)
    recorded = [name for name in ['hidden', 'output'] if name in pops]
    for name in recorded:
        pops[name].record(["spikes", "v"])
    run_steps(sim, args.steps)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name in recorded:
        arrays[name + "_steps"], arrays[name + "_ids"] = spike_steps(sim, pops[name])
        arrays[name + "_v"] = v_steps(sim, pops[name], args.steps)
        pops[name].write_data(str(out / (name + ".pkl")))
    np.savez(out / "steps.npz", **arrays)
    sim.end()


if __name__ == "__main__":
    main()
