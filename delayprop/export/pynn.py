"""PyNN export: ``FromListConnector`` lists and a runnable script that builds the network.

Written into ``out_dir``:

``connections/<projection>_<receptor>.txt``
    ``pre post weight delay`` rows (``%.17g``, so values survive the round trip): weight
    in nA, delay in ms. Excitatory (``w >= 0``) and inhibitory (``w < 0``) synapses are in
    separate files and separate PyNN projections, because sPyNNaker ignores the sign and
    uses only the receptor type; inhibitory weights keep their negative sign, as PyNN
    requires for current-based inhibitory synapses.
``network.py``
    ``build(sim, spikes=None)`` creates every population and projection with a PyNN
    simulator module ``sim`` (``pyNN.spiNNaker``, ``pyNN.nest``, ``pyNN.mock``, ...);
    ``python network.py --simulator nest --spikes input.npz`` runs it.
``network.json``
    The manifest :func:`read_pynn` uses to load the export back as a NetworkGraph.

Mapping (model units -> PyNN): ``IF_curr_exp`` with ``tau_m = tau_mem``, ``cm = tau_mem``
(nF), hence R = tau_m / cm = 1 MOhm and 1 nA -> 1 mV; ``v_rest = 0``, ``v_thresh``,
``v_reset``, initial ``v = v_init`` in mV; ``tau_refrac = 0``; ``tau_syn_E = tau_syn_I`` =
the projections' ``tau_syn``. ``li`` readouts are ``IF_curr_exp`` with ``v_thresh = NEVER``
(30000 mV: finite, within SpiNNaker's s16.15, never reached). Spike sources are
``SpikeSourceArray``; a spike of step k is at ``(k + shift) * dt`` ms, ``shift`` per backend
(2 on NEST, see the script's ``BACKENDS`` and README.md, "PyNN backends"). A synapse of
delay d steps gets ``(d + 1) * dt`` ms (see README.md: the step order adds one step); on
NEST, whose spikes are stamped one step late, each projection's delays also absorb the
difference of the layers it joins (the script's ``LAYER``). PyNN simulators integrate the
continuous model, so V differs slightly from delayprop's discrete steps and a spike near
threshold can move; :func:`~delayprop.export.pynn_run.validate_in_pynn` measures it, and
the exact check of the files is :func:`validate_export` in Brian2.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from delayprop import __version__
from delayprop.errors import DataError, ExportError
from delayprop.graph import NetworkGraph, NeuronGroup, Projection

__all__ = ["write_pynn", "read_pynn", "pynn_delay_ms", "steps_from_ms"]

FORMAT = "delayprop.pynn/1"
NEVER = 30000.0  # mV: finite (s16.15 on SpiNNaker holds it), never reached by a readout
RECEPTORS = ("excitatory", "inhibitory")


def pynn_delay_ms(delay_steps, dt: float):
    """PyNN delay in ms of a delayprop delay of ``d`` steps: ``(d + 1) * dt``."""
    return (np.asarray(delay_steps) + 1) * dt


def steps_from_ms(delay_ms, dt: float, offset: int = 1, where: str = "") -> np.ndarray:
    """Inverse of the delay mapping: ``round(delay / dt) - offset``, never truncated.

    Raises DataError when a delay is not a whole number of ticks (to 1e-6 of a tick).
    """
    ticks = np.asarray(delay_ms, dtype=np.float64) / dt
    whole = np.rint(ticks)
    if ticks.size and np.abs(ticks - whole).max() > 1e-6:
        bad = ticks[np.argmax(np.abs(ticks - whole))]
        raise DataError(f"{where}: delay {bad * dt} ms is not a whole number of {dt} ms ticks")
    return whole.astype(np.int64) - offset


def _check_exportable(graph: NetworkGraph):
    for pop in graph.populations:
        if pop.kind == "graded_input":
            raise ExportError(f"PyNN export: population '{pop.name}' is a graded_input; PyNN "
                              f"has no valued events. Encode it as spikes (spike_source) or "
                              f"export to NIR")
        taus = sorted({p.tau_syn for p in graph.incoming(pop.name)})
        if len(taus) > 1:
            raise ExportError(f"PyNN export: population '{pop.name}' receives projections "
                              f"with tau_syn {taus} ms; IF_curr_exp has one tau_syn per "
                              f"receptor type. Give its incoming projections one tau_syn")


def _cell_params(graph: NetworkGraph, pop: NeuronGroup) -> dict:
    taus = {p.tau_syn for p in graph.incoming(pop.name)}
    tau_syn = float(taus.pop()) if taus else 5.0
    return {"tau_m": float(pop.tau_mem), "cm": float(pop.tau_mem), "v_rest": 0.0,
            "v_reset": float(pop.v_reset),
            "v_thresh": float(pop.v_thresh) if pop.kind == "lif" else NEVER,
            "tau_refrac": 0.0, "tau_syn_E": tau_syn, "tau_syn_I": tau_syn, "i_offset": 0.0}


def _write_lists(proj: Projection, dt: float, folder: Path) -> dict:
    files = {}
    for receptor, mask in zip(RECEPTORS, (proj.weight >= 0, proj.weight < 0)):
        if not mask.any():
            continue
        name = f"{proj.name}_{receptor}".replace("/", "_")
        rows = np.column_stack([proj.pre[mask], proj.post[mask], proj.weight[mask],
                                pynn_delay_ms(proj.delay[mask], dt)])
        header = (f"projection '{proj.name}' ({proj.source} -> {proj.target}), {receptor}, "
                  f"{int(mask.sum())} synapses\ncolumns: pre post weight[nA] delay[ms]; "
                  f"delay = (d + 1) * dt, dt = {dt} ms")
        np.savetxt(folder / f"{name}.txt", rows, fmt=["%d", "%d", "%.17g", "%.17g"],
                   header=header)
        files[receptor] = f"connections/{name}.txt"
    return files


def write_pynn(graph: NetworkGraph, out_dir: str | Path, *, simulator: str = "nest",
               num_steps: int = 100) -> Path:
    """Write connection lists, a runnable PyNN script and a manifest into ``out_dir``.

    Parameters
    ----------
    graph : NetworkGraph
        Only ``spike_source``, ``lif`` and ``li`` populations; one ``tau_syn`` per target.
    out_dir : path
    simulator : str
        Default PyNN backend of the script (``spiNNaker``, ``nest``, ``brian2``, ``mock``).
    num_steps : int
        Default run length of the script, in steps.

    Returns
    -------
    Path of ``network.py``.

    Raises
    ------
    ExportError
        Graded inputs, or a population whose incoming projections differ in tau_syn.
    """
    _check_exportable(graph)
    out = Path(out_dir)
    (out / "connections").mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "delayprop": __version__, "dt": graph.dt,
                "delay_rule": "PyNN delay [ms] = (d + 1) * dt for a delayprop delay of d steps",
                "populations": [], "projections": []}
    for pop in graph.populations:
        entry = {"name": pop.name, "kind": pop.kind, "size": pop.size,
                 "tau_mem": pop.tau_mem, "v_thresh": pop.v_thresh, "v_reset": pop.v_reset,
                 "v_init": pop.v_init}
        if pop.kind in ("lif", "li"):
            entry["cell"] = _cell_params(graph, pop)
        manifest["populations"].append(entry)
    for proj in graph.projections:
        manifest["projections"].append({
            "name": proj.name, "source": proj.source, "target": proj.target,
            "tau_syn": proj.tau_syn, "max_delay": proj.max_delay,
            "synapses": proj.num_synapses,
            "files": _write_lists(proj, graph.dt, out / "connections")})
    (out / "network.json").write_text(json.dumps(manifest, indent=1))
    script = out / "network.py"
    script.write_text(_script(graph, manifest, simulator, int(num_steps)))
    return script


def read_pynn(out_dir: str | Path) -> NetworkGraph:
    """Load a :func:`write_pynn` export back (weights in nA = model units, delays in steps).

    Synapses come back sorted by (pre, post, delay) within each projection.
    """
    out = Path(out_dir)
    try:
        manifest = json.loads((out / "network.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{out}: no readable PyNN export manifest network.json: {err}") from err
    if manifest.get("format") != FORMAT:
        raise DataError(f"{out}/network.json: format {manifest.get('format')!r}, expected "
                        f"{FORMAT!r}")
    dt = float(manifest["dt"])
    pops = [NeuronGroup(p["name"], p["size"], p["kind"], tau_mem=p["tau_mem"],
                        v_thresh=p["v_thresh"], v_reset=p["v_reset"], v_init=p["v_init"])
            for p in manifest["populations"]]
    projs = []
    for p in manifest["projections"]:
        rows = [np.loadtxt(out / f, ndmin=2).reshape(-1, 4) for f in p["files"].values()]
        rows = np.concatenate(rows) if rows else np.zeros((0, 4))
        rows = rows[np.lexsort((rows[:, 3], rows[:, 1], rows[:, 0]))]
        delay = steps_from_ms(rows[:, 3], dt, 1, where=f"projection '{p['name']}'")
        projs.append(Projection(p["name"], p["source"], p["target"], rows[:, 0].astype(int),
                                rows[:, 1].astype(int), rows[:, 2], delay, p["max_delay"],
                                p["tau_syn"]))
    return NetworkGraph(pops, projs, dt=dt)


def _script(graph: NetworkGraph, manifest: dict, simulator: str, num_steps: int) -> str:
    from delayprop.export._pynn_script import render
    return render(graph, manifest, simulator, num_steps)
