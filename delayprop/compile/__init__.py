"""Code generation, build and runtime: model -> C++/CUDA -> shared library -> numpy views.

The engine contract the layers above use: :class:`Model` (``model.runtime``), its
:class:`NeuronGroup` / :class:`SynapseGroup` objects, :class:`~delayprop.compile.runtime.
Runtime` with the typed array views of :mod:`delayprop.compile.handles`, and the helpers
:func:`spike_source_arrays` and :func:`broadcast`.
"""
from delayprop.compile import handles
from delayprop.compile._groups import (CurrentSource, NeuronGroup,
                                       PostsynapticInit, SynapseGroup, Variable,
                                       WeightUpdateInit, broadcast, init_postsynaptic,
                                       init_weight_update, spike_source_arrays)
from delayprop.compile.cache import cache_root
from delayprop.compile.model import Model
from delayprop.compile.network_spec import NetworkSpec, Precision, SynapseMatrixType, TrainingSpec
from delayprop.compile.ragged import Ragged
from delayprop.compile.runtime import Runtime

__all__ = ["Model", "init_weight_update", "init_postsynaptic", "WeightUpdateInit",
           "PostsynapticInit", "Variable", "NeuronGroup", "SynapseGroup",
           "CurrentSource", "NetworkSpec", "Precision", "SynapseMatrixType", "TrainingSpec",
           "cache_root", "Runtime", "Ragged", "handles", "broadcast", "spike_source_arrays"]
