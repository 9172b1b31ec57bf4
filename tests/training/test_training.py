"""Training behaviour: batching, tapes, clean trials, delays, regulariser, checkpoints."""
import numpy as np
import pytest

from delayprop.errors import ConfigError, DataError, TapeOverflowError
from delayprop.training import (Adam, Callback, Connection, Dense, EventPropCompiler,
                                GradedInput, LeakyIntegrate, LeakyIntegrateFire, Network,
                                Normal, Population, SoftmaxCrossEntropy, SpikeInput, Uniform,
                                load_checkpoint, save_checkpoint)

T = 40


def task(n=48, seed=0):
    """Two classes: channels 0-4 fire early (class 0) or late (class 1), plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = (rng.random((n, T, 10)) < 0.02).astype(np.float32)
    for i in range(n):
        steps = rng.integers(2, 12, 5) + (20 if y[i] else 0)
        x[i, steps, np.arange(5)] = 1.0
    return x, y


def build(batch=8, delays=True, seed=0, graded=False, **kw):
    net = Network()
    with net:
        inp = Population(GradedInput() if graded else SpikeInput(), 10, name="input")
        hid = Population(LeakyIntegrateFire(10.0, 1.0), 16, name="hidden")
        out = Population(LeakyIntegrate(10.0), 2, name="output")
        ih = Connection(inp, hid, Dense(Normal(0.8, 0.4)), delay=Uniform(0, 9) if delays else 0,
                        max_delay_steps=10 if delays else None, name="ih")
        Connection(hid, out, Dense(Normal(0.0, 0.3)), name="ho")
    comp = EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, Adam(5e-3), batch_size=batch,
                             delay_learning=delays, seed=seed, **kw)
    return comp.compile(net, "train_tests"), inp, out, ih


def test_it_learns_a_timing_task():
    x, y = task(96)
    net, inp, out, _ = build()
    before = net.evaluate({inp: x}, {out: y})["accuracy"]
    history = net.train({inp: x}, {out: y}, 15)
    assert history[-1]["accuracy"] > max(0.85, before + 0.2), history[-1]
    assert history[-1]["loss"] < history[0]["loss"]
    net.close()


def test_last_partial_batch_is_trained():
    x, y = task(10)
    net, inp, out, _ = build(batch=4)
    net.train({inp: x}, {out: y}, 2)
    assert net.step == 2 * 3          # ceil(10 / 4) optimiser steps per epoch
    net.close()


def test_batch_gradient_is_the_mean_of_single_instance_gradients():
    x, y = task(2, seed=3)
    pair, inp2, out2, _ = build(batch=2, precision="double")
    g_pair = pair.gradients({inp2: x}, {out2: y})
    pair.close()
    singles = []
    for i in range(2):
        one, inp1, out1, _ = build(batch=1, precision="double")
        singles.append(one.gradients({inp1: x[i:i + 1]}, {out1: y[i:i + 1]}))
        one.close()
    for key in g_pair:
        np.testing.assert_allclose(g_pair[key], (singles[0][key] + singles[1][key]) / 2,
                                   rtol=1e-9, atol=1e-12, err_msg=key)


def test_trials_start_clean():
    """The same batch twice gives the same loss and gradients: nothing bleeds over."""
    x, y = task(8)
    net, inp, out, _ = build(precision="double")
    first = net.gradients({inp: x}, {out: y})
    net.evaluate({inp: task(8, seed=9)[0]}, {out: y})     # something else in between
    second = net.gradients({inp: x}, {out: y})
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    net.close()


def test_tape_overflow_is_an_error_when_the_tape_is_fixed():
    x, y = task(8)
    net, inp, out, _ = build(max_spikes=3)
    with pytest.raises(TapeOverflowError, match=r"population '(input|hidden)' emitted \d+ "
                                                r"spikes in batch instance \d+; the tape holds "
                                                r"\d+ — set max_spikes >= \d+"):
        net.train({inp: x}, {out: y}, 1)
    net.close()


def test_a_growing_tape_gives_the_same_gradients_as_a_large_one():
    x, y = task(8)
    small, inp, out, _ = build(precision="double")
    g_small = small.gradients({inp: x}, {out: y})      # starts small, grows
    big, inp2, out2, _ = build(precision="double", max_spikes=T * 16)
    g_big = big.gradients({inp2: x}, {out2: y})
    for key in g_small:
        np.testing.assert_array_equal(g_small[key], g_big[key], err_msg=key)
    small.close()
    big.close()


def test_delays_are_rounded_clamped_and_learned():
    x, y = task(32)
    net, inp, out, _ = build()
    d = net.param("ih", "d")
    d[:4] = [2.4, 2.6, -3.0, 42.0]
    net.upload_delays("ih")
    ints = net.runtime.arrays["ih_d"][:4]
    assert ints.tolist() == [2, 3, 0, 9]            # rounded, not truncated; clamped
    np.testing.assert_array_equal(d[:4], [2.4, 2.6, 0.0, 9.0])
    before = net.connection_values("ih")["delay"].copy()
    net.train({inp: x}, {out: y}, 2)
    after = net.connection_values("ih")["delay"]
    assert np.all(after >= 0) and np.all(after <= 9)          # clamped to [0, D-1]
    assert np.any(np.abs(after - before) > 0.05)               # delays moved
    graph = net.to_graph()
    np.testing.assert_array_equal(graph.projections[0].delay, np.rint(after))
    net.close()


def test_without_delay_learning_delays_stay():
    x, y = task(16)
    net = Network()
    with net:
        i = Population(SpikeInput(), 10, name="input")
        h = Population(LeakyIntegrateFire(10.0), 16, name="hidden")
        o = Population(LeakyIntegrate(10.0), 2, name="output")
        Connection(i, h, Dense(Normal(0.8, 0.4)), delay=Uniform(0, 9), max_delay_steps=10,
                   name="ih")
        Connection(h, o, Dense(Normal(0.0, 0.3)), name="ho")
    c = EventPropCompiler(T, {o: SoftmaxCrossEntropy()}, batch_size=8).compile(net, "fixed_d")
    before = c.connection_values("ih")["delay"].copy()
    c.train({i: x}, {o: y}, 2)
    np.testing.assert_array_equal(c.connection_values("ih")["delay"], before)
    c.close()


def test_spike_count_regulariser_pushes_input_weights_down():
    x, y = task(8)
    plain, inp, out, _ = build(precision="double")
    reg, inp2, out2, _ = build(precision="double", reg_lambda=1.0, reg_nu_upper=0.0)
    g0 = plain.gradients({inp: x}, {out: y})["ih.weight"]
    g1 = reg.gradients({inp2: x}, {out2: y})["ih.weight"]
    diff = g1 - g0
    assert diff.sum() > 0 and (diff > 0).mean() > 0.5   # descent lowers input weights
    plain.close()
    reg.close()


def test_checkpoint_resume_equals_an_uninterrupted_run(tmp_path):
    x, y = task(24)
    straight, inp, out, _ = build()
    straight.train({inp: x}, {out: y}, 4)
    first, inp1, out1, _ = build()
    first.train({inp1: x}, {out1: y}, 2)
    save_checkpoint(tmp_path / "c.npz", first)
    first.close()
    resumed, inp2, out2, _ = build()
    load_checkpoint(tmp_path / "c.npz", resumed)
    resumed.train({inp2: x}, {out2: y}, 2)
    for var in ("g", "d"):
        np.testing.assert_array_equal(resumed.param("ih", var), straight.param("ih", var))
    np.testing.assert_array_equal(resumed.param("ho", "g"), straight.param("ho", "g"))
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    assert list(tmp_path.iterdir()) == [tmp_path / "c.npz"]     # atomic: no temporaries
    straight.close()
    resumed.close()


def test_checkpoint_of_another_network_is_rejected(tmp_path):
    x, y = task(8)
    net, inp, out, _ = build()
    np.savez(tmp_path / "bad.npz", a=np.zeros(2))
    with pytest.raises(DataError, match="not a readable delayprop checkpoint"):
        load_checkpoint(tmp_path / "bad.npz", net)
    net.close()


def test_bad_inputs_give_clear_errors():
    x, y = task(8)
    net, inp, out, _ = build()
    with pytest.raises(DataError, match=r"labels must lie in \[0, 2\)"):
        net.train({inp: x}, {out: y + 5}, 1)
    with pytest.raises(DataError, match="expected 8 labels"):
        net.train({inp: x}, {out: y[:3]}, 1)
    with pytest.raises(DataError, match="dense spike data has 4 channels"):
        net.train({inp: x[:, :, :4]}, {out: y}, 1)
    with pytest.raises(ConfigError, match="inputs must be a dict"):
        net.train(x, {out: y}, 1)
    with pytest.raises(ConfigError, match="num_epochs must be a whole number"):
        net.train({inp: x}, {out: y}, -1)

    class Typo(Callback):
        def on_epoch_ned(self, net, epoch, metrics):
            pass
    with pytest.raises(ConfigError, match=r"defines \['on_epoch_ned'\], which are not hooks"):
        net.train({inp: x}, {out: y}, 1, callbacks=[Typo()])
    net.close()


def test_graded_input_shape_is_checked():
    x, y = task(8)
    net, inp, out, _ = build(graded=True)
    with pytest.raises(DataError, match=r"expected graded data of shape \[samples, 40, 10\]"):
        net.train({inp: x[:, :20]}, {out: y}, 1)
    x[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN or infinite"):
        net.train({inp: x}, {out: y}, 1)
    net.close()


def test_compiler_configuration_errors():
    net = Network()
    with net:
        i = Population(SpikeInput(), 3)
        h = Population(LeakyIntegrateFire(), 4)
        o = Population(LeakyIntegrate(), 2)
        Connection(i, h, Dense(1.0), max_delay_steps=None)
        Connection(h, o, Dense(1.0), synapse=None)
    with pytest.raises(ConfigError, match="exactly one readout"):
        EventPropCompiler(10, {})
    with pytest.raises(ConfigError, match="must be LeakyIntegrate"):
        EventPropCompiler(10, {h: SoftmaxCrossEntropy()}).compile(net)
    with pytest.raises(ConfigError, match="has max_delay_steps = 1"):
        EventPropCompiler(10, {o: SoftmaxCrossEntropy()},
                          delay_learning=[net.connections[0]]).compile(net)
    with pytest.raises(ConfigError, match="readout must be one of"):
        LeakyIntegrate(readout="mean")
    with pytest.raises(ConfigError, match="needs a network"):
        Population(SpikeInput(), 3)


@pytest.mark.parametrize("graded", [False, True], ids=["spike_input", "graded_input"])
def test_validation_between_epochs_does_not_change_training(graded, tmp_path):
    """Evaluating another data set between epochs must not leak into training (the
    validation set's spike times once replaced the training set's)."""
    x, y = task(32)
    xv, yv = task(16, seed=7)
    if not graded:
        x = [(np.nonzero(s)[0] * 1.0, np.nonzero(s)[1]) for s in x]
        xv = [(np.nonzero(s)[0] * 1.0, np.nonzero(s)[1]) for s in xv]
    plain, inp, out, _ = build(graded=graded)
    h_plain = plain.train({inp: x}, {out: y}, 3)
    plain.close()
    checked, inp2, out2, _ = build(graded=graded)
    h_checked = checked.train({inp2: x}, {out2: y}, 3, validation_x={inp2: xv},
                              validation_y={out2: yv})
    assert [h["loss"] for h in h_plain] == [h["loss"] for h in h_checked]
    # the validation figures are those of the validation set itself: the same weights in
    # a fresh network that never saw the training set give the same loss
    save_checkpoint(tmp_path / "c.npz", checked)
    checked.close()
    fresh, inp3, out3, _ = build(graded=graded)
    load_checkpoint(tmp_path / "c.npz", fresh)
    assert h_checked[-1]["val_loss"] == fresh.evaluate({inp3: xv}, {out3: yv})["loss"]
    fresh.close()
