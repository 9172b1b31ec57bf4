"""The delay bound D, in one place.

Every synaptic delay in delayprop is a whole number of steps ``d`` with ``0 <= d <= D - 1``,
where **D is the size of the group's dendritic ring** (the number of delay slots). D >= 1;
D = 1 means "no delay" (only ``d = 0``). A spike of step k through a synapse of delay d
enters the postsynaptic current in step ``k + 1 + d``.

D has one meaning under several names, each kept because it belongs to an interface:

=====================================  =================================================
name                                   where
=====================================  =================================================
``max_dendritic_delay_timesteps``      ``Model.add_synapse_population`` (GeNN's name)
``max_delay_steps``                    ``training.Connection`` (mlGeNN's name)
``max_delay``                          ``graph.Projection``, ``ExperimentConfig``,
                                       ``delayprop train --max-delay``
``delay_slots``                        ``export.HardwareProfile``: the largest D a target
                                       holds (None: unbounded)
``D``                                  local variables and the generated code
=====================================  =================================================

None of them is ever "the largest delay": that is always ``D - 1``.
:func:`check_ring_size` is the one check that a D is valid.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from delayprop.errors import ConfigError

__all__ = ["check_ring_size"]


def check_ring_size(D: Any, where: str, name: str = "max_delay",
                    error: type[Exception] = ConfigError) -> int:
    """Check that ``D`` is a valid ring size (a whole number >= 1) and return it as an int.

    Parameters
    ----------
    D
        The ring size to check.
    where : str
        What the value belongs to, for the message (e.g. ``"synapse group 'ih'"``).
    name : str
        The name the caller knows D by (``max_delay_steps``, ...).
    error : type
        Exception class to raise (a :class:`~delayprop.errors.DelaypropError`); the
        caller's own error type, ConfigError by default.

    Raises
    ------
    error
        If ``D`` is not a whole number >= 1.
    """
    if isinstance(D, np.ndarray) and D.ndim == 0:
        D = D.item()
    ok = isinstance(D, numbers.Real) and math.isfinite(D) and int(D) == D and D >= 1
    if not ok:
        raise error(f"{where}: {name} (the ring size D: delays 0..D-1 steps) must be a whole "
                    f"number >= 1, got {D!r}")
    return int(D)
