"""Dendritic delays against closed-form answers (GeNN's delay-ladder test and edge cases).

Ladder: input i fires at step s_b + i and reaches the target through delay D-1-i, so every
spike lands in the same ring slot, step s_b + D (spike at k arrives at k + 1 + d). With a
DeltaCurr synapse and a leaky integrator, V is exactly 0 before that step and
(1 - alpha) * sum(w) at it.
"""
import numpy as np
import pytest

from delayprop.compile import Model, init_postsynaptic, init_weight_update
from delayprop.errors import DelaypropError
from delayprop.genn_models import (DeltaCurr, ExpCurr, LeakyIntegrator, SpikeSourceArray,
                                   StaticPulseDendriticDelay, LIF)

D = 10


def ladder_model(kind, batch, precision):
    m = Model(precision, f"ladder_{kind}_{batch}", batch_size=batch)
    src = m.add_neuron_population("src", D, SpikeSourceArray)
    tgt = m.add_neuron_population("tgt", 3, LeakyIntegrator, {"tau_mem": 10.0})
    weights = np.arange(1, D + 1, dtype=float) / 10.0           # distinct per input
    delays = (D - 1 - np.arange(D)).astype(np.uint8)             # full range 0 .. D-1
    if kind == "DENSE":
        g = np.zeros((D, 3)); dl = np.zeros((D, 3), np.uint8)
        g[:, 1] = weights; dl[:, 1] = delays; dl[:, 0] = delays  # column 0: weight 0
        vars_ = {"g": g, "d": dl}
    else:
        vars_ = {"g": weights, "d": delays}
    sg = m.add_synapse_population("s", kind, src, tgt, init_weight_update(
        StaticPulseDendriticDelay, vars=vars_), init_postsynaptic(DeltaCurr), D)
    if kind == "SPARSE":
        sg.set_sparse_connections(np.arange(D), np.ones(D, int))
    m.build()
    m.load()
    return m, src, tgt, weights.sum()


@pytest.mark.parametrize("precision", ["float", "double"])
@pytest.mark.parametrize("kind", ["DENSE", "SPARSE"])
@pytest.mark.parametrize("batch", [1, 4])
def test_all_delays_land_in_one_slot(kind, batch, precision):
    m, src, tgt, total = ladder_model(kind, batch, precision)
    starts = [2 + 3 * b for b in range(batch)]                    # different per instance
    src.set_spikes([((s + np.arange(D)).astype(float), np.arange(D)) for s in starts])
    m.reinitialise()
    alpha = np.exp(-1.0 / 10.0)
    trace = []
    for _ in range(starts[-1] + D + 3):
        m.step_time()
        trace.append(tgt.vars["V"].view[:, 1].copy())
    trace = np.array(trace)                                       # [steps, batch]
    rtol = 1e-6 if precision == "float" else 1e-13
    for b, s in enumerate(starts):
        arrival = s + D
        assert np.all(trace[:arrival, b] == 0.0), f"instance {b}: V moved before step {arrival}"
        np.testing.assert_allclose(trace[arrival, b], (1 - alpha) * total, rtol=rtol,
                                   err_msg=f"{kind}, instance {b}")
        np.testing.assert_allclose(trace[arrival + 1, b], alpha * (1 - alpha) * total,
                                   rtol=rtol)
    assert np.all(tgt.vars["V"].view[:, [0, 2]] == 0.0)            # untouched neurons
    m.unload()


def test_trials_start_clean_after_reinitialise():
    """Activity left in the ring at the end of a run must not bleed into the next trial."""
    m, src, tgt, total = ladder_model("SPARSE", 1, "double")
    src.set_spikes([(np.arange(D, dtype=float), np.arange(D))])
    m.reinitialise()
    m.run(D - 1)                       # spikes are in flight, nothing has arrived yet
    assert np.all(tgt.vars["V"].view == 0)
    src.set_spikes([(np.zeros(0), np.zeros(0, int))])
    m.reinitialise()
    m.run(3 * D)
    assert np.all(tgt.vars["V"].view == 0), "ring contents survived reinitialise()"
    m.unload()


def test_delay_out_of_range_is_reported_with_group_name():
    m = Model("double", "bad_delay")
    src = m.add_neuron_population("src", 2, SpikeSourceArray)
    tgt = m.add_neuron_population("tgt", 2, LeakyIntegrator, {"tau_mem": 10.0})
    sg = m.add_synapse_population("s", "SPARSE", src, tgt, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": 1.0, "d": [1, 4]}), init_postsynaptic(ExpCurr,
        {"tau": 5.0}), 4)
    sg.set_sparse_connections([0, 1], [0, 1])
    m.build()
    m.load()
    src.set_spikes([([0.0, 0.0], [0, 1])])
    m.reinitialise()
    with pytest.raises(DelaypropError, match=r"out of range \[0, max_dendritic_delay.*'s'"):
        m.run(5)
    m.unload()


def test_empty_group_and_empty_population_run():
    m = Model("float", "empty", batch_size=2)
    src = m.add_neuron_population("src", 4, SpikeSourceArray)
    nobody = m.add_neuron_population("nobody", 0, LIF, {"tau_mem": 20.0, "v_thresh": 1.0,
                                                       "v_reset": 0.0})
    tgt = m.add_neuron_population("tgt", 3, LIF, {"tau_mem": 20.0, "v_thresh": 1.0,
                                                  "v_reset": 0.0})
    tgt.spike_recording_enabled = True
    sg = m.add_synapse_population("s", "SPARSE", src, tgt, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": 5.0, "d": 0}), init_postsynaptic(ExpCurr,
        {"tau": 5.0}), 3)
    sg.set_sparse_connections([], [])
    m.add_synapse_population("s2", "DENSE", src, nobody, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": 5.0, "d": 0}), init_postsynaptic(ExpCurr,
        {"tau": 5.0}), 3)
    m.build()
    m.load()
    src.set_spikes([([1.0, 2.0], [0, 3]), ([4.0], [2])])
    m.reinitialise()
    m.run(20)
    assert all(len(t) == 0 for t, _ in tgt.spike_recording_data)
    assert sg.num_synapses == 0
    m.unload()


def test_rewiring_a_loaded_group_does_not_rebuild():
    m, src, tgt, _ = ladder_model("SPARSE", 1, "double")
    sg = m.synapse_populations["s"]
    before = m.build_count
    # a longer row than before (max_row_length grows from 1 to 3): arrays are reallocated
    sg.set_connectivity([0, 0, 0], [0, 1, 2], g=[1.0, 2.0, 3.0], d=[0, 0, 0])
    src.set_spikes([([1.0], [0])])
    m.reinitialise()
    m.run(3)
    alpha = np.exp(-0.1)
    np.testing.assert_allclose(tgt.vars["V"].view[0], (1 - alpha) * np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(sg.get_sparse_post_inds(), [0, 1, 2])
    assert m.build_count == before
    m.unload()
