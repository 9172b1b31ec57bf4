"""Connectivity of a :class:`~delayprop.training.Connection`: Dense, FixedProbability or
explicit lists, each with its weight (and optionally delay) initialiser."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from delayprop.errors import ConfigError
from delayprop.training.initializers import Initializer, Normal, as_initializer

__all__ = ["Connectivity", "Dense", "FixedProbability", "FromList"]


@dataclass(frozen=True)
class Connectivity:
    weight: Initializer | float = field(default_factory=lambda: Normal(0.0, 1.0))

    #: DENSE or SPARSE layout in the generated code
    matrix_type = "SPARSE"

    def synapses(self, rng, num_pre: int, num_post: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


@dataclass(frozen=True)
class Dense(Connectivity):
    """Every presynaptic neuron to every postsynaptic neuron ([pre, post] layout)."""
    matrix_type = "DENSE"

    def synapses(self, rng, num_pre, num_post):
        pre, post = np.meshgrid(np.arange(num_pre), np.arange(num_post), indexing="ij")
        return pre.ravel(), post.ravel()


@dataclass(frozen=True)
class FixedProbability(Connectivity):
    """Each pair connected independently with probability ``p`` (sparse layout)."""
    p: float = 0.1

    def __post_init__(self):
        if not 0.0 <= self.p <= 1.0:
            raise ConfigError(f"FixedProbability: p must lie in [0, 1], got {self.p}")

    def synapses(self, rng, num_pre, num_post):
        return np.nonzero(rng.random((num_pre, num_post)) < self.p)


@dataclass(frozen=True)
class FromList(Connectivity):
    """Explicit (pre, post) lists (sparse layout); ``weight`` may be an array."""
    pre: tuple = ()
    post: tuple = ()

    def synapses(self, rng, num_pre, num_post):
        pre, post = np.asarray(self.pre, int), np.asarray(self.post, int)
        if pre.shape != post.shape:
            raise ConfigError(f"FromList: {len(pre)} pre but {len(post)} post indices")
        if pre.size and (pre.min() < 0 or pre.max() >= num_pre or post.min() < 0
                         or post.max() >= num_post):
            raise ConfigError(f"FromList: indices out of range for a {num_pre} x {num_post} "
                              f"connection")
        return pre, post


def sample_values(value, rng, n: int, what: str) -> np.ndarray:
    """An initializer, a number or an array of ``n`` values -> ``n`` floats."""
    if isinstance(value, (np.ndarray, list, tuple)):
        arr = np.asarray(value, dtype=np.float64).ravel()
        if arr.shape != (n,):
            raise ConfigError(f"{what}: got {arr.size} values for {n} synapses")
        return arr
    return as_initializer(value, what).sample(rng, n)
