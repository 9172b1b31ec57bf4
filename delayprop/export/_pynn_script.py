"""Text of the runnable PyNN script written by :func:`delayprop.export.write_pynn`."""
from __future__ import annotations

from delayprop import __version__
from delayprop.graph import NetworkGraph

__all__ = ["render"]

_HEAD = '''#!/usr/bin/env python
"""PyNN network exported by delayprop {version}.

{populations}
Units: times and delays in ms, weights in nA, V in mV (cm = tau_m nF, so R = 1 MOhm and
1 nA -> 1 mV, the model units of delayprop). A delayprop delay of d steps is a PyNN
delay of (d + 1) * DT ms; a spike of step k is a spike at k * DT ms. Leaky-integrator
readouts are IF_curr_exp cells with v_thresh = NEVER.

Run:  python network.py [--simulator {simulator}] [--spikes input.npz] [--steps N] [--out DIR]
      input.npz holds, for each spike source population <pop>, the int arrays
      <pop>_steps and <pop>_ids (neuron <pop>_ids[i] spikes in step <pop>_steps[i]).
Use:  import network; pops, projs = network.build(pyNN.mock)   (any PyNN simulator module)
"""
import argparse
import importlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DT = {dt!r}  # ms
NUM_STEPS = {num_steps!r}
MAX_DELAY = {max_delay!r}  # ms, the largest synaptic delay
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
    spikes = {{}} if spikes is None else spikes
    sim.setup(timestep=DT, min_delay=DT, max_delay=MAX_DELAY)
    pops, projs = {{}}, {{}}
'''

_TAIL = '''    return pops, projs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulator", default={simulator!r},
                        help="PyNN backend module pyNN.<name> (default %(default)s)")
    parser.add_argument("--spikes", help="npz with <pop>_steps and <pop>_ids arrays")
    parser.add_argument("--steps", type=int, default=NUM_STEPS, help="steps to run")
    parser.add_argument("--out", default="pynn_results", help="folder for recorded data")
    args = parser.parse_args(argv)
    sim = importlib.import_module("pyNN." + args.simulator)
    spikes = dict(np.load(args.spikes)) if args.spikes else {{}}
    pops, _ = build(sim, spikes)
    for name, pop in pops.items():
        if name in {recorded!r}:
            pop.record(["spikes", "v"])
    sim.run(args.steps * DT)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, pop in pops.items():
        if name in {recorded!r}:
            pop.write_data(str(out / (name + ".pkl")))
    sim.end()


if __name__ == "__main__":
    main()
'''


def _population_line(graph: NetworkGraph, pop, cell: dict | None) -> str:
    key = repr(pop.name)
    if pop.kind == "spike_source":
        return (f"    pops[{key}] = sim.Population({pop.size}, sim.SpikeSourceArray("
                f"spike_times=spike_times({key}, {pop.size}, spikes)), label={key})\n")
    params = dict(cell)
    if pop.kind == "li":
        params["v_thresh"] = "NEVER"
    args = ", ".join(f"{k}={v}" if v == "NEVER" else f"{k}={v!r}" for k, v in params.items())
    return (f"    pops[{key}] = sim.Population({pop.size}, sim.IF_curr_exp({args}),\n"
            f"                               initial_values={{'v': {float(pop.v_init)!r}}}, "
            f"label={key})\n")


def render(graph: NetworkGraph, manifest: dict, simulator: str, num_steps: int) -> str:
    """The script text for ``graph`` (``manifest`` as written by write_pynn)."""
    cells = {p["name"]: p.get("cell") for p in manifest["populations"]}
    delays = [int(p.delay.max()) for p in graph.projections if p.num_synapses]
    max_delay = (max(delays, default=0) + 1) * graph.dt
    listing = "\n".join(f"  {p.name}: {p.size} x {p.kind}" for p in graph.populations)
    text = _HEAD.format(version=__version__, populations="Populations:\n" + listing,
                        simulator=simulator, dt=float(graph.dt), num_steps=num_steps,
                        max_delay=float(max(max_delay, 2 * graph.dt)))
    live = {p.name for p in graph.populations if p.size > 0}
    for pop in graph.populations:
        if pop.name not in live:
            text += f"    # population {pop.name!r} has no neurons: not created\n"
            continue
        text += _population_line(graph, pop, cells[pop.name])
    for entry in manifest["projections"]:
        for receptor, path in entry["files"].items():
            if entry["source"] not in live or entry["target"] not in live:
                continue
            label = repr(f"{entry['name']}/{receptor}")
            text += (f"    projs[{label}] = sim.Projection(\n"
                     f"        pops[{entry['source']!r}], pops[{entry['target']!r}],\n"
                     f"        sim.FromListConnector(load_list({path!r})), sim.StaticSynapse(),"
                     f"\n        receptor_type={receptor!r}, label={label})\n")
        if not entry["files"]:
            text += f"    # projection {entry['name']!r} has no synapses: not created\n"
    recorded = sorted(p.name for p in graph.populations
                      if p.kind in ("lif", "li") and p.name in live)
    return text + _TAIL.format(simulator=simulator, recorded=recorded)
