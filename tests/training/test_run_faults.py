"""Nothing lost, nothing silent: every failure of issue 20's table ends with one clear line
and exit 1 (or a documented skip), and the run's last good state stays intact.

Faults are injected: NaN written into the weights by the optimiser, a disk that fills up in
the middle of a checkpoint, a read-only file system, truncated, empty and foreign files.
``main`` returns instead of raising for every handled failure, so a test that gets 1 back
also proves that no traceback reached the user.
"""
import csv
import errno
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from delayprop.cli import main
from delayprop.training.checkpoint import read_checkpoint
from delayprop.training.optimisers import Adam

FIXTURE = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")   # 20 + 20 samples


@pytest.fixture(autouse=True)
def _no_user_data(monkeypatch):
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)


def train(out, *extra):
    return main(["--quiet", "train", "--data", "rawhd", "--data-path", FIXTURE, "--hidden", "16",
                 "--batch-size", "8", "--out", str(out), *extra])


def epochs_in_metrics(run):
    with open(run / "metrics.csv", newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def checkpoint_epoch(path):
    return read_checkpoint(path)[0]["epoch"]


def all_finite(path):
    meta, arrays = read_checkpoint(path)
    return all(np.isfinite(a).all() for k, a in arrays.items() if a.dtype.kind == "f")


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """A finished run of two epochs (checkpoint of epoch 2, previous of epoch 1)."""
    out = tmp_path_factory.mktemp("faults") / "run"
    assert train(out, "--epochs", "2") == 0
    return out


def copy_run(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def poison_weights_at(monkeypatch, step):
    """From Adam's ``step``-th update of the input->hidden weights on, write a NaN into them."""
    original = Adam.step

    def step_with_nan(self, param, grad, state, progress):
        original(self, param, grad, state, progress)
        if param.dtype == np.float32 and param.size == 40 * 16 and state["t"] >= step:
            param[3] = np.nan
    monkeypatch.setattr(Adam, "step", step_with_nan)


# ------------------------------------------------------------------ numerical guard
def test_nan_in_the_weights_stops_the_run_and_keeps_the_last_checkpoint(tmp_path, monkeypatch,
                                                                        capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    good = (out / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    poison_weights_at(monkeypatch, 5)             # epoch 2 (3 batches an epoch), batch 2
    assert train(out, "--epochs", "3", "--resume") == 1
    err = capsys.readouterr().err
    assert "the weights of 'input_hidden' became NaN or infinite in epoch 2, batch 2 of 3" \
        in err
    assert "--lr" in err and "--on-nan skip-batch" in err
    assert "keeps its checkpoint of epoch 1, untouched" in err
    assert (out / "checkpoint.npz").read_bytes() == good
    assert epochs_in_metrics(out) == [1]
    assert not (out / "summary.json").exists()       # it told of epoch 1 as the end


def test_skip_batch_drops_the_bad_batch_and_counts_it(tmp_path, monkeypatch):
    out = tmp_path / "run"
    original = Adam.step
    calls = []

    def nan_once(self, param, grad, state, progress):
        original(self, param, grad, state, progress)
        if param.dtype == np.float32 and param.size == 40 * 16:
            calls.append(1)
            if len(calls) == 2:
                param[0] = np.inf
    monkeypatch.setattr(Adam, "step", nan_once)
    assert train(out, "--epochs", "2", "--on-nan", "skip-batch") == 0
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["skipped_batches"]) for r in rows] == [1, 0]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    assert all_finite(out / "checkpoint.npz")


def test_skip_batch_restores_the_state_from_before_the_batch(tmp_path, monkeypatch):
    """A dropped batch leaves weights, delays and Adam's state exactly as they were."""
    from delayprop.training.guard import FiniteGuard, _snapshot

    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    from delayprop.training.experiment import ExperimentConfig, make_compiler, build_network
    cfg = ExperimentConfig.from_run(out)
    desc, inp, hid, readout, ih = build_network(cfg, 40, 20, True)
    with make_compiler(cfg, readout, ih, 80, 3).compile(desc) as net:
        from delayprop.training.journal import load_latest
        load_latest(out, net)
        guard = FiniteGuard("skip-batch")
        guard.before_batch(net)
        before = _snapshot(net)
        net.param("input_hidden", "g")[:] = np.nan
        net.delays["input_hidden"][:5] = np.inf
        net.opt_state["hidden_output.g"]["m"][:] = 7.0
        assert guard.after_batch(net, np.zeros(8), 2, 1, 3) is False and guard.skipped == 1
        after = _snapshot(net)
    for part in ("g", "d"):
        for key in before[part]:
            np.testing.assert_array_equal(after[part][key], before[part][key])
    for key, state in before["opt"].items():
        for name, value in state.items():
            np.testing.assert_array_equal(after["opt"][key][name], value)


@pytest.mark.parametrize("extra", [("--lr", "1e39", "--no-delay-learning"), ("--lr", "1e39"),
                                   ("--lr", "1e30"), ("--lr", "1e38")])
def test_huge_learning_rates_end_with_a_named_blow_up(tmp_path, capsys, extra):
    import warnings
    out = tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert train(out, "--epochs", "2", *extra) == 1
    # numpy's overflow warnings would print above the guard's message
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], \
        [str(w.message) for w in caught]
    err = capsys.readouterr().err
    assert "became NaN or infinite in epoch 1, batch" in err and "--lr" in err
    assert "Traceback" not in err and "_delay_stats" not in err
    assert not (out / "checkpoint.npz").exists() and not (out / "summary.json").exists()


def test_the_guard_finds_nan_and_inf_and_nothing_else():
    from delayprop.training.guard import _finite
    assert _finite(np.full(10, 1e308))                      # huge but finite
    assert not _finite(np.array([1.0, np.nan], np.float32))
    assert not _finite(np.array([np.inf, -np.inf]))
    assert _finite(np.arange(5))                            # integers are never checked


# ------------------------------------------------------------------ damaged checkpoints
@pytest.mark.parametrize("damage", ["truncated", "empty", "random", "missing"])
def test_a_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path, two_epochs, caplog,
                                                             damage):
    """'missing': killed between the two renames of a commit."""
    out = copy_run(two_epochs, tmp_path / "run")
    ckpt = out / "checkpoint.npz"
    data = ckpt.read_bytes()
    if damage == "missing":
        ckpt.unlink()
    else:
        ckpt.write_bytes({"truncated": data[:len(data) // 2], "empty": b"",
                          "random": np.random.default_rng(0).bytes(4096)}[damage])
    with caplog.at_level(logging.WARNING):
        assert main(["--quiet", "evaluate", str(out), "--data-path", FIXTURE]) == 0
    assert ("is missing" if damage == "missing" else "is damaged") in caplog.text
    assert "the previous one is" in caplog.text and "checkpoint.prev.npz (epoch 1)" in caplog.text
    assert "pickle" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert train(out, "--epochs", "3", "--resume") == 0
    assert "continuing from it" in caplog.text
    assert epochs_in_metrics(out) == [1, 2, 3]                 # row 2 retrained, once
    assert checkpoint_epoch(out / "checkpoint.npz") == 3


@pytest.mark.parametrize("damage", ["truncated", "empty", "random"])
def test_damaged_checkpoints_without_a_good_one_are_a_clear_error(tmp_path, two_epochs, capsys,
                                                                  damage):
    out = copy_run(two_epochs, tmp_path / "run")
    config = (out / "config.json").read_bytes()
    for name in ("checkpoint.npz", "checkpoint.prev.npz"):
        path = out / name
        data = path.read_bytes()
        path.write_bytes({"truncated": data[:100], "empty": b"",
                          "random": np.random.default_rng(1).bytes(999)}[damage])
    assert train(out, "--epochs", "3", "--resume") == 1
    err = capsys.readouterr().err
    assert f"checkpoint {out / 'checkpoint.npz'} is damaged" in err
    assert "the previous one is damaged too" in err
    assert "pickle" not in err and "Traceback" not in err
    assert (out / "config.json").read_bytes() == config      # the record is not rewritten
    assert main(["evaluate", str(out), "--data-path", FIXTURE]) == 1
    assert "is damaged" in capsys.readouterr().err


def test_resume_without_a_checkpoint_is_an_error_once_epochs_were_recorded(tmp_path, two_epochs,
                                                                           capsys):
    out = copy_run(two_epochs, tmp_path / "run")
    (out / "checkpoint.npz").unlink()
    (out / "checkpoint.prev.npz").unlink()
    assert train(out, "--epochs", "3", "--resume") == 1
    assert "metrics.csv records 2 epoch(s) but there is no checkpoint.npz" \
        in capsys.readouterr().err
    assert epochs_in_metrics(out) == [1, 2]


def test_resume_of_a_run_killed_in_its_first_epoch_starts_it(tmp_path, two_epochs):
    out = copy_run(two_epochs, tmp_path / "run")
    for name in ("checkpoint.npz", "checkpoint.prev.npz", "metrics.csv", "metrics.jsonl",
                 "summary.json", "graph_final.npz", "learning_curve.png"):
        (out / name).unlink()
    assert train(out, "--epochs", "1", "--resume") == 0
    assert epochs_in_metrics(out) == [1]


def test_resume_drops_rows_past_the_checkpoint(tmp_path, two_epochs):
    out = copy_run(two_epochs, tmp_path / "run")
    with open(out / "metrics.csv", "a") as f:                 # a row without its checkpoint
        f.write(open(out / "metrics.csv").read().splitlines()[-1].replace("2", "3", 1) + "\n")
    assert epochs_in_metrics(out) == [1, 2, 3]
    assert train(out, "--epochs", "2", "--resume") == 0        # nothing left to train
    assert epochs_in_metrics(out) == [1, 2]
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


# ------------------------------------------------------------------ file-system faults
def test_a_full_disk_during_a_checkpoint_loses_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    savez, checkpoints = np.savez, []

    def savez_on_a_disk_that_fills(file, *args, **arrays):
        if any(k.startswith("opt/") for k in arrays):        # a checkpoint, not a graph
            checkpoints.append(1)
            if len(checkpoints) == 2:
                file.write(b"PK\x03\x04" + b"\0" * 100)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return savez(file, *args, **arrays)
    monkeypatch.setattr(np, "savez", savez_on_a_disk_that_fills)
    assert train(out, "--epochs", "3") == 1
    err = capsys.readouterr().err
    assert f"cannot write {out / 'checkpoint.npz'}: the disk is full (ENOSPC)" in err
    assert "epoch 2 is not saved, the run directory keeps epoch 1" in err
    assert epochs_in_metrics(out) == [1] and checkpoint_epoch(out / "checkpoint.npz") == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert train(out, "--epochs", "2", "--resume") == 0
    assert epochs_in_metrics(out) == [1, 2]


def test_out_under_a_file_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert train(blocker, "--epochs", "1") == 1
    assert "is a file, not a directory" in capsys.readouterr().err
    assert train(blocker / "run", "--epochs", "1") == 1
    assert f"cannot create {blocker / 'run'}: a part of the path is a file, not a directory" \
        in capsys.readouterr().err


def test_a_read_only_file_system_is_named(tmp_path, monkeypatch, capsys):
    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
    monkeypatch.setattr(os, "mkdir", read_only)
    out = tmp_path / "new" / "run"
    assert train(out, "--epochs", "1") == 1
    assert "the file system is read-only (EROFS)" in capsys.readouterr().err
    monkeypatch.undo()
    import tempfile
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, dir=None, **k: read_only(dir))
    assert train(tmp_path / "run2", "--epochs", "1") == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and str(tmp_path / "run2") in err and "read-only" in err


