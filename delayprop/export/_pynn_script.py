"""Text of the runnable PyNN script written by :func:`delayprop.export.write_pynn`."""
from __future__ import annotations

import numpy as np

from delayprop import __version__
from delayprop.graph import NetworkGraph

__all__ = ["render", "layers", "late_synapses", "stepped_scales"]

_HEAD = '''#!/usr/bin/env python
"""PyNN network exported by delayprop {version}.

{populations}
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
{late}

Run:  python network.py [--simulator {simulator}] [--spikes input.npz] [--steps N] [--out DIR]
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
DT = {dt!r}  # ms
NUM_STEPS = {num_steps!r}
MAX_DELAY = {max_delay!r}  # ms, the largest synaptic delay
NEVER = 30000.0  # mV, threshold of leaky-integrator readouts: they never fire
LAYER = {layers!r}

# per PyNN backend: extra setup() arguments, input shift and recording lag (steps), and
# whether setup() takes max_delay (sPyNNaker chooses its own delay extensions)
BACKENDS = {{
    "nest": dict(setup=dict(spike_precision="on_grid"), shift=2, lag=1, max_delay=True,
                 stepped=True),
    "spiNNaker": dict(setup={{}}, shift=0, lag=0, max_delay=False, stepped=False),
}}
OTHER = dict(setup={{}}, shift=0, lag=0, max_delay=True, stepped=False)
# NEST integrates tau_m dV/dt = -V + I exactly over a step; delayprop steps it. Scaling the
# weights into each population by STEPPED[pop] = (1 - exp(-DT/tau_m)) * init / P21 (init =
# (tau_s/DT)(1 - exp(-DT/tau_s)), P21 NEST's current-to-V propagator) makes NEST's V
# follow delayprop's discrete update (backends with stepped=True)
STEPPED = {stepped!r}


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
        raise ValueError(f"{{name}}: spike ids must lie in [0, {{size}}) and steps be >= 0, "
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
    spikes = {{}} if spikes is None else spikes
    b = backend(sim)
    limits = dict(max_delay=max(MAX_DELAY, 2 * DT)) if b["max_delay"] else {{}}
    sim.setup(timestep=DT, min_delay=DT, **limits, **b["setup"])
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
    recorded = [name for name in {recorded!r} if name in pops]
    for name in recorded:
        pops[name].record(["spikes", "v"])
    run_steps(sim, args.steps)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {{}}
    for name in recorded:
        arrays[name + "_steps"], arrays[name + "_ids"] = spike_steps(sim, pops[name])
        arrays[name + "_v"] = v_steps(sim, pops[name], args.steps)
        pops[name].write_data(str(out / (name + ".pkl")))
    np.savez(out / "steps.npz", **arrays)
    sim.end()


if __name__ == "__main__":
    main()
'''


def _population_line(graph: NetworkGraph, pop, cell: dict | None) -> str:
    key = repr(pop.name)
    if pop.kind == "spike_source":
        return (f"    pops[{key}] = sim.Population({pop.size}, spike_source(sim, {key}, "
                f"{pop.size}, spikes), label={key})\n")
    params = dict(cell)
    if pop.kind == "li":
        params["v_thresh"] = "NEVER"
    args = ", ".join(f"{k}={v}" if v == "NEVER" else f"{k}={v!r}" for k, v in params.items())
    return (f"    pops[{key}] = sim.Population({pop.size}, sim.IF_curr_exp({args}),\n"
            f"                               initial_values={{'v': {float(pop.v_init)!r}}}, "
            f"label={key})\n")


def layers(graph: NetworkGraph) -> dict[str, int]:
    """Layer of each population: inputs 0, else 1 + the deepest earlier population (in
    ``graph.populations`` order) that projects to it; later or own sources do not count."""
    order = {p.name: i for i, p in enumerate(graph.populations)}
    layer: dict[str, int] = {}
    for pop in graph.populations:
        below = [layer[p.source] for p in graph.incoming(pop.name)
                 if order[p.source] < order[pop.name]]
        layer[pop.name] = 0 if pop.kind in ("spike_source", "graded_input") else \
            1 + max(below, default=0)
    return layer


def stepped_scales(graph: NetworkGraph) -> dict[str, float]:
    """Per lif/li population, the weight factor that makes an exact integrator (NEST's
    iaf_psc_exp, R = 1) follow delayprop's step ``V <- a V + (1 - a) init inSyn``: per
    step, delayprop adds ``(1 - a) init`` times the synaptic current to V, NEST ``P21``."""
    out = {}
    h = graph.dt
    for pop in graph.populations:
        taus = {p.tau_syn for p in graph.incoming(pop.name)}
        if pop.kind not in ("lif", "li") or len(taus) != 1:
            continue
        tm, ts = float(pop.tau_mem), float(taus.pop())
        a = np.exp(-h / tm)
        init = ts / h * -np.expm1(-h / ts)
        if abs(tm - ts) < 1e-12 * tm:
            p21 = h / tm * a
        else:   # tau_s / (tau_m - tau_s) * (exp(-h/tau_m) - exp(-h/tau_s)), cm = tau_m
            p21 = ts / (tm - ts) * (a - np.exp(-h / ts))
        out[pop.name] = float((1 - a) * init / p21)
    return out


def late_synapses(graph: NetworkGraph, layer: dict[str, int]) -> dict[str, int]:
    """Per projection, the synapses that arrive one step late on a backend whose spikes are
    stamped one step late (NEST): those that would need a delay below one step."""
    late = {}
    for p in graph.projections:
        extra = layer[p.target] - layer[p.source] - 1
        n = int(np.count_nonzero(p.delay + 1 + extra < 1))
        if n:
            late[p.name] = n
    return late


def _late_text(late: dict[str, int]) -> str:
    if not late:
        return "none here (every arrival step is delayprop's)."
    items = ", ".join(f"{n} in {name!r}" for name, n in late.items())
    return (f"those synapses get DT and arrive one step late ({items}; recurrent or backward "
            f"projections with delay 0).")


def render(graph: NetworkGraph, manifest: dict, simulator: str, num_steps: int) -> str:
    """The script text for ``graph`` (``manifest`` as written by write_pynn)."""
    cells = {p["name"]: p.get("cell") for p in manifest["populations"]}
    layer = layers(graph)
    delays = [int(p.delay.max()) + max(layer[p.target] - layer[p.source], 1)
              for p in graph.projections if p.num_synapses]
    max_delay = max(delays, default=0) * graph.dt
    listing = "\n".join(f"  {p.name}: {p.size} x {p.kind}" for p in graph.populations)
    text = _HEAD.format(version=__version__, populations="Populations:\n" + listing,
                        simulator=simulator, dt=float(graph.dt), num_steps=num_steps,
                        max_delay=float(max(max_delay, 2 * graph.dt)), layers=layer,
                        late=_late_text(late_synapses(graph, layer)),
                        stepped=stepped_scales(graph))
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
                     f"        connections(sim, {path!r}, {entry['source']!r}, "
                     f"{entry['target']!r}), sim.StaticSynapse(),"
                     f"\n        receptor_type={receptor!r}, label={label})\n")
        if not entry["files"]:
            text += f"    # projection {entry['name']!r} has no synapses: not created\n"
    recorded = sorted(p.name for p in graph.populations
                      if p.kind in ("lif", "li") and p.name in live)
    return text + _TAIL.format(simulator=simulator, recorded=recorded)
