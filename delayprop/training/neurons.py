"""Neuron types of a training network, with physical parameters (ms, model units).

Each type knows the GeNN-language forward model it compiles to and, where gradients flow
through it, its adjoint (see delayprop.genn_models.adjoint).
"""
from __future__ import annotations

from dataclasses import dataclass

from delayprop.errors import ConfigError
from delayprop.genn_models.adjoint import READOUTS

__all__ = ["Neuron", "SpikeInput", "GradedInput", "LeakyIntegrateFire", "LeakyIntegrate"]


class Neuron:
    """Base class. ``is_input`` neurons take data; others are simulated."""
    is_input = False


@dataclass(frozen=True)
class SpikeInput(Neuron):
    """Input spikes (e.g. SHD): per sample, event times (ms) and channel ids."""
    is_input = True


@dataclass(frozen=True)
class GradedInput(Neuron):
    """Graded input (e.g. RawHD mel channels): a value per channel per step; each
    non-zero value is an event whose synapses add ``weight * value``."""
    is_input = True


@dataclass(frozen=True)
class LeakyIntegrateFire(Neuron):
    """LIF: ``V <- alpha V + (1 - alpha) Isyn``, spike at ``v_thresh``, reset to ``v_reset``.

    Parameters
    ----------
    tau_mem : float
        Membrane time constant, ms.
    v_thresh, v_reset : float
        Threshold and reset value (model units).
    """
    tau_mem: float = 20.0
    v_thresh: float = 1.0
    v_reset: float = 0.0

    def __post_init__(self):
        if not self.tau_mem > 0:
            raise ConfigError(f"LeakyIntegrateFire: tau_mem must be > 0 ms, got {self.tau_mem}")
        if not self.v_reset < self.v_thresh:
            raise ConfigError(f"LeakyIntegrateFire: v_reset ({self.v_reset}) must be below "
                              f"v_thresh ({self.v_thresh})")


@dataclass(frozen=True)
class LeakyIntegrate(Neuron):
    """Leaky-integrator readout (never spikes).

    Parameters
    ----------
    tau_mem : float
        Membrane time constant, ms.
    readout : {'sum_var', 'avg_var', 'max_var', 'avg_var_exp_weight'}
        What the loss sees: the sum over steps of V (the paper's "voltage sum"), its mean,
        its maximum, or the mean weighted by ``exp(-t / T)``.
    """
    tau_mem: float = 20.0
    readout: str = "sum_var"

    def __post_init__(self):
        if not self.tau_mem > 0:
            raise ConfigError(f"LeakyIntegrate: tau_mem must be > 0 ms, got {self.tau_mem}")
        if self.readout not in READOUTS:
            raise ConfigError(f"LeakyIntegrate: readout must be one of {sorted(READOUTS)}, "
                              f"got {self.readout!r}")
