"""Initialisers for weights and delays: objects, not names (``Normal(0, 0.1)``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from delayprop.errors import ConfigError

__all__ = ["Initializer", "Constant", "Normal", "Uniform", "as_initializer"]


class Initializer:
    """Draws ``n`` values with a numpy Generator."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Initializer):
    value: float

    def sample(self, rng, n):
        return np.full(n, float(self.value))


@dataclass(frozen=True)
class Normal(Initializer):
    mean: float = 0.0
    sd: float = 1.0

    def __post_init__(self):
        if self.sd < 0:
            raise ConfigError(f"Normal: sd must be >= 0, got {self.sd}")

    def sample(self, rng, n):
        return rng.normal(self.mean, self.sd, n)


@dataclass(frozen=True)
class Uniform(Initializer):
    """Uniform on [low, high)."""
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self):
        if not self.high >= self.low:
            raise ConfigError(f"Uniform: high ({self.high}) must be >= low ({self.low})")

    def sample(self, rng, n):
        return rng.uniform(self.low, self.high, n)


def as_initializer(value, what: str) -> Initializer:
    """A number becomes Constant; an Initializer passes; anything else is an error."""
    if isinstance(value, Initializer):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return Constant(float(value))
    raise ConfigError(f"{what} must be a number or an initializer (Constant, Normal, "
                      f"Uniform), got {type(value).__name__}")
