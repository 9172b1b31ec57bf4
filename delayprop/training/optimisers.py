"""Optimisers applied to parameter arrays after each batch (in place, NumPy)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from delayprop.errors import ConfigError
from delayprop.training.schedules import Schedule, as_schedule

__all__ = ["Optimiser", "Adam", "SGD"]


class Optimiser:
    """Keeps per-parameter state; ``step`` updates ``param`` in place."""

    def init_state(self, param: np.ndarray) -> dict:
        return {}

    def step(self, param, grad, state, progress: float) -> None:
        raise NotImplementedError


@dataclass
class Adam(Optimiser):
    """Adam (Kingma & Ba 2015). ``lr`` is a number or a :class:`Schedule`."""
    lr: float | Schedule = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    def __post_init__(self):
        self.lr = as_schedule(self.lr)
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"Adam: {name} must lie in [0, 1), got {getattr(self, name)}")

    def init_state(self, param):
        return {"m": np.zeros_like(param, dtype=np.float64),
                "v": np.zeros_like(param, dtype=np.float64), "t": 0}

    def step(self, param, grad, state, progress):
        state["t"] += 1
        t = state["t"]
        m, v = state["m"], state["v"]
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad
        lr = self.lr.rate(progress)
        m_hat_scale = 1.0 / (1 - self.beta1 ** t)
        v_hat_scale = 1.0 / (1 - self.beta2 ** t)
        param -= (lr * m_hat_scale * m / (np.sqrt(v * v_hat_scale) + self.epsilon)).astype(
            param.dtype)


@dataclass
class SGD(Optimiser):
    lr: float | Schedule = 1e-2

    def __post_init__(self):
        self.lr = as_schedule(self.lr)

    def step(self, param, grad, state, progress):
        param -= (self.lr.rate(progress) * grad).astype(param.dtype)
