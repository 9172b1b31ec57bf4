"""The PyNN script in real simulators: NEST runs it and agrees with delayprop step for step;
sPyNNaker maps it on a virtual board. Tests that need a simulator skip, with the reason,
where it is not installed (pip install 'delayprop[export-sims]')."""
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from delayprop.cli import main
from delayprop.errors import ExportError
from delayprop.export import read_nir, read_pynn, write_nir, write_pynn
from delayprop.export._cli import run_data
from delayprop.export.pynn_run import load_script, run_pynn_export, validate_in_pynn
from delayprop.export.targets import same_connectivity
from delayprop.graph import NetworkGraph, NeuronGroup, Projection, load_graph

FIXTURE = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")


def _importable(name):
    try:
        importlib.import_module(name)
    except Exception:                               # noqa: BLE001  (any failure: not usable)
        return False
    return True


needs_nest = pytest.mark.skipif(not _importable("pyNN.nest"),
                                reason="PyNN's NEST backend is not importable (pip install "
                                       "'delayprop[export-sims]')")
needs_spynnaker = pytest.mark.skipif(importlib.util.find_spec("spynnaker") is None,
                                     reason="sPyNNaker is not installed (pip install "
                                            "'delayprop[export-sims]')")


def chain(recurrent_delay=1):
    """in -> h1 (recurrent) -> h2 -> out (li), plus a skip projection in -> out: every
    kind of projection the layer rule handles. Weights are large, so spikes are robust."""
    pops = [NeuronGroup("in", 2, "spike_source"),
            NeuronGroup("h1", 3, "lif", tau_mem=10.0, v_thresh=1.0, v_reset=0.0),
            NeuronGroup("h2", 2, "lif", tau_mem=10.0, v_thresh=1.0),
            NeuronGroup("out", 2, "li", tau_mem=10.0)]
    projs = [Projection("a", "in", "h1", [0, 1], [0, 1], [3.0, 3.0], [0, 2], 4, 5.0),
             Projection("r", "h1", "h1", [0, 1], [2, 2], [4.0, 4.0],
                        [recurrent_delay, 3], 4, 5.0),
             Projection("b", "h1", "h2", [0, 1, 2], [0, 1, 1], [3.0, 3.0, 2.0], [1, 0, 0], 4,
                        5.0),
             Projection("skip", "in", "out", [0], [1], [0.7], [0], 4, 5.0),
             Projection("c", "h2", "out", [0, 1], [0, 1], [1.0, -0.5], [0, 3], 4, 5.0)]
    return NetworkGraph(pops, projs, dt=1.0)


INPUT = (np.array([0, 1, 5, 9, 20]), np.array([0, 1, 1, 0, 0]))   # steps 0 and 1 included


def test_spike_times_are_plain_floats_and_every_input_spike_is_kept(tmp_path):
    net = load_script(write_pynn(chain(), tmp_path).parent)
    spikes = {"in_steps": INPUT[0], "in_ids": INPUT[1]}
    made = {}
    spinnaker = types.SimpleNamespace(__name__="pyNN.spiNNaker",
                                      SpikeSourceArray=lambda **kw: made.update(kw))
    net.spike_source(spinnaker, "in", 2, spikes)
    times = made["spike_times"]
    assert type(times) is list and all(type(t) is list for t in times)
    assert all(type(x) is float for t in times for x in t)
    assert times == [[0.0, 9.0, 20.0], [1.0, 5.0]]
    # NEST: every time is shifted by 2 steps, so after PyNN-NEST takes min_delay = DT off,
    # even a spike of step 0 lies after t = 0
    nest_times = net.spike_times("in", 2, spikes, net.BACKENDS["nest"]["shift"])
    assert sum(map(len, nest_times)) == len(INPUT[0])
    assert min(min(t) for t in nest_times) - net.DT > 0
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 2\)"):
        net.spike_times("in", 2, {"in_steps": [1], "in_ids": [2]})


def test_readout_threshold_is_finite_and_fits_spinnaker_fixed_point(tmp_path):
    import pyNN.mock as sim
    net = load_script(write_pynn(chain(), tmp_path, simulator="mock").parent)
    pops, _ = net.build(sim)
    assert pops["out"].get("v_thresh") == net.NEVER
    assert net.NEVER < 2 ** 15                              # s16.15: |x| < 65536
    assert net.LAYER == {"in": 0, "h1": 1, "h2": 2, "out": 3}


