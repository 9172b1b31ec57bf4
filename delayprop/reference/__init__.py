"""Independent reference simulators used to validate delayprop.

Importing this package never imports Brian2: names are loaded on first use.
"""
from __future__ import annotations

import importlib

__all__ = ["Brian2Result", "simulate_brian2", "ExactResult", "FiniteDifferenceError",
           "simulate_exact", "exact_loss", "finite_difference", "loss_from_samples",
           "readout_logits"]

_LAZY = {"Brian2Result": ".brian2_sim", "simulate_brian2": ".brian2_sim",
         **{name: ".exact" for name in __all__[2:]}}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
