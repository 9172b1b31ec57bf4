"""Built-in weight update models: static pulses with and without dendritic delays."""
from delayprop.genn_models.spec import VarAccess, create_weight_update_model

__all__ = ["StaticPulse", "StaticPulseDendriticDelay", "StaticPulseLearnedDelay",
           "StaticPulseGradedDendriticDelay"]

RO = VarAccess.READ_ONLY   # weights and delays are shared by all batch instances

#: A spike adds ``g`` to the target's input in the next step.
StaticPulse = create_weight_update_model(
    "StaticPulse", vars=[("g", "scalar", RO)], pre_spike_syn_code="addToPost(g);")

#: GeNN's StaticPulseDendriticDelay: ``g`` arrives ``d`` whole steps later
#: (a spike in step k reaches the target's current in step k + 1 + d).
StaticPulseDendriticDelay = create_weight_update_model(
    "StaticPulseDendriticDelay",
    vars=[("g", "scalar", RO), ("d", "uint8_t", RO)],
    pre_spike_syn_code="addToPostDelay(g, d);")

#: As StaticPulseDendriticDelay with a real-valued (learnable) delay ``d`` in steps,
#: rounded to the nearest whole step when the spike is delivered.
StaticPulseLearnedDelay = create_weight_update_model(
    "StaticPulseLearnedDelay",
    vars=[("g", "scalar", RO), ("d", "scalar", RO)],
    pre_spike_syn_code="addToPostDelay(g, (uint32_t)round(d));")

#: Graded events (see GradedInput): adds ``g * x_pre`` with a real-valued delay ``d``.
StaticPulseGradedDendriticDelay = create_weight_update_model(
    "StaticPulseGradedDendriticDelay",
    vars=[("g", "scalar", RO), ("d", "scalar", RO)],
    pre_neuron_var_refs=[("x_pre", "scalar")],
    pre_spike_syn_code="addToPostDelay(g * x_pre, (uint32_t)round(d));")
