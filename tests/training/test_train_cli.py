"""``delayprop train`` and ``delayprop ablation`` end to end on the shipped HD fixture."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from delayprop.cli import main
from delayprop.graph import load_graph

FIXTURE = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")


@pytest.fixture(autouse=True)
def _data_cache(tmp_path_factory, monkeypatch):
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)


def train(out, *extra):
    return main(["--quiet", "train", "--data", "rawhd", "--data-path", FIXTURE, "--hidden", "16",
                 "--batch-size", "8", "--out", str(out), *extra])


def test_train_writes_a_complete_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "2") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2 and 0.0 <= summary["test_accuracy"] <= 1.0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert {"loss", "accuracy", "val_accuracy", "spikes_per_neuron",
            "input_hidden_delay_mean"} <= set(rows[0])
    for name in ("learning_curve.png", "checkpoint.npz", "config.json"):
        assert (out / name).stat().st_size > 0
    initial, final = load_graph(out / "graph_initial.npz"), load_graph(out / "graph_final.npz")
    assert not np.array_equal(initial.projections[0].weight, final.projections[0].weight)
    config = json.loads((out / "config.json").read_text())
    assert config["command"].startswith("delayprop ") and "--epochs 2" in config["command"]


def test_resume_continues_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    assert train(out, "--epochs", "2") == 1             # exists, no --resume: an error
    assert train(out, "--epochs", "2", "--resume") == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert train(out, "--epochs", "3", "--resume", "--hidden", "8") == 1   # other settings


def test_bad_options_fail_with_a_message(tmp_path, capsys):
    assert train(tmp_path / "r", "--rewire", "rigl") == 1
    assert "needs a sparse connection" in capsys.readouterr().err
    assert main(["train", "--data", "mnist", "--out", str(tmp_path / "x")]) == 1
    assert "data must be one of" in capsys.readouterr().err
    assert main(["train", "--data", "rawhd", "--data-path", str(tmp_path / "none"),
                 "--out", str(tmp_path / "y")]) == 1


def test_sparse_rewired_run(tmp_path):
    out = tmp_path / "rigl"
    assert train(out, "--epochs", "2", "--sparsity", "0.75", "--rewire", "rigl",
                 "--regrow-delay", "gradient", "--fan-in", "12") == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert {"input_hidden_active", "input_hidden_dropped", "input_hidden_grown"} <= set(rows[0])
    assert int(rows[-1]["input_hidden_max_fan_in"]) <= 12
    assert len({r["input_hidden_active"] for r in rows}) == 1


def test_ablation_sweep_is_resumable(tmp_path):
    out = tmp_path / "abl"
    args = ["--quiet", "ablation", "--data", "rawhd", "--data-path", FIXTURE, "--hidden", "16",
            "--batch-size", "8", "--epochs", "1", "--seeds", "1", "--keep", "0.5", "0.25",
            "--models", "fixed_structure_learned_delays", "learned_structure_learned_delays",
            "--out", str(out)]
    assert main(args) == 0
    table = list(csv.DictReader(open(out / "ablation.csv")))
    assert len(table) == 4 and {r["seeds"] for r in table} == {"1"}
    done = out / "learned_structure_learned_delays" / "keep0.25" / "seed0" / "summary.json"
    stamp = done.stat().st_mtime
    assert main(args) == 0                                  # nothing is repeated
    assert done.stat().st_mtime == stamp
    assert (out / "ablation.png").stat().st_size > 0


def test_evaluate_reproduces_the_final_test_accuracy(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    assert main(["--quiet", "evaluate", str(out), "--data-path", FIXTURE]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == summary["test_accuracy"] and result["epoch"] == 1
    png = tmp_path / "confusion.png"
    assert main(["--quiet", "evaluate", str(out), "--confusion", str(png)]) == 0
    result = json.loads(capsys.readouterr().out)
    counts = np.array(result["confusion"])
    assert counts.shape == (len(result["class_names"]),) * 2
    assert counts.sum() == summary["test_samples"]
    # the predictions' argmax gives the accuracy that evaluate measured
    assert np.trace(counts) / counts.sum() == pytest.approx(result["accuracy"])
    assert png.stat().st_size > 10_000
    assert main(["evaluate", str(tmp_path / "missing")]) == 1
    # a config.json from elsewhere: named settings, not a TypeError from the dataclass
    config = json.loads((out / "config.json").read_text())
    config["config"]["drop_out_rate"] = 0.1
    (out / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(out)]) == 1
    assert "unknown settings ['drop_out_rate']" in capsys.readouterr().err
    (out / "config.json").write_text("{not json")
    assert main(["evaluate", str(out)]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_every_rewiring_option_reaches_the_run(tmp_path):
    out = tmp_path / "deepr"
    assert train(out, "--epochs", "1", "--sparsity", "0.75", "--rewire", "deepr",
                 "--regrow-delay", "random", "--fan-in", "12", "--rewire-every", "1",
                 "--l1", "0.001", "--no-dale") == 0
    rewiring = json.loads((out / "config.json").read_text())["config"]["rewiring"]
    assert rewiring == {"grow": "random", "regrow_delay": "random", "fan_in": 12,
                        "every_batches": 1, "l1": 0.001, "dale": False}
    rigl = tmp_path / "rigl"
    assert train(rigl, "--epochs", "1", "--sparsity", "0.75", "--rewire", "rigl",
                 "--drop", "rigl", "--drop-fraction", "0.2", "--excitatory-fraction",
                 "0.5") == 0
    rewiring = json.loads((rigl / "config.json").read_text())["config"]["rewiring"]
    assert rewiring == {"grow": "rigl", "drop": "rigl", "drop_fraction": 0.2,
                        "excitatory_fraction": 0.5}


def test_bad_rewiring_settings_leave_no_run_directory(tmp_path, capsys):
    out = tmp_path / "bad"
    assert train(out, "--epochs", "1", "--sparsity", "0.75", "--rewire", "rigl",
                 "--drop", "rigl", "--drop-fraction", "1.5") == 1
    assert "drop_fraction must lie in [0, 1]" in capsys.readouterr().err
    assert not out.exists()


def test_time_constants_reach_the_run(tmp_path):
    out = tmp_path / "fast"
    assert train(out, "--epochs", "1", "--tau-mem", "1.005", "--tau-syn", "0.5",
                 "--readout-tau-mem", "2") == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["tau_mem"], config["tau_syn"], config["readout_tau_mem"]) == (1.005, 0.5, 2)
    assert train(tmp_path / "bad", "--epochs", "1", "--tau-mem", "0") == 1


def test_curves_plots_runs_side_by_side(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "2") == 0
    png = tmp_path / "curves.png"
    assert main(["curves", str(out), str(out), "--labels", "a", "b", "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    assert main(["curves", str(tmp_path / "nothing"), "--out", str(png)]) == 1


def test_augmentation_options_reach_the_run_and_old_runs_still_resume(tmp_path):
    out = tmp_path / "shifted"
    assert train(out, "--epochs", "1", "--augment-shift", "2", "--augment-time-shift",
                 "3") == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["augment_shift"], config["augment_time_shift"]) == (2, 3)
    # a run made before the setting existed has no such key; it resumes with the default
    plain = tmp_path / "plain"
    assert train(plain, "--epochs", "1") == 0
    saved = json.loads((plain / "config.json").read_text())
    for key in ("augment_shift", "augment_time_shift"):
        del saved["config"][key]
    (plain / "config.json").write_text(json.dumps(saved))
    assert train(plain, "--epochs", "2", "--resume") == 0
    assert train(plain, "--epochs", "3", "--resume", "--augment-shift", "1") == 1


def test_rawhd_runs_take_the_recipe_unless_told_otherwise(tmp_path):
    """The defaults of `train --data rawhd` are the best recipe (README), a setting given
    on the command line or in a TOML file wins, and a stored run keeps what it stored."""
    from delayprop.training.experiment import RECIPES, ExperimentConfig
    out = tmp_path / "recipe"
    assert train(out, "--epochs", "1") == 0
    stored = ExperimentConfig.from_run(out)
    for key, value in RECIPES["rawhd"].items():
        if key != "epochs":
            assert getattr(stored, key) == value, key
    assert stored.epochs == 1
    toml = tmp_path / "c.toml"
    toml.write_text("delay_lr = 0.5\n")
    out2 = tmp_path / "told"
    assert train(out2, "--epochs", "1", "--config", str(toml), "--augment-shift", "0") == 0
    told = ExperimentConfig.from_run(out2)
    assert told.delay_lr == 0.5 and told.augment_shift == 0 and told.weight_sd == 0.2
    # resumed without those options: the run keeps its own settings, not the recipe
    assert train(out2, "--epochs", "2", "--resume") == 0
    resumed = ExperimentConfig.from_run(out2)
    assert (resumed.delay_lr, resumed.augment_shift, resumed.epochs) == (0.5, 0, 2)


def test_a_silent_hidden_layer_is_reported(tmp_path, caplog):
    """Weights too small to make any hidden neuron spike: EventProp gets no gradient for
    them, and the user is told once, with what to change."""
    import logging
    with caplog.at_level(logging.WARNING, logger="delayprop.training"):
        assert train(tmp_path / "silent", "--epochs", "2", "--weight-sd", "1e-6",
                     "--out-weight-sd", "0.05") == 0
    warned = [r for r in caplog.records if "no hidden neuron spiked" in r.getMessage()]
    assert len(warned) == 1 and "epoch 1" in warned[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="delayprop.training"):
        assert train(tmp_path / "spiking", "--epochs", "1") == 0
    assert not [r for r in caplog.records if "no hidden neuron spiked" in r.getMessage()]
