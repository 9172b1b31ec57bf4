"""Receptive fields of a run trained with hidden->output delays: each hidden neuron's panel
sits d_ho steps later in its output's field (the paper's Fig. 1A alignment)."""
from pathlib import Path

import numpy as np
import pytest

from delayprop.analysis import receptive_fields_from_graph
from delayprop.cli import main
from delayprop.graph import load_graph

FIXTURE = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("aligned") / "run"
    assert main(["--quiet", "train", "--data", "rawhd", "--data-path", FIXTURE, "--hidden", "12",
                 "--batch-size", "8", "--epochs", "1", "--max-delay", "5",
                 "--delays", "input_hidden,hidden_output", "--out", str(out)]) == 0
    return out


def test_panels_are_shifted_by_the_learned_hidden_output_delays(run):
    graph = load_graph(run / "graph_final.npz")
    ih, ho = (next(p for p in graph.projections if p.name == n)
              for n in ("input_hidden", "hidden_output"))
    assert ho.max_delay == 5 and len(np.unique(ho.delay)) > 1
    n_in, n_out = graph.population("input").size, graph.population("output").size
    expected = np.zeros((n_out, n_in, ih.max_delay + ho.max_delay - 1))
    for i, h, w, d in zip(ih.pre, ih.post, ih.weight, ih.delay):
        for h2, o, w2, e in zip(ho.pre, ho.post, ho.weight, ho.delay):
            if h2 == h:
                expected[o, i, d + e] += np.sign(w) * w2
    fields = receptive_fields_from_graph(graph)
    np.testing.assert_allclose(fields, expected, atol=1e-9)
    # without the alignment the fields would differ
    from dataclasses import replace
    flat = replace(graph, projections=tuple(
        replace(p, delay=np.zeros_like(p.delay)) if p.name == "hidden_output" else p
        for p in graph.projections))
    assert not np.allclose(receptive_fields_from_graph(flat)[:, :, :ih.max_delay],
                           fields[:, :, :ih.max_delay])


def test_analyse_writes_the_aligned_fields(run, tmp_path):
    out = tmp_path / "analysis"
    assert main(["analyse", str(run), "--out", str(out), "--permutations", "20"]) == 0
    assert (out / "receptive_fields_run.png").stat().st_size > 0
