"""``delayprop analyse`` end to end on tiny synthetic runs written with save_graph."""
import csv
import json

import numpy as np
import pytest
import scipy.stats

from delayprop.analysis import analyse_runs, max_morans_i, receptive_fields_from_graph
from delayprop.cli import main
from delayprop.errors import ConfigError, DataError
from delayprop.graph import NetworkGraph, NeuronGroup, Projection, save_graph

N_IN, N_HID, N_OUT = 6, 8, 3


def _graph(rng, scale=1.0, w_ho=None, names=("input", "hidden", "output")):
    inp, hid, out = names
    pops = (NeuronGroup(inp, N_IN, "graded_input"),
            NeuronGroup(hid, N_HID, "lif", tau_mem=20.0, v_thresh=1.0),
            NeuronGroup(out, N_OUT, "li", tau_mem=20.0))
    pre, post = np.nonzero(rng.random((N_IN, N_HID)) < 0.6)
    ih = Projection("ih", inp, hid, pre, post, scale * rng.normal(size=pre.size),
                    rng.integers(0, 5, size=pre.size), max_delay=5, tau_syn=5.0)
    pre2, post2 = np.nonzero(np.ones((N_HID, N_OUT), dtype=bool))
    weights = rng.normal(size=pre2.size) if w_ho is None else np.full(pre2.size, w_ho)
    ho = Projection("ho", hid, out, pre2, post2, weights, rng.integers(0, 2, size=pre2.size),
                    max_delay=2, tau_syn=5.0)
    return NetworkGraph(pops, (ih, ho))


def _run(path, seed, initial=True, **kw):
    rng = np.random.default_rng(seed)
    if initial:
        save_graph(path / "graph_initial.npz", _graph(rng, **kw))
    save_graph(path / "graph_final.npz", _graph(rng, **kw))
    return path


@pytest.fixture
def runs(tmp_path):
    return [_run(tmp_path / f"run{k}", seed=k) for k in range(3)]


