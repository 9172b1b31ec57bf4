"""Learning-rate schedules: the rate as a function of training progress.

``progress`` runs from 0 (first optimiser step) to 1 (after the last), so a schedule does
not need to know the number of batches per epoch in advance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from delayprop.errors import ConfigError

__all__ = ["Schedule", "ConstantLR", "OneCycle", "CosineAnnealing", "as_schedule"]


class Schedule:
    def rate(self, progress: float) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class ConstantLR(Schedule):
    lr: float

    def rate(self, progress):
        return self.lr


@dataclass(frozen=True)
class OneCycle(Schedule):
    """One-cycle policy (Smith & Topin 2019; PyTorch's OneCycleLR with cosine annealing):
    from ``max_lr/div_factor`` up to ``max_lr`` over the first ``pct_start`` of training,
    then down to ``max_lr/div_factor/final_div_factor``."""
    max_lr: float
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __post_init__(self):
        if not 0 < self.pct_start < 1:
            raise ConfigError(f"OneCycle: pct_start must lie in (0, 1), got {self.pct_start}")

    def rate(self, progress):
        start = self.max_lr / self.div_factor
        end = start / self.final_div_factor
        p = min(max(progress, 0.0), 1.0)
        if p < self.pct_start:
            return _cos(start, self.max_lr, p / self.pct_start)
        return _cos(self.max_lr, end, (p - self.pct_start) / (1 - self.pct_start))


@dataclass(frozen=True)
class CosineAnnealing(Schedule):
    """``eta_min + (lr - eta_min)(1 + cos(pi progress))/2`` (Loshchilov & Hutter 2017)."""
    lr: float
    eta_min: float = 0.0

    def rate(self, progress):
        return _cos(self.lr, self.eta_min, min(max(progress, 0.0), 1.0))


def _cos(a: float, b: float, frac: float) -> float:
    return b + (a - b) * (1 + math.cos(math.pi * frac)) / 2


def as_schedule(lr) -> Schedule:
    if isinstance(lr, Schedule):
        return lr
    if isinstance(lr, (int, float)) and lr >= 0:
        return ConstantLR(float(lr))
    raise ConfigError(f"a learning rate must be a number >= 0 or a Schedule, got {lr!r}")
