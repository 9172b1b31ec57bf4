#!/usr/bin/env python
"""PyNN network exported by delayprop 0.1.0.

Populations:
  input: 40 x spike_source
  hidden: 256 x lif
  output: 20 x li
Units: times and delays in ms, weights in nA, V in mV (cm = tau_m nF, so R = 1 MOhm and
1 nA -> 1 mV, the model units of delayprop). A delayprop delay of d steps is a PyNN
delay of (d + 1) * DT ms; a spike of step k is a spike at k * DT ms. Leaky-integrator
readouts are IF_curr_exp cells with v_thresh = NEVER.

Run:  python network.py [--simulator spiNNaker] [--spikes input.npz] [--steps N] [--out DIR]
      input.npz holds, for each spike source population <pop>, the int arrays
      <pop>_steps and <pop>_ids (neuron <pop>_ids[i] spikes in step <pop>_steps[i]).
Use:  import network; pops, projs = network.build(pyNN.mock)   (any PyNN simulator module)
"""
import argparse
import importlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DT = 1.0  # ms
NUM_STEPS = 80
MAX_DELAY = 16.0  # ms, the largest synaptic delay
NEVER = 1e30  # threshold of leaky-integrator readouts: they never fire


def load_list(path):
    """(pre, post, weight [nA], delay [ms]) tuples of one connection list file."""
    rows = np.loadtxt(HERE / path, ndmin=2).reshape(-1, 4)
    return [(int(i), int(j), float(w), float(d)) for i, j, w, d in rows]


def spike_times(name, size, spikes):
    """One Sequence of spike times (ms) per neuron of spike source population `name`."""
    from pyNN.parameters import Sequence
    steps = np.asarray(spikes.get(name + "_steps", []), dtype=float)
    ids = np.asarray(spikes.get(name + "_ids", []), dtype=int)
    return [Sequence(np.sort(steps[ids == i]) * DT) for i in range(size)]


def build(sim, spikes=None):
    """Create every population and projection with PyNN simulator module `sim`.

    Returns (populations, projections), dicts keyed by name ("<projection>/<receptor>").
    """
    spikes = {} if spikes is None else spikes
    sim.setup(timestep=DT, min_delay=DT, max_delay=MAX_DELAY)
    pops, projs = {}, {}
    pops['input'] = sim.Population(40, sim.SpikeSourceArray(spike_times=spike_times('input', 40, spikes)), label='input')
    pops['hidden'] = sim.Population(256, sim.IF_curr_exp(tau_m=20.0, cm=20.0, v_rest=0.0, v_reset=0.0, v_thresh=1.0, tau_refrac=0.0, tau_syn_E=5.0, tau_syn_I=5.0, i_offset=0.0),
                               initial_values={'v': 0.0}, label='hidden')
    pops['output'] = sim.Population(20, sim.IF_curr_exp(tau_m=20.0, cm=20.0, v_rest=0.0, v_reset=0.0, v_thresh=NEVER, tau_refrac=0.0, tau_syn_E=5.0, tau_syn_I=5.0, i_offset=0.0),
                               initial_values={'v': 0.0}, label='output')
    projs['input_hidden/excitatory'] = sim.Projection(
        pops['input'], pops['hidden'],
        sim.FromListConnector(load_list('connections/input_hidden_excitatory.txt')), sim.StaticSynapse(),
        receptor_type='excitatory', label='input_hidden/excitatory')
    projs['input_hidden/inhibitory'] = sim.Projection(
        pops['input'], pops['hidden'],
        sim.FromListConnector(load_list('connections/input_hidden_inhibitory.txt')), sim.StaticSynapse(),
        receptor_type='inhibitory', label='input_hidden/inhibitory')
    projs['hidden_output/excitatory'] = sim.Projection(
        pops['hidden'], pops['output'],
        sim.FromListConnector(load_list('connections/hidden_output_excitatory.txt')), sim.StaticSynapse(),
        receptor_type='excitatory', label='hidden_output/excitatory')
    projs['hidden_output/inhibitory'] = sim.Projection(
        pops['hidden'], pops['output'],
        sim.FromListConnector(load_list('connections/hidden_output_inhibitory.txt')), sim.StaticSynapse(),
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
    for name, pop in pops.items():
        if name in ['hidden', 'output']:
            pop.record(["spikes", "v"])
    sim.run(args.steps * DT)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, pop in pops.items():
        if name in ['hidden', 'output']:
            pop.write_data(str(out / (name + ".pkl")))
    sim.end()


if __name__ == "__main__":
    main()
