"""A plain, simulator-independent description of a trained or built network.

:class:`NetworkGraph` is the interchange format between the parts of delayprop that do not
need the model language: export writers (PyNN, NIR, NPZ), the Brian2 re-simulation used for
validation, the analysis of receptive fields. It holds what a neuromorphic target or another
simulator needs: neuron kinds with their parameters, and every synapse as
(pre, post, weight, delay) lists.

Semantics are those of docs/design.md ("Step order", "Delay mapping"): time is discrete
with step ``dt`` (ms); a spike emitted by a presynaptic neuron in step k through a synapse
of delay ``d`` (whole steps, ``0 <= d < max_delay``) is added to the postsynaptic
exponential current in step ``k + 1 + d``; LIF: ``V <- alpha V + (1 - alpha) Isyn`` with
``alpha = exp(-dt / tau_mem)``, spike when ``V >= v_thresh``, then ``V <- v_reset``.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from delayprop.delays import check_ring_size
from delayprop.errors import ConfigError, DataError, UnknownNameError
from delayprop.storage import commit, read_npz, temporary

__all__ = ["NEURON_KINDS", "NeuronGroup", "Projection", "NetworkGraph", "save_graph",
           "load_graph"]

#: ``spike_source``: emits given spikes; ``graded_input``: emits a value per step (zero = no
#: event), synapses add ``weight * value``; ``lif``: leaky integrate-and-fire;
#: ``li``: leaky integrator (readout, never spikes).
NEURON_KINDS = ("spike_source", "graded_input", "lif", "li")


@dataclass(frozen=True)
class NeuronGroup:
    """A population.

    Parameters
    ----------
    name : str
        Unique name of the population.
    size : int
        Number of neurons (>= 0).
    kind : {'spike_source', 'graded_input', 'lif', 'li'}
    tau_mem : float, optional
        Membrane time constant in ms (``lif`` and ``li`` only).
    v_thresh : float, optional
        Firing threshold (``lif`` only), model units.
    v_reset : float
        Reset value after a spike (``lif`` only).
    v_init : float
        Membrane value at the start of every trial.
    """
    name: str
    size: int
    kind: str
    tau_mem: float | None = None
    v_thresh: float | None = None
    v_reset: float = 0.0
    v_init: float = 0.0

    def __post_init__(self):
        if self.kind not in NEURON_KINDS:
            raise ConfigError(f"population '{self.name}': kind must be one of "
                              f"{NEURON_KINDS}, got {self.kind!r}")
        if int(self.size) != self.size or self.size < 0:
            raise ConfigError(f"population '{self.name}': size must be a whole number >= 0, "
                              f"got {self.size!r}")
        if self.kind in ("lif", "li") and not (self.tau_mem and self.tau_mem > 0):
            raise ConfigError(f"population '{self.name}': tau_mem must be > 0 ms for kind "
                              f"'{self.kind}', got {self.tau_mem!r}")
        if self.kind == "lif" and self.v_thresh is None:
            raise ConfigError(f"population '{self.name}': a 'lif' population needs v_thresh")


@dataclass(frozen=True, eq=False)
class Projection:
    """All synapses from one population to another, as parallel lists.

    Parameters
    ----------
    name : str
    source, target : str
        Population names.
    pre, post : array of int
        Presynaptic and postsynaptic neuron index of each synapse.
    weight : array of float
        Weight added to the postsynaptic current per event (model units).
    delay : array of int
        Dendritic delay in whole steps, ``0 <= delay < max_delay``.
    max_delay : int
        Ring size D of the group, not the largest delay: delays lie in ``0..D-1``
        (GeNN's ``max_dendritic_delay_timesteps``; see :mod:`delayprop.delays`).
    tau_syn : float
        Time constant of the exponential postsynaptic current, ms.
    """
    name: str
    source: str
    target: str
    pre: NDArray[np.int64]
    post: NDArray[np.int64]
    weight: NDArray[np.float64]
    delay: NDArray[np.int64]
    max_delay: int
    tau_syn: float

    def __post_init__(self):
        for key in ("pre", "post", "delay"):
            object.__setattr__(self, key, np.asarray(getattr(self, key), dtype=np.int64))
        object.__setattr__(self, "weight", np.asarray(self.weight, dtype=np.float64))
        n = len(self.pre)
        for key in ("post", "weight", "delay"):
            if len(getattr(self, key)) != n:
                raise ConfigError(f"projection '{self.name}': '{key}' has "
                                  f"{len(getattr(self, key))} entries, 'pre' has {n}")
        check_ring_size(self.max_delay, f"projection '{self.name}'", "max_delay")
        if n and (self.delay.min() < 0 or self.delay.max() >= self.max_delay):
            raise ConfigError(f"projection '{self.name}': delays must lie in "
                              f"[0, {self.max_delay - 1}], got [{self.delay.min()}, "
                              f"{self.delay.max()}]")
        if not self.tau_syn > 0:
            raise ConfigError(f"projection '{self.name}': tau_syn must be > 0 ms, "
                              f"got {self.tau_syn!r}")

    @property
    def num_synapses(self) -> int:
        return len(self.pre)


@dataclass(frozen=True)
class NetworkGraph:
    """Populations and projections of one network, with the step ``dt`` in ms."""
    populations: tuple[NeuronGroup, ...]
    projections: tuple[Projection, ...] = field(default_factory=tuple)
    dt: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "populations", tuple(self.populations))
        object.__setattr__(self, "projections", tuple(self.projections))
        names = [p.name for p in self.populations]
        if len(set(names)) != len(names):
            raise ConfigError(f"population names must be unique, got {names}")
        sizes = dict(zip(names, (p.size for p in self.populations)))
        for proj in self.projections:
            for end, pop, idx in (("source", proj.source, proj.pre),
                                  ("target", proj.target, proj.post)):
                if pop not in sizes:
                    raise ConfigError(f"projection '{proj.name}': {end} '{pop}' is not a "
                                      f"population; known: {names}")
                if len(idx) and (idx.min() < 0 or idx.max() >= sizes[pop]):
                    raise ConfigError(f"projection '{proj.name}': {end} index out of range "
                                      f"[0, {sizes[pop]}) for population '{pop}'")
            if self.population(proj.target).kind not in ("lif", "li"):
                raise ConfigError(f"projection '{proj.name}': target '{proj.target}' is an "
                                  f"input population and cannot receive synapses")

    def population(self, name: str) -> NeuronGroup:
        for pop in self.populations:
            if pop.name == name:
                return pop
        raise UnknownNameError(f"no population '{name}'; known: "
                               f"{[p.name for p in self.populations]}")

    def incoming(self, name: str) -> list[Projection]:
        return [p for p in self.projections if p.target == name]

    def outgoing(self, name: str) -> list[Projection]:
        return [p for p in self.projections if p.source == name]


_GRAPH_FORMAT = "delayprop.NetworkGraph/1"
_ARRAYS = ("pre", "post", "weight", "delay")


def save_graph(path: str | os.PathLike, graph: NetworkGraph) -> Path:
    """Write ``graph`` to an ``.npz`` file atomically (a killed write leaves no file).

    Metadata (populations, projection scalars, dt) is stored as JSON under ``meta``;
    the synapse lists as ``<projection>/<pre|post|weight|delay>``.
    """
    path = Path(path)
    meta = {"format": _GRAPH_FORMAT, "dt": graph.dt,
            "populations": [asdict(p) for p in graph.populations],
            "projections": [{"name": p.name, "source": p.source, "target": p.target,
                             "max_delay": int(p.max_delay), "tau_syn": float(p.tau_syn)}
                            for p in graph.projections]}
    arrays = {f"{p.name}/{key}": getattr(p, key) for p in graph.projections for key in _ARRAYS}
    commit(temporary(path, lambda f: np.savez_compressed(f, meta=np.array(json.dumps(meta)),
                                                         **arrays)), path)
    return path


def load_graph(path: str | os.PathLike) -> NetworkGraph:
    """Read a graph written by :func:`save_graph`."""
    path = Path(path)
    data = read_npz(path, "network graph")      # empty, truncated, other content: named
    try:
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != _GRAPH_FORMAT:
            raise DataError(f"{path}: not a delayprop network graph "
                            f"(format {meta.get('format')!r}, expected {_GRAPH_FORMAT!r})")
        projections = [Projection(**p, **{k: data[f"{p['name']}/{k}"] for k in _ARRAYS})
                       for p in meta["projections"]]
    except (KeyError, ValueError, AttributeError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"{path}: cannot read network graph: {err}") from err
    populations = [NeuronGroup(**p) for p in meta["populations"]]
    return NetworkGraph(populations, projections, dt=meta["dt"])
