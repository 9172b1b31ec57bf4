"""simulate_brian2 against real GeNN output and closed forms.

Independent truths: tests/fixtures/genn_forward.npz (GeNN 5.4, double precision, every
spike and V value), GeNN's latency probe stored in the same file, and closed-form solutions
of the linear synapse/membrane recurrence written out below.
"""
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from delayprop.errors import ConfigError, DataError, SimulationError
from delayprop.graph import NetworkGraph, NeuronGroup, Projection
from delayprop.reference import simulate_brian2
from delayprop.reference.brian2_sim import _collect, syn_constants

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "genn_forward.npz"


@pytest.fixture(scope="module")
def genn():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def genn_graph(d) -> NetworkGraph:
    """The fixture's 30 -> 50 (recurrent) -> 10 network as a NetworkGraph."""
    def lif(name):
        return NeuronGroup(name, int(d[f"n_{name}"]), "lif",
                           tau_mem=float(d[f"{name}_tau_mem"]),
                           v_thresh=float(d[f"{name}_v_thresh"]),
                           v_reset=float(d[f"{name}_v_reset"]), v_init=float(d["v_init"]))

    def sparse(tag, src, tgt):
        return Projection(tag, src, tgt, d[f"{tag}_pre"], d[f"{tag}_post"], d[f"{tag}_g"],
                          d[f"{tag}_d"], int(d[f"{tag}_max_delay"]), float(d[f"{tag}_tau_syn"]))

    pre, post = np.nonzero(np.ones_like(d["ho_g"], dtype=bool))
    dense = Projection("ho", "hidden", "output", pre, post, d["ho_g"][pre, post],
                       d["ho_d"][pre, post], int(d["ho_max_delay"]), float(d["ho_tau_syn"]))
    pops = [NeuronGroup("input", int(d["n_input"]), "spike_source"), lif("hidden"), lif("output")]
    return NetworkGraph(pops, [sparse("ih", "input", "hidden"), dense,
                               sparse("hh", "hidden", "hidden")], dt=float(d["dt"]))


def genn_input(d, shift=0):
    return (d["input_spike_step"].astype(np.int64) + shift, d["input_spike_id"].astype(np.int64))


def test_constants_match_genn_literals(genn):
    for tag in ("ih", "ho", "hh"):
        init, decay = syn_constants(float(genn[f"{tag}_tau_syn"]), 1.0)
        assert init == genn[f"{tag}_init"] and decay == genn[f"{tag}_exp_decay"], tag


def test_reproduces_genn_spike_for_spike(genn):
    graph = genn_graph(genn)
    res = simulate_brian2(graph, {"input": [genn_input(genn)]}, int(genn["num_steps"]),
                          record_v=("hidden", "output"))
    for pop in ("hidden", "output"):
        steps, ids = res.spikes[pop][0]
        assert len(steps) == len(genn[f"{pop}_spike_step"]), pop
        np.testing.assert_array_equal(steps, genn[f"{pop}_spike_step"], err_msg=pop)
        np.testing.assert_array_equal(ids, genn[f"{pop}_spike_id"], err_msg=pop)
        assert res.v[pop].shape == (1,) + genn[f"{pop}_V"].shape
        np.testing.assert_allclose(res.v[pop][0], genn[f"{pop}_V"], rtol=0, atol=1e-9,
                                   err_msg=pop)


def test_batch_instances_are_independent(genn):
    """Instance 0 = GeNN's input, 1 = silent, 2 = input 10 steps later (vs a lone run)."""
    graph = genn_graph(genn)
    steps, ids = genn_input(genn)
    keep = steps + 10 < 200
    shifted = (steps[keep] + 10, ids[keep])
    empty = (np.zeros(0, int), np.zeros(0, int))
    res = simulate_brian2(graph, {"input": [genn_input(genn), empty, shifted]}, 200,
                          record_v=("output",))
    lone = simulate_brian2(graph, {"input": [shifted]}, 200, record_v=("output",))
    np.testing.assert_array_equal(res.spikes["hidden"][0][0], genn["hidden_spike_step"])
    np.testing.assert_array_equal(res.spikes["output"][0][1], genn["output_spike_id"])
    np.testing.assert_allclose(res.v["output"][0], genn["output_V"], atol=1e-9, rtol=0)
    assert len(res.spikes["hidden"][1][0]) == 0 and not res.v["output"][1].any()
    for pop in ("hidden", "output"):
        for a, b in zip(res.spikes[pop][2], lone.spikes[pop][0]):
            np.testing.assert_array_equal(a, b, err_msg=pop)
    np.testing.assert_array_equal(res.v["output"][2], lone.v["output"][0])


def one_to_many(kind_in, n_post, delays, weights, tau_syn=5.0, kind_post="li", **post_kw):
    post_kw.setdefault("tau_mem", 10.0)
    pops = [NeuronGroup("in", 1, kind_in), NeuronGroup("post", n_post, kind_post, **post_kw)]
    n = len(delays)
    proj = Projection("p", "in", "post", np.zeros(n, int), np.arange(n), weights, delays,
                      max(delays) + 1, tau_syn)
    return NetworkGraph(pops, [proj])


