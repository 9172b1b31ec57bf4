"""Tests of delayprop.reference.exact, the continuous-time truth for gradient tests.

Independent truths used here: closed forms of the linear LIF/LI response written out in this
file, first threshold crossings found by a dense grid plus bisection, a fourth-order
Runge-Kutta integration of the same ODEs with its own event handling, and analytic
gradients (through readout sums and through one spike time via the implicit function
theorem).
"""
import math
import time

import numpy as np
import pytest

from delayprop.errors import ConfigError, DataError
from delayprop.graph import NetworkGraph, NeuronGroup, Projection
from delayprop.reference import (FiniteDifferenceError, exact_loss, finite_difference,
                                 loss_from_samples, readout_logits, simulate_exact)
from delayprop.reference import exact as exact_module


# ------------------------------------------------------------------------ independent maths
def kernel(s, tau_syn, tau_mem):
    """V at lag s after a unit current jump (tau_mem dV/dt = -V + I), written out here."""
    s = np.asarray(s, dtype=float)
    pos = np.maximum(s, 0.0)
    if tau_syn == tau_mem:
        val = pos / tau_mem * np.exp(-pos / tau_mem)
    else:
        val = tau_syn / (tau_syn - tau_mem) * (np.exp(-pos / tau_syn) - np.exp(-pos / tau_mem))
    return np.where(s > 0, val, 0.0)


def kernel_slope(s, tau_syn, tau_mem):
    """d kernel / ds = (I(s) - V(s)) / tau_mem."""
    s = np.asarray(s, dtype=float)
    return np.where(s > 0, (np.exp(-np.maximum(s, 0) / tau_syn)
                            - kernel(s, tau_syn, tau_mem)) / tau_mem, 0.0)


def first_crossing(f, t0, t1, theta, step=1e-3):
    """First t in [t0, t1] with f(t) >= theta: dense grid, then 200 bisections."""
    grid = np.arange(t0, t1, step)
    above = np.flatnonzero(f(grid) >= theta)
    assert above.size, "no crossing in the window; the test set-up is wrong"
    lo, hi = grid[above[0] - 1], grid[above[0]]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if f(np.array([mid]))[0] >= theta else (mid, hi)
    return hi


def one_to_one(w, delay_steps, tau_syn=5.0, tau_mem=20.0, kind="lif", dt=1.0, max_delay=8):
    pops = [NeuronGroup("in", 1, "spike_source"),
            NeuronGroup("n", 1, kind, tau_mem=tau_mem,
                        v_thresh=1.0 if kind == "lif" else None, v_reset=0.0)]
    proj = Projection("p", "in", "n", [0], [0], [w], [delay_steps], max_delay, tau_syn)
    return NetworkGraph(pops, [proj], dt=dt)


def unique_spikes(rng, num_steps, size, count):
    """``count`` distinct (step, id) events, sorted by step."""
    flat = np.sort(rng.choice(num_steps * size, count, replace=False))
    return flat // size, flat % size


def dense(name, src, tgt, n_src, n_tgt, w, d, tau_syn, max_delay=30):
    pre, post = np.meshgrid(np.arange(n_src), np.arange(n_tgt), indexing="ij")
    return Projection(name, src, tgt, pre.ravel(), post.ravel(), np.ravel(w), np.ravel(d),
                      max_delay, tau_syn)


# -------------------------------------------------------------------- single-neuron closed form
@pytest.mark.parametrize("tau_syn", [5.0, 20.0, 20.0 * (1 + 1e-9), 35.0])
def test_single_input_matches_closed_form(tau_syn):
    dt, k, d, w = 0.5, 3, 4, 1.5
    graph = one_to_one(w, d, tau_syn=tau_syn, dt=dt)
    res = simulate_exact(graph, {"in": [([k], [0])]}, num_steps=120)
    arrival = (k + 1) * dt + d * dt
    t = (np.arange(120) + 1) * dt
    near_equal = tau_syn != 20.0 and abs(tau_syn - 20.0) < 1e-6
    # the textbook formula cancels catastrophically for tau_syn ~ tau_mem: compare with the
    # tau_syn == tau_mem limit there, which differs by O(1e-9) relative
    expected = w * kernel(t - arrival, 20.0 if near_equal else tau_syn, 20.0)
    assert res.spike_times["n"][0][0].size == 0, "set-up must stay below threshold"
    np.testing.assert_allclose(res.samples["n"][0, :, 0], expected,
                               rtol=1e-8 if near_equal else 1e-12, atol=1e-14)
    np.testing.assert_allclose(res.sample_times, t)
    np.testing.assert_array_equal(res.spike_times["in"][0][0], [(k + 1) * dt])


