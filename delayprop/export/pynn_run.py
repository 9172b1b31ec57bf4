"""Run a PyNN export in a real PyNN simulator and compare it with delayprop.

:func:`run_pynn_export` loads the ``network.py`` that :func:`~delayprop.export.write_pynn`
wrote and runs it trial by trial (``build``, record, ``run_steps``, ``end``) with
``pyNN.<simulator>``; the script's own ``spike_steps``/``v_steps`` map the recordings back
to delayprop steps (its ``BACKENDS`` table holds each backend's time shift and per-layer
lag, README.md "PyNN backends"). :func:`validate_in_pynn` simulates the original graph in
delayprop's engine on the same inputs and reports spike and class agreement like
:func:`~delayprop.export.validate_export`.
"""
from __future__ import annotations

import importlib
import importlib.util
import itertools
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray

from delayprop.errors import ConfigError, DataError, ExportError
from delayprop.graph import NetworkGraph
from delayprop.reference.brian2_sim import check_inputs
from delayprop.export.pynn import read_pynn
from delayprop.export.validate import (ValidationReport, _check_labels, _check_pair,
                                       _simulate, compare_runs)

__all__ = ["load_script", "pynn_simulator", "run_pynn_export", "validate_in_pynn"]

_count = itertools.count()


def pynn_simulator(name: str):
    """``pyNN.<name>``, or an ExportError saying what to install."""
    try:
        return importlib.import_module("pyNN." + name)
    except ImportError as err:
        raise ExportError(f"running the PyNN export in '{name}' needs PyNN with that backend "
                          f"(pip install 'delayprop[export-sims]' for nest and spiNNaker): "
                          f"{err}") from err


def load_script(export_dir: str | Path):
    """The ``network.py`` of a PyNN export, imported as a module."""
    path = Path(export_dir) / "network.py"
    if not path.is_file():
        raise DataError(f"{export_dir}: no network.py; write the export with write_pynn or "
                        f"'delayprop export RUN --target pynn'")
    spec = importlib.util.spec_from_file_location(f"_delayprop_pynn_{next(_count)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_pynn_export(export_dir: str | Path, inputs: Mapping[str, Any], num_steps: int,
                    simulator: str = "nest", record_v: tuple[str, ...] = ()):
    """Run the export on every batch instance of ``inputs``, one simulation per instance.

    Parameters
    ----------
    export_dir : path
        Folder written by write_pynn.
    inputs : dict
        Spike inputs as for :func:`~delayprop.reference.simulate_brian2`.
    num_steps : int
    simulator : str
        PyNN backend module name (``nest``, ...).
    record_v : tuple of str
        Populations whose V is returned.

    Returns
    -------
    (spikes, v): ``spikes[pop]`` a list over instances of ``(steps, ids)`` for every
    lif population; ``v[pop]`` an array ``[batch, num_steps, size]``.
    """
    graph = read_pynn(export_dir)
    batch, data = check_inputs(graph, inputs, num_steps)
    sim = pynn_simulator(simulator)
    net = load_script(export_dir)
    neurons = [p.name for p in graph.populations if p.kind in ("lif", "li") and p.size]
    spikes: dict[str, list] = {p.name: [] for p in graph.populations if p.kind == "lif"}
    v = {name: np.zeros((batch, num_steps, graph.population(name).size)) for name in record_v}
    quiet = logging.getLogger("PyNN")         # one line per trial about I_syn initial values
    level = quiet.level
    quiet.setLevel(max(level, logging.ERROR))
    try:
        _run_trials(sim, net, data, batch, num_steps, neurons, spikes, v, simulator)
    finally:
        quiet.setLevel(level)
    return spikes, v


def _run_trials(sim, net, data, batch, num_steps, neurons, spikes, v, simulator):
    readouts = [n for n in neurons if n not in spikes]           # li: must never fire
    record_v = tuple(v)
    for b in range(batch):
        trial = {}
        for name, trains in data.items():
            trial[name + "_steps"], trial[name + "_ids"] = trains[b]
        pops, _ = net.build(sim, trial)
        for name in neurons:
            pops[name].record(["spikes", "v"] if name in record_v else "spikes")
        net.run_steps(sim, num_steps)
        for name in spikes:
            if name not in pops:
                spikes[name].append((np.zeros(0, np.int64), np.zeros(0, np.int64)))
                continue
            steps, ids = net.spike_steps(sim, pops[name])
            keep = (steps >= 0) & (steps < num_steps)
            spikes[name].append((steps[keep], ids[keep]))
        for name in readouts:
            if len(net.spike_steps(sim, pops[name])[0]):
                raise ExportError(f"PyNN {simulator}: readout '{name}' reached the never-fire "
                                  f"threshold NEVER = {net.NEVER} mV in instance {b}")
        for name in record_v:
            v[name][b] = net.v_steps(sim, pops[name], num_steps)
        sim.end()


def validate_in_pynn(original_graph: NetworkGraph, export_dir: str | Path,
                     inputs: Mapping[str, Any], num_steps: int,
                     labels: NDArray | None = None, readout: str | None = "output",
                     simulator: str = "nest") -> ValidationReport:
    """Simulate ``original_graph`` in delayprop's engine and the PyNN export in
    ``pyNN.<simulator>`` on the same inputs; compare spikes (identical and within +-1 step)
    and readout classes (argmax of V summed over time).

    Raises
    ------
    ExportError
        The simulator cannot be imported; the export's populations differ.
    ConfigError, DataError
        As for :func:`~delayprop.export.validate_export`.
    """
    exported = read_pynn(export_dir)
    _check_pair(original_graph, exported, readout)
    batch, data = check_inputs(original_graph, inputs, num_steps)
    if labels is not None:
        labels = _check_labels(original_graph, labels, batch, readout)
    if any(p.kind == "graded_input" for p in original_graph.populations):
        raise ConfigError("PyNN exports take spike inputs only (graded inputs are refused at "
                          "export)")
    record = (readout,) if readout else ()
    spk_a, v_a = _simulate(original_graph, data, batch, int(num_steps), readout, 32,
                           "original", "delayprop")
    spk_b, v_b = run_pynn_export(export_dir, data, int(num_steps), simulator, record)
    report = ValidationReport(int(num_steps), batch, simulator=f"PyNN {simulator}",
                              readout=readout)
    vb = None
    if readout is not None:
        vb = v_b[readout]
        if np.isnan(vb).any():
            raise ExportError(f"PyNN {simulator} recorded no V for some steps of '{readout}'")
    compare_runs(report, spk_a, spk_b, v_a, vb, readout, labels)
    return report
