"""delayprop's engine against Brian2, an independent simulator, spike for spike.

Mapping of the step order (docs/design.md, "Step order") onto Brian2: see
delayprop/reference/brian2_sim.py — per-synapse ``delay = d*dt`` delivers in Brian2's
``synapses`` slot of step k + d, which the neuron update of step k + 1 + d reads, as GeNN
does; V is updated in a ``run_regularly`` at ``when='groups'``, threshold and reset in
their own slots.
Double precision on both sides; random networks with one SPARSE and one DENSE group,
heterogeneous delays over the whole range 0..D-1 and different inputs per instance.
"""
import numpy as np
import pytest


from delayprop.compile import Model, init_postsynaptic, init_weight_update
from delayprop.compile.graph_model import simulate_graph
from delayprop.genn_models import (LIF, ExpCurr, GradedInput, SpikeSourceArray,
                                   StaticPulseDendriticDelay, StaticPulseGradedDendriticDelay)
from delayprop.graph import NetworkGraph, NeuronGroup, Projection
from delayprop.reference import simulate_brian2

N_IN, N_HID, N_OUT, T, BATCH = 20, 30, 10, 300, 4
D_IH, D_HO, D_HH = 16, 6, 3


def random_graph(seed, graded=False):
    rng = np.random.default_rng(seed)
    mask = rng.random((N_IN, N_HID)) < 0.3
    pre, post = np.nonzero(mask)
    d_ih = rng.integers(0, D_IH, len(pre))
    d_ih[:2] = [0, D_IH - 1]                       # both ends of the range are used
    hh_pre, hh_post = np.nonzero((rng.random((N_HID, N_HID)) < 0.1) & ~np.eye(N_HID, dtype=bool))
    ho_pre, ho_post = np.meshgrid(np.arange(N_HID), np.arange(N_OUT), indexing="ij")
    w_mean = 0.4 if graded else 1.0
    pops = (NeuronGroup("input", N_IN, "graded_input" if graded else "spike_source"),
            NeuronGroup("hidden", N_HID, "lif", tau_mem=20.0, v_thresh=1.0),
            NeuronGroup("output", N_OUT, "lif", tau_mem=15.0, v_thresh=1.0))
    projs = (Projection("ih", "input", "hidden", pre, post, rng.normal(w_mean, 0.3, len(pre)),
                        d_ih, D_IH, 5.0),
             Projection("ho", "hidden", "output", ho_pre.ravel(), ho_post.ravel(),
                        rng.normal(0.3, 0.4, N_HID * N_OUT), rng.integers(0, D_HO, N_HID * N_OUT),
                        D_HO, 3.0),
             Projection("hh", "hidden", "hidden", hh_pre, hh_post,
                        rng.normal(0.0, 0.3, len(hh_pre)), rng.integers(0, D_HH, len(hh_pre)),
                        D_HH, 5.0))
    return NetworkGraph(pops, projs)


def random_inputs(seed, graded=False):
    rng = np.random.default_rng(seed + 100)
    if graded:
        x = rng.random((BATCH, T, N_IN)) * (rng.random((BATCH, T, N_IN)) < 0.15)
        return {"input": x}
    out = []
    for b in range(BATCH):                        # a different train per instance
        cells = rng.random((T - 50, N_IN)) < 0.02 + 0.01 * b
        steps, ids = np.nonzero(cells)
        out.append((steps, ids))
    return {"input": out}


def engine_with_dense(graph, inputs, graded):
    """Build the graph with hidden->output as a DENSE group (the others SPARSE)."""
    m = Model("double", f"b2cmp_{graded}", batch_size=BATCH)
    inp = m.add_neuron_population("input", N_IN, GradedInput if graded else SpikeSourceArray,
                                  {"num_steps": T} if graded else None)
    pops = {}
    for name in ("hidden", "output"):
        p = graph.population(name)
        pops[name] = m.add_neuron_population(name, p.size, LIF, {
            "tau_mem": p.tau_mem, "v_thresh": p.v_thresh, "v_reset": p.v_reset})
        pops[name].spike_recording_enabled = True
    for proj in graph.projections:
        if proj.name == "ho":
            g = np.zeros((N_HID, N_OUT)); d = np.zeros((N_HID, N_OUT), np.uint8)
            g[proj.pre, proj.post] = proj.weight; d[proj.pre, proj.post] = proj.delay
            m.add_synapse_population("ho", "DENSE", "hidden", "output", init_weight_update(
                StaticPulseDendriticDelay, vars={"g": g, "d": d}),
                init_postsynaptic(ExpCurr, {"tau": proj.tau_syn}), proj.max_delay)
        else:
            wu = StaticPulseGradedDendriticDelay if (graded and proj.name == "ih") \
                else StaticPulseDendriticDelay
            sg = m.add_synapse_population(proj.name, "SPARSE", proj.source, proj.target,
                                          init_weight_update(wu, vars={"g": proj.weight,
                                                                       "d": proj.delay}),
                                          init_postsynaptic(ExpCurr, {"tau": proj.tau_syn}),
                                          proj.max_delay)
            sg.set_sparse_connections(proj.pre, proj.post)
    m.build()
    m.load()
    if graded:
        inp.extra_global_params["values"].set_init_values(inputs["input"].ravel())
    else:
        inp.set_spikes([(s.astype(float), i) for s, i in inputs["input"]])
    m.reinitialise()
    m.run(T)
    out = {name: [(np.rint(t).astype(int), i) for t, i in pops[name].spike_recording_data]
           for name in pops}
    m.unload()
    return out


def as_pairs(steps, ids):
    return sorted(zip(np.asarray(steps).tolist(), np.asarray(ids).tolist()))


@pytest.mark.parametrize("graded", [False, True], ids=["spikes", "graded"])
def test_random_network_matches_brian2(graded):
    graph = random_graph(7, graded)
    inputs = random_inputs(7, graded)
    ours = engine_with_dense(graph, inputs, graded)
    ref = simulate_brian2(graph, inputs, T)
    total = 0
    for name in ("hidden", "output"):
        for b in range(BATCH):
            mine, theirs = as_pairs(*ours[name][b]), as_pairs(*ref.spikes[name][b])
            assert mine == theirs, f"population '{name}', instance {b}: spikes differ"
            total += len(theirs)
    assert total > 200, "the network is too quiet to test anything"
    # different inputs per instance give different activity
    assert as_pairs(*ref.spikes["hidden"][0]) != as_pairs(*ref.spikes["hidden"][1])


def test_graph_simulation_matches_brian2_with_voltages():
    graph = random_graph(3)
    inputs = random_inputs(3)
    ours = simulate_graph(graph, inputs, T, record_v=("output",))
    ref = simulate_brian2(graph, inputs, T, record_v=("output",))
    np.testing.assert_allclose(ours.v["output"], ref.v["output"], rtol=0, atol=1e-12)
    for b in range(BATCH):
        assert as_pairs(*ours.spikes["hidden"][b]) == as_pairs(*ref.spikes["hidden"][b])
