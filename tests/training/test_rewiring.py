"""DEEP R / RigL rewiring: invariants, reproducibility, and RigL's probe against brute force.

Independent truth for the probe: the same network with the dormant slots present as
zero-weight synapses of a DENSE connection — its dL/dw at those slots (computed by the
ordinary backward pass) must equal the probe's G, and its best delay, found by trying
every delay, must equal the 'gradient' regrow delay.
"""
import numpy as np
import pytest

from delayprop.errors import ConfigError
from delayprop.training import (Adam, Connection, Dense, EventPropCompiler, FixedProbability,
                                LeakyIntegrate, LeakyIntegrateFire, Network, Normal,
                                Population, RigL, DeepR, SoftmaxCrossEntropy, SpikeInput,
                                Uniform)
from delayprop.training.checkpoint import load_checkpoint, save_checkpoint
from delayprop.training.rewiring import dormant_gradients

T, C, H, O, D = 40, 12, 10, 2, 8


def task(n=32, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, O, n)
    x = (rng.random((n, T, C)) < 0.03).astype(np.float32)
    for i in range(n):
        x[i, rng.integers(2, 12, 6) + 18 * y[i], np.arange(6)] = 1.0
    return x, y


def build(rewiring, seed=0, p=0.2, precision="float", lr=5e-3, batch=8):
    net = Network()
    with net:
        inp = Population(SpikeInput(), C, name="input")
        hid = Population(LeakyIntegrateFire(10.0, 1.0), H, name="hidden")
        out = Population(LeakyIntegrate(10.0), O, name="output")
        ih = Connection(inp, hid, FixedProbability(Normal(0.0, 1.5), p=p),
                        delay=Uniform(0, D - 1), max_delay_steps=D, name="ih")
        Connection(hid, out, Dense(Normal(0.0, 0.5)), name="ho")
    comp = EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, Adam(lr), batch_size=batch,
                             delay_learning=True, seed=seed, precision=precision,
                             rewiring={ih: rewiring})
    return comp.compile(net, "rewire_tests"), inp, out


class Watch:
    """Checks the invariants after every epoch (every rewiring point)."""

    def __init__(self, rw):
        self.rw, self.count = rw, int(rw.active.sum())
        self.sign = rw.sign.copy()
        self.rewirings = []

    def check(self, net):
        rw = self.rw
        assert int(rw.active.sum()) == self.count, "active synapse count changed"
        np.testing.assert_array_equal(rw.sign, self.sign)              # signs never flip
        v = net.connection_values("ih")
        w = v["weight"]
        s = self.sign[v["pre"], v["post"]]
        assert np.all(w * s >= 0), "a weight has the wrong sign"
        assert np.all((w == 0) | (np.sign(w) == s))
        assert rw.active.sum(axis=0).max() <= (rw.cfg.fan_in or H)      # fan-in limit
        assert rw.active.sum(axis=1).max() <= (rw.cfg.row_limit or H)   # row limit
        # the compiled group holds exactly the active slots
        active = np.zeros_like(rw.active)
        active[v["pre"], v["post"]] = True
        np.testing.assert_array_equal(active, rw.active)
        self.rewirings.append(dict(rw.log))


@pytest.mark.parametrize("rewiring", [RigL(fan_in=3, row_limit=4, l1=0.02),
                                      DeepR(fan_in=3, l1=0.02),
                                      RigL(fan_in=3, regrow_delay="gradient", l1=0.02,
                                           dale=False),
                                      RigL(fan_in=3, regrow_delay="random", l1=0.02,
                                           every_batches=2)],
                         ids=["rigl", "deepr", "rigl-gradient-delay-nodale", "rigl-random-2b"])
def test_invariants_hold_after_every_rewiring(rewiring):
    x, y = task()
    net, inp, out = build(rewiring, lr=0.05)
    rw = net.rewired["ih"]
    watch = Watch(rw)
    watch.check(net)
    for _ in range(4):
        net.train({inp: x}, {out: y}, 1)
        watch.check(net)
    assert sum(r["dropped"] for r in watch.rewirings) > 0, "nothing was rewired"
    assert all(r["dropped"] == r["grown"] for r in watch.rewirings)
    assert net.model.build_count == 1                    # rewired without recompiling
    net.close()


def test_nothing_dormant_means_no_rewiring():
    x, y = task()
    net, inp, out = build(RigL(fan_in=3), lr=1e-9)
    rw = net.rewired["ih"]
    rw.theta[rw.active] = 5.0
    rw.upload()
    before = rw.active.copy()
    net.train({inp: x}, {out: y}, 2)
    assert rw.log == {"dropped": 0, "grown": 0}
    np.testing.assert_array_equal(rw.active, before)
    net.close()


