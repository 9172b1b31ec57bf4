"""mlGeNN-style network description: Network, Population, Connection.

>>> from delayprop.training import Network, Population, Connection
>>> from delayprop.training.neurons import GradedInput, LeakyIntegrateFire, LeakyIntegrate
>>> from delayprop.training.connectivity import Dense
>>> from delayprop.training.initializers import Normal, Uniform
>>> network = Network()
>>> with network:
...     inp = Population(GradedInput(), 40)
...     hid = Population(LeakyIntegrateFire(tau_mem=20.0), 256)
...     out = Population(LeakyIntegrate(tau_mem=20.0), 20)
...     ih = Connection(inp, hid, Dense(Normal(0.0, 0.1)), delay=Uniform(0, 25),
...                     max_delay_steps=25)
...     ho = Connection(hid, out, Dense(Normal(0.0, 0.1)))
>>> [p.name for p in network.populations]
['pop0', 'pop1', 'pop2']

``with network:`` makes new populations and connections belong to it (a ContextVar, so
threads and nested networks do not leak into each other); outside a ``with`` block pass
``network=`` explicitly.
"""
from __future__ import annotations

import contextvars
import math

import numpy as np

from delayprop.delays import check_ring_size
from delayprop.errors import ConfigError
from delayprop.training.connectivity import Connectivity, Dense
from delayprop.training.initializers import Constant, Initializer, Uniform
from delayprop.training.neurons import Neuron
from delayprop.training.synapses import Exponential

__all__ = ["Network", "Population", "Connection"]

_current: contextvars.ContextVar["Network | None"] = contextvars.ContextVar(
    "delayprop_network", default=None)


class Network:
    """A container of populations and connections."""

    def __init__(self):
        self.populations: list[Population] = []
        self.connections: list[Connection] = []
        self._tokens: list = []

    def __enter__(self):
        self._tokens.append(_current.set(self))
        return self

    def __exit__(self, *exc):
        _current.reset(self._tokens.pop())

    def _add(self, obj, kind: str, items: list, prefix: str):
        if obj.name is None:
            obj.name = f"{prefix}{len(items)}"
        if not obj.name.isidentifier() or obj.name.startswith("dp_"):
            raise ConfigError(f"{kind} name {obj.name!r} must be a valid identifier not "
                              f"starting with 'dp_'")
        taken = {p.name for p in self.populations} | {c.name for c in self.connections}
        if obj.name in taken:
            raise ConfigError(f"{kind} name '{obj.name}' is already used in this network")
        items.append(obj)


def _owner(network: Network | None, what: str) -> Network:
    network = network or _current.get()
    if network is None:
        raise ConfigError(f"{what} needs a network: create it inside 'with network:' or pass "
                          f"network=...")
    return network


class Population:
    """``size`` neurons of type ``neuron``."""

    def __init__(self, neuron: Neuron, size: int, name: str | None = None,
                 network: Network | None = None):
        if not isinstance(neuron, Neuron):
            raise ConfigError(f"Population: neuron must be a neuron type (e.g. "
                              f"LeakyIntegrateFire()), got {type(neuron).__name__}")
        if int(size) != size or size < 1:
            raise ConfigError(f"Population: size must be a whole number >= 1, got {size!r}")
        self.neuron, self.size, self.name = neuron, int(size), name
        self.network = _owner(network, "Population")
        self.network._add(self, "population", self.network.populations, "pop")

    def __repr__(self):
        return f"Population({self.name!r}, {type(self.neuron).__name__}, {self.size})"


class Connection:
    """Synapses from ``source`` to ``target``.

    Parameters
    ----------
    connectivity : Connectivity
        ``Dense(weight)``, ``FixedProbability(p, weight)`` or ``FromList(...)``.
    synapse : Exponential
        Postsynaptic current shape (default ``Exponential(5.0)``).
    delay : number, Initializer or array
        Dendritic delay in whole steps (real values are rounded in the forward pass);
        ``0`` by default.
    max_delay_steps : int, optional
        Ring size D: delays lie in ``[0, D - 1]`` (mlGeNN's name for D, not the largest
        delay; see :mod:`delayprop.delays`). Needed when delays are learned; by default
        the smallest D that holds the initial delays.
    """

    def __init__(self, source: Population, target: Population,
                 connectivity: Connectivity | None = None, synapse: Exponential | None = None,
                 delay=0, max_delay_steps: int | None = None, name: str | None = None,
                 network: Network | None = None):
        network = _owner(network, "Connection")
        for end, pop in (("source", source), ("target", target)):
            if not isinstance(pop, Population) or pop.network is not network:
                raise ConfigError(f"Connection: {end} must be a Population of the same "
                                  f"network, got {pop!r}")
        if target.neuron.is_input:
            raise ConfigError(f"Connection: target {target.name} is an input population")
        self.source, self.target = source, target
        self.connectivity = connectivity if connectivity is not None else Dense()
        if not isinstance(self.connectivity, Connectivity):
            raise ConfigError(f"Connection: connectivity must be Dense(...), "
                              f"FixedProbability(...) or FromList(...), got "
                              f"{type(self.connectivity).__name__}")
        self.synapse = synapse if synapse is not None else Exponential(5.0)
        self.delay = delay
        self.max_delay_steps = self._ring_size(delay, max_delay_steps)
        self.name = name
        self.network = network
        network._add(self, "connection", network.connections, "conn")

    @staticmethod
    def _ring_size(delay, max_delay_steps) -> int:
        if max_delay_steps is not None:
            return check_ring_size(max_delay_steps, "Connection", "max_delay_steps")
        if isinstance(delay, Uniform):
            return max(1, math.ceil(delay.high))
        if isinstance(delay, Constant):
            return int(round(delay.value)) + 1
        if isinstance(delay, Initializer):
            raise ConfigError("Connection: give max_delay_steps for a delay initializer "
                              "without a fixed upper bound")
        return int(np.rint(np.max(delay))) + 1 if np.size(delay) else 1

    @property
    def has_delay(self) -> bool:
        return self.max_delay_steps > 1

    def __repr__(self):
        return f"Connection({self.name!r}, {self.source.name} -> {self.target.name})"