@pytest.mark.parametrize("tau_syn, w", [(5.0, 10.0), (20.0, 4.0), (3.0, 30.0)])
def test_spike_times_and_resets_match_independent_search(tau_syn, w):
    k, d, tau_m, t_end = 2, 3, 20.0, 60.0
    graph = one_to_one(w, d, tau_syn=tau_syn)
    res = simulate_exact(graph, {"in": [([k], [0])]}, num_steps=int(t_end))
    # chain of closed-form pieces: after each crossing restart at V = 0 with the current left
    t0, current, expected_times, currents = float(k + 1 + d), w, [], []
    t = res.sample_times
    expected_v = np.zeros_like(t)
    while True:
        def piece(tt, t0=t0, current=current):
            return current * kernel(tt - t0, tau_syn, tau_m)
        expected_v = np.where(t >= t0, piece(t), expected_v)
        grid = np.arange(t0, t_end, 1e-3)
        if not np.any(piece(grid) >= 1.0):
            break
        t_star = first_crossing(piece, t0, t_end, 1.0)
        current *= math.exp(-(t_star - t0) / tau_syn)
        expected_times.append(t_star)
        currents.append(current)
        t0 = t_star
    times = res.spike_times["n"][0][0]
    assert len(expected_times) >= 1
    np.testing.assert_allclose(times, expected_times, rtol=0, atol=1e-11)
    np.testing.assert_allclose(res.currents_at_spikes["n"][0], currents, rtol=1e-10)
    np.testing.assert_allclose(res.samples["n"][0, :, 0], expected_v, atol=1e-10)


# ----------------------------------------------------------------- RK4 integration (independent)
def rk4_reference(graph, inputs_steps, delays, num_steps, h=5e-3):
    """Integrate the network ODEs with RK4, landing exactly on every arrival and sample time
    and bisecting threshold crossings. One batch instance, spike sources only."""
    dt = graph.dt
    neurons = [(p.name, i) for p in graph.populations if p.kind in ("lif", "li")
               for i in range(p.size)]
    v_index = {key: n for n, key in enumerate(neurons)}
    i_index, taus = {}, []
    for proj in graph.projections:
        for j in range(graph.population(proj.target).size):
            key = (proj.target, j, proj.tau_syn)
            if key not in i_index:
                i_index[key] = len(neurons) + len(taus)
                taus.append((v_index[(proj.target, j)], proj.tau_syn))
    n = len(neurons) + len(taus)
    a_mat = np.zeros((n, n))
    for (name, i), row in v_index.items():
        a_mat[row, row] = -1.0 / graph.population(name).tau_mem
    for col, (row, tau) in enumerate(taus, start=len(neurons)):
        a_mat[col, col] = -1.0 / tau
        a_mat[row, col] = 1.0 / graph.population(neurons[row][0]).tau_mem

    def step_matrix(tau):
        x, out, term = tau * a_mat, np.eye(n), np.eye(n)
        for order in range(1, 5):
            term = term @ x / order
            out = out + term
        return out

    def fan_out(name, i, t):
        for proj in graph.outgoing(name):
            for s in np.flatnonzero(proj.pre == i):
                target = i_index[(proj.target, proj.post[s], proj.tau_syn)]
                events.append((t + delays[proj.name][s], target, proj.weight[s]))

    events = []
    for name, (steps, ids) in inputs_steps.items():
        for k, i in zip(steps, ids):
            fan_out(name, i, (k + 1) * dt)
    lif_rows = [r for (name, _), r in v_index.items() if graph.population(name).kind == "lif"]
    theta = {r: graph.population(neurons[r][0]).v_thresh for r in lif_rows}
    m_h, x, t = step_matrix(h), np.zeros(n), 0.0
    for (name, _), row in v_index.items():
        x[row] = graph.population(name).v_init
    samples, spikes = [], []
    for n_sample in range(num_steps):
        t_sample = (n_sample + 1) * dt
        while t < t_sample:
            stop = min([e[0] for e in events if e[0] > t] + [t_sample, t + h])
            new = (m_h if stop - t == h else step_matrix(stop - t)) @ x
            crossed = [r for r in lif_rows if new[r] >= theta[r]]
            if crossed:
                lo, hi = 0.0, stop - t
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    probe = step_matrix(mid) @ x
                    hit = any(probe[r] >= theta[r] for r in lif_rows)
                    lo, hi = (lo, mid) if hit else (mid, hi)
                stop, new = t + hi, step_matrix(hi) @ x
                for r in lif_rows:
                    if new[r] >= theta[r] - 1e-9:
                        spikes.append((stop, neurons[r]))
                        new[r] = graph.population(neurons[r][0]).v_reset
                        fan_out(neurons[r][0], neurons[r][1], stop)
            t, x = stop, new
            due = [e for e in events if e[0] <= t]
            for e in due:
                x[e[1]] += e[2]
                events.remove(e)
        samples.append(x[:len(neurons)].copy())
    return np.array(samples), spikes, v_index