def test_layer_rule_on_nest_documents_late_synapses(tmp_path):
    text = write_pynn(chain(recurrent_delay=0), tmp_path).read_text()
    assert "arrive one step late (1 in 'r'" in text
    assert "none here" in write_pynn(chain(), tmp_path / "b").read_text()


@needs_nest
def test_nest_reproduces_delayprop_spikes_exactly_in_every_layer(tmp_path):
    from delayprop.compile.graph_model import simulate_graph
    g = chain()
    write_pynn(g, tmp_path, num_steps=40)
    ref = simulate_graph(g, {"in": [INPUT]}, 40, record_v=("out",), precision="double")
    spikes, v = run_pynn_export(tmp_path, {"in": [INPUT]}, 40, "nest", ("out",))
    for name in ("h1", "h2"):
        assert len(ref.spikes[name][0][0]) > 0
        np.testing.assert_array_equal(spikes[name][0][0], ref.spikes[name][0][0])
        np.testing.assert_array_equal(spikes[name][0][1], ref.spikes[name][0][1])
    # with the STEPPED weight factors NEST's exact integration follows delayprop's step
    assert np.abs(v["out"] - ref.v["out"]).max() < 1e-9
    assert np.abs(ref.v["out"]).max() > 0.1


@needs_nest
def test_nest_records_every_input_spike_from_step_zero(tmp_path):
    import pyNN.nest as sim
    net = load_script(write_pynn(chain(), tmp_path, num_steps=30).parent)
    pops, _ = net.build(sim, {"in_steps": INPUT[0], "in_ids": INPUT[1]})
    pops["in"].record("spikes")
    net.run_steps(sim, 30)
    steps, ids = net.spike_steps(sim, pops["in"])
    sim.end()
    got = sorted(zip(steps.tolist(), ids.tolist()))
    assert got == sorted(zip(INPUT[0].tolist(), INPUT[1].tolist()))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small network trained on the audio fixture, exported for PyNN (float weights)."""
    root = tmp_path_factory.mktemp("trained")
    run = root / "run"
    assert main(["--quiet", "train", "--data", "rawhd", "--data-path", FIXTURE, "--hidden",
                 "16", "--epochs", "2", "--max-delay", "16", "--encode", "sigma_delta",
                 "--hardware", "spinnaker", "--out", str(run)]) == 0
    out = root / "pynn"
    assert main(["--quiet", "export", str(run), "--target", "pynn", "--out", str(out)]) == 0
    return run, out


@needs_nest
def test_trained_export_runs_on_nest_and_agrees_with_delayprop(trained, monkeypatch):
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)
    run, out = trained
    graph = load_graph(run / "graph_final.npz")
    inputs, labels, steps = run_data(run, "test", 10)
    report = validate_in_pynn(graph, out, inputs, steps, labels, simulator="nest")
    hidden = report.populations["hidden"]
    assert hidden.spikes_original > 50
    assert hidden.agreement_within_one >= 0.95 and hidden.agreement >= 0.99
    assert report.prediction_agreement == 1.0 and report.max_abs_dv_readout < 1e-6
    assert "PyNN nest" in report.summary()


@needs_nest
def test_script_runs_unmodified_from_the_command_line_on_nest(trained, tmp_path):
    _, out = trained
    spikes = tmp_path / "input.npz"
    np.savez(spikes, input_steps=np.array([0, 0, 1, 3, 7]), input_ids=np.array([0, 5, 1, 2, 0]))
    proc = subprocess.run([sys.executable, str(out / "network.py"), "--simulator", "nest",
                           "--spikes", str(spikes), "--steps", "40", "--out",
                           str(tmp_path / "res")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with np.load(tmp_path / "res" / "steps.npz") as f:
        assert f["output_v"].shape == (40, read_pynn(out).population("output").size)
        assert not np.isnan(f["output_v"]).any() and f["hidden_steps"].min(initial=0) >= 0
    assert (tmp_path / "res" / "hidden.pkl").is_file()


@needs_spynnaker
def test_trained_export_maps_on_a_virtual_spinnaker_board(trained):
    from delayprop.export.spinnaker_map import map_on_virtual_board
    _, out = trained
    info = map_on_virtual_board(out, {"input_steps": np.array([0, 1]),
                                      "input_ids": np.array([0, 1])}, 80)
    assert set(info["cores"]) == {"input", "hidden", "output"}
    assert info["chips"] >= 1 and info["routing_entries"] >= 1
    assert info["delay_extension_cores"] == 0                 # delays fit 1..16 ticks


@needs_spynnaker
def test_spinnaker_refusal_comes_back_with_its_message(trained, tmp_path):
    """An infinite-ish readout threshold (the old 1e30) is outside s16.15: sPyNNaker says
    so, and the message reaches the user."""
    import shutil
    from delayprop.export.spinnaker_map import map_on_virtual_board
    _, out = trained
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    script = bad / "network.py"
    script.write_text(script.read_text().replace("NEVER = 30000.0", "NEVER = 1e30"))
    with pytest.raises(ExportError, match="fixed point"):
        map_on_virtual_board(bad, num_steps=10)


def test_trained_nir_export_loads_with_nir_read_and_round_trips(trained, tmp_path):
    import nir
    run, _ = trained
    graph = load_graph(run / "graph_final.npz")
    path = write_nir(graph, tmp_path / "net.nir")
    g = nir.read(str(path))
    assert isinstance(g, nir.NIRGraph) and any(isinstance(n, nir.Delay) for n in g.nodes.values())
    assert same_connectivity(graph, read_nir(path)) == []
    meta = g.metadata["projections"]
    meta = json.loads(meta.decode() if isinstance(meta, bytes) else meta)
    assert [p["name"] for p in meta] == [p.name for p in graph.projections]


@needs_nest
@needs_spynnaker
def test_cli_validate_in_nest_and_spinnaker_virtual(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)
    run, _ = trained
    out = tmp_path / "spin"
    assert main(["--quiet", "export", str(run), "--target", "spinnaker", "--out", str(out),
                 "--validate-split", "test", "--limit", "4", "--validate-in", "nest",
                 "--validate-in", "spinnaker-virtual"]) == 0
    printed = capsys.readouterr().out
    assert "re-simulated in PyNN nest: 4 trial(s)" in printed
    assert "sPyNNaker virtual board: mapped" in printed
    report = json.loads((out / "report.json").read_text())["validate_in"]
    assert report["nest"]["trials"] == 4 and report["nest"]["same_class"] == 1.0
    assert report["spinnaker-virtual"]["cores"]["hidden"] >= 1


def test_cli_validate_in_needs_a_pynn_target_and_data(trained, tmp_path, capsys):
    run, _ = trained
    assert main(["--quiet", "export", str(run), "--target", "nir", "--out",
                 str(tmp_path / "n"), "--validate-in", "nest"]) == 1
    assert "use --target pynn or spinnaker, not nir" in capsys.readouterr().err
    assert main(["--quiet", "export", str(run), "--target", "pynn", "--out",
                 str(tmp_path / "p"), "--validate-in", "nest"]) == 1
    assert "--validate-in nest needs data" in capsys.readouterr().err


def test_stepped_weight_factor_matches_nest_propagator_formula():
    """STEPPED = (1 - a) init / P21; P21 checked against its integral, by quadrature."""
    from scipy.integrate import quad
    from delayprop.export._pynn_script import stepped_scales
    g = chain()
    tm, ts, h = 10.0, 5.0, 1.0
    p21 = quad(lambda s: np.exp(-(h - s) / tm) * np.exp(-s / ts) / tm, 0, h)[0]
    expected = (1 - np.exp(-h / tm)) * ts / h * (1 - np.exp(-h / ts)) / p21
    scales = stepped_scales(g)
    assert set(scales) == {"h1", "h2", "out"}
    assert scales["h1"] == pytest.approx(expected, rel=1e-12)
    same = NetworkGraph([NeuronGroup("i", 1, "spike_source"),
                         NeuronGroup("o", 1, "lif", tau_mem=5.0, v_thresh=1.0)],
                        [Projection("p", "i", "o", [0], [0], [1.0], [0], 1, 5.0)], dt=1.0)
    p21 = quad(lambda s: np.exp(-(h - s) / 5.0) * np.exp(-s / 5.0) / 5.0, 0, h)[0]
    expected = (1 - np.exp(-h / 5)) * 5 * (1 - np.exp(-h / 5)) / p21
    assert stepped_scales(same)["o"] == pytest.approx(expected, rel=1e-12)
