"""The engine contract: names of generated arrays and typed views of them.

Every generated array is called as :mod:`delayprop.compile.layout` names it; the helpers
here derive those names in one place, so nothing outside the layout builds an array name
by hand::

    <owner>_<var>            a model variable (or extra global parameter) of a population,
                             synapse group or current source
    <owner>_<var>_init       its initial values (populations' and postsynaptic variables)
    <group>_den              a synapse group's dendritic delay ring
    <pop>_tapeId, <pop>_tape_<var>, <pop>_tapeStart, <pop>_tapeCount
                             a population's spike tape (training)
    <pop>_trace_<var>        an adjoint variable at every step (training, RigL)
    dp_labels, dp_loss       labels and per-instance loss (training)

:class:`ArrayHandles` (mixed into :class:`~delayprop.compile.runtime.Runtime`) gives the
arrays training reads and writes as numpy views, raising :class:`DelaypropError` naming
the array when the loaded model has none of that name.
"""
from __future__ import annotations

import numpy as np

from delayprop.compile.layout import ArrayRole, ArraySpec, RtDim
from delayprop.errors import DelaypropError

__all__ = ["ArrayHandles", "LABELS", "LOSS", "RT", "WEIGHT", "DELAY", "GRADIENT",
           "DELAY_GRADIENT", "READOUT_SUM", "SPIKE_COUNT", "REG_DRIVE", "LAMBDA_I",
           "GRADED_VALUE",
           "var_name", "init_name", "egp_name", "ring_name", "row_length_name", "ind_name",
           "recording_name", "tape_id_name", "tape_value_name", "tape_start_name",
           "tape_count_name", "trace_name"]

#: Arrays that belong to no population or group.
RT, LABELS, LOSS = "dp_rt", "dp_labels", "dp_loss"

#: Variables of the training models (:mod:`delayprop.genn_models.adjoint`) that the
#: training loop reads or writes.
WEIGHT = "g"                       # pulse synapse: weight
DELAY = "d"                        # pulse synapse: integer delay (steps)
GRADIENT = "Gradient"              # its adjoint: dL/dg (one buffer per thread)
DELAY_GRADIENT = "DelayGradient"   # its adjoint: dL/dd (one buffer per thread)
READOUT_SUM = "VSum"               # readout: the value the loss reads
SPIKE_COUNT = "SpikeCount"         # hidden LIF: spikes in the trial
REG_DRIVE = "RegDrive"             # hidden LIF adjoint: regulariser drive (EGP)
LAMBDA_I = "LambdaI"               # adjoint of the synaptic current
GRADED_VALUE = "x"                 # graded input: this step's value (taped for RigL)


def var_name(owner: str, var: str) -> str:
    """Array of variable ``var`` of a population, synapse group or current source."""
    return f"{owner}_{var}"


def init_name(owner: str, var: str) -> str:
    """Array of the initial values of ``var`` (copied into :func:`var_name` at reset)."""
    return f"{owner}_{var}_init"


def egp_name(owner: str, egp: str) -> str:
    """Array of extra global parameter ``egp``."""
    return f"{owner}_{egp}"


def ring_name(group: str) -> str:
    """A synapse group's dendritic ring [batch, D + 1, N_post] (slot D is the spare)."""
    return f"{group}_den"


def row_length_name(group: str) -> str:
    return f"{group}_rowLength"


def ind_name(group: str) -> str:
    return f"{group}_ind"


def recording_name(pop: str) -> str:
    """Spike recording bits [batch, steps, words] of a population."""
    return f"{pop}_recSpk"


def tape_id_name(pop: str) -> str:
    """Neuron ids of a population's taped events [batch, capacity]."""
    return f"{pop}_tapeId"


def tape_value_name(pop: str, var: str) -> str:
    """A taped variable's value at each taped event [batch, capacity]."""
    return f"{pop}_tape_{var}"


def tape_start_name(pop: str) -> str:
    """First tape entry of every step [batch, T + 1]."""
    return f"{pop}_tapeStart"


def tape_count_name(pop: str) -> str:
    """Events taped in the last forward pass (may exceed the capacity) [batch]."""
    return f"{pop}_tapeCount"


def trace_name(pop: str, var: str) -> str:
    """Adjoint variable ``var`` of ``pop`` at every step [batch, T, N] (RigL)."""
    return f"{pop}_trace_{var}"