@pytest.mark.parametrize("tau_mem", [10.0, 8.0])       # 8.0: equal to one tau_syn
def test_matches_rk4_integration_with_recurrence_and_two_synapse_types(tau_mem):
    rng = np.random.default_rng(4)
    pops = [NeuronGroup("in", 2, "spike_source"),
            NeuronGroup("hid", 3, "lif", tau_mem=tau_mem, v_thresh=1.0, v_reset=-0.2),
            NeuronGroup("out", 2, "li", tau_mem=15.0, v_init=0.3)]
    projs = [dense("in_hid", "in", "hid", 2, 3, rng.uniform(3.0, 6.0, 6), [0] * 6, 5.0),
             dense("hid_hid", "hid", "hid", 3, 3, rng.uniform(-1.0, 2.0, 9), [0] * 9, 8.0),
             dense("hid_out", "hid", "out", 3, 2, rng.normal(0.0, 1.0, 6), [0] * 6, 5.0)]
    graph = NetworkGraph(pops, projs, dt=1.0)
    delays = {p.name: rng.uniform(0.3, 6.0, p.num_synapses) for p in projs}
    steps, ids = np.array([0, 2, 5, 9, 14, 20]), np.array([0, 1, 0, 1, 0, 1])
    res = simulate_exact(graph, {"in": [(steps, ids)]}, 40, delays_ms=delays)
    ref_samples, ref_spikes, v_index = rk4_reference(graph, {"in": (steps, ids)}, delays, 40)
    exact_spikes = sorted(zip(res.spike_times["hid"][0][0], res.spike_times["hid"][0][1]))
    assert len(exact_spikes) == len(ref_spikes) >= 4, (exact_spikes, ref_spikes)
    for (t_e, i_e), (t_r, (_, i_r)) in zip(exact_spikes, sorted(ref_spikes)):
        assert i_e == i_r and abs(t_e - t_r) < 1e-9, f"hid {i_e} at {t_e}, RK4 {i_r} at {t_r}"
    for name in ("hid", "out"):
        cols = [v_index[(name, i)] for i in range(graph.population(name).size)]
        np.testing.assert_allclose(res.samples[name][0], ref_samples[:, cols], atol=1e-9,
                                   err_msg=f"population {name}")


