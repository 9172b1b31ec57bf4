"""Bad input gives a clear error naming the model, field, line or object."""
import numpy as np
import pytest

from delayprop.compile import Model, init_postsynaptic, init_weight_update
from delayprop.errors import (BuildError, CodeGenerationError, ConfigError,
                              ModelDefinitionError, StateError)
from delayprop.genn_models import (LIF, ExpCurr, SpikeSourceArray, StaticPulse,
                                   create_neuron_model, create_weight_update_model)


def test_unknown_name_in_threshold_names_model_field_line_and_hint():
    with pytest.raises(ModelDefinitionError, match=r"\[LIF2\.threshold_condition_code, line 1\] "
                       r"unknown name 'Vthresh'.*did you mean 'v_thresh'"):
        create_neuron_model("LIF2", params=["v_thresh"], vars=[("V", "scalar")],
                            threshold_condition_code="V >= Vthresh")


def test_unknown_name_on_later_line_reports_that_line():
    with pytest.raises(ModelDefinitionError, match=r"sim_code, line 3\] unknown name 'Vrest'"):
        create_neuron_model("M", vars=[("V", "scalar")],
                            sim_code="scalar a = 1.0;\nV = a * V;\nV += Vrest;")


def test_locals_and_maths_functions_are_accepted():
    m = create_neuron_model("Ok", params=["tau"], vars=[("V", "scalar")],
                            sim_code="const scalar decay = exp(-dt / tau);\n"
                                     "for (int i = 0; i < 2; i++) { V = fmax(V * decay, 0.0); }")
    assert m.var_names == ("V",)


@pytest.mark.parametrize("name", ["t", "Isyn", "id", "dp_x", "2x"])
def test_reserved_or_invalid_names_are_rejected(name):
    with pytest.raises(ModelDefinitionError, match="reserved|not a valid C identifier"):
        create_neuron_model("M", vars=[(name, "scalar")])


def test_duplicate_names_and_bad_types():
    with pytest.raises(ModelDefinitionError, match="name 'a' is defined twice"):
        create_neuron_model("M", params=["a"], vars=[("a", "scalar")])
    with pytest.raises(ModelDefinitionError, match="type 'real' is not one of"):
        create_neuron_model("M", vars=[("a", "real")])


def test_unbalanced_brackets():
    with pytest.raises(ModelDefinitionError, match=r"line 1\] '\(' is never closed"):
        create_neuron_model("M", vars=[("V", "scalar")], sim_code="V = (V + 1.0;")


def test_threshold_must_be_an_expression():
    with pytest.raises(ModelDefinitionError, match="must be one expression"):
        create_neuron_model("M", vars=[("V", "scalar")],
                            threshold_condition_code="V = 1.0; V >= 1.0")


def test_legacy_dollar_syntax_is_rewritten_with_a_warning():
    with pytest.warns(FutureWarning, match=r"M\.sim_code: GeNN 4 '\$\(name\)'"):
        m = create_neuron_model("M", vars=[("V", "scalar")], sim_code="$(V) = $(V) + 1.0;")
    assert m.sim_code == "V = V + 1.0;"


def test_compiler_error_points_at_user_line():
    bad = create_neuron_model("Typo", vars=[("V", "scalar")],
                              sim_code="V = V + 1.0;\nV = V +* 2.0;")
    m = Model("float", "typo")
    m.add_neuron_population("pop", 2, bad)
    with pytest.raises(BuildError, match=r"(?s)\[Typo\.sim_code \('pop'\), line 2\].*full log: "):
        m.build()


def test_missing_and_unknown_params():
    m = Model("float", "params")
    m.add_neuron_population("pop", 2, LIF, {"tau_mem": 20.0, "v_thresh": 1.0, "vreset": 0.0})
    with pytest.raises(ModelDefinitionError, match=r"population 'pop'\] model 'LIF' takes "
                       r"params .*missing \['v_reset'\]; unknown \['vreset'\]"):
        m.build()


def test_lifecycle_misuse_raises_state_error():
    m = Model("float", "life")
    pop = m.add_neuron_population("pop", 2, LIF, {"tau_mem": 20.0, "v_thresh": 1.0,
                                                  "v_reset": 0.0})
    with pytest.raises(StateError, match="has not been built; call build"):
        m.load()
    with pytest.raises(StateError, match="is not loaded"):
        m.run(3)
    with pytest.raises(StateError, match="is not loaded"):
        pop.vars["V"].view
    m.build()
    with pytest.raises(StateError, match="already built"):
        m.add_neuron_population("late", 1, LIF, {"tau_mem": 20.0, "v_thresh": 1.0,
                                                 "v_reset": 0.0})
    m.load()
    with pytest.raises(StateError, match="already loaded"):
        m.load()
    with pytest.raises(StateError, match="spike recording is off"):
        pop.spike_recording_data
    m.unload()


