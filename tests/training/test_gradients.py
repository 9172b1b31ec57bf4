"""EventProp gradients against the continuous-time truth.

EventProp differentiates the continuous-time model; the dt-step engine approximates it.
Independent truth: central finite differences of delayprop.reference.exact (an exact
event-driven simulator of the same network: spike times by root finding on the closed
form, readout samples V((n+1) dt) exact). EventProp runs at small dt (0.05 ms) in double
precision; discretisation error is O(dt), so the thresholds below are

    cosine similarity >= 0.99   and   ||g_eventprop - g_fd|| / ||g_fd|| <= 0.2

(measured: 0.994-0.99996 and 0.03-0.13). A wrong sign gives cosine -1, a wrong constant
factor a relative error far above 0.2. Delay gradients are reported per step of delay
and compared per ms (divided by dt); the finite differences of delays are taken at
delays offset by half a step, where the loss is smooth (whole-step delays put input
arrivals exactly on sample times, a kink).
"""
import numpy as np
import pytest

from delayprop.reference.exact import exact_loss, finite_difference
from delayprop.training import (Adam, Connection, Dense, EventPropCompiler, Exponential,
                                GradedInput, LeakyIntegrate, LeakyIntegrateFire, Network,
                                Normal, Population, SoftmaxCrossEntropy, SpikeInput, Uniform)

DT = 0.05
T = int(round(20 / DT))            # 20 ms trials
D = int(round(2 / DT)) + 1         # delays up to 2 ms
COS_MIN, REL_MAX = 0.99, 0.2


def build(graded: bool, seed: int, readout="avg_var", batch=2):
    net = Network()
    with net:
        inp = Population(GradedInput() if graded else SpikeInput(), 5, name="input")
        hid = Population(LeakyIntegrateFire(10.0, 1.0), 6, name="hidden")
        out = Population(LeakyIntegrate(10.0, readout=readout), 3, name="output")
        Connection(inp, hid, Dense(Normal(2.0, 1.0)), Exponential(5.0), delay=Uniform(0, D - 1),
                   max_delay_steps=D, name="ih")
        Connection(hid, out, Dense(Normal(0.0, 1.0)), Exponential(5.0), delay=Uniform(0, D - 1),
                   max_delay_steps=D, name="ho")
    comp = EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, batch_size=batch,
                             delay_learning=True, dt=DT, precision="double", seed=seed)
    return comp.compile(net, f"grad_{graded}_{readout}_{batch}"), inp, out


