import json

from delayprop.cli import main


def test_demo_prints_summary_and_saves_raster(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--batch", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["hidden_spikes_per_instance"]) == 2
    assert sum(summary["hidden_spikes_per_instance"]) > 0
    assert (tmp_path / "demo_raster.png").stat().st_size > 10_000


def test_bench_rejects_unknown_names(tmp_path, capsys):
    assert main(["bench", "nope"]) == 1
    assert "unknown benchmarks ['nope']" in capsys.readouterr().err
    assert main(["bench", "forward", "--dir", str(tmp_path)]) == 1
    assert "no benchmarks folder found" in capsys.readouterr().err


def test_build_needs_a_run_directory(tmp_path, capsys):
    assert main(["build", str(tmp_path)]) == 1
    assert "config.json not found" in capsys.readouterr().err


def test_every_command_has_help(capsys):
    for command in ("train", "ablation", "analyse", "export", "data", "demo", "bench",
                    "build"):
        try:
            main([command, "--help"])
        except SystemExit as exit_:
            assert exit_.code == 0
        assert "usage: delayprop" in capsys.readouterr().out
