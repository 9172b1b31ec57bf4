"""Code generation, build and runtime: model -> C++/CUDA -> shared library -> numpy views."""
from delayprop.compile._groups import (CurrentSource, Population, PostsynapticInit,
                                       SynapseGroup, Variable, WeightUpdateInit,
                                       init_postsynaptic, init_weight_update)
from delayprop.compile.cache import cache_root
from delayprop.compile.model import Model
from delayprop.compile.spec import NetworkSpec, Precision, SynapseMatrixType, TrainingSpec

__all__ = ["Model", "init_weight_update", "init_postsynaptic", "WeightUpdateInit",
           "PostsynapticInit", "Variable", "Population", "SynapseGroup", "CurrentSource",
           "NetworkSpec", "Precision", "SynapseMatrixType", "TrainingSpec", "cache_root"]
