"""The ring size D (delays 0..D-1) is checked by one function, under each of its names;
look-ups by an unknown name raise the project's error, which is still a KeyError."""
import dataclasses

import numpy as np
import pytest

from delayprop.compile import Model, init_postsynaptic, init_weight_update
from delayprop.delays import check_ring_size
from delayprop.errors import CodeGenerationError, ConfigError, DelaypropError, UnknownNameError
from delayprop.export import HardwareProfile
from delayprop.genn_models import LIF, ExpCurr, SpikeSourceArray, StaticPulseDendriticDelay
from delayprop.graph import NetworkGraph, NeuronGroup, Projection
from delayprop.training import Connection, Network, Population, SpikeInput, LeakyIntegrateFire
from delayprop.training.experiment import ExperimentConfig

MATCH = r"must be a whole number >= 1, got "


@pytest.mark.parametrize("good", [1, 25, np.int64(3), 4.0, np.array(2)])
def test_whole_numbers_from_one_are_ring_sizes(good):
    got = check_ring_size(good, "here")
    assert got == int(good) and type(got) is int


@pytest.mark.parametrize("bad", [0, -3, 2.5, float("nan"), float("inf"), "3", None])
def test_everything_else_is_refused_with_where_and_name(bad):
    with pytest.raises(ConfigError, match=rf"^here: max_delay_steps \(the ring size D: delays "
                                          rf"0..D-1 steps\) {MATCH}"):
        check_ring_size(bad, "here", "max_delay_steps")
    with pytest.raises(CodeGenerationError):
        check_ring_size(bad, "here", error=CodeGenerationError)


def _model():
    m = Model("float", "ring")
    a = m.add_neuron_population("a", 2, SpikeSourceArray)
    b = m.add_neuron_population("b", 2, LIF, {"tau_mem": 20.0, "v_thresh": 1.0, "v_reset": 0.0})
    return m, a, b


def _synapses(m, a, b, D):
    return m.add_synapse_population("s", "DENSE", a, b,
                                    init_weight_update(StaticPulseDendriticDelay,
                                                       vars={"g": 1.0, "d": 0}),
                                    init_postsynaptic(ExpCurr, {"tau": 5.0}), D)


def test_every_name_of_d_is_checked_the_same_way():
    m, a, b = _model()
    with pytest.raises(ConfigError, match=rf"synapse group 's': max_dendritic_delay_timesteps "
                                          rf"\(the ring size D.*{MATCH}0"):
        _synapses(m, a, b, 0)
    with pytest.raises(ConfigError, match=rf"projection 'p': max_delay \(the ring size D.*"
                                          rf"{MATCH}0"):
        Projection("p", "in", "out", [], [], [], [], 0, 5.0)
    with pytest.raises(ConfigError, match=rf"ExperimentConfig: max_delay .*{MATCH}0"):
        ExperimentConfig(max_delay=0)
    with pytest.raises(ConfigError, match=rf"hardware profile 'x'.*delay_slots .*{MATCH}0"):
        HardwareProfile("x", max_delay_ticks=0, delay_offset=1)
    net = Network()
    with net:
        i = Population(SpikeInput(), 2, name="i")
        h = Population(LeakyIntegrateFire(20.0, 1.0), 2, name="h")
        with pytest.raises(ConfigError, match=rf"Connection: max_delay_steps .*{MATCH}2.5"):
            Connection(i, h, max_delay_steps=2.5)
        assert Connection(i, h, max_delay_steps=3).max_delay_steps == 3


def test_the_spec_checks_d_with_its_own_error():
    m, a, b = _model()
    _synapses(m, a, b, 2)
    spec = m.spec()
    group = dataclasses.replace(spec.synapse_groups[0], max_dendritic_delay_timesteps=0)
    with pytest.raises(CodeGenerationError, match=rf"synapse group 's': "
                                                  rf"max_dendritic_delay_timesteps .*{MATCH}0"):
        dataclasses.replace(spec, synapse_groups=(group,))


def test_unknown_names_raise_the_project_error_that_is_a_key_error():
    m, a, b = _model()
    spec = m.spec()
    graph = NetworkGraph([NeuronGroup("in", 1, "spike_source")], [])
    for lookup, match in (
            (lambda: graph.population("hid"), r"^no population 'hid'; known: \['in'\]$"),
            (lambda: spec.population("c"), r"^network 'ring' has no population 'c'; known: "
                                           r"\['a', 'b'\]$"),
            (lambda: LIF.var("U"), r"^model 'LIF' has no variable 'U'; it has \['V'.*\]$")):
        with pytest.raises(UnknownNameError, match=match) as err:
            lookup()
        assert isinstance(err.value, KeyError) and isinstance(err.value, DelaypropError)
