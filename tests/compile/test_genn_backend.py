"""``Model(..., backend="genn")`` against delayprop's own CPU backend and GeNN's fixture.

The same network, built once through real PyGeNN (GeNN generates, compiles and runs it)
and once through delayprop's generator, must give identical spikes (same neuron, same
step) and V to 1e-9 in double: random SPARSE + DENSE + recurrent networks with delays
over the whole range 0..D-1, spike and graded inputs, user-defined neuron, postsynaptic
and current-source models. Skipped, with the reason, where PyGeNN is not installed.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

pygenn = pytest.importorskip("pygenn", reason="PyGeNN is not installed (GeNN 5 from source;"
                                              " see the README, 'With GeNN')")

from delayprop.compile import Model, init_postsynaptic, init_weight_update  # noqa: E402
from delayprop.errors import ConfigError, ModelDefinitionError  # noqa: E402
from delayprop.genn_models import (DC, LIF, ExpCurr, GradedInput, SpikeSourceArray,  # noqa: E402
                                   StaticPulseDendriticDelay, StaticPulseGradedDendriticDelay,
                                   create_current_source_model, create_neuron_model,
                                   create_postsynaptic_model)
from delayprop.genn_models.adjoint import lif_adjoint  # noqa: E402

HERE = Path(__file__).parent
N_IN, N_HID, N_OUT, T = 16, 24, 8, 160
D_IH, D_HO, D_HH = 12, 5, 3

#: A user-defined neuron: LIF with a spike-triggered adaptation current.
ALIF = create_neuron_model(
    "ALIF", params=["tau_mem", "tau_adapt", "beta", "v_thresh"],
    derived_params=[("alpha", lambda p, dt: np.exp(-dt / p["tau_mem"])),
                    ("rho", lambda p, dt: np.exp(-dt / p["tau_adapt"]))],
    vars=[("V", "scalar"), ("A", "scalar")],
    sim_code="""
V = alpha * V + (1.0 - alpha) * (Isyn - A);
A *= rho;
""",
    threshold_condition_code="V >= v_thresh",
    reset_code="V = 0.0;\nA += beta;")

#: A user-defined postsynaptic model: alpha-shaped current with a state variable.
AlphaCurr = create_postsynaptic_model(
    "AlphaCurr", params=["tau"], derived_params=[("decay", lambda p, dt: np.exp(-dt / p["tau"]))],
    vars=[("x", "scalar")],
    sim_code="""