# ----------------------------------------------------------------------- analytic gradients
def _li_setup(rng):
    pops = [NeuronGroup("in", 3, "spike_source"), NeuronGroup("out", 2, "li", tau_mem=20.0)]
    w = rng.normal(0.0, 1.0, 6)
    graph = NetworkGraph(pops, [dense("p", "in", "out", 3, 2, w, [0] * 6, 5.0)], dt=1.0)
    delays = rng.uniform(0.2, 9.0, 6).round(6) + 0.37       # never on the sample grid
    inputs = {"in": [(np.array([0, 3, 7, 12]), np.array([0, 1, 2, 0])),
                     (np.array([1, 4, 4, 9]), np.array([2, 0, 1, 1]))]}
    return graph, w, delays, inputs


def _li_closed_form(graph, w, delays, inputs, num_steps):
    proj, t = graph.projections[0], (np.arange(num_steps) + 1) * graph.dt
    v = np.zeros((2, num_steps, 2))
    dv_dw = np.zeros((2, num_steps, 6))
    dv_dd = np.zeros((2, num_steps, 6))
    for b, (steps, ids) in enumerate(inputs["in"]):
        for s in range(6):
            arrivals = (steps[ids == proj.pre[s]] + 1) * graph.dt + delays[s]
            lag = t[:, None] - arrivals[None, :]
            dv_dw[b, :, s] = kernel(lag, 5.0, 20.0).sum(axis=1)
            dv_dd[b, :, s] = -w[s] * kernel_slope(lag, 5.0, 20.0).sum(axis=1)
            v[b, :, proj.post[s]] += w[s] * dv_dw[b, :, s]
    return v, dv_dw, dv_dd


@pytest.mark.parametrize("readout", ["sum", "mean", "max", "exp_weighted", "sum_squared"])
def test_losses_match_closed_form_values(readout):
    graph, w, delays, inputs = _li_setup(np.random.default_rng(1))
    v, _, _ = _li_closed_form(graph, w, delays, inputs, 30)
    labels = np.array([1, 0])
    z = {"sum": v.sum(1), "mean": v.mean(1), "max": v.max(1),
         "exp_weighted": np.einsum("n,bno->bo", np.exp(-np.arange(30) / 30) / 30, v)}
    if readout == "sum_squared":
        expected = 0.5 * np.mean([np.sum(x ** 2) for x in v])
    else:
        zz = z[readout]
        expected = np.mean(np.log(np.exp(zz).sum(1)) - zz[[0, 1], labels])
    got = exact_loss(graph, inputs, 30, labels, "out", readout, delays_ms={"p": delays})
    assert abs(got - expected) < 1e-12 * max(1.0, abs(expected)), (got, expected)


@pytest.mark.parametrize("readout", ["sum", "sum_squared"])
def test_finite_differences_match_analytic_gradients_without_spikes(readout):
    graph, w, delays, inputs = _li_setup(np.random.default_rng(2))
    v, dv_dw, dv_dd = _li_closed_form(graph, w, delays, inputs, 30)
    labels, post = np.array([0, 1]), graph.projections[0].post
    if readout == "sum":
        z = v.sum(1)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        dl_dz = (p - np.eye(2)[labels]) / 2                              # [b, o]
        dl_dv = np.repeat(dl_dz[:, None, :], 30, axis=1)
    else:
        dl_dv = v / 2
    expected_w = np.einsum("bns,bns->s", dl_dv[:, :, post], dv_dw)
    expected_d = np.einsum("bns,bns->s", dl_dv[:, :, post], dv_dd)
    args = (graph, inputs, 30, labels, "out", readout, "p")
    fd_w = finite_difference(*args, "weight", delays_ms={"p": delays})
    fd_d = finite_difference(*args, "delay", delays_ms={"p": delays})
    np.testing.assert_allclose(fd_w, expected_w, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fd_d, expected_d, rtol=1e-6, atol=1e-9)