def _read(out):
    report = json.loads((out / "morans_i.json").read_text())
    with open(out / "morans_i.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return report, rows


def test_trained_vs_untrained(tmp_path, runs):
    out = tmp_path / "results" / "dense"
    argv = ["analyse", *map(str, runs), "--out", str(out), "--permutations", "40",
            "--seed", "3"]
    assert main(argv) == 0
    for name in ["morans_i.png", "morans_i.csv", "morans_i.json",
                 *(f"receptive_fields_run{k}.png" for k in range(3))]:
        assert (out / name).stat().st_size > 0, name
    report, rows = _read(out)
    assert report["mode"] == "trained_vs_untrained" and report["n_permutations"] == 40
    assert "--permutations 40" in report["command"]
    groups = {g["name"]: g for g in report["groups"]}
    assert list(groups) == ["trained", "untrained"]
    values = {}
    for name, graph in (("trained", "graph_final.npz"), ("untrained", "graph_initial.npz")):
        group = groups[name]
        values[name] = [v for r in group["runs"] for v in r["morans_i"]]
        assert group["n"] == len(values[name]) == 3 * N_OUT
        assert group["mean"] == pytest.approx(np.mean(values[name]))
        assert [r["graph"] for r in group["runs"]] == [graph] * 3
        # Wiring: each value belongs to that run's graph file, scored with the given seed.
        from delayprop.graph import load_graph
        for run, entry in zip(runs, group["runs"]):
            fields = receptive_fields_from_graph(load_graph(run / graph))
            np.testing.assert_allclose(entry["morans_i"], max_morans_i(fields, 40, 3))
            assert all(b >= p - 1e-12 for b, p in
                       zip(entry["morans_i"], entry["morans_i_unpermuted"]))
    (comparison,) = report["comparisons"]
    ref = scipy.stats.mannwhitneyu(values["trained"], values["untrained"])
    assert (comparison["label_a"], comparison["label_b"]) == ("trained", "untrained")
    assert comparison["statistic"] == ref.statistic
    assert comparison["pvalue"] == pytest.approx(ref.pvalue)
    assert len(rows) == 2 * 3 * N_OUT
    csv_trained = [float(r["morans_i"]) for r in rows if r["group"] == "trained"]
    assert csv_trained == values["trained"]


def test_groups_compare_pairwise_and_need_only_final_graphs(tmp_path):
    fixed = [_run(tmp_path / "fixed1", 10, initial=False),
             _run(tmp_path / "fixed2", 11, initial=False)]
    learned = [_run(tmp_path / "learned1", 12)]
    other = [_run(tmp_path / "other1", 13, initial=False)]
    out = tmp_path / "cmp"
    argv = ["analyse", "--group", "fixed", *map(str, fixed), "--group", "learned",
            *map(str, learned), "--group", "other", *map(str, other), "--out", str(out),
            "--permutations", "0", "--alternative", "greater"]
    assert main(argv) == 0
    report, rows = _read(out)
    assert report["mode"] == "groups"
    assert [g["n"] for g in report["groups"]] == [2 * N_OUT, N_OUT, N_OUT]
    pairs = [(c["label_a"], c["label_b"]) for c in report["comparisons"]]
    assert pairs == [("fixed", "learned"), ("fixed", "other"), ("learned", "other")]
    fixed_values = report["groups"][0]["runs"][0]["morans_i"]
    # --permutations 0: the maps as they are.
    np.testing.assert_allclose(fixed_values,
                               report["groups"][0]["runs"][0]["morans_i_unpermuted"],
                               rtol=0, atol=1e-12)
    first = report["comparisons"][0]
    a = [v for r in report["groups"][0]["runs"] for v in r["morans_i"]]
    b = [v for r in report["groups"][1]["runs"] for v in r["morans_i"]]
    ref = scipy.stats.mannwhitneyu(a, b, alternative="greater")
    assert first["statistic"] == ref.statistic and first["pvalue"] == pytest.approx(ref.pvalue)
    assert (out / "receptive_fields_fixed_fixed1.png").is_file()
    assert (out / "receptive_fields_learned_learned1.png").is_file()
    assert {r["group"] for r in rows} == {"fixed", "learned", "other"}


def test_other_population_names(tmp_path):
    names = ("mel", "lif", "readout")
    run = _run(tmp_path / "r", 0, names=names)
    out = tmp_path / "out"
    assert main(["analyse", str(run), "--out", str(out), "--permutations", "5",
                 "--input-pop", "mel", "--hidden-pop", "lif", "--output-pop", "readout"]) == 0
    report, _ = _read(out)
    assert report["populations"] == dict(zip(("input", "hidden", "output"), names))


def test_error_exits_non_zero_with_message(tmp_path, capsys):
    assert main(["analyse", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1
    assert "run directory" in capsys.readouterr().err


@pytest.mark.parametrize("setup, extra, err, match", [
    ("missing_dir", [], DataError, r"run directory .*nope does not exist"),
    ("no_initial", [], DataError, r"lacks \['graph_initial.npz'\]"),
    ("ok", ["--hidden-pop", "hid"], DataError,
     r"graph_final.npz: the network has no hidden population 'hid'"),
    ("no_synapses", [], DataError, "hold no synapses"),
    ("ok", ["--group", "a", "RUN", "--group", "b", "RUN"], ConfigError,
     "either positionally .* or with --group, not both"),
])
def test_run_errors(tmp_path, setup, extra, err, match):
    run = tmp_path / "nope"
    if setup == "no_initial":
        run = _run(tmp_path / "r", 0, initial=False)
    elif setup == "ok":
        run = _run(tmp_path / "r", 0)
    elif setup == "no_synapses":
        run = _run(tmp_path / "r", 0, w_ho=0.0)
    extra = [str(run) if word == "RUN" else word for word in extra]
    with pytest.raises(err, match=match):
        main(["--debug", "analyse", str(run), "--out", str(tmp_path / "o"), *extra])


@pytest.mark.parametrize("argv, match", [
    ([], "no run directories given"),
    (["--group", "a", "RUN"], r"at least two --group options, got 1 \('a'\)"),
    (["--group", "a", "--group", "b", "RUN"], "--group a names no run directories"),
    (["--group", "a", "RUN", "--group", "a", "RUN"], r"group names must be unique"),
])
def test_group_option_errors(tmp_path, argv, match):
    run = str(_run(tmp_path / "r", 0))
    argv = [run if word == "RUN" else word for word in argv]
    with pytest.raises(ConfigError, match=match):
        main(["--debug", "analyse", *argv, "--out", str(tmp_path / "o")])


def test_library_argument_errors(tmp_path):
    run = _run(tmp_path / "r", 0)
    with pytest.raises(ConfigError, match="not both and not neither"):
        analyse_runs(out=tmp_path)
    with pytest.raises(ConfigError, match="not both and not neither"):
        analyse_runs([run], tmp_path, groups=[("a", [run]), ("b", [run])])
    with pytest.raises(ConfigError, match="no groups given"):
        analyse_runs(out=tmp_path, groups=[])
    with pytest.raises(ConfigError, match=r"group\(s\) \['a'\] have no run directories"):
        analyse_runs(out=tmp_path, groups=[("a", []), ("b", [run])])
    with pytest.raises(ConfigError, match="n_permutations must be a whole number >= 0, got -1"):
        analyse_runs([tmp_path / "not-read"], tmp_path, n_permutations=-1)
    with pytest.raises(ConfigError, match="alternative must be one of .* got 'up'"):
        analyse_runs([tmp_path / "not-read"], tmp_path, alternative="up")
