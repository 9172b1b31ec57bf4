"""Model definitions in GeNN 5's model language (see language.md)."""
from delayprop.genn_models.current_sources import DC
from delayprop.genn_models.inputs import GradedInput, SpikeSourceArray
from delayprop.genn_models.neurons import LIF, LeakyIntegrator
from delayprop.genn_models.postsynaptic import DeltaCurr, ExpCurr
from delayprop.genn_models.spec import (
    AdjointNeuronModel, AdjointWeightUpdateModel, CurrentSourceModel, NeuronModel,
    PostsynapticModel, Var, VarAccess, WeightUpdateModel, create_adjoint_neuron_model,
    create_adjoint_weight_update_model, create_current_source_model, create_neuron_model,
    create_postsynaptic_model, create_weight_update_model)
from delayprop.genn_models.weight_update import (
    StaticPulse, StaticPulseDendriticDelay, StaticPulseGradedDendriticDelay,
    StaticPulseLearnedDelay)

__all__ = [
    "AdjointNeuronModel", "AdjointWeightUpdateModel", "CurrentSourceModel", "NeuronModel",
    "PostsynapticModel", "Var", "VarAccess", "WeightUpdateModel",
    "create_adjoint_neuron_model", "create_adjoint_weight_update_model",
    "create_current_source_model", "create_neuron_model", "create_postsynaptic_model",
    "create_weight_update_model",
    "LIF", "LeakyIntegrator", "SpikeSourceArray", "GradedInput", "ExpCurr", "DeltaCurr",
    "StaticPulse", "StaticPulseDendriticDelay", "StaticPulseLearnedDelay",
    "StaticPulseGradedDendriticDelay", "DC",
]