def test_gradient_through_one_spike_time_matches_implicit_function_theorem():
    tau_s, tau_m, w, u, d_in, d_out = 5.0, 20.0, 10.0, 0.8, 2.3, 1.6
    pops = [NeuronGroup("in", 1, "spike_source"),
            NeuronGroup("hid", 1, "lif", tau_mem=tau_m, v_thresh=1.0),
            NeuronGroup("out", 1, "li", tau_mem=tau_m)]
    projs = [Projection("ih", "in", "hid", [0], [0], [w], [0], 4, tau_s),
             Projection("ho", "hid", "out", [0], [0], [u], [0], 4, tau_s)]
    graph = NetworkGraph(pops, projs, dt=1.0)
    inputs, num_steps, a = {"in": [([0], [0])]}, 25, 1.0 + d_in
    delays = {"ih": [d_in], "ho": [d_out]}
    t_star = first_crossing(lambda t: w * kernel(t - a, tau_s, tau_m), a, 25.0, 1.0)
    t_n = np.arange(1, num_steps + 1.0)
    # sum_squared of the readout: L = 0.5 sum_n (u g(t_n - t* - d_out))^2
    lag = t_n - t_star - d_out
    dl_dtstar = -np.sum(u * kernel(lag, tau_s, tau_m) * u * kernel_slope(lag, tau_s, tau_m))
    v_dot = (w * math.exp(-(t_star - a) / tau_s) - 1.0) / tau_m          # dV/dt at t*-
    dtstar_dw = -kernel(t_star - a, tau_s, tau_m) / v_dot
    dtstar_dd = w * kernel_slope(t_star - a, tau_s, tau_m) / v_dot
    res = simulate_exact(graph, inputs, num_steps, delays_ms=delays)
    assert res.spike_times["hid"][0][0].size == 1
    fd_w = finite_difference(graph, inputs, num_steps, None, "out", "sum_squared", "ih",
                             "weight", delays_ms=delays)
    fd_d = finite_difference(graph, inputs, num_steps, None, "out", "sum_squared", "ih",
                             "delay", delays_ms=delays)
    np.testing.assert_allclose(fd_w, [dl_dtstar * dtstar_dw], rtol=1e-6)
    np.testing.assert_allclose(fd_d, [dl_dtstar * dtstar_dd], rtol=1e-6)


# --------------------------------------------------------- simultaneity, recurrence, ordering
def test_simultaneous_arrivals_act_as_their_sum():
    pops = [NeuronGroup("in", 2, "spike_source"),
            NeuronGroup("n", 1, "lif", tau_mem=20.0, v_thresh=1.0)]
    split = NetworkGraph(pops, [Projection("p", "in", "n", [0, 1], [0, 0], [4.0, 3.0],
                                           [2, 2], 4, 5.0)])
    joint = NetworkGraph(pops, [Projection("p", "in", "n", [0], [0], [7.0], [2], 4, 5.0)])
    alone = NetworkGraph(pops, [Projection("p", "in", "n", [0], [0], [4.0], [2], 4, 5.0)])
    res_split = simulate_exact(split, {"in": [([1, 1], [0, 1])]}, 30)
    res_joint = simulate_exact(joint, {"in": [([1], [0])]}, 30)
    res_alone = simulate_exact(alone, {"in": [([1], [0])]}, 30)
    assert res_alone.spike_times["n"][0][0].size == 0, "each input alone stays subthreshold"
    assert res_joint.spike_times["n"][0][0].size >= 1
    np.testing.assert_allclose(res_split.spike_times["n"][0][0],
                               res_joint.spike_times["n"][0][0], atol=1e-12)
    np.testing.assert_allclose(res_split.samples["n"], res_joint.samples["n"], atol=1e-12)


