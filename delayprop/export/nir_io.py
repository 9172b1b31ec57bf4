"""NIR export and import (the ``nir`` package, HDF5 files that ``nir.read`` loads).

NIR's ``Delay`` node delays whole channels, so a projection with per-synapse delays becomes
one sparse ``Linear`` (a weight matrix ``[post, pre]`` holding only the synapses of that
delay) followed by one ``Delay`` per distinct delay value d, with
``Delay.delay = (d + 1) * dt`` seconds for every postsynaptic channel (the step order adds
one step: see README.md). Several inputs to a node are summed, as NIR specifies.

Neurons (NIR time constants in seconds, ``tau dv/dt = (v_leak - v) + R I``):

- ``lif`` -> ``CubaLIF`` (``li`` -> a ``CubaLIF`` with ``v_threshold = inf``, which never
  fires: NIR consumers map CubaLIF, rarely CubaLI) with ``tau_syn`` of the incoming projections,
  ``tau_mem``, ``r = 1``, ``v_leak = 0``, ``v_threshold``, ``v_reset`` and
  ``w_in = tau_syn``: NIR's synapse ``tau_syn dI/dt = -I + w_in S`` then jumps by exactly the
  Linear weight per spike, as delayprop's ``I`` jumps by ``w``; the Linear weights are
  delayprop's weights unchanged. A population whose incoming projections differ in
  ``tau_syn`` gets one ``LI`` synapse node per projection (``tau = r = tau_syn``) feeding a
  plain ``LIF``/``LI``; one without inputs is a plain ``LIF``/``LI``.
- inputs -> ``Input``; every ``lif``/``li`` population also feeds an ``Output`` node.

NIR thresholds are ``v > v_threshold``, delayprop's ``V >= v_thresh``; NIR has no initial
state, so ``v_init`` is kept in metadata only. Metadata (graph: ``dt_ms``, populations,
projections; Linear nodes: projection, ``delay_steps``, ``pre``/``post``) lets
:func:`read_nir` restore the exact synapse lists, zero weights included.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from delayprop.errors import DataError, ExportError
from delayprop.graph import NetworkGraph, NeuronGroup, Projection
from delayprop.export.pynn import steps_from_ms

__all__ = ["to_nir", "from_nir", "write_nir", "read_nir"]

FORMAT = "delayprop.nir/1"


def _nir():
    try:
        import nir
    except ImportError as err:
        raise ExportError(f"NIR export needs the 'nir' package (pip install "
                          f"'delayprop[export]'): {err}") from err
    return nir


def _safe(name: str) -> str:
    return name.replace("/", "|")


def _neuron_node(nir, graph: NetworkGraph, pop: NeuronGroup, taus: list[float]):
    n, s = pop.size, 1e-3
    common = dict(r=np.ones(n), v_leak=np.zeros(n))
    meta = {"population": pop.name, "kind": pop.kind, "v_init": float(pop.v_init),
            "v_reset": float(pop.v_reset), "tau_mem_ms": float(pop.tau_mem), "role": "neuron",
            "v_thresh": float(pop.v_thresh) if pop.v_thresh is not None else float("nan")}
    spiking = dict(v_threshold=np.full(n, float(pop.v_thresh)),
                   v_reset=np.full(n, float(pop.v_reset))) if pop.kind == "lif" else {}
    if len(taus) == 1:
        meta["tau_syn_ms"] = float(taus[0])
        if pop.kind == "li":    # a CubaLIF that never fires: consumers map CubaLIF, not CubaLI
            spiking = dict(v_threshold=np.full(n, np.inf), v_reset=np.zeros(n))
        return nir.CubaLIF(tau_syn=np.full(n, taus[0] * s), tau_mem=np.full(n, pop.tau_mem * s),
                           w_in=np.full(n, taus[0] * s), metadata=meta, **common, **spiking)
    plain = nir.LIF if pop.kind == "lif" else nir.LI
    return plain(tau=np.full(n, pop.tau_mem * s), metadata=meta, **common, **spiking)


def _projection_nodes(nir, graph: NetworkGraph, proj: Projection, nodes: dict, edges: list,
                      target_node: str):
    n_pre, n_post = graph.population(proj.source).size, graph.population(proj.target).size
    keys = np.stack([proj.pre, proj.post, proj.delay], axis=1)
    if len(np.unique(keys, axis=0)) != len(keys):
        raise ExportError(f"NIR export: projection '{proj.name}' has several synapses with "
                          f"the same (pre, post, delay); a NIR weight matrix holds one. Merge "
                          f"them (sum their weights) first")
    for d in np.unique(proj.delay):
        sel = proj.delay == d
        weight = np.zeros((n_post, n_pre))
        weight[proj.post[sel], proj.pre[sel]] = proj.weight[sel]
        lin, dly = f"w:{_safe(proj.name)}:d{d}", f"delay:{_safe(proj.name)}:d{d}"
        nodes[lin] = nir.Linear(weight=weight, metadata={
            "projection": proj.name, "delay_steps": int(d), "max_delay": int(proj.max_delay),
            "tau_syn_ms": float(proj.tau_syn), "pre": proj.pre[sel], "post": proj.post[sel]})
        nodes[dly] = nir.Delay(delay=np.full(n_post, (int(d) + 1) * graph.dt * 1e-3))
        edges += [(f"pop:{_safe(proj.source)}", lin), (lin, dly), (dly, target_node)]


def to_nir(graph: NetworkGraph):
    """The NIR graph of ``graph`` (see the module docstring for the mapping)."""
    nir = _nir()
    nodes, edges = {}, []
    for pop in graph.populations:
        key = f"pop:{_safe(pop.name)}"
        if pop.kind in ("spike_source", "graded_input"):
            nodes[key] = nir.Input(input_type={"input": np.array([pop.size])},
                                   metadata={"population": pop.name, "kind": pop.kind})
            continue
        taus = sorted({p.tau_syn for p in graph.incoming(pop.name)})
        nodes[key] = _neuron_node(nir, graph, pop, taus)
        nodes[f"out:{_safe(pop.name)}"] = nir.Output(output_type={"output": np.array([pop.size])})
        edges.append((key, f"out:{_safe(pop.name)}"))
        for proj in graph.incoming(pop.name):
            target = key
            if len(taus) > 1:
                target = f"syn:{_safe(proj.name)}"
                n, tau = pop.size, proj.tau_syn * 1e-3
                nodes[target] = nir.LI(tau=np.full(n, tau), r=np.full(n, tau),
                                       v_leak=np.zeros(n), metadata={
                                           "role": "synapse", "projection": proj.name,
                                           "tau_syn_ms": float(proj.tau_syn)})
                edges.append((target, key))
            _projection_nodes(nir, graph, proj, nodes, edges, target)
    info = [{"name": p.name, "source": p.source, "target": p.target,
             "max_delay": int(p.max_delay), "tau_syn": float(p.tau_syn)}
            for p in graph.projections]
    meta = {"format": FORMAT, "dt_ms": float(graph.dt),
            "populations": json.dumps([p.name for p in graph.populations]),
            "projections": json.dumps(info),
            "delay_rule": "Delay.delay = (d + 1) * dt for a delayprop delay of d steps"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_nir(graph: NetworkGraph, path: str | Path) -> Path:
    """Write ``graph`` as a NIR HDF5 file (``nir.read(path)`` loads it)."""
    nir = _nir()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(str(path), to_nir(graph))
    return path


def read_nir(path: str | Path) -> NetworkGraph:
    """Load a NIR file written by :func:`write_nir` back as a NetworkGraph."""
    nir = _nir()
    try:
        g = nir.read(str(path))
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"{path}: cannot read NIR graph: {err}") from err
    return from_nir(g, where=str(path))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _population(nir, node) -> NeuronGroup:
    m = node.metadata
    name, kind = _text(m["population"]), _text(m["kind"])
    if isinstance(node, nir.Input):
        return NeuronGroup(name, int(np.prod(node.input_type["input"])), kind)
    v_thresh = float(m["v_thresh"])
    size = int(np.asarray(node.output_type["output"]).prod())
    return NeuronGroup(name, size, kind, tau_mem=float(m["tau_mem_ms"]),
                       v_thresh=None if np.isnan(v_thresh) else v_thresh,
                       v_reset=float(m["v_reset"]), v_init=float(m["v_init"]))


def from_nir(g, where: str = "NIR graph") -> NetworkGraph:
    """Convert a NIR graph written by :func:`to_nir` back (exact synapse lists, delays)."""
    nir = _nir()
    meta = g.metadata if isinstance(g.metadata, dict) else {}
    if _text(meta.get("format", "")) != FORMAT:
        raise DataError(f"{where}: not written by delayprop (metadata format "
                        f"{meta.get('format')!r}, expected {FORMAT!r}); dt and the delay "
                        f"convention are unknown")
    dt = float(meta["dt_ms"])
    pops = {}
    for node in g.nodes.values():
        if _text(node.metadata.get("role", "")) != "synapse" and "population" in node.metadata:
            pop = _population(nir, node)
            pops[pop.name] = pop
    follow = {}
    for src, dst in g.edges:
        follow.setdefault(src, []).append(dst)
    parts: dict[str, list] = {}
    for key, node in g.nodes.items():
        if isinstance(node, nir.Linear):
            parts.setdefault(_text(node.metadata["projection"]), []).append(
                _linear_part(node, g, follow, key, dt, where))
    projs = [_join(info, parts.get(info["name"], []))
             for info in json.loads(_text(meta["projections"]))]
    order = json.loads(_text(meta["populations"]))
    return NetworkGraph([pops[n] for n in order], projs, dt=dt)


def _linear_part(node, g, follow, key, dt, where):
    m = node.metadata
    (dly_key,) = follow[key]
    delay_s = np.asarray(g.nodes[dly_key].delay, dtype=np.float64)
    if delay_s.size and np.ptp(delay_s) != 0:
        raise DataError(f"{where}: Delay node '{dly_key}' has unequal channel delays")
    d = int(steps_from_ms(delay_s[:1] * 1e3, dt, 1, where=f"{where}: {dly_key}")[0]) \
        if delay_s.size else int(m["delay_steps"])
    if d != int(m["delay_steps"]):
        raise DataError(f"{where}: Delay node '{dly_key}' gives {d} steps, its Linear's "
                        f"metadata {int(m['delay_steps'])}")
    pre = np.atleast_1d(np.asarray(m["pre"], np.int64))
    post = np.atleast_1d(np.asarray(m["post"], np.int64))
    w = np.asarray(node.weight)
    stray = np.count_nonzero(w) - np.count_nonzero(w[post, pre])
    if stray:
        raise DataError(f"{where}: Linear '{key}' has {stray} non-zero weight(s) outside its "
                        f"listed synapses")
    return dict(pre=pre, post=post, weight=w[post, pre], delay=np.full(len(pre), d))


def _join(info: dict, parts: list) -> Projection:
    cat = {k: np.concatenate([p[k] for p in parts] or [np.zeros(0)])
           for k in ("pre", "post", "weight", "delay")}
    order = np.lexsort((cat["delay"], cat["post"], cat["pre"]))
    return Projection(info["name"], info["source"], info["target"], cat["pre"][order],
                      cat["post"][order], cat["weight"][order], cat["delay"][order],
                      info["max_delay"], info["tau_syn"])