class ArrayHandles:
    """Typed access to the arrays of a loaded model (mixed into ``Runtime``).

    Each method returns the live numpy array (no copy): on CUDA pull it first (the
    ``*_name`` helpers above give the name for :meth:`Runtime.pull` / ``push``).
    """

    arrays: dict[str, np.ndarray]
    layout: dict[str, ArraySpec]

    def array(self, name: str, what: str | None = None) -> np.ndarray:
        """The array ``name``; :class:`DelaypropError` when the model has none."""
        try:
            return self.arrays[name]
        except KeyError:
            model = getattr(getattr(self, "spec", None), "name", "?")
            described = f"{what} (array '{name}')" if what else f"array '{name}'"
            raise DelaypropError(f"model '{model}' has no {described}") from None

    def var(self, owner: str, var: str) -> np.ndarray:
        """Variable ``var`` of population / group / current source ``owner``."""
        return self.array(var_name(owner, var), f"variable '{var}' of '{owner}'")

    def weights(self, group: str) -> np.ndarray:
        """The weights ``g`` of a synapse group, in its compiled layout."""
        return self.array(var_name(group, WEIGHT), f"weight array of synapse group "
                                                   f"'{group}'")

    def delays(self, group: str) -> np.ndarray:
        """The integer delays ``d`` of a synapse group, in its compiled layout."""
        return self.array(var_name(group, DELAY), f"delay array of synapse group "
                                                  f"'{group}'")

    def gradient(self, group: str) -> np.ndarray:
        """dL/dg per thread [threads, synapses] of a synapse group with an adjoint."""
        return self.array(var_name(group, GRADIENT), f"weight gradient of synapse group "
                                                     f"'{group}'")

    def delay_gradient(self, group: str) -> np.ndarray:
        """dL/dd per thread [threads, synapses] of a group whose delays are learned."""
        return self.array(var_name(group, DELAY_GRADIENT),
                          f"delay gradient of synapse group '{group}' (are its delays "
                          f"learned?)")

    def readout_sum(self, pop: str) -> np.ndarray:
        """The readout value z [batch, neurons] the loss reads."""
        return self.array(var_name(pop, READOUT_SUM), f"readout sum of population "
                                                      f"'{pop}'")

    def spike_count(self, pop: str) -> np.ndarray:
        """Spikes per neuron in the last trial [batch, neurons] of a hidden population."""
        return self.array(var_name(pop, SPIKE_COUNT), f"spike count of population "
                                                      f"'{pop}'")

    def loss(self) -> np.ndarray:
        """Per-instance loss of the last forward pass [batch]."""
        return self.array(LOSS, "loss array (is the model compiled for training?)")

    def labels(self) -> np.ndarray:
        """Per-instance labels [batch] the loss reads."""
        return self.array(LABELS, "labels array (is the model compiled for training?)")

    def trace(self, pop: str, var: str) -> np.ndarray:
        """Adjoint variable ``var`` of ``pop`` at every step [batch, T, neurons]."""
        return self.array(trace_name(pop, var), f"trace of '{var}' of population '{pop}'")

    def tape_count(self, pop: str) -> np.ndarray:
        """Events taped per instance in the last forward pass [batch]."""
        return self.array(tape_count_name(pop), f"spike tape of population '{pop}'")

    def tape_ids(self, pop: str) -> np.ndarray:
        return self.array(tape_id_name(pop), f"spike tape of population '{pop}'")

    def tape_starts(self, pop: str) -> np.ndarray:
        return self.array(tape_start_name(pop), f"spike tape of population '{pop}'")

    def tape_values(self, pop: str, var: str) -> np.ndarray | None:
        """Taped values of ``var`` of ``pop``, or None when ``var`` is not taped."""
        return self.arrays.get(tape_value_name(pop, var))

    def tape_arrays(self, pop: str) -> list[str]:
        """Names of ``pop``'s tape arrays sized by its tape capacity (the ones to
        reallocate when the capacity grows)."""
        capacity = f"tape_capacity.{pop}"
        out = [a.name for a in self.layout.values() if a.owner == pop
               and any(isinstance(d, RtDim) and d.field == capacity for d in a.dims)]
        if not out:
            raise DelaypropError(f"population '{pop}' has no spike tape")
        return out

    def names(self, owner: str | None = None, *roles: ArrayRole) -> list[str]:
        """Names of the arrays of ``owner`` (any if None) with one of ``roles`` (any if
        none), in layout order."""
        return [a.name for a in self.layout.values()
                if (owner is None or a.owner == owner) and (not roles or a.role in roles)]