def test_identical_simultaneous_spikes_with_zero_delay_sum_downstream():
    def build(n_hidden, u):
        pops = [NeuronGroup("in", 1, "spike_source"),
                NeuronGroup("h", n_hidden, "lif", tau_mem=20.0, v_thresh=1.0),
                NeuronGroup("o", 1, "lif", tau_mem=20.0, v_thresh=1.0)]
        return NetworkGraph(pops, [
            dense("ih", "in", "h", 1, n_hidden, [9.0] * n_hidden, [0] * n_hidden, 5.0),
            dense("ho", "h", "o", n_hidden, 1, [u] * n_hidden, [0] * n_hidden, 5.0)])
    two = simulate_exact(build(2, 6.0), {"in": [([0], [0])]}, 30)
    one = simulate_exact(build(1, 12.0), {"in": [([0], [0])]}, 30)
    h_times = two.spike_times["h"][0][0]
    assert h_times.size == 2 and h_times[0] == h_times[1]
    assert one.spike_times["o"][0][0].size >= 1
    np.testing.assert_allclose(two.spike_times["o"][0][0], one.spike_times["o"][0][0],
                               atol=1e-12)


@pytest.mark.parametrize("recurrent_delay", [0, 3])
def test_recurrent_network_is_independent_of_synapse_and_population_order(recurrent_delay):
    rng = np.random.default_rng(7)
    pops = [NeuronGroup("in", 4, "spike_source"),
            NeuronGroup("h", 6, "lif", tau_mem=20.0, v_thresh=1.0),
            NeuronGroup("o", 2, "li", tau_mem=20.0)]
    w_in, w_rec, w_out = rng.uniform(0, 5, 24), rng.normal(0.3, 1.0, 36), rng.normal(0, 1, 12)
    d_in, d_out = rng.integers(0, 5, 24), rng.integers(0, 5, 12)
    projs = [dense("ih", "in", "h", 4, 6, w_in, d_in, 5.0),
             dense("hh", "h", "h", 6, 6, w_rec, [recurrent_delay] * 36, 5.0),
             dense("ho", "h", "o", 6, 2, w_out, d_out, 10.0)]
    inputs = {"in": [unique_spikes(rng, 60, 4, 30)]}
    res = simulate_exact(NetworkGraph(pops, projs), inputs, 80)
    perm = [rng.permutation(p.num_synapses) for p in projs]
    shuffled = [Projection(p.name, p.source, p.target, p.pre[q], p.post[q], p.weight[q],
                           p.delay[q], p.max_delay, p.tau_syn) for p, q in zip(projs, perm)]
    res2 = simulate_exact(NetworkGraph(pops[::-1], shuffled[::-1]), inputs, 80)
    assert res.spike_times["h"][0][0].size > 5
    for k in (0, 1):
        np.testing.assert_allclose(res.spike_times["h"][0][k], res2.spike_times["h"][0][k],
                                   atol=1e-10)
    np.testing.assert_allclose(res.samples["o"], res2.samples["o"], atol=1e-10)


def test_graded_inputs_scale_the_jump_and_batch_instances_are_independent():
    pops = [NeuronGroup("x", 2, "graded_input"), NeuronGroup("o", 1, "li", tau_mem=10.0)]
    graph = NetworkGraph(pops, [Projection("p", "x", "o", [0, 1], [0, 0], [1.5, -2.0],
                                           [1, 0], 3, 5.0)], dt=0.5)
    x = np.zeros((2, 20, 2))
    x[0, 2, 0], x[0, 5, 1], x[1, 7, 0] = 0.4, 1.3, -2.0
    res = simulate_exact(graph, {"x": x}, 20)
    t = (np.arange(20) + 1) * 0.5
    exp0 = 1.5 * 0.4 * kernel(t - 2.0, 5.0, 10.0) - 2.0 * 1.3 * kernel(t - 3.0, 5.0, 10.0)
    exp1 = 1.5 * -2.0 * kernel(t - 4.5, 5.0, 10.0)
    np.testing.assert_allclose(res.samples["o"][:, :, 0], [exp0, exp1], atol=1e-13)
    # delay gradient of a graded synapse: dV/dd = -w x g'(t - a)
    with pytest.raises(FiniteDifferenceError, match="of a sample time"):
        finite_difference(graph, {"x": x}, 20, None, "o", "sum_squared", "p", "delay")
    delays = np.array([0.5 + 0.13, 0.0 + 0.29])
    res = simulate_exact(graph, {"x": x}, 20, delays_ms={"p": delays})
    v = res.samples["o"][:, :, 0]
    dv_dd0 = -1.5 * np.stack([0.4 * kernel_slope(t - 1.5 - delays[0], 5.0, 10.0),
                              -2.0 * kernel_slope(t - 4.0 - delays[0], 5.0, 10.0)])
    fd = finite_difference(graph, {"x": x}, 20, None, "o", "sum_squared", "p", "delay",
                           indices=[0], delays_ms={"p": delays})
    np.testing.assert_allclose(fd, [np.mean(np.sum(v * dv_dd0, axis=1))], rtol=1e-6)


