"""Built-in input models: a spike-source array and a graded-value input."""
from delayprop.genn_models.spec import create_neuron_model

__all__ = ["SpikeSourceArray", "GradedInput"]

#: GeNN's SpikeSourceArray: neuron ``id`` of batch instance ``batch`` fires at the times
#: ``spikeTimes[startSpike .. endSpike)`` (ms, sorted), at most one spike per step.
#: ``startSpike``/``endSpike`` are per batch instance; ``spikeTimes`` is shared.
SpikeSourceArray = create_neuron_model(
    "SpikeSourceArray",
    vars=[("startSpike", "uint32_t"), ("endSpike", "uint32_t")],
    extra_global_params=[("spikeTimes", "scalar*")],
    threshold_condition_code="startSpike != endSpike && t >= spikeTimes[startSpike]",
    reset_code="startSpike++;")

#: A value per channel per step (e.g. a mel-spectrogram channel): in step k neuron ``id``
#: of batch instance ``batch`` takes ``x = values[(batch * num_steps + k) * num_neurons +
#: id]`` and emits an event when ``x != 0``; synapses read ``x`` as a presynaptic variable
#: (see ``StaticPulseGradedDendriticDelay``). Param: num_steps (length of one trial).
GradedInput = create_neuron_model(
    "GradedInput",
    params=["num_steps"],
    vars=[("x", "scalar")],
    extra_global_params=[("values", "scalar*")],
    sim_code="""
const int step = (int)round(t / dt);
x = (step < (int)num_steps) ? values[(batch * (int)num_steps + step) * num_neurons + id] : 0.0;
""",
    threshold_condition_code="x != 0.0")
