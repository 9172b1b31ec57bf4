"""Extra global parameters given before load() reach the generated code for every kind of
owner (the load uploaded only the populations' ones: a current source's array stayed
unbound and the step dereferenced a null pointer)."""
import numpy as np

from delayprop.compile import Model
from delayprop.genn_models import LIF
from delayprop.genn_models.spec import create_current_source_model

AMP = np.array([1.0, 2.0, 3.0])


def _model(name):
    cs = create_current_source_model("EgpCurrent", extra_global_params=[("amp", "scalar*")],
                                     injection_code="injectCurrent(amp[id]);")
    m = Model("double", name)
    pop = m.add_neuron_population("p", 3, LIF, {"tau_mem": 10.0, "v_thresh": 100.0,
                                                "v_reset": 0.0}, {"V": 0.0})
    return m, m.add_current_source("c", cs, pop)


def test_a_current_source_egp_set_before_load_is_used():
    before, c = _model("egp_before_load")
    c.extra_global_params["amp"].set_init_values(AMP)
    before.build()
    before.load()
    after, c2 = _model("egp_after_load")
    after.build()
    after.load()
    c2.extra_global_params["amp"].set_init_values(AMP)
    for m in (before, after):
        m.step_time()
        m.step_time()
    v_before = before.neuron_populations["p"].vars["V"].values
    v_after = after.neuron_populations["p"].vars["V"].values
    np.testing.assert_array_equal(v_before, v_after)
    np.testing.assert_allclose(v_before[0] / v_before[0][0], AMP)    # driven by amp[id]
