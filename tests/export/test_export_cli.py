"""``delayprop export RUN --target ... --out DIR``."""
import json

import numpy as np
import pytest

from delayprop.cli import main
from delayprop.errors import ConfigError, DataError
from delayprop.export import load_export_data, read_nir
from delayprop.export.targets import export, same_connectivity
from delayprop.graph import save_graph


@pytest.fixture
def run_dir(tmp_path, genn_net):
    save_graph(tmp_path / "run" / "graph_final.npz", genn_net)
    return tmp_path / "run"


@pytest.fixture
def data_file(tmp_path, genn_inputs):
    trains = genn_inputs["input"]
    np.savez(tmp_path / "data.npz", input_steps=np.concatenate([s for s, _ in trains]),
             input_ids=np.concatenate([i for _, i in trains]),
             input_trial=np.concatenate([np.full(len(s), b) for b, (s, _) in enumerate(trains)]),
             labels=np.array([1, 7, 8]), num_steps=200)
    return tmp_path / "data.npz"


def test_nir_export_prints_report_and_writes_files(run_dir, tmp_path, capsys, genn_net):
    out = tmp_path / "nir"
    assert main(["--quiet", "export", str(run_dir), "--target", "nir", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "synapses: 1177" in text and "max fan-in: hidden 19, output 50" in text
    assert "delays used: 0..19 steps -> 1..20 ticks" in text and "no data given" in text
    assert same_connectivity(genn_net, read_nir(out / "network.nir")) == []
    assert json.loads((out / "report.json").read_text())["synapses"] == 1177


def test_spinnaker_refuses_long_delays_then_fits_with_extensions(run_dir, tmp_path, capsys,
                                                                 data_file):
    out = tmp_path / "spinn"
    assert main(["--quiet", "export", str(run_dir), "--target", "spinnaker", "--out",
                 str(out)]) == 1
    assert "never clipped" in capsys.readouterr().err
    assert main(["--quiet", "export", str(run_dir), "--target", "spinnaker", "--profile",
                 "spinnaker-delay-ext", "--data", str(data_file), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "16-bit (receptor)" in text and "rounded to zero" in text
    assert "accuracy: original" in text and (out / "network.py").is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["profile"]["name"] == "spinnaker-delay-ext"
    assert set(report["spike_agreement"]) == {"hidden", "output"}
    assert "import argparse" in (out / "network.py").read_text()


def test_fan_in_limit_prunes_on_request(run_dir, tmp_path, capsys):
    args = ["--quiet", "export", str(run_dir), "--target", "pynn", "--max-fan-in", "10",
            "--out", str(tmp_path / "p")]
    assert main(args) == 1
    assert "fan_in='refuse'" in capsys.readouterr().err
    assert main(args + ["--fan-in", "prune"]) == 0
    text = capsys.readouterr().out
    assert "max fan-in: hidden 10, output 10" in text
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report["pruned_fan_in"]["output"] == 400 and report["weight_max_abs_error"] == 0.0


def test_cli_errors(tmp_path, run_dir, capsys, genn_net):
    assert main(["export", str(tmp_path), "--target", "nir", "--out", str(tmp_path / "o")]) == 1
    assert "no graph_final.npz" in capsys.readouterr().err
    np.savez(tmp_path / "bad.npz", labels=np.array([0]))
    assert main(["export", str(run_dir), "--target", "nir", "--data", str(tmp_path / "bad.npz"),
                 "--out", str(tmp_path / "o")]) == 1
    assert "needs arrays ['input_steps', 'input_ids', 'input_trial']" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown export target 'brainchip'"):
        export(genn_net, "brainchip", tmp_path)


def test_data_file_format(tmp_path, genn_net):
    np.savez(tmp_path / "d.npz", input_steps=[1, 2], input_ids=[0, 1], input_trial=[0, 1])
    with pytest.raises(DataError, match="give 'num_steps'"):
        load_export_data(tmp_path / "d.npz", genn_net)
    np.savez(tmp_path / "d.npz", input_steps=[1, 2], input_ids=[0, 1], input_trial=[0, 1],
             num_steps=5)
    inputs, labels, steps = load_export_data(tmp_path / "d.npz", genn_net)
    assert steps == 5 and labels is None
    assert [(s.tolist(), i.tolist()) for s, i in inputs["input"]] == [([1], [0]), ([2], [1])]
    with pytest.raises(DataError, match="cannot read data file"):
        load_export_data(tmp_path / "missing.npz", genn_net)
