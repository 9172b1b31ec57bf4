"""Built-in neuron models: leaky integrate-and-fire and the leaky-integrator readout.

Time constants in ms; voltages and currents in model units (threshold 1 by convention).
"""
from delayprop.genn_models.spec import create_neuron_model, exp_decay

__all__ = ["LIF", "LeakyIntegrator"]

#: Leaky integrate-and-fire (docs/design.md, "Step order"):
#: ``V <- alpha V + (1 - alpha) Isyn``, ``alpha = exp(-dt / tau_mem)``;
#: spike when ``V >= v_thresh``, then ``V <- v_reset``.
#: Params: tau_mem (ms), v_thresh, v_reset. Var: V.
LIF = create_neuron_model(
    "LIF",
    params=["tau_mem", "v_thresh", "v_reset"],
    derived_params=[("alpha", exp_decay("tau_mem"))],
    vars=[("V", "scalar")],
    sim_code="V = alpha * V + (1.0 - alpha) * Isyn;",
    threshold_condition_code="V >= v_thresh",
    reset_code="V = v_reset;")

#: Leaky integrator without threshold (the readout): ``V <- alpha V + (1 - alpha) Isyn``.
#: Param: tau_mem (ms). Var: V.
LeakyIntegrator = create_neuron_model(
    "LeakyIntegrator",
    params=["tau_mem"],
    derived_params=[("alpha", exp_decay("tau_mem"))],
    vars=[("V", "scalar")],
    sim_code="V = alpha * V + (1.0 - alpha) * Isyn;")