def test_unhandled_os_errors_still_name_the_file(tmp_path, monkeypatch, capsys):
    import delayprop.training.experiment as experiment

    def fail(*args, **kwargs):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), "/some/file")
    monkeypatch.setattr(experiment, "run_experiment", fail)
    assert train(tmp_path / "run", "--epochs", "1") == 1
    assert "cannot access /some/file: permission denied (EACCES)" in capsys.readouterr().err


# ------------------------------------------------------------------ resume with other options
def test_resume_names_each_changed_setting(tmp_path, two_epochs, capsys):
    out = copy_run(two_epochs, tmp_path / "run")
    assert train(out, "--epochs", "3", "--resume", "--hidden", "8", "--lr", "0.001") == 1
    err = capsys.readouterr().err
    assert "hidden 16 -> 8" in err and "lr 0.002 -> 0.001" in err
    assert "hidden changes the network" in err
    assert train(out, "--epochs", "3", "--resume", "--lr", "0.001") == 1
    assert "add --allow-changes" in capsys.readouterr().err
    assert train(out, "--epochs", "3", "--resume", "--lr", "0.001", "--allow-changes") == 0
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["lr"] == 0.001 and epochs_in_metrics(out) == [1, 2, 3]


# ------------------------------------------------------------------ damaged graphs
@pytest.mark.parametrize("damage", ["truncated", "empty", "random"])
def test_export_of_a_damaged_graph_is_a_clear_error(tmp_path, two_epochs, capsys, damage):
    out = copy_run(two_epochs, tmp_path / "run")
    graph = out / "graph_final.npz"
    data = graph.read_bytes()
    graph.write_bytes({"truncated": data[:len(data) // 3], "empty": b"",
                       "random": np.random.default_rng(2).bytes(2048)}[damage])
    assert main(["export", str(out), "--target", "nir", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert f"network graph {graph} is damaged" in err
    assert "pickle" not in err and "Traceback" not in err


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("extra, message", [
    (("--lr", "nan"), "lr must be a finite number >= 0, got nan"),
    (("--lr", "-1"), "lr must be a finite number >= 0, got -1.0"),
    (("--delay-lr", "-5"), "delay_lr must be a finite number >= 0, got -5.0"),
    (("--augment-shift", "100"), "augment_shift 100 moves samples by as many channels"),
    (("--augment-time-shift", "80"), "augment_time_shift 80 moves samples by as many steps"),
    (("--sparsity", "0.9999"), "sparsity 0.9999 leaves a hidden neuron 0.004 of its 40"),
    (("--on-nan", "ignore"), "on_nan must be one of"),
])
def test_values_out_of_range_are_clear_errors(tmp_path, capsys, extra, message):
    assert train(tmp_path / "run", "--epochs", "1", *extra) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_sparsity_that_leaves_neurons_unconnected_is_reported(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert train(tmp_path / "run", "--epochs", "1", "--sparsity", "0.95") == 0
    assert "hidden neurons without any input synapse" in caplog.text


def test_summary_is_strict_json_even_for_a_non_finite_value(tmp_path):
    from delayprop.training.experiment import _write_json
    _write_json(tmp_path / "summary.json", {"test_loss": float("nan"), "epochs": 2})
    text = (tmp_path / "summary.json").read_text()
    assert "NaN" not in text and json.loads(text) == {"test_loss": None, "epochs": 2}


def test_a_run_interrupted_mid_epoch_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert train(whole, "--epochs", "3") == 0
    original = Adam.step

    def interrupt(self, param, grad, state, progress):
        if param.dtype == np.float32 and param.size == 40 * 16 and state["t"] == 7:
            raise KeyboardInterrupt                  # epoch 3, batch 1
        original(self, param, grad, state, progress)
    monkeypatch.setattr(Adam, "step", interrupt)
    assert train(cut, "--epochs", "3") == 130
    assert epochs_in_metrics(cut) == [1, 2] and checkpoint_epoch(cut / "checkpoint.npz") == 2
    monkeypatch.undo()
    assert train(cut, "--epochs", "3", "--resume") == 0
    (meta_w, a_w), (meta_c, a_c) = (read_checkpoint(d / "checkpoint.npz") for d in (whole, cut))
    assert (meta_w["epoch"], meta_w["step"], meta_w["rng"]) == \
        (meta_c["epoch"], meta_c["step"], meta_c["rng"])
    assert set(a_w) == set(a_c)
    for key in a_w:
        if key != "meta":
            np.testing.assert_array_equal(a_w[key], a_c[key], err_msg=key)
    rows = [list(csv.DictReader(open(d / "metrics.csv", newline=""))) for d in (whole, cut)]
    for row in rows[0] + rows[1]:
        del row["seconds"]
    assert rows[0] == rows[1]


def test_run_files_have_the_usual_permissions(tmp_path):
    """Files written through a temporary file and a rename read like any other file
    (0666 less the umask), not mkstemp's 0600."""
    import os
    import stat
    from delayprop.cli import main
    old = os.umask(0o022)
    try:
        fixture = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")
        out = tmp_path / "run"
        assert main(["--quiet", "train", "--data", "rawhd", "--data-path", fixture,
                     "--hidden", "8", "--batch-size", "8", "--epochs", "1",
                     "--out", str(out)]) == 0
    finally:
        os.umask(old)
    for name in ("metrics.csv", "config.json", "checkpoint.npz", "graph_final.npz",
                 "summary.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name
