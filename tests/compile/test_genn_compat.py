"""What real GeNN rejects, refused before PyGeNN is involved (runs without PyGeNN)."""
import sys

import pytest

from delayprop.compile import Model
from delayprop.compile.genn_compat import check_model_for_genn
from delayprop.errors import ConfigError, ModelDefinitionError
from delayprop.genn_models import (LIF, ExpCurr, GradedInput, SpikeSourceArray,
                                   StaticPulseDendriticDelay, StaticPulseGradedDendriticDelay,
                                   StaticPulseLearnedDelay, create_neuron_model,
                                   create_weight_update_model)
from delayprop.genn_models.adjoint import lif_adjoint


@pytest.mark.parametrize("model", [LIF, ExpCurr, SpikeSourceArray, GradedInput,
                                   StaticPulseDendriticDelay, StaticPulseLearnedDelay,
                                   StaticPulseGradedDendriticDelay])
def test_builtin_forward_models_pass(model):
    check_model_for_genn(model, "test")


@pytest.mark.parametrize("code", ["V = hypot(V, 1.0);", "if (isinf(V)) { V = 0.0; }",
                                  "V += signbit(V);", "V += llround(V);"])
def test_missing_functions_are_named_with_field_and_line(code):
    model = create_neuron_model("M", vars=[("V", "scalar")], sim_code="V += 0.0;\n" + code)
    with pytest.raises(ModelDefinitionError, match=r"\[M.sim_code, line 2\] GeNN 5 has no"):
        check_model_for_genn(model, "population 'p'")


def test_a_name_containing_a_missing_function_is_fine():
    model = create_neuron_model("M", vars=[("V", "scalar"), ("hypotenuse", "scalar")],
                                sim_code="V = hypotenuse; // isnan would be refused")
    check_model_for_genn(model, "population 'p'")


@pytest.mark.parametrize("delay, refused", [("d", True), ("dp", True), ("2.5", True),
                                            ("di", False), ("(uint32_t)round(d)", False),
                                            ("3", False)])
def test_real_valued_delays_are_refused(delay, refused):
    model = create_weight_update_model(
        "W", params=["dp"], vars=[("g", "scalar"), ("d", "scalar"), ("di", "uint8_t")],
        pre_spike_syn_code=f"addToPostDelay(g * (1.0 + d), {delay});")
    if refused:
        with pytest.raises(ModelDefinitionError, match="real-valued"):
            check_model_for_genn(model, "group")
    else:
        check_model_for_genn(model, "group")


def test_adjoint_models_are_refused():
    with pytest.raises(ModelDefinitionError, match="delayprop extension"):
        check_model_for_genn(lif_adjoint(), "population 'h'")


def test_without_pygenn_the_backend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygenn", None)        # import pygenn -> ImportError
    with pytest.raises(ConfigError, match="needs PyGeNN.*With GeNN"):
        Model("double", "m", "genn")


def test_unknown_backend_lists_genn():
    with pytest.raises(ConfigError, match="genn"):
        Model("double", "m", "gpu")
