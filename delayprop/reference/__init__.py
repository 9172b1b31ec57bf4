"""Independent reference simulators used to validate delayprop.

Importing this package never imports Brian2: names are loaded on first use.
"""
from __future__ import annotations

from delayprop._lazy import lazy_exports

__all__ = ["Brian2Result", "simulate_brian2", "ExactResult", "FiniteDifferenceError",
           "simulate_exact", "exact_loss", "finite_difference", "loss_from_samples",
           "readout_logits"]

_LAZY = {name: (f"{__name__}.{'brian2_sim' if name in __all__[:2] else 'exact'}", name)
         for name in __all__}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
