"""Built-in postsynaptic models."""
import numpy as np

from delayprop.genn_models.spec import create_postsynaptic_model, exp_decay

__all__ = ["ExpCurr", "DeltaCurr"]

#: GeNN's ExpCurr: exponentially decaying current, time constant ``tau`` (ms).
#: ``init = (tau / dt) (1 - exp(-dt / tau))`` makes a unit weight inject unit charge.
ExpCurr = create_postsynaptic_model(
    "ExpCurr",
    params=["tau"],
    derived_params=[("expDecay", exp_decay("tau")),
                    ("init", lambda p, dt: float((p["tau"] * (1.0 - np.exp(-dt / p["tau"])))
                                                 * (1.0 / dt)))],
    sim_code="""
injectCurrent(init * inSyn);
inSyn *= expDecay;
""")

#: GeNN's DeltaCurr: the whole input of a step is injected in that step.
DeltaCurr = create_postsynaptic_model(
    "DeltaCurr",
    sim_code="""
injectCurrent(inSyn);
inSyn = 0.0;
""")