def test_readout_helpers_reject_and_compute():
    samples = np.arange(12.0).reshape(1, 4, 3)
    np.testing.assert_allclose(readout_logits(samples, "max", 1.0), [[9, 10, 11]])
    z = samples.sum(1)[0]
    expected = math.log(np.exp(z).sum()) - z[2]
    assert abs(loss_from_samples(samples, np.array([2]), "sum", 1.0) - expected) < 1e-12
    with pytest.raises(ConfigError, match="readout must be one of"):
        readout_logits(samples, "sum_squared", 1.0)
    with pytest.raises(ConfigError, match="readout must be one of"):
        loss_from_samples(samples, np.array([0]), "median", 1.0)
    with pytest.raises(DataError, match=r"labels: expected 1 integers in \[0, 3\)"):
        loss_from_samples(samples, np.array([3]), "sum", 1.0)
    with pytest.raises(DataError, match="got None"):
        loss_from_samples(samples, None, "mean", 1.0)


# --------------------------------------------------------------------------------- speed
def _speed_network(rng):
    pops = [NeuronGroup("in", 5, "spike_source"),
            NeuronGroup("h", 10, "lif", tau_mem=20.0, v_thresh=1.0),
            NeuronGroup("o", 3, "li", tau_mem=20.0)]
    projs = [dense("ih", "in", "h", 5, 10, rng.normal(1.5, 1.0, 50), rng.integers(0, 20, 50),
                   5.0),
             dense("ho", "h", "o", 10, 3, rng.normal(0, 1, 30), rng.integers(0, 20, 30), 5.0)]
    inputs = {"in": [unique_spikes(rng, 390, 5, 40) for _ in range(2)]}
    return NetworkGraph(pops, projs), inputs


def test_small_network_simulates_well_under_a_second():
    graph, inputs = _speed_network(np.random.default_rng(3))
    simulate_exact(graph, inputs, 400)
    start = time.perf_counter()
    res = simulate_exact(graph, inputs, 400)
    elapsed = time.perf_counter() - start
    spikes = sum(t.size for t, _ in res.spike_times["h"])
    assert spikes >= 20, f"set-up should make a few dozen spikes, got {spikes}"
    assert elapsed < 0.5, f"simulation took {elapsed:.3f} s for {spikes} hidden spikes"


# -------------------------------------------------------------------------------- errors
@pytest.fixture
def small():
    return one_to_one(2.0, 1), {"in": [([0], [0])]}


@pytest.mark.parametrize("inputs, err, match", [
    ({}, ConfigError, r"no input given for input population\(s\) \['in'\]"),
    ({"in": [([0], [0])], "n": [([0], [0])]}, ConfigError, r"inputs name \['n'\]"),
    ({"in": np.zeros((1, 5, 1))}, DataError, "expected a list with one"),
    ({"in": [([0.5], [0])]}, DataError, "steps must hold whole numbers"),
    ({"in": [([5], [0])]}, DataError, r"steps must lie in \[0, 5\)"),
    ({"in": []}, DataError, "batch size 0"),
])
def test_inputs_are_checked_like_the_brian2_reference(small, inputs, err, match):
    """Input checks are brian2_sim.check_inputs' (tested there); these show they run."""
    with pytest.raises(err, match=match):
        simulate_exact(small[0], inputs, 5)