def test_latency_probe_matches_genn(genn):
    """A spike in step 3 through delay d = 0, 1, 2 first moves V in step 4, 5, 6."""
    delays = genn["probe_delays"].astype(int)
    graph = one_to_many("spike_source", len(delays), delays, np.ones(len(delays)))
    step = int(genn["probe_spike_step"])
    res = simulate_brian2(graph, {"in": [([step], [0])]}, 12, record_v="post")
    first = [int(np.flatnonzero(res.v["post"][0, :, j])[0]) for j in range(len(delays))]
    assert first == genn["probe_first_nonzero_V_step"].tolist() == [4, 5, 6]


def li_response(a, s, n, alpha, init, decay):
    """Closed form V(n) of an LI neuron after one event of size a entering Isyn at step s."""
    m = n - s + 1
    return np.where(n >= s, (1 - alpha) * init * a * (alpha ** m - decay ** m) / (alpha - decay),
                    0.0)


def test_graded_input_against_closed_form():
    """Two batch instances, two delays; values read at the emission step, zeros emit nothing."""
    tau_mem, tau_syn, steps = 10.0, 5.0, 30
    delays, weights = np.array([0, 3]), np.array([1.5, -0.7])
    graph = one_to_many("graded_input", 2, delays, weights, tau_syn=tau_syn, tau_mem=tau_mem)
    x = np.zeros((2, steps, 1))
    x[0, 2, 0], x[0, 4, 0] = 0.5, -2.0       # x changes right after: a delayed read would see 0
    x[1, 7, 0] = 3.0
    res = simulate_brian2(graph, {"in": x}, steps, record_v=["post"])
    alpha = np.exp(-1.0 / tau_mem)
    init, decay = (tau_syn * (1 - np.exp(-1 / tau_syn))), np.exp(-1 / tau_syn)
    n = np.arange(steps)
    for b in range(2):
        for j in range(2):
            want = sum(li_response(weights[j] * x[b, k, 0], k + 1 + delays[j], n, alpha, init,
                                   decay) for k in np.flatnonzero(x[b, :, 0]))
            np.testing.assert_allclose(res.v["post"][b, :, j], want, rtol=1e-12, atol=1e-14,
                                       err_msg=f"instance {b}, synapse delay {delays[j]}")


