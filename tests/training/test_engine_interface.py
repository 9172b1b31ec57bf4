"""The engine contract training uses: typed array views, user-order connectivity and
the compiled network's public delay methods."""
import numpy as np
import pytest

from delayprop.compile import Model, handles
from delayprop.compile.layout import ArrayRole
from delayprop.errors import DelaypropError, StateError
from delayprop.training import (Adam, Connection, EventPropCompiler, FixedProbability,
                                LeakyIntegrate, LeakyIntegrateFire, Network, Normal,
                                Population, SoftmaxCrossEntropy, SpikeInput, Uniform)

T = 20


def build():
    net = Network()
    with net:
        inp = Population(SpikeInput(), 6, name="input")
        hid = Population(LeakyIntegrateFire(10.0, 1.0), 5, name="hidden")
        out = Population(LeakyIntegrate(10.0), 2, name="output")
        ih = Connection(inp, hid, FixedProbability(Normal(0.8, 0.4), 0.5),
                        delay=Uniform(0, 4), max_delay_steps=5, name="ih")
        Connection(hid, out, FixedProbability(Normal(0.0, 0.3), 1.0), name="ho")
    comp = EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, Adam(1e-3), batch_size=3,
                             delay_learning=[ih], seed=1)
    return comp.compile(net, "engine_interface")


def test_typed_views_are_the_named_arrays():
    net = build()
    rt = net.runtime
    assert net.model.runtime is rt
    assert rt.loss() is rt.arrays[handles.LOSS] and rt.loss().shape == (3,)
    assert rt.labels() is rt.arrays[handles.LABELS]
    assert rt.gradient("ih") is rt.arrays[handles.var_name("ih", handles.GRADIENT)]
    assert rt.delay_gradient("ih").shape == rt.gradient("ih").shape
    assert rt.readout_sum("output").shape == (3, 2)
    assert rt.spike_count("hidden").shape == (3, 5)
    grown = rt.tape_arrays("hidden")                    # capacity-sized: not start/count
    assert grown[0] == handles.tape_id_name("hidden") and len(grown) > 1
    assert set(grown) == set(rt.names("hidden", ArrayRole.TAPE)) - {
        handles.tape_start_name("hidden"), handles.tape_count_name("hidden")}
    with pytest.raises(DelaypropError, match=r"delay gradient of synapse group 'ho'.*"
                                             r"'ho_DelayGradient'"):
        rt.delay_gradient("ho")
    with pytest.raises(DelaypropError, match="no spike tape"):
        rt.tape_arrays("output")
    net.close()


def test_user_order_round_trip_and_public_delay_upload():
    net = build()
    sg = net.model.synapse_populations["ih"]
    ragged = sg.connectivity()
    n = ragged.num_synapses
    values = np.arange(n, dtype=float)
    layout = sg.from_user_order("d", values)
    np.testing.assert_array_equal(sg.to_user_order("d", layout), values[ragged.order])
    np.testing.assert_array_equal(net.to_layout("ih", values), layout)
    net.delays["ih"][...] = net.to_layout("ih", np.full(n, 9.6))
    net.upload_delays("ih")                                    # clamped to D - 1 = 4
    assert np.all(net.runtime.delays("ih")[ragged.slots] == 4)
    net.close()


def test_model_runtime_needs_load():
    m = Model("float", "engine_unloaded")
    assert not m.loaded
    with pytest.raises(StateError, match="not loaded"):
        m.runtime