def test_bad_configuration_raises_config_error(small, monkeypatch):
    graph, inputs = small
    with pytest.raises(ConfigError, match="num_steps must be a whole number >= 1, got 0"):
        simulate_exact(graph, inputs, 0)
    with pytest.raises(DataError, match="disagree on the batch size"):
        pops = [*graph.populations, NeuronGroup("x", 1, "graded_input")]
        simulate_exact(NetworkGraph(pops, graph.projections),
                       {"in": [([0], [0])], "x": np.zeros((2, 5, 1))}, 5)
    with pytest.raises(ConfigError, match=r"weights: 'q' is not a projection; known: \['p'\]"):
        simulate_exact(graph, inputs, 5, weights={"q": [1.0]})
    with pytest.raises(ConfigError, match=r"expected 1 finite values .* got shape \(2,\)"):
        simulate_exact(graph, inputs, 5, delays_ms={"p": [1.0, 2.0]})
    with pytest.raises(ConfigError, match=r"expected 1 finite values .* got shape \(1,\)"):
        simulate_exact(graph, inputs, 5, weights={"p": [np.inf]})
    with pytest.raises(ConfigError, match="delays must be >= 0 ms"):
        simulate_exact(graph, inputs, 5, delays_ms={"p": [-0.1]})
    bad = NetworkGraph([graph.populations[0], NeuronGroup("n", 1, "lif", tau_mem=20.0,
                                                          v_thresh=1.0, v_init=1.0)],
                       graph.projections)
    with pytest.raises(ConfigError, match="v_reset < v_thresh and v_init < v_thresh"):
        simulate_exact(bad, inputs, 5)
    monkeypatch.setattr(exact_module, "_MAX_SPIKES", 2)
    with pytest.raises(ConfigError, match="emitted more than 2 spikes"):
        simulate_exact(one_to_one(200.0, 0), inputs, 50)


def test_loss_and_finite_difference_argument_errors(small):
    graph, inputs = small
    with pytest.raises(ConfigError, match="readout_population must be a 'lif' or 'li'"):
        exact_loss(graph, inputs, 5, [0], "in")
    with pytest.raises(ConfigError, match="readout must be one of"):
        exact_loss(graph, inputs, 5, [0], "n", "median")
    common = (graph, inputs, 5, None, "n", "sum_squared")
    with pytest.raises(ConfigError, match=r"projection must be one of \['p'\] .* got 'q'"):
        finite_difference(*common, "q")
    with pytest.raises(ConfigError, match="parameter 'weight' or 'delay', got 'p' and 'tau'"):
        finite_difference(*common, "p", "tau")
    with pytest.raises(ConfigError, match="readout must be one of"):
        finite_difference(graph, inputs, 5, None, "n", "median", "p")
    with pytest.raises(ConfigError, match="eps must be a finite number > 0"):
        finite_difference(*common, "p", eps=0.0)
    with pytest.raises(ConfigError, match=r"indices must be integers in \[0, 1\)"):
        finite_difference(*common, "p", indices=[1])
    with pytest.raises(ConfigError, match=r"indices must be integers in \[0, 1\)"):
        finite_difference(*common, "p", indices=[0.0])
    with pytest.raises(ConfigError, match="central differences need delays >= eps"):
        finite_difference(*common, "p", "delay", delays_ms={"p": [0.0]})
    with pytest.raises(FiniteDifferenceError, match="lies within .* of a sample time"):
        finite_difference(*common, "p", "delay")


def test_finite_difference_refuses_a_spike_appearing():
    tau_s, tau_m = 5.0, 20.0
    peak_lag = math.log(tau_s / tau_m) / (1 / tau_m - 1 / tau_s)
    w_crit = 1.0 / float(kernel(peak_lag, tau_s, tau_m))
    graph = one_to_one(w_crit * (1 + 1e-9), 1)
    res = simulate_exact(graph, {"in": [([0], [0])]}, 40)
    assert res.spike_times["n"][0][0].size == 1, "just above threshold: one spike"
    with pytest.raises(FiniteDifferenceError, match=r"spike counts of \['n'\] change"):
        finite_difference(graph, {"in": [([0], [0])]}, 40, None, "n", "sum_squared", "p")