x = decay * x + inSyn;
injectCurrent(x / tau);
inSyn = 0.0;
""")

#: A user-defined current source with a variable: a slowly rising ramp.
Ramp = create_current_source_model(
    "Ramp", params=["slope"], vars=[("level", "scalar")],
    injection_code="level += slope;\ninjectCurrent(level);")


def random_network(seed, graded, backend, precision="double"):
    """input -> hidden (SPARSE), hidden -> output (DENSE), hidden -> hidden (SPARSE),
    heterogeneous delays over 0..D-1; returns (model, input pop, {name: pop})."""
    rng = np.random.default_rng(seed)
    m = Model(precision, f"rnd_{seed}_{int(graded)}", backend, batch_size=1)
    inp = m.add_neuron_population("inp", N_IN, GradedInput if graded else SpikeSourceArray,
                                  {"num_steps": T} if graded else None)
    hid = m.add_neuron_population("hid", N_HID, ALIF, {"tau_mem": 20.0, "tau_adapt": 80.0,
                                                       "beta": 0.3, "v_thresh": 1.0},
                                  {"V": rng.uniform(0, 0.5, N_HID), "A": 0.0})
    out = m.add_neuron_population("out", N_OUT, LIF, {"tau_mem": 15.0, "v_thresh": 1.0,
                                                      "v_reset": 0.0}, {"V": 0.0})
    for p in (hid, out):
        p.spike_recording_enabled = True
    pre, post = np.nonzero(rng.random((N_IN, N_HID)) < 0.35)
    d = rng.integers(0, D_IH, len(pre))
    d[:2] = [0, D_IH - 1]
    perm = rng.permutation(len(pre))            # lists in no particular order
    wu = StaticPulseGradedDendriticDelay if graded else StaticPulseDendriticDelay
    ih = m.add_synapse_population(
        "ih", "SPARSE", inp, hid,
        init_weight_update(wu, vars={"g": rng.normal(0.9 if graded else 1.4, 0.4,
                                                     len(pre))[perm],
                                     "d": (d if graded else d.astype(np.uint8))[perm]}),
        init_postsynaptic(ExpCurr, {"tau": 5.0}), D_IH)
    ih.set_sparse_connections(pre[perm], post[perm])
    g_ho = rng.normal(1.2, 0.6, (N_HID, N_OUT))
    d_ho = rng.integers(0, D_HO, (N_HID, N_OUT)).astype(np.uint8)
    d_ho[0, 0], d_ho[0, 1] = 0, D_HO - 1
    m.add_synapse_population("ho", "DENSE", hid, out, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": g_ho, "d": d_ho}),
        init_postsynaptic(AlphaCurr, {"tau": 4.0}, {"x": 0.0}), D_HO)
    hh_pre, hh_post = np.nonzero((rng.random((N_HID, N_HID)) < 0.15)
                                 & ~np.eye(N_HID, dtype=bool))
    hh = m.add_synapse_population("hh", "SPARSE", hid, hid, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": rng.normal(0.0, 0.5, len(hh_pre)),
                                         "d": rng.integers(0, D_HH, len(hh_pre))}),
        init_postsynaptic(ExpCurr, {"tau": 3.0}), D_HH)
    hh.set_sparse_connections(hh_pre, hh_post)
    m.add_current_source("bias", DC, out, {"amp": 0.05})
    m.add_current_source("ramp", Ramp, hid, {"slope": 2e-4}, {"level": 0.0})
    m.build()
    m.load(num_recording_timesteps=37)          # runs longer than the ring: read as it goes
    return m, inp, {"hid": hid, "out": out}


def random_input(seed, graded):
    rng = np.random.default_rng(seed + 1000)
    if graded:
        return rng.random((T, N_IN)) * (rng.random((T, N_IN)) < 0.2)
    steps, ids = np.nonzero(rng.random((T - 20, N_IN)) < 0.06)
    return steps.astype(float), ids


def give_input(m, inp, x, graded):
    if graded:
        inp.extra_global_params["values"].set_init_values(x.ravel())
    else:
        inp.set_spikes([x])
    m.reinitialise()


def run_and_record(m, pops, chunks):
    """Run in the given chunks, reading V after every step; spikes as (step, id) pairs."""
    v = {name: [] for name in pops}
    for chunk in chunks:
        for _ in range(chunk):
            m.step_time()
            for name, p in pops.items():
                p.vars["V"].pull_from_device()
                v[name].append(p.vars["V"].view[0].copy())
    spikes = {}
    for name, p in pops.items():
        times, ids = p.spike_recording_data[0]
        spikes[name] = list(zip(np.rint(times / m.dt).astype(int).tolist(), ids.tolist()))
    return spikes, {name: np.array(vals) for name, vals in v.items()}


def assert_same(genn_result, cpu_result, min_spikes=40):
    (g_spikes, g_v), (c_spikes, c_v) = genn_result, cpu_result
    total = 0
    for name in c_spikes:
        assert g_spikes[name] == c_spikes[name], f"population '{name}': spikes differ"
        np.testing.assert_allclose(g_v[name], c_v[name], rtol=0, atol=1e-9,
                                   err_msg=f"population '{name}': V differs")
        total += len(c_spikes[name])
    assert total >= min_spikes, f"only {total} spikes: the network tests too little"


@pytest.mark.parametrize("graded", [False, True], ids=["spikes", "graded"])
def test_random_network_genn_equals_cpu(graded):
    x = random_input(3, graded)
    results = []
    for backend in ("genn", "cpu"):
        m, inp, pops = random_network(3, graded, backend)
        give_input(m, inp, x, graded)
        results.append(run_and_record(m, pops, [T]))
        m.unload()
    assert_same(*results)


def test_second_trial_after_reinitialise_and_uneven_runs():
    """New spikes (a spike-time array of another length), reinitialise, runs of uneven
    length across the recording ring's boundary, recordings read mid-run."""
    models = {b: random_network(5, False, b) for b in ("genn", "cpu")}
    for seed in (5, 6):
        x = random_input(seed, False)
        results, mids = [], []
        for backend, (m, inp, pops) in models.items():
            give_input(m, inp, x, False)
            # delayprop's CPU reinitialise leaves current-source variables as they were
            # (they have no initial-value array); GeNN's reload resets them: set it here
            m.current_sources["ramp"].set_initial("level", 0.0)
            m.run(40)
            times, ids = pops["hid"].spike_recording_data[0]    # read, then keep running
            mids.append(list(zip(times.tolist(), ids.tolist())))
            results.append(run_and_record(m, pops, [33, 1, 80, T - 154]))
        assert mids[0] == mids[1] and len(mids[0]) > 5
        assert_same(*results)
    for m, _, _ in models.values():
        m.unload()


