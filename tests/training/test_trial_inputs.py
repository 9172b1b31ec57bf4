"""The trial-level input path (delayprop/compile/trial.py) against the per-step dendritic
ring it replaces: on RawHD-shaped batches (40 graded channels x 80 steps, batch 32) the
forward pass must be bit-identical (same hidden spikes at the same steps, same readout and
loss), and the gradients the same sums in another order (1e-6 relative in double).
"""
import numpy as np
import pytest

from delayprop.compile.trial import ineligible_reason, trial_groups
from delayprop.training import (Adam, Connection, Dense, EventPropCompiler,
                                FixedProbability, GradedInput, LeakyIntegrate,
                                LeakyIntegrateFire, Network, Normal, Population,
                                SoftmaxCrossEntropy, SpikeInput, Uniform)

T, CHANNELS, HIDDEN, CLASSES, BATCH = 80, 40, 96, 20, 32


def rawhd_like(n, seed=0):
    """Graded input shaped and scaled like RawHD's log-mel features: smooth in time,
    non-negative, with silent stretches before and after the word."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 0.25, size=(n, T, CHANNELS)).astype(np.float32)
    x = (x + np.roll(x, 1, axis=1) + np.roll(x, 2, axis=1)) / 3
    onset = rng.integers(0, 20, n)
    for i, o in enumerate(onset):
        x[i, :o] = 0
        x[i, o + 50:] = 0
    return x, rng.integers(0, CLASSES, n)


def spike_input(n, seed=0):
    """Spike inputs [(times, ids)] with ~5 spikes per channel, some at step 0 and T-1."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = rng.integers(150, 250)
        times = np.sort(rng.integers(0, T, k)).astype(float)
        out.append((times, rng.integers(0, CHANNELS, k)))
    return out, rng.integers(0, CLASSES, n)


def build(trial: bool, precision: str, kind: str = "graded", sparse: bool = False):
    net = Network()
    with net:
        source = GradedInput() if kind == "graded" else SpikeInput()
        inp = Population(source, CHANNELS, name="input")
        hid = Population(LeakyIntegrateFire(tau_mem=20.0, v_thresh=1.0), HIDDEN,
                         name="hidden")
        out = Population(LeakyIntegrate(tau_mem=20.0), CLASSES, name="output")
        conn = (FixedProbability(Normal(0.7, 0.3), 0.25) if sparse
                else Dense(Normal(0.0, 0.2) if kind == "graded" else Normal(0.3, 0.1)))
        ih = Connection(inp, hid, conn, delay=Uniform(0, 24), max_delay_steps=25, name="ih")
        Connection(hid, out, Dense(Normal(0.0, 0.05)), name="ho")
    comp = EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, Adam(1e-3), batch_size=BATCH,
                             delay_learning=[ih], precision=precision, seed=4,
                             trial_inputs=trial)
    return comp.compile(net, f"trial_{kind}_{precision}_{trial}_{int(sparse)}"), inp, out


def forward_and_gradients(trial, precision, kind="graded", sparse=False):
    x, y = rawhd_like(BATCH) if kind == "graded" else spike_input(BATCH)
    net, inp, out = build(trial, precision, kind, sparse)
    with net:
        assert [g.name for g in trial_groups(net.model.spec())] == (["ih"] if trial else [])
        grads = net.gradients({inp: x}, {out: y})
        rt = net.runtime
        rt.pull(*rt.tape_arrays("hidden"), "hidden_tapeStart", "hidden_tapeCount")
        count = rt.tape_count("hidden")[:BATCH].copy()
        spikes = [(rt.tape_starts("hidden")[b].copy(),
                   rt.tape_ids("hidden")[b, :count[b]].copy()) for b in range(BATCH)]
        return {"count": count, "spikes": spikes, "loss": rt.loss()[:BATCH].copy(),
                "z": rt.readout_sum("output")[:BATCH].copy(), "grads": grads}


def assert_same_forward(a, b):
    assert a["count"].sum() > BATCH * HIDDEN * 0.3, "the network should spike"
    np.testing.assert_array_equal(a["count"], b["count"])
    for (sa, ia), (sb, ib) in zip(a["spikes"], b["spikes"]):
        np.testing.assert_array_equal(sa, sb)          # where each step's spikes start
        np.testing.assert_array_equal(ia, ib)          # which neurons spiked
    np.testing.assert_array_equal(a["z"], b["z"])
    np.testing.assert_array_equal(a["loss"], b["loss"])


def assert_gradients_close(a, b, rtol):
    assert set(a) == set(b) == {"ih.weight", "ih.delay", "ho.weight"}
    for key in a:
        ga, gb = a[key], b[key]
        scale = np.abs(gb).max()
        assert scale > 0, key
        err = np.abs(ga - gb).max() / scale
        assert err <= rtol, f"{key}: max difference {err:.2e} of the largest gradient"


@pytest.mark.parametrize("precision", ["float", "double"])
def test_graded_rawhd_batch_is_bit_identical_to_the_ring(precision):
    trial = forward_and_gradients(True, precision)
    ring = forward_and_gradients(False, precision)
    assert_same_forward(trial, ring)
    assert_gradients_close(trial["grads"], ring["grads"],
                           1e-6 if precision == "double" else 1e-4)


def test_spike_sources_and_sparse_columns_match_the_ring():
    """Spike-source arrays (events at some steps only, some at the trial's last step)
    into a SPARSE group: the column order follows the ragged rows."""
    trial = forward_and_gradients(True, "double", "spikes", sparse=True)
    ring = forward_and_gradients(False, "double", "spikes", sparse=True)
    assert_same_forward(trial, ring)
    assert_gradients_close(trial["grads"], ring["grads"], 1e-6)


def test_training_epochs_follow_the_ring():
    """Two epochs of training (delays move, so the columns are re-ordered every batch)
    give the same losses and spike counts as the ring path, up to the last bits the
    gradients' summation order changes."""
    x, y = rawhd_like(96, seed=1)
    history = {}
    for trial in (True, False):
        net, inp, out = build(trial, "double")
        with net:
            history[trial] = net.train({inp: x}, {out: y}, 2, shuffle=False)
    for h_trial, h_ring in zip(history[True], history[False]):
        assert h_trial["loss"] == pytest.approx(h_ring["loss"], rel=1e-9)
        assert h_trial["spikes_per_neuron"] == pytest.approx(h_ring["spikes_per_neuron"],
                                                             rel=1e-9)


def test_ineligible_groups_say_why_and_keep_the_ring():
    """A source with incoming groups (here hidden -> output) is not known in advance."""
    with build(True, "float")[0] as net:
        spec = net.model.spec()
        ho = next(sg for sg in spec.synapse_groups if sg.name == "ho")
        assert "incoming synapse groups" in ineligible_reason(spec, ho)
        assert ineligible_reason(spec, next(sg for sg in spec.synapse_groups
                                            if sg.name == "ih")) is None


@pytest.mark.parametrize("kind, expected", [("graded", ["ih"]), ("spikes", [])])
def test_auto_chooses_graded_inputs_only(kind, expected):
    """The trial-level path costs every synapse at every step, the ring costs per event:
    by default graded inputs (an event at nearly every step) take the former, sparse
    spike inputs keep the ring."""
    net = build("auto", "float", kind)[0]
    with net:
        assert [g.name for g in trial_groups(net.model.spec())] == expected


def test_trial_inputs_must_name_inputs():
    from delayprop.errors import ConfigError
    with pytest.raises(ConfigError, match="trial_inputs must be"):
        build("everything", "float")
