"""Exporting a run trained on your own audio folder: the validation reads the run's data
with its own label pattern and split, as graded input (not as spikes)."""
import json
import sys
from pathlib import Path

from delayprop.cli import main

sys.path.insert(0, str(Path(__file__).parents[1] / "data"))
from audiohelpers import flat_folder  # noqa: E402


def test_export_of_an_audio_run_validates_on_its_own_split(tmp_path, capsys):
    root = flat_folder(tmp_path / "f", classes={"low": 300.0, "high": 2400.0},
                       speakers=("p0", "p1", "p2", "p3"), takes=2)
    run = tmp_path / "run"
    assert main(["--quiet", "train", "--data", "audio", "--data-path", str(root),
                 "--labels", "{label}_{speaker}_{index}.wav", "--test-speakers", "p0",
                 "--hidden", "8", "--batch-size", "4", "--epochs", "1",
                 "--weight-sd", "0.3", "--out", str(run)]) == 0
    out = tmp_path / "nir"
    capsys.readouterr()
    assert main(["--quiet", "export", str(run), "--target", "nir", "--out", str(out),
                 "--validate-split", "test"]) == 0
    text = capsys.readouterr().out
    assert "4 trial(s) x 80 steps" in text        # p0's 4 recordings, 80 graded steps
    report = json.loads((out / "report.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert report["spikes_identical"] is True
    assert report["accuracy_original"] == summary["test_accuracy"]