def test_rewired_sparse_group_genn_equals_cpu():
    """Rewiring a loaded SPARSE group (fewer synapses per row) keeps GeNN and the CPU
    backend equal; a row longer than GeNN's built capacity is refused."""
    x = random_input(8, False)
    rng = np.random.default_rng(0)
    pre, post = np.nonzero(rng.random((N_IN, N_HID)) < 0.2)
    g, d = rng.normal(1.5, 0.3, len(pre)), rng.integers(0, D_IH, len(pre)).astype(np.uint8)
    results = []
    for backend in ("genn", "cpu"):
        m, inp, pops = random_network(8, False, backend)
        m.synapse_populations["ih"].set_connectivity(pre, post, g=g, d=d)
        give_input(m, inp, x, False)
        results.append(run_and_record(m, pops, [T]))
        np.testing.assert_array_equal(m.synapse_populations["ih"].vars["g"].values,
                                      g[np.lexsort((post, pre))])
        if backend == "genn":
            with pytest.raises(ConfigError, match="row capacity"):
                m.synapse_populations["ih"].set_connectivity(np.zeros(N_HID, int),
                                                             np.arange(N_HID))
        m.unload()
    assert_same(*results, min_spikes=20)


def _oracle_module():
    spec = importlib.util.spec_from_file_location("genn_oracle_builder",
                                                  HERE / "test_genn_oracle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixture_network_regenerated_through_genn():
    """tests/fixtures/genn_forward.npz (GeNN 5.4's output) from this backend."""
    oracle = _oracle_module()
    d = dict(np.load(oracle.ORACLE))
    m, pops = oracle.build_oracle_model(d, backend="genn")
    steps = int(d["num_steps"])
    v = {name: np.zeros((steps, p.size)) for name, p in pops.items()}
    for k in range(steps):
        m.step_time()
        for name, p in pops.items():
            v[name][k] = p.vars["V"].view[0]
    for name in ("hidden", "output"):
        times, ids = pops[name].spike_recording_data[0]
        got = sorted(zip(np.rint(times).astype(int).tolist(), ids.tolist()))
        want = sorted(zip(d[f"{name}_spike_step"].tolist(), d[f"{name}_spike_id"].tolist()))
        assert len(want) > 30 and got == want, f"population '{name}': spikes differ"
        np.testing.assert_allclose(v[name], d[f"{name}_V"], rtol=0, atol=1e-12)
    m.unload()


# ---------------------------------------------------------------------- clear errors
def test_batch_above_one_on_genn_cpu_backend_is_refused():
    with pytest.raises(ConfigError, match="single_threaded_cpu.*batch_size must be 1"):
        Model("double", "b", "genn:single_threaded_cpu", batch_size=4)


def test_unknown_genn_backend_names_the_available_ones():
    with pytest.raises(ConfigError, match="single_threaded_cpu"):
        Model("double", "b", "genn:opencl")


def test_adjoint_model_is_refused_at_definition():
    m = Model("double", "adj", "genn")
    with pytest.raises(ModelDefinitionError, match="delayprop extension"):
        m.add_neuron_population("h", 3, LIF, {"tau_mem": 20.0, "v_thresh": 1.0,
                                              "v_reset": 0.0}, adjoint=lif_adjoint())


@pytest.mark.parametrize("code, match", [
    ("V = hypot(V, Isyn);", "no function 'hypot'"),
    ("if (isnan(V)) { V = 0.0; }", "no function 'isnan'"),
    ("V += lrint(Isyn);", "no function 'lrint'"),
])
def test_functions_genn_lacks_are_refused_at_definition(code, match):
    model = create_neuron_model("Odd", vars=[("V", "scalar")], sim_code=code)
    m = Model("double", "odd", "genn")
    with pytest.raises(ModelDefinitionError, match=match):
        m.add_neuron_population("p", 2, model)


def test_scalar_egp_and_real_delay_are_refused_at_definition():
    from delayprop.genn_models import create_weight_update_model
    m = Model("double", "odd", "genn")
    egp = create_neuron_model("E", vars=[("V", "scalar")], extra_global_params=[("k", "scalar")],
                              sim_code="V += k;")
    with pytest.raises(ModelDefinitionError, match="not an array"):
        m.add_neuron_population("p", 2, egp)
    src = m.add_neuron_population("s", 2, SpikeSourceArray)
    real = create_weight_update_model("RealDelay", vars=[("g", "scalar"), ("d", "scalar")],
                                      pre_spike_syn_code="addToPostDelay(g, d);")
    with pytest.raises(ModelDefinitionError, match="real-valued"):
        m.add_synapse_population("s2", "DENSE", src, src, init_weight_update(real),
                                 init_postsynaptic(ExpCurr, {"tau": 5.0}), 4)


def test_unknown_genn_preference_is_refused():
    with pytest.raises(ConfigError, match="not preferences"):
        Model("double", "p", "genn", optimise_kode=True)


def test_network_graph_simulated_through_genn_equals_cpu():
    """simulate_graph (the engine behind export validation) runs on backend 'genn' too:
    a graded-input graph, one trial, spikes and V equal to the CPU backend's."""
    from delayprop.compile.graph_model import simulate_graph
    from delayprop.graph import NetworkGraph, NeuronGroup, Projection
    rng = np.random.default_rng(11)
    pre, post = np.nonzero(rng.random((N_IN, N_HID)) < 0.4)
    hp, hq = np.nonzero((rng.random((N_HID, N_HID)) < 0.1) & ~np.eye(N_HID, dtype=bool))
    graph = NetworkGraph(
        (NeuronGroup("x", N_IN, "graded_input"),
         NeuronGroup("hidden", N_HID, "lif", tau_mem=20.0, v_thresh=1.0),
         NeuronGroup("out", N_OUT, "li", tau_mem=10.0)),
        (Projection("xh", "x", "hidden", pre, post, rng.normal(1.0, 0.4, len(pre)),
                    rng.integers(0, D_IH, len(pre)), D_IH, 5.0),
         Projection("hh", "hidden", "hidden", hp, hq, rng.normal(0, 0.4, len(hp)),
                    rng.integers(0, D_HH, len(hp)), D_HH, 3.0),
         Projection("ho", "hidden", "out", np.repeat(np.arange(N_HID), N_OUT),
                    np.tile(np.arange(N_OUT), N_HID), rng.normal(0, 0.5, N_HID * N_OUT),
                    rng.integers(0, D_HO, N_HID * N_OUT), D_HO, 5.0)))
    x = random_input(11, graded=True)[None]
    runs = [simulate_graph(graph, {"x": x}, T, record_v=("hidden", "out"), backend=b)
            for b in ("genn", "cpu")]
    steps, ids = runs[1].spikes["hidden"][0]
    assert len(steps) > 40
    for a, b in zip(runs[0].spikes["hidden"][0], runs[1].spikes["hidden"][0]):
        np.testing.assert_array_equal(a, b)
    for name in ("hidden", "out"):
        np.testing.assert_allclose(runs[0].v[name], runs[1].v[name], rtol=0, atol=1e-9)
