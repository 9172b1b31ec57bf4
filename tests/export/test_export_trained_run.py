"""A run trained within SpiNNaker's limits exports with zero violations and validates on
its own (spike-encoded) test split."""
import json
from pathlib import Path

from delayprop.cli import main

FIXTURE = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")


def test_train_under_spinnaker_limits_then_export(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)
    run = tmp_path / "run"
    assert main(["--quiet", "train", "--data", "rawhd", "--data-path", FIXTURE,
                 "--hidden", "16", "--epochs", "1", "--max-delay", "16", "--encode",
                 "sigma_delta", "--hardware", "spinnaker", "--out", str(run)]) == 0
    capsys.readouterr()
    out = tmp_path / "export"
    assert main(["--quiet", "export", str(run), "--target", "spinnaker", "--out", str(out),
                 "--validate-split", "test", "--limit", "6"]) == 0
    report = json.loads((out / "report.json").read_text())
    text = json.dumps(report)
    assert report["violations_before"] == 0 and report["spikes_identical"] is not None
    printed = capsys.readouterr().out
    assert "accuracy" in printed.lower()


def test_graded_run_needs_encoding_for_spinnaker(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)
    assert main(["train", "--data", "rawhd", "--data-path", FIXTURE, "--hidden", "8",
                 "--epochs", "1", "--max-delay", "16", "--hardware", "spinnaker",
                 "--out", str(tmp_path / "r")]) == 1
    assert "--encode sigma_delta" in capsys.readouterr().err
    assert main(["train", "--data", "rawhd", "--data-path", FIXTURE, "--hidden", "8",
                 "--epochs", "1", "--max-delay", "25", "--encode", "sigma_delta",
                 "--hardware", "spinnaker", "--out", str(tmp_path / "r2")]) == 1
    assert "use --max-delay 16" in capsys.readouterr().err
