"""Postsynaptic current shapes."""
from __future__ import annotations

from dataclasses import dataclass

from delayprop.errors import ConfigError

__all__ = ["Exponential"]


@dataclass(frozen=True)
class Exponential:
    """Exponentially decaying current, ``tau_syn dI/dt = -I`` (GeNN's ExpCurr); ms."""
    tau: float = 5.0

    def __post_init__(self):
        if not self.tau > 0:
            raise ConfigError(f"Exponential: tau must be > 0 ms, got {self.tau}")
