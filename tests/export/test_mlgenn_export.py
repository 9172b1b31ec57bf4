"""Export to mlGeNN: the written arrays are the network's, and mlGeNN's InferenceCompiler
running the generated script reproduces delayprop's readout (float, as mlGeNN) and class
on every trial. The mlGeNN runs skip, with the reason, where mlGeNN is not installed."""
import json

import numpy as np
import pytest

from delayprop.cli import main
from delayprop.compile.graph_model import simulate_graph
from delayprop.errors import ExportError
from delayprop.export.mlgenn import ARRAYS, SCRIPT, predict_mlgenn, write_mlgenn
from delayprop.graph import NetworkGraph, NeuronGroup, Projection, save_graph

N_IN, N_HID, N_OUT, T, TRIALS = 20, 40, 4, 90, 12


def random_graph(seed=1):
    """Spike input -> LIF (SPARSE, delays 0..9) -> LIF recurrent (delays 0..3) ->
    leaky-integrator readout (all-to-all, delays 0..2), an initial V that is not 0."""
    rng = np.random.default_rng(seed)
    # each half of the input drives one half of the hidden layer, which drives one output
    same_half = (np.arange(N_IN)[:, None] < N_IN // 2) == (np.arange(N_HID)[None] < N_HID // 2)
    pre, post = np.nonzero((rng.random((N_IN, N_HID)) < 0.4) & same_half)
    hp, hq = np.nonzero((rng.random((N_HID, N_HID)) < 0.1) & ~np.eye(N_HID, dtype=bool))
    op, oq = np.meshgrid(np.arange(N_HID), np.arange(N_OUT), indexing="ij")
    d_ih = rng.integers(0, 10, len(pre))
    d_ih[:2] = [0, 9]
    pops = (NeuronGroup("input", N_IN, "spike_source"),
            NeuronGroup("hidden", N_HID, "lif", tau_mem=20.0, v_thresh=1.0, v_init=0.1),
            NeuronGroup("output", N_OUT, "li", tau_mem=15.0))
    projs = (Projection("ih", "input", "hidden", pre, post, rng.normal(1.2, 0.5, len(pre)),
                        d_ih, 10, 5.0),
             Projection("hh", "hidden", "hidden", hp, hq, rng.normal(0, 0.3, len(hp)),
                        rng.integers(0, 4, len(hp)), 4, 3.0),
             Projection("ho", "hidden", "output", op.ravel(), oq.ravel(),
                        rng.normal(0, 0.5, op.size) + (op.ravel() < N_HID // 2) * (oq.ravel() == 0)
                        + (op.ravel() >= N_HID // 2) * (oq.ravel() == 1),
                        rng.integers(0, 3, op.size), 3, 5.0))
    return NetworkGraph(pops, projs)


def random_trials(seed=2):
    """Trials driving different halves of the input, so that the class varies; spikes up
    to the last step, whose effects must not leak into the next trial."""
    rng = np.random.default_rng(seed)
    trials = []
    for b in range(TRIALS):
        rate = np.where((np.arange(N_IN) < N_IN // 2) == (b % 2 == 0), 0.09, 0.01)
        steps, ids = np.nonzero(rng.random((T, N_IN)) < rate)   # up to the last step
        trials.append((steps, ids))
    return trials


def test_written_arrays_are_the_network(tmp_path):
    graph = random_graph()
    files = write_mlgenn(graph, tmp_path)
    assert {f.name for f in files} == {ARRAYS, SCRIPT}
    with np.load(tmp_path / ARRAYS) as arrays:
        for c in graph.projections:
            for key, want in (("pre", c.pre), ("post", c.post), ("weight", c.weight),
                              ("delay", c.delay)):
                np.testing.assert_array_equal(arrays[f"{c.name}_{key}"], want)
    script = (tmp_path / SCRIPT).read_text()
    compile(script, SCRIPT, "exec")                     # valid Python
    assert "relative_reset=False, scale_i=True" in script
    assert "max_delay_steps=c[\"max_delay\"] - 1" in script


def test_graded_input_is_refused_with_the_reason(tmp_path):
    graph = NetworkGraph((NeuronGroup("x", 2, "graded_input"),
                          NeuronGroup("y", 1, "li", tau_mem=10.0)),
                         (Projection("xy", "x", "y", [0, 1], [0, 0], [1.0, 1.0], [0, 0], 1,
                                     5.0),))
    with pytest.raises(ExportError, match="no graded-value input"):
        write_mlgenn(graph, tmp_path)


def test_mlgenn_reproduces_delayprop_readout_and_classes(tmp_path):
    pytest.importorskip("ml_genn", reason="mlGeNN is not installed (from source; see the "
                                          "README, 'With GeNN')")
    graph, trials = random_graph(), random_trials()
    ours = simulate_graph(graph, {"input": trials}, T, record_v=("output",),
                          precision="float").v["output"].sum(axis=1)
    write_mlgenn(graph, tmp_path)
    theirs = predict_mlgenn(tmp_path, {"input": trials}, T)
    assert theirs.shape == (TRIALS, N_OUT)
    # float on both sides: equal up to float rounding (not a spike apart)
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5 * np.abs(ours).max())
    np.testing.assert_array_equal(theirs.argmax(axis=1), ours.argmax(axis=1))
    assert len(set(ours.argmax(axis=1).tolist())) > 1, "one class for all: a weak test"


def test_cli_export_target_mlgenn_reports_agreement(tmp_path):
    pytest.importorskip("ml_genn", reason="mlGeNN is not installed (from source; see the "
                                          "README, 'With GeNN')")
    graph, trials = random_graph(), random_trials()
    run = tmp_path / "run"
    run.mkdir()
    save_graph(run / "graph_final.npz", graph)
    labels = np.arange(TRIALS) % N_OUT
    data = tmp_path / "data.npz"
    np.savez(data, input_steps=np.concatenate([s for s, _ in trials]),
             input_ids=np.concatenate([i for _, i in trials]),
             input_trial=np.repeat(np.arange(TRIALS), [len(s) for s, _ in trials]),
             labels=labels, num_steps=T)
    out = tmp_path / "out"
    assert main(["export", str(run), "--target", "mlgenn", "--out", str(out),
                 "--data", str(data)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["trials"] == TRIALS and report["same_class"] == 1.0
    assert report["accuracy_mlgenn"] == report["accuracy_delayprop"]
