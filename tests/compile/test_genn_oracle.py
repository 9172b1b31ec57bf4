"""Spike-for-spike agreement with real GeNN 5.4 (tests/fixtures/genn_forward.npz).

The fixture holds GeNN's own output, in double precision, for a network with a SPARSE, a
DENSE and a recurrent SPARSE group with heterogeneous dendritic delays. Independent truth:
GeNN itself.
"""
from pathlib import Path

import numpy as np
import pytest

from delayprop.compile import Model, init_postsynaptic, init_weight_update
from delayprop.genn_models import LIF, ExpCurr, SpikeSourceArray, StaticPulseDendriticDelay

ORACLE = Path(__file__).parents[1] / "fixtures" / "genn_forward.npz"


def build_oracle_model(d, precision="double", backend="cpu"):
    m = Model(precision, "genn_oracle", backend, batch_size=1)
    inp = m.add_neuron_population("input", int(d["n_input"]), SpikeSourceArray)
    pops = {}
    for name in ("hidden", "output"):
        params = {k: float(d[f"{name}_{k}"]) for k in ("tau_mem", "v_thresh", "v_reset")}
        pops[name] = m.add_neuron_population(name, int(d[f"n_{name}"]), LIF, params,
                                             {"V": float(d["v_init"])})
        pops[name].spike_recording_enabled = True

    def group(name, key, kind, src, tgt):
        sg = m.add_synapse_population(
            name, kind, src, tgt,
            init_weight_update(StaticPulseDendriticDelay,
                               vars={"g": d[f"{key}_g"], "d": d[f"{key}_d"]}),
            init_postsynaptic(ExpCurr, {"tau": float(d[f"{key}_tau_syn"])}),
            int(d[f"{key}_max_delay"]))
        if kind == "SPARSE":
            sg.set_sparse_connections(d[f"{key}_pre"], d[f"{key}_post"])
        return sg

    group("input_hidden", "ih", "SPARSE", inp, pops["hidden"])
    group("hidden_output", "ho", "DENSE", pops["hidden"], pops["output"])
    group("hidden_hidden", "hh", "SPARSE", pops["hidden"], pops["hidden"])
    m.build()
    m.load()
    inp.set_spikes([(d["input_spike_step"] * float(d["dt"]), d["input_spike_id"])])
    m.reinitialise()
    return m, pops


@pytest.fixture(scope="module")
def oracle():
    return dict(np.load(ORACLE))


def test_derived_constants_equal_genn_literals(oracle):
    m, _ = build_oracle_model(oracle)
    spec = m.spec()
    assert spec.population("hidden").param_dict["alpha"] == oracle["hidden_alpha"]
    assert spec.population("output").param_dict["alpha"] == oracle["output_alpha"]
    for key, name in (("ih", "input_hidden"), ("ho", "hidden_output"), ("hh", "hidden_hidden")):
        ps = dict(next(s for s in spec.synapse_groups if s.name == name).ps_params)
        assert ps["expDecay"] == oracle[f"{key}_exp_decay"], name
        assert ps["init"] == oracle[f"{key}_init"], name
    m.unload()


def test_spikes_and_voltages_match_genn_exactly(oracle):
    m, pops = build_oracle_model(oracle)
    steps = int(oracle["num_steps"])
    v = {name: np.zeros((steps, pops[name].size)) for name in pops}
    for k in range(steps):
        m.step_time()
        for name in pops:
            v[name][k] = pops[name].vars["V"].view[0]
    for name in ("hidden", "output"):
        times, ids = pops[name].spike_recording_data[0]
        got = sorted(zip(np.rint(times).astype(int).tolist(), ids.tolist()))
        want = sorted(zip(oracle[f"{name}_spike_step"].tolist(),
                          oracle[f"{name}_spike_id"].tolist()))
        assert len(want) > 30, name       # the oracle does exercise spiking
        assert got == want, f"population '{name}': spikes differ from GeNN"
        np.testing.assert_allclose(v[name], oracle[f"{name}_V"], rtol=0, atol=1e-12,
                                   err_msg=f"population '{name}': V differs from GeNN")
    m.unload()


def test_one_run_call_equals_stepping(oracle):
    """Whole runs inside compiled code give the same spikes as stepping one by one."""
    m, pops = build_oracle_model(oracle)
    m.run(int(oracle["num_steps"]))
    times, ids = pops["hidden"].spike_recording_data[0]
    assert len(times) == len(oracle["hidden_spike_step"])
    np.testing.assert_array_equal(np.sort(np.rint(times).astype(int)),
                                  np.sort(oracle["hidden_spike_step"]))
    m.unload()


def test_latency_probe_is_k_plus_one_plus_d(oracle):
    """A spike at step 3 through delay d first changes V at step 4 + d (GeNN's probe)."""
    for d, expected in zip(oracle["probe_delays"], oracle["probe_first_nonzero_V_step"]):
        m = Model("double", "probe", batch_size=1)
        src = m.add_neuron_population("src", 1, SpikeSourceArray)
        tgt = m.add_neuron_population("tgt", 1, LIF, {"tau_mem": 20.0, "v_thresh": 100.0,
                                                     "v_reset": 0.0})
        m.add_synapse_population("s", "DENSE", src, tgt, init_weight_update(
            StaticPulseDendriticDelay, vars={"g": 1.0, "d": int(d)}),
            init_postsynaptic(ExpCurr, {"tau": 5.0}), 4)
        m.build()
        m.load()
        src.set_spikes([([float(oracle["probe_spike_step"])], [0])])
        m.reinitialise()
        first = None
        for k in range(12):
            m.step_time()
            if first is None and tgt.vars["V"].view[0, 0] != 0.0:
                first = k
        assert first == expected, f"delay {d}: first V change at step {first}"
        m.unload()