def make_inputs(graded: bool, seed: int, batch=2):
    rng = np.random.default_rng(seed)
    if graded:
        x = np.zeros((batch, T, 5))
        for b in range(batch):
            steps = rng.integers(0, T // 2, 15)
            x[b, steps, rng.integers(0, 5, 15)] = rng.uniform(0.5, 1.5, 15)
        return x, {"input": x}
    spikes, exact = [], []
    for b in range(batch):
        key = np.unique(rng.integers(0, T // 2, 12) * 5 + rng.integers(0, 5, 12))
        steps, ids = key // 5, key % 5
        spikes.append((steps * DT, ids))
        exact.append((steps, ids))
    return spikes, {"input": exact}


def compare(ep, fd, what):
    cos = float(ep @ fd / (np.linalg.norm(ep) * np.linalg.norm(fd)))
    rel = float(np.linalg.norm(ep - fd) / np.linalg.norm(fd))
    assert np.linalg.norm(fd) > 0, f"{what}: finite differences are all zero"
    assert cos >= COS_MIN and rel <= REL_MAX, f"{what}: cosine {cos:.4f}, relative error {rel:.3f}"


@pytest.mark.parametrize("graded", [False, True], ids=["spike_input", "graded_input"])
def test_weight_and_delay_gradients_match_exact_finite_differences(graded):
    net, inp, out = build(graded, seed=3)
    data, exact_inputs = make_inputs(graded, seed=1)
    labels = np.array([0, 2])
    grads = net.gradients({inp: data}, {out: labels})
    graph = net.to_graph()
    hidden_spikes = net.evaluate({inp: data}, {out: labels})
    assert hidden_spikes["samples"] == 2
    for proj in ("ho", "ih"):
        fd = finite_difference(graph, exact_inputs, T, labels, "output", "mean", proj, "weight")
        compare(grads[f"{proj}.weight"], fd, f"dL/dw of '{proj}'")
        delays = {p.name: (p.delay + (0.5 if p.name == proj else 0.0)) * DT
                  for p in graph.projections}
        fd = finite_difference(graph, exact_inputs, T, labels, "output", "mean", proj, "delay",
                               delays_ms=delays)
        compare(grads[f"{proj}.delay"] / DT, fd, f"dL/dd of '{proj}'")
    net.close()


@pytest.mark.parametrize("readout,exact_name", [("sum_var", "sum"), ("max_var", "max"),
                                                ("avg_var_exp_weight", "exp_weighted")])
def test_readout_weight_gradients_for_every_readout(readout, exact_name):
    net, inp, out = build(False, seed=5, readout=readout)
    data, exact_inputs = make_inputs(False, seed=2)
    labels = np.array([1, 0])
    grads = net.gradients({inp: data}, {out: labels})
    fd = finite_difference(net.to_graph(), exact_inputs, T, labels, "output", exact_name, "ho",
                           "weight")
    compare(grads["ho.weight"], fd, f"dL/dw of 'ho' with readout {readout}")
    net.close()


def test_loss_matches_the_exact_loss():
    net, inp, out = build(False, seed=3)
    data, exact_inputs = make_inputs(False, seed=1)
    labels = np.array([0, 2])
    ours = net.evaluate({inp: data}, {out: labels})["loss"]
    truth = exact_loss(net.to_graph(), exact_inputs, T, labels, "output", readout="mean")
    assert abs(ours - truth) / truth < 0.05
    net.close()


def test_single_synapse_against_closed_form():
    """One input spike at step k0 through weight w and delay d into a 2-neuron readout
    (the other readout neuron gets weight 0). With the arrival a = (k0 + 1 + d) dt and
    f(s) = w tau_s/(tau_s - tau_m) (exp(-s/tau_s) - exp(-s/tau_m)) the sampled readout is
    V(t_n) = f(t_n - a) for t_n > a, z = mean_n V(t_n), and with p = softmax(z):
        dL/dw = (p_0 - y_0) mean_n f(t_n - a) / w
        dL/da = (p_0 - y_0) mean_n (-f'(t_n - a))."""
    tau_m, tau_s, w, d, k0 = 10.0, 5.0, 3.0, 20, 30
    net = Network()
    with net:
        inp = Population(SpikeInput(), 1, name="input")
        out = Population(LeakyIntegrate(tau_m, readout="avg_var"), 2, name="output")
        Connection(inp, out, Dense(np.array([w, 0.0])), Exponential(tau_s),
                   delay=np.array([d, 0.0]), max_delay_steps=D, name="io")
    comp = EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, batch_size=1, dt=DT,
                             delay_learning=True, precision="double")
    c = comp.compile(net, "closed_form")
    grads = c.gradients({inp: [(np.array([k0 * DT]), np.array([0]))]}, {out: np.array([1])})
    a = (k0 + 1 + d) * DT
    tn = (np.arange(T) + 1) * DT
    s = np.clip(tn - a, 0, None)
    f = w * tau_s / (tau_s - tau_m) * (np.exp(-s / tau_s) - np.exp(-s / tau_m))
    fprime = w * tau_s / (tau_s - tau_m) * (-np.exp(-s / tau_s) / tau_s + np.exp(-s / tau_m) / tau_m)
    fprime[tn <= a] = 0.0
    z = np.array([f.mean(), 0.0])
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    dl_dz0 = p[0] - 0.0                  # label is 1
    np.testing.assert_allclose(grads["io.weight"][0], dl_dz0 * f.mean() / w, rtol=0.02)
    np.testing.assert_allclose(grads["io.delay"][0] / DT, dl_dz0 * (-fprime).mean(), rtol=0.05)
    # the silent synapse's delay has no effect; its weight gradient is -(p_1 - 1)... x 0 input
    assert grads["io.delay"][1] == 0.0
    c.close()