def test_rewired_runs_are_reproducible_from_the_seed():
    x, y = task()
    runs = []
    for _ in range(2):
        net, inp, out = build(RigL(fan_in=3, l1=0.02), seed=4, lr=0.05)
        net.train({inp: x}, {out: y}, 3)
        runs.append((net.rewired["ih"].active.copy(), net.connection_values("ih")["weight"]))
        net.close()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_fan_in_too_small_for_the_synapse_count_is_an_error():
    with pytest.raises(ConfigError, match="cannot fit fan-in 1"):
        build(RigL(fan_in=1), p=0.9)


def test_rewiring_needs_a_sparse_connection():
    net = Network()
    with net:
        i = Population(SpikeInput(), 3)
        h = Population(LeakyIntegrateFire(), 4)
        o = Population(LeakyIntegrate(), 2)
        ih = Connection(i, h, Dense(1.0))
        Connection(h, o, Dense(1.0))
    with pytest.raises(ConfigError, match="is Dense; rewiring needs a sparse"):
        EventPropCompiler(10, {o: SoftmaxCrossEntropy()}, rewiring={ih: RigL()}).compile(net)
    with pytest.raises(ConfigError, match="regrow_delay must be one of"):
        RigL(regrow_delay="best")


def _brute_force_net(rw, ho, delays):
    """The rewired network as a DENSE connection: dormant slots with weight 0 and the
    given delays."""
    net = Network()
    with net:
        inp = Population(SpikeInput(), C, name="input")
        hid = Population(LeakyIntegrateFire(10.0, 1.0), H, name="hidden")
        out = Population(LeakyIntegrate(10.0), O, name="output")
        Connection(inp, hid, Dense(rw.weights().ravel()), delay=delays.ravel(),
                   max_delay_steps=D, name="ih")
        Connection(hid, out, Dense(ho), name="ho")
    comp = EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, batch_size=8,
                             delay_learning=True, precision="double")
    return comp.compile(net, "rewire_brute"), inp, out


def test_rigl_probe_equals_the_gradient_of_zero_weight_synapses():
    x, y = task(8, seed=5)
    net, inp, out = build(RigL(fan_in=6, regrow_delay="gradient"), precision="double")
    rw = net.rewired["ih"]
    ho = net.connection_values("ho")["weight"]
    net.gradients({inp: x}, {out: y})                     # forward + backward: tape, traces
    probe = dormant_gradients(net, net.network.connections[0], 8, D)
    np.testing.assert_allclose(dormant_gradients(net, net.network.connections[0], 8, D,
                                                 dense=True), probe, rtol=1e-9, atol=1e-13)
    real = np.rint(rw.delay)
    dormant = ~rw.active
    assert dormant.sum() > 30
    best_brute = np.full(rw.active.shape, np.inf)
    arg_brute = np.zeros(rw.active.shape, int)
    for d in range(D):
        delays = np.where(rw.active, real, d)
        brute, inp2, out2 = _brute_force_net(rw, ho, delays)
        g = brute.gradients({inp2: x}, {out2: y})["ih.weight"].reshape(C, H)
        brute.close()
        np.testing.assert_allclose(g[dormant], probe[d][dormant], rtol=1e-9, atol=1e-12,
                                   err_msg=f"delay {d}")
        assert np.abs(g[dormant]).max() > 0, "probe is trivially zero"
        score = rw.sign * g
        better = score < best_brute
        best_brute[better] = score[better]
        arg_brute[better] = d
    # 'gradient' regrow delay = the brute-force best delay; RigL order = most negative first
    rw.probe[...] = probe
    rw.probe_batches = 1
    scores = rw._scores()
    np.testing.assert_array_equal(rw._best_delay[dormant], arg_brute[dormant])
    np.testing.assert_allclose(scores[dormant], best_brute[dormant], rtol=1e-9, atol=1e-12)
    net.close()


def test_rigl_grows_exactly_the_k_most_negative():
    net, inp, out = build(RigL(), precision="double")
    rw = net.rewired["ih"]
    rng = np.random.default_rng(0)
    rw.probe[...] = rng.normal(size=rw.probe.shape)
    rw.probe_batches = 1
    drop = np.flatnonzero(rw.active.ravel())[:5]
    rw.theta.ravel()[drop] = -1.0
    before = rw.active.copy()
    d = np.clip(np.rint(rw.delay), 0, D - 1).astype(int)
    score = rw.sign * np.take_along_axis(rw.probe, d[None], 0)[0]
    allowed = ~before.copy()
    expected = np.argsort(np.where(allowed, score, np.inf).ravel(), kind="stable")[:5]
    rw.rewire()
    grown = np.flatnonzero(rw.active.ravel() & ~before.ravel())
    assert sorted(grown.tolist()) == sorted(expected.tolist())
    assert rw.theta.ravel()[grown].max() == rw.cfg.theta_init
    assert not rw.active.ravel()[drop].any()
    net.close()


