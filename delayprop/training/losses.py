"""Losses on the readout, generated as the C block that runs between the passes."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Loss", "SoftmaxCrossEntropy", "SparseCategoricalCrossentropy"]


class Loss:
    def code(self, pop: str) -> str:
        """C code for one instance: reads ``<pop>_VSum[i]`` (the readout), ``label``,
        ``num_neurons``; writes ``loss`` and ``<pop>_Drive[i] = dL/dz_i``."""
        raise NotImplementedError


@dataclass(frozen=True)
class SoftmaxCrossEntropy(Loss):
    """``L = -log softmax(z)_label`` of the readout values z (one per output neuron).

    ``dL/dz_i = softmax(z)_i - [i == label]``. The batch loss is the mean over instances
    (the 1/batch factor is applied to the summed gradients). An instance with label -1
    has no loss (prediction only).
    """

    def code(self, pop: str) -> str:
        return f"""
if (label < 0 || num_neurons == 0) {{
    loss = 0;
    for (uint32_t i = 0; i < num_neurons; i++) {pop}_Drive[i] = 0;
}} else {{
    scalar zmax = {pop}_VSum[0];
    for (uint32_t i = 1; i < num_neurons; i++) zmax = fmax(zmax, {pop}_VSum[i]);
    scalar total = 0;
    for (uint32_t i = 0; i < num_neurons; i++) total += exp({pop}_VSum[i] - zmax);
    for (uint32_t i = 0; i < num_neurons; i++) {{
        const scalar p = exp({pop}_VSum[i] - zmax) / total;
        {pop}_Drive[i] = p - (((int32_t)i == label) ? 1 : 0);
    }}
    loss = -({pop}_VSum[label] - zmax - log(total));
}}
"""


#: mlGeNN's name for the same loss.
SparseCategoricalCrossentropy = SoftmaxCrossEntropy