def test_lif_threshold_reset_and_v_init_by_hand():
    """v_init = 0.3, v_reset = -0.2: spike when V >= 1, then V = v_reset in the same step."""
    tau_mem, tau_syn, w = 5.0, 2.0, 16.0
    graph = one_to_many("spike_source", 1, [1], [w], tau_syn=tau_syn, kind_post="lif",
                        tau_mem=tau_mem, v_thresh=1.0, v_reset=-0.2, v_init=0.3)
    res = simulate_brian2(graph, {"in": [([0], [0])]}, 8, record_v="post")
    a, dec = np.exp(-1 / tau_mem), np.exp(-1 / tau_syn)
    init = tau_syn * (1 - dec)
    # steps 0, 1: no input yet (arrives in step 0 + 1 + 1 = 2), V decays from 0.3
    v, want, spikes = 0.3, [], []
    for k in range(8):
        isyn = init * w * dec ** (k - 2) if k >= 2 else 0.0
        v = a * v + (1 - a) * isyn
        if v >= 1.0:
            spikes.append(k)
            v = -0.2
        want.append(v)
    # by hand: V = 0.246, 0.201, 2.447 (spike), 1.221 (spike), 0.676, 1.063 (spike), ...
    assert spikes == [2, 3, 5]
    np.testing.assert_allclose(res.v["post"][0, :, 0], want, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(res.spikes["post"][0][0], spikes)


def test_empty_population_and_projection():
    pops = [NeuronGroup("in", 2, "spike_source"), NeuronGroup("none", 0, "lif", tau_mem=10.0,
                                                              v_thresh=1.0),
            NeuronGroup("out", 1, "li", tau_mem=10.0)]
    projs = [Projection("p", "in", "out", [], [], [], [], 1, 5.0),
             Projection("q", "in", "none", [], [], [], [], 1, 5.0)]
    res = simulate_brian2(NetworkGraph(pops, projs), {"in": [([1], [0]), ([], [])]}, 5,
                          record_v=("out", "none"))
    assert res.v["out"].shape == (2, 5, 1) and not res.v["out"].any()
    assert res.v["none"].shape == (2, 5, 0)
    assert [len(s) for s, _ in res.spikes["none"]] == [0, 0]


def test_recorded_steps_that_disagree_are_a_simulation_error():
    """If Brian2 ever recorded V for another number of steps than simulated, the result
    is refused with the project's error (a RuntimeError too), not reshaped wrongly."""
    graph = NetworkGraph([NeuronGroup("in", 1, "spike_source"),
                          NeuronGroup("out", 2, "li", tau_mem=10.0)], [])
    monitor = types.SimpleNamespace(V=np.zeros((2 * 2, 4)))      # 4 steps recorded, 5 run
    with pytest.raises(SimulationError, match="recorded 4 steps of V for 'out', expected 5") \
            as err:
        _collect(graph, 2, 5, {}, {"out": monitor}, ("out",))
    assert isinstance(err.value, RuntimeError)


def test_import_does_not_need_brian2():
    code = ("import sys; import delayprop.reference as r; "
            "assert 'brian2' not in sys.modules; assert 'simulate_brian2' in dir(r)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture
def small():
    pops = [NeuronGroup("spk", 3, "spike_source"), NeuronGroup("mel", 2, "graded_input"),
            NeuronGroup("out", 2, "lif", tau_mem=10.0, v_thresh=1.0)]
    projs = [Projection("a", "spk", "out", [0], [1], [1.0], [0], 1, 5.0),
             Projection("b", "mel", "out", [1], [0], [1.0], [0], 1, 5.0)]
    return NetworkGraph(pops, projs)


GOOD_SPK = [([0, 2], [1, 2])]
GOOD_MEL = np.zeros((1, 5, 2))


@pytest.mark.parametrize("inputs, steps, record, err, match", [
    ({"spk": GOOD_SPK, "mel": GOOD_MEL, "nope": GOOD_MEL}, 5, (), ConfigError,
     r"\['nope'\].*not input populations"),
    ({"spk": GOOD_SPK, "out": GOOD_MEL, "mel": GOOD_MEL}, 5, (), ConfigError, r"\['out'\]"),
    ({"spk": GOOD_SPK}, 5, (), ConfigError, r"no input given .*\['mel'\]"),
    ({"spk": GOOD_SPK, "mel": GOOD_MEL}, 0, (), ConfigError, "num_steps must be"),
    ({"spk": GOOD_SPK, "mel": GOOD_MEL}, 5, ("spk",), ConfigError, "record_v: 'spk'"),
    ({"spk": GOOD_SPK, "mel": np.zeros((1, 4, 2))}, 5, (), DataError,
     r"'mel'.*expected shape \[batch, 5, 2\], got \[1, 4, 2\]"),
    ({"spk": GOOD_SPK, "mel": np.full((1, 5, 2), np.nan)}, 5, (), DataError, "finite"),
    ({"spk": GOOD_SPK, "mel": np.zeros((2, 5, 2))}, 5, (), DataError,
     "disagree on the batch size"),
    ({"spk": [([0], [3])], "mel": GOOD_MEL}, 5, (), DataError,
     r"instance 0: ids must lie in \[0, 3\), got \[3, 3\]"),
    ({"spk": [([5], [0])], "mel": GOOD_MEL}, 5, (), DataError, r"steps must lie in \[0, 5\)"),
    ({"spk": [([1, 1], [0, 0])], "mel": GOOD_MEL}, 5, (), DataError,
     "neuron 0 spikes twice in step 1"),
    ({"spk": [([1.5], [0])], "mel": GOOD_MEL}, 5, (), DataError, "whole numbers"),
    ({"spk": [([1, 2], [0])], "mel": GOOD_MEL}, 5, (), DataError, "2 steps but 1 ids"),
    ({"spk": [np.zeros(3)], "mel": GOOD_MEL}, 5, (), DataError, r"\(steps, ids\) pair"),
    ({"spk": np.zeros((1, 5, 3)), "mel": GOOD_MEL}, 5, (), DataError, "one \\(steps, ids\\)"),
    ({"spk": [], "mel": np.zeros((0, 5, 2))}, 5, (), DataError, "batch size 0"),
    ([("spk", GOOD_SPK)], 5, (), DataError, "inputs must be a dict"),
])
def test_bad_inputs_are_refused(small, inputs, steps, record, err, match):
    with pytest.raises(err, match=match):
        simulate_brian2(small, inputs, steps, record_v=record)


def test_bad_codegen_target(small):
    with pytest.raises(ConfigError, match="codegen_target must be one of"):
        simulate_brian2(small, {"spk": GOOD_SPK, "mel": GOOD_MEL}, 5, codegen_target="cpp")


def test_float_whole_steps_accepted_and_sorted(small):
    """Integer-valued floats are fine; output spikes come back sorted by step, then id."""
    pops = list(small.populations)
    projs = [Projection("a", "spk", "out", [0, 1], [1, 0], [50.0, 50.0], [0, 0], 1, 5.0)]
    graph = NetworkGraph(pops, projs)
    res = simulate_brian2(graph, {"spk": [(np.array([2.0, 0.0]), np.array([1.0, 0.0]))],
                                  "mel": GOOD_MEL}, 5)
    steps, ids = res.spikes["out"][0]
    pairs = list(zip(steps.tolist(), ids.tolist()))
    assert pairs == sorted(pairs) and len(pairs) > 2
    # first spikes: input 0 (step 0) drives out 1 in step 1; input 1 (step 2) out 0 in step 3
    assert steps[ids == 1][0] == 1 and steps[ids == 0][0] == 3
