"""check(): every violation with where it is and how far over, on hand-made networks."""
import dataclasses

import pytest

from exporthelpers import tiny
from delayprop.export import PROFILES, check
from delayprop.graph import NetworkGraph, NeuronGroup, Projection


def test_fan_in_violation_names_neuron_and_excess():
    g = tiny([0.1] * 5 + [0.2, 0.2], [1] * 5 + [0, 0], [0] * 7, pres=[0, 1, 2, 3, 4, 0, 1],
             n_pre=5)
    prof = dataclasses.replace(PROFILES["spinnaker"], max_fan_in=3)
    rep = check(g, prof)
    (v,) = rep.violations
    assert (v.kind, v.group, v.where.tolist(), v.values.tolist(), v.limit,
            v.over_by.tolist()) == ("fan_in", "out", [1], [5], 3, [2])
    assert "population 'out'" in v.message and "neuron 1: 5 (over by 2)" in v.message
    assert rep.max_fan_in == {"out": 5} and not rep.ok


def test_row_length_counts_per_core_and_receptor():
    # pre 0 -> posts 0..3; two neurons per core; post 1 inhibitory
    g = tiny([0.5, -0.5, 0.5, 0.5, 0.5], [0, 1, 2, 3, 3], [0, 0, 0, 0, 1], n_post=4)
    prof = dataclasses.replace(PROFILES["spinnaker"], max_row_length=2, neurons_per_core=2)
    (v,) = check(g, prof).violations
    # rows: (0, core 0, exc) 1, (0, core 0, inh) 1, (0, core 1, exc) 3 -> one row over by 1
    assert v.kind == "row_length" and v.where.tolist() == [[0, 1, 0]]
    assert v.values.tolist() == [3] and v.over_by.tolist() == [1]
    assert "pre 0 -> core 1 (exc): 3 (over by 1)" in v.message
    signed = dataclasses.replace(prof, weight_sign="signed")
    assert check(g, signed).of_kind("row_length")[0].where.tolist() == [[0, 1, 0]]


@pytest.mark.parametrize("profile, delays, bad, over", [
    ("spinnaker", [15, 16, 20], [[0, 1], [0, 2]], [1, 5]),      # ticks 16 ok, 17, 21
    ("spinnaker-delay-ext", [143, 144], [[0, 1]], [1]),          # ticks 144 ok, 145
    ("loihi2", [62, 63], [[0, 1]], [1]),                         # delay 62 ok, 63
])
def test_delay_range_violations(profile, delays, bad, over):
    g = tiny([0.5] * len(delays), list(range(len(delays))), delays, n_post=3)
    (v,) = check(g, profile).violations
    assert v.kind == "delay" and v.where.tolist() == bad and v.over_by.tolist() == over
    assert "never clipped" in v.message


def test_delay_below_minimum_of_a_user_profile():
    prof = dataclasses.replace(PROFILES["spinnaker"], name="late", min_delay_ticks=3)
    (v,) = check(tiny([1.0, 1.0], [0, 1], [1, 2]), prof).violations
    assert v.where.tolist() == [[0, 0]] and v.values.tolist() == [2] and v.limit == 3
    assert "below" in v.message


def test_graded_input_needs_graded_events():
    g = tiny([1.0], [0], [0], kind_in="graded_input")
    (v,) = check(g, "spinnaker").violations
    assert v.kind == "graded_input" and "binary spikes only" in v.message
    assert check(g, "loihi2").ok


def test_clean_network_reports_numbers(genn_net):
    rep = check(genn_net, "spinnaker-delay-ext")
    assert rep.ok and rep.synapses == 442 + 500 + 235
    assert rep.max_fan_in["output"] == 50
    assert rep.delay_steps["ih"] == (0, 19) and rep.cores == {"hidden": 1, "output": 1}
    assert "0 violation(s)" in rep.summary()


def test_empty_projection_and_population_are_fine():
    pops = [NeuronGroup("in", 2, "spike_source"), NeuronGroup("out", 0, "li", tau_mem=5.0)]
    g = NetworkGraph(pops, [Projection("p", "in", "out", [], [], [], [], 1, 5.0)])
    rep = check(g, "spinnaker")
    assert rep.ok and rep.max_fan_in == {"out": 0} and rep.max_row_length == {"p": 0}