def test_wrong_shapes_and_ranges():
    m = Model("float", "shapes", batch_size=2)
    src = m.add_neuron_population("src", 3, SpikeSourceArray)
    tgt = m.add_neuron_population("tgt", 2, LIF, {"tau_mem": 20.0, "v_thresh": 1.0,
                                                  "v_reset": 0.0}, {"V": [0.0, 0.1, 0.2]})
    sg = m.add_synapse_population("s", "SPARSE", src, tgt,
                                  init_weight_update(StaticPulse, vars={"g": [1.0, 2.0, 3.0]}),
                                  init_postsynaptic(ExpCurr, {"tau": 5.0}))
    with pytest.raises(ConfigError, match=r"postsynaptic index out of range: got \[0, 2\]"):
        sg.set_sparse_connections([0, 1, 2], [0, 1, 2])
    with pytest.raises(ConfigError, match="3 presynaptic but 2 postsynaptic"):
        sg.set_sparse_connections([0, 1, 2], [0, 1])
    sg.set_sparse_connections([0, 1], [0, 1])
    m.build()
    with pytest.raises(ConfigError, match=r"tgt' variable 'V': got values of shape \(3,\)"):
        m.load()
    assert m._runtime is None                      # a failed load leaves nothing half-done
    tgt.vars["V"].set_init_values(0.0)
    with pytest.raises(ConfigError, match=r"got 3 values .* for 2 synapses"):
        m.load()
    sg.vars["g"].set_init_values([1.0, 2.0])
    m.load()
    with pytest.raises(ConfigError, match="spikes for 1 batch instances, the model has "
                                          "batch_size 2"):
        src.set_spikes([([1.0], [0])])
    with pytest.raises(ConfigError, match=r"neuron ids must lie in \[0, 3\)"):
        src.set_spikes([([1.0], [3]), ([], [])])
    m.unload()


def test_unknown_population_and_matrix_type():
    m = Model("float", "names")
    a = m.add_neuron_population("a", 2, SpikeSourceArray)
    with pytest.raises(ConfigError, match=r"population 'b' is not in model"):
        m.add_synapse_population("s", "DENSE", a, "b", init_weight_update(StaticPulse),
                                 init_postsynaptic(ExpCurr, {"tau": 5.0}))
    with pytest.raises(ConfigError, match="already used"):
        m.add_neuron_population("a", 2, SpikeSourceArray)
    with pytest.raises(ConfigError, match="backend must be one of"):
        Model("float", "x", backend="tpu")
    b = m.add_neuron_population("b", 2, LIF, {"tau_mem": 20.0, "v_thresh": 1.0,
                                              "v_reset": 0.0})
    with pytest.raises(CodeGenerationError, match="matrix_type must be 'DENSE' or 'SPARSE'"):
        m.add_synapse_population("s", "DIAGONAL", a, b, init_weight_update(StaticPulse),
                                 init_postsynaptic(ExpCurr, {"tau": 5.0}))


def test_source_without_threshold_cannot_drive_synapses():
    from delayprop.genn_models import LeakyIntegrator
    m = Model("float", "nospike")
    a = m.add_neuron_population("a", 2, LeakyIntegrator, {"tau_mem": 10.0})
    b = m.add_neuron_population("b", 2, LeakyIntegrator, {"tau_mem": 10.0})
    m.add_synapse_population("s", "DENSE", a, b, init_weight_update(StaticPulse),
                             init_postsynaptic(ExpCurr, {"tau": 5.0}))
    with pytest.raises(CodeGenerationError, match="source 'a'.*never emits spikes"):
        m.build()


def test_weight_update_reference_to_missing_variable():
    wu = create_weight_update_model("Ref", vars=[("g", "scalar")],
                                    pre_neuron_var_refs=[("y_pre", "scalar")],
                                    pre_spike_syn_code="addToPost(g * y_pre);")
    m = Model("float", "refs")
    a = m.add_neuron_population("a", 2, SpikeSourceArray)
    b = m.add_neuron_population("b", 2, LIF, {"tau_mem": 20.0, "v_thresh": 1.0,
                                              "v_reset": 0.0})
    m.add_synapse_population("s", "DENSE", a, b, init_weight_update(wu),
                             init_postsynaptic(ExpCurr, {"tau": 5.0}))
    with pytest.raises(ModelDefinitionError, match="'y_pre' is not bound"):
        m.build()
