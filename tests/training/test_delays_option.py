"""``delayprop train --delays``: learned delays on hidden->output too, old runs unchanged."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from delayprop.cli import main
from delayprop.errors import ConfigError
from delayprop.graph import load_graph
from delayprop.training.experiment import ExperimentConfig

FIXTURE = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")


@pytest.fixture(autouse=True)
def _data_cache(monkeypatch):
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)


def train(out, *extra):
    return main(["--quiet", "train", "--data", "rawhd", "--data-path", FIXTURE, "--hidden", "16",
                 "--batch-size", "8", "--out", str(out), *extra])


def projection(graph, name):
    return next(p for p in graph.projections if p.name == name)


def test_hidden_output_delays_are_learned_within_the_ring(tmp_path):
    out = tmp_path / "run"
    assert train(out, "--epochs", "2", "--delays", "input_hidden,hidden_output",
                 "--max-delay", "6", "--delay-lr", "2.0") == 0
    assert json.loads((out / "config.json").read_text())["config"]["delays"] == \
        "input_hidden,hidden_output"
    initial, final = load_graph(out / "graph_initial.npz"), load_graph(out / "graph_final.npz")
    for name in ("input_hidden", "hidden_output"):
        before, after = projection(initial, name), projection(final, name)
        assert after.max_delay == 6 and 0 <= after.delay.min() and after.delay.max() <= 5
        assert len(np.unique(before.delay)) > 1            # drawn from 0..5, not all zero
        assert not np.array_equal(before.delay, after.delay), f"{name} delays did not move"
    row = list(csv.DictReader(open(out / "metrics.csv")))[-1]
    assert "hidden_output_delay_mean" in row and "input_hidden_delay_mean" in row


def test_only_hidden_output_and_fixed_delays(tmp_path):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1", "--delays", "hidden_output", "--max-delay", "4",
                 "--no-delay-learning") == 0
    initial, final = load_graph(out / "graph_initial.npz"), load_graph(out / "graph_final.npz")
    assert projection(final, "input_hidden").max_delay == 1
    assert not projection(final, "input_hidden").delay.any()
    ho0, ho1 = projection(initial, "hidden_output"), projection(final, "hidden_output")
    assert ho1.max_delay == 4 and ho0.delay.any()
    np.testing.assert_array_equal(ho0.delay, ho1.delay)      # fixed


def test_a_run_made_before_the_option_resumes_with_input_hidden_delays_only(tmp_path):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    path = out / "config.json"
    saved = json.loads(path.read_text())
    del saved["config"]["delays"]                 # as config.json was written before
    path.write_text(json.dumps(saved))
    assert ExperimentConfig.from_run(out).delays == "input_hidden"
    assert train(out, "--epochs", "2", "--resume") == 0
    final = load_graph(out / "graph_final.npz")
    assert projection(final, "hidden_output").max_delay == 1


@pytest.mark.parametrize("value", ["hidden", "input_hidden,input_hidden", "", "output_hidden"])
def test_bad_delays_are_refused(value, tmp_path, capsys):
    with pytest.raises(ConfigError, match="delays must name connections"):
        ExperimentConfig(delays=value)
    assert train(tmp_path / "r", "--delays", value) == 1
    assert "delays must name connections" in capsys.readouterr().err
