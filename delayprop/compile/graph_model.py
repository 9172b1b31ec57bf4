"""Build and run a :class:`~delayprop.graph.NetworkGraph` with delayprop's own engine.

The same inputs and outputs as :func:`delayprop.reference.simulate_brian2`, so a network
can be simulated by both and compared spike for spike.

Inputs: ``{population: value}`` where a ``spike_source`` takes a list (one entry per
batch instance) of ``(steps, ids)`` integer arrays — the neuron emits in step ``steps[i]``
— and a ``graded_input`` takes an array ``[batch, num_steps, size]`` (an event of that
value in each step where it is non-zero).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from delayprop.compile._groups import init_postsynaptic, init_weight_update
from delayprop.compile.model import Model
from delayprop.errors import ConfigError, DataError
from delayprop.genn_models import (LIF, ExpCurr, GradedInput, LeakyIntegrator,
                                   SpikeSourceArray, StaticPulseGradedDendriticDelay,
                                   create_weight_update_model)
from delayprop.genn_models.spec import VarAccess
from delayprop.graph import NetworkGraph

__all__ = ["model_from_graph", "simulate_graph", "SimulationResult", "input_batch_size"]

_PULSE = {
    dtype: create_weight_update_model(
        f"StaticPulseDendriticDelay{'' if dtype == 'uint8_t' else '16'}",
        vars=[("g", "scalar", VarAccess.READ_ONLY), ("d", dtype, VarAccess.READ_ONLY)],
        pre_spike_syn_code="addToPostDelay(g, d);")
    for dtype in ("uint8_t", "uint16_t")}


@dataclass
class SimulationResult:
    """``spikes[pop][b] = (steps, ids)`` sorted by step then id; ``v[pop]`` is
    ``[batch, num_steps, size]``, V at the end of each step (after reset)."""
    spikes: dict[str, list[tuple[np.ndarray, np.ndarray]]]
    v: dict[str, np.ndarray]


def input_batch_size(graph: NetworkGraph, inputs: dict) -> int:
    sizes = set()
    for name, value in inputs.items():
        kind = graph.population(name).kind
        sizes.add(len(value) if kind == "spike_source" else np.asarray(value).shape[0])
    if len(sizes) != 1:
        raise DataError(f"all inputs must have the same batch size, got {sorted(sizes)}")
    return sizes.pop()


def model_from_graph(graph: NetworkGraph, batch_size: int, num_steps: int,
                     precision: str = "double", backend: str = "cpu",
                     name: str = "graph") -> Model:
    """A :class:`Model` with the populations and projections of ``graph``."""
    model = Model(precision, name, backend, dt=graph.dt, batch_size=batch_size)
    for p in graph.populations:
        if p.kind == "spike_source":
            model.add_neuron_population(p.name, p.size, SpikeSourceArray)
        elif p.kind == "graded_input":
            model.add_neuron_population(p.name, p.size, GradedInput, {"num_steps": num_steps})
        elif p.kind == "lif":
            model.add_neuron_population(p.name, p.size, LIF, {
                "tau_mem": p.tau_mem, "v_thresh": p.v_thresh, "v_reset": p.v_reset},
                {"V": p.v_init})
        else:
            model.add_neuron_population(p.name, p.size, LeakyIntegrator,
                                        {"tau_mem": p.tau_mem}, {"V": p.v_init})
    for proj in graph.projections:
        graded = graph.population(proj.source).kind == "graded_input"
        if graded:
            wu = StaticPulseGradedDendriticDelay
            delays = proj.delay.astype(np.float64)
        else:
            wu = _PULSE["uint8_t" if proj.max_delay <= 256 else "uint16_t"]
            delays = proj.delay
        sg = model.add_synapse_population(
            proj.name, "SPARSE", proj.source, proj.target,
            init_weight_update(wu, vars={"g": proj.weight, "d": delays}),
            init_postsynaptic(ExpCurr, {"tau": proj.tau_syn}),
            max_dendritic_delay_timesteps=proj.max_delay)
        sg.set_sparse_connections(proj.pre, proj.post)
    for p in graph.populations:
        if p.kind == "lif":
            model.neuron_populations[p.name].spike_recording_enabled = True
    return model


def _set_inputs(model: Model, graph: NetworkGraph, inputs: dict, num_steps: int) -> None:
    for name, value in inputs.items():
        pop = graph.population(name)
        target = model.neuron_populations[name]
        if pop.kind == "spike_source":
            target.set_spikes([(np.asarray(steps, float) * graph.dt, ids)
                               for steps, ids in value])
        elif pop.kind == "graded_input":
            values = np.asarray(value, dtype=np.float64)
            expected = (model.batch_size, num_steps, pop.size)
            if values.shape != expected:
                raise DataError(f"input '{name}': expected shape {expected}, got {values.shape}")
            target.extra_global_params["values"].set_init_values(values.ravel())
        else:
            raise ConfigError(f"'{name}' is a '{pop.kind}' population, not an input")


def simulate_graph(graph: NetworkGraph, inputs: dict, num_steps: int, record_v=(),
                   precision: str = "double", backend: str = "cpu") -> SimulationResult:
    """Simulate ``graph`` for ``num_steps`` steps on the given inputs (see module doc)."""
    batch = input_batch_size(graph, inputs)
    model = model_from_graph(graph, batch, num_steps, precision, backend)
    model.build()
    model.load()
    try:
        _set_inputs(model, graph, inputs, num_steps)
        model.reinitialise()
        v = {name: np.zeros((batch, num_steps, graph.population(name).size))
             for name in record_v}
        if v:
            for k in range(num_steps):
                model.step_time()
                for name in v:
                    var = model.neuron_populations[name].vars["V"]
                    var.pull_from_device()
                    v[name][:, k] = var.view
        else:
            model.run(num_steps)
        spikes = {}
        for p in graph.populations:
            if p.kind == "lif":
                rec = model.neuron_populations[p.name].spike_recording_data
                spikes[p.name] = [(np.rint(t / graph.dt).astype(np.int64), i) for t, i in rec]
        return SimulationResult(spikes, v)
    finally:
        model.unload()