def test_rigls_drop_takes_the_weakest_fraction_on_a_cosine_schedule():
    """Evci et al. 2020: alpha(t) = 0.3 / 2 (1 + cos(pi t / 0.75 T)); the weakest active
    slots go (those at theta <= 0 first), the same number grows, none after 0.75 T."""
    net, inp, out = build(RigL(drop="rigl", drop_fraction=0.3), precision="double")
    rw = net.rewired["ih"]
    assert rw.drop_fraction(0.0) == pytest.approx(0.3)
    assert rw.drop_fraction(0.375) == pytest.approx(0.15)
    assert rw.drop_fraction(0.75) == 0.0 and rw.drop_fraction(0.9) == 0.0
    count = int(rw.active.sum())
    rng = np.random.default_rng(1)
    rw.theta[rw.active] = rng.uniform(0.1, 1.0, count)
    rw.theta.ravel()[np.flatnonzero(rw.active.ravel())[:2]] = -0.5   # dead: dropped first
    k = int(round(rw.drop_fraction(0.25) * count))
    assert k > 2
    live = np.flatnonzero(rw.active.ravel())
    expected = live[np.argsort(rw.theta.ravel()[live], kind="stable")[:k]]
    before = rw.active.copy()
    assert rw.rewire(0.25) == {"dropped": k, "grown": k}
    dropped = np.flatnonzero(before.ravel() & ~rw.active.ravel())
    regrown = np.intersect1d(expected, np.flatnonzero(rw.active.ravel()))
    # a dropped slot is never regrown at the same rewiring
    assert regrown.size == 0 and sorted(dropped) == sorted(expected)
    assert int(rw.active.sum()) == count and np.all(rw.theta.ravel()[expected] <= 0)
    late = rw.active.copy()
    assert rw.rewire(0.8) == {"dropped": 0, "grown": 0}
    np.testing.assert_array_equal(rw.active, late)
    net.close()


def test_rigls_drop_keeps_the_invariants_in_training():
    x, y = task()
    net, inp, out = build(RigL(fan_in=3, drop="rigl", every_batches=2), lr=0.05)
    rw = net.rewired["ih"]
    watch = Watch(rw)
    for _ in range(3):
        net.train({inp: x}, {out: y}, 1)
        watch.check(net)
    assert watch.rewirings[0]["dropped"] > 0
    with pytest.raises(ConfigError, match="drop must be one of"):
        RigL(drop="magnitude")
    with pytest.raises(ConfigError, match="drop_fraction must lie in"):
        RigL(drop="rigl", drop_fraction=1.5)
    net.close()


@pytest.mark.parametrize("rewiring", [
    DeepR(fan_in=3, l1=0.02, regrow_delay="random"),
    # every 3 of 4 batches per epoch: the checkpoint falls inside a probe window
    RigL(fan_in=3, l1=0.02, regrow_delay="gradient", every_batches=3)], ids=["deepr", "rigl"])
def test_rewired_run_resumes_exactly_from_a_checkpoint(rewiring, tmp_path):
    x, y = task()
    straight, inp, out = build(rewiring, seed=2, lr=0.05)
    straight.train({inp: x}, {out: y}, 4)
    first, inp1, out1 = build(rewiring, seed=2, lr=0.05)
    first.train({inp1: x}, {out1: y}, 2)
    assert (first.rewired["ih"].probe_batches > 0) == rewiring.needs_probe
    save_checkpoint(tmp_path / "c.npz", first)
    first.close()
    resumed, inp2, out2 = build(rewiring, seed=2, lr=0.05)
    load_checkpoint(tmp_path / "c.npz", resumed)
    resumed.train({inp2: x}, {out2: y}, 2)
    a, b = straight.rewired["ih"], resumed.rewired["ih"]
    assert sum(h["ih_dropped"] for h in straight.history) > 0
    np.testing.assert_array_equal(a.active, b.active)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.delay, b.delay)
    np.testing.assert_array_equal(straight.connection_values("ih")["weight"],
                                  resumed.connection_values("ih")["weight"])
    straight.close()
    resumed.close()
