"""``delayprop ablation``: worker processes, resuming, the progress bar, the no-Dale control
and the rewiring options, on the shipped HD fixture."""
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from delayprop.cli import main
from delayprop.graph import load_graph
from delayprop.training.experiment import ExperimentConfig
from delayprop.training.rewiring import rewiring_from_config
from delayprop.training.sweep import SweepRun, _Progress, threads_per_job

FIXTURE = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")
MODELS = ["fixed_structure_learned_delays", "learned_structure_learned_delays",
          "learned_structure_learned_delays_no_dale"]


@pytest.fixture(autouse=True)
def _data_cache(monkeypatch):
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)


def sweep_args(out, *extra, models=MODELS, keep=("0.5",), epochs=2):
    return ["ablation", "--data", "rawhd", "--data-path", FIXTURE, "--hidden", "16",
            "--batch-size", "8", "--epochs", str(epochs), "--seeds", "1", "--keep", *keep,
            "--models", *models, "--out", str(out), *extra]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One tiny sweep in two worker processes, with both new rewiring options."""
    out = tmp_path_factory.mktemp("sweep") / "abl"
    old = os.environ.pop("DELAYPROP_DATA", None)
    try:
        assert main(["--quiet", *sweep_args(out, "--jobs", "2", "--rewire-every", "2",
                                            "--grad-window", "all")]) == 0
    finally:
        if old is not None:
            os.environ["DELAYPROP_DATA"] = old
    return out


def rows(out):
    return list(csv.DictReader(open(out / "ablation_runs.csv")))


def test_two_jobs_give_the_results_of_one(swept, tmp_path):
    one = tmp_path / "one"
    assert main(["--quiet", *sweep_args(one, "--rewire-every", "2", "--grad-window",
                                        "all")]) == 0
    assert len(rows(swept)) == len(MODELS)
    assert rows(one) == rows(swept)
    # OpenMP sums in another order with another thread count: the losses agree to float32
    for model in MODELS:
        a, b = (json.loads((d / model / "keep0.5" / "seed0" / "summary.json").read_text())
                for d in (one, swept))
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-5)
        assert a["epochs"] == b["epochs"] == 2


def test_each_worker_runs_with_its_share_of_the_cores(swept):
    logs = sorted((swept / "logs").glob("*.log"))
    assert len(logs) == len(MODELS)
    for log in logs:
        found = re.findall(r"OpenMP threads: (\d+)", log.read_text())
        assert found == [str(threads_per_job(2))]


def test_the_generated_library_takes_the_thread_count(tmp_path):
    code = """
from delayprop.training import (Connection, Dense, EventPropCompiler, Exponential,
    LeakyIntegrate, LeakyIntegrateFire, Network, Normal, Population, SoftmaxCrossEntropy,
    SpikeInput)
from delayprop.training.sweep import openmp_threads
net = Network()
with net:
    inp = Population(SpikeInput(), 4, name="input")
    hid = Population(LeakyIntegrateFire(10.0, 1.0), 4, name="hidden")
    out = Population(LeakyIntegrate(10.0), 2, name="output")
    Connection(inp, hid, Dense(Normal(0.0, 1.0)), Exponential(5.0), name="ih")
    Connection(hid, out, Dense(Normal(0.0, 1.0)), Exponential(5.0), name="ho")
compiled = EventPropCompiler(10, {out: SoftmaxCrossEntropy()}, batch_size=2).compile(
    net, "omp_threads")
print(openmp_threads(), compiled.runtime.sizes.num_threads)
"""
    for threads in (1, 3):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [str(threads)] * 2


def test_the_control_learns_its_structure_with_signed_weights(swept):
    """Dale's law (rewiring.py): one sign per presynaptic neuron. The Dale's-law model keeps
    it on every input channel; the control has channels that excite and inhibit."""
    def mixed_channels(model):
        graph = load_graph(swept / model / "keep0.5" / "seed0" / "graph_final.npz")
        ih = next(p for p in graph.projections if p.name == "input_hidden")
        mixed = 0
        for channel in np.unique(ih.pre):
            signs = set(np.sign(ih.weight[(ih.pre == channel) & (ih.weight != 0)]))
            mixed += signs == {-1.0, 1.0}
        return mixed
    assert mixed_channels("learned_structure_learned_delays") == 0
    assert mixed_channels("learned_structure_learned_delays_no_dale") > 0
    table = list(csv.DictReader(open(swept / "ablation.csv")))
    assert "learned_structure_learned_delays_no_dale" in {r["model"] for r in table}


def test_rewiring_options_land_in_each_run_and_resuming_checks_them(swept, tmp_path, capsys):
    def rewiring(model):
        path = swept / model / "keep0.5" / "seed0" / "config.json"
        return json.loads(path.read_text())["config"]["rewiring"]
    assert rewiring("learned_structure_learned_delays") == {
        "every_batches": 2, "grad_window": "all", "grow": "rigl", "dale": True}
    assert rewiring("learned_structure_learned_delays_no_dale")["dale"] is False
    assert rewiring("fixed_structure_learned_delays") == {}
    capsys.readouterr()
    # the same directory with another setting: refused before anything runs
    assert main(["--quiet", *sweep_args(swept, "--jobs", "2", "--rewire-every", "2",
                                        "--grad-window", "8")]) == 1
    err = capsys.readouterr().err
    assert "other settings" in err and "'grad_window': 'all'" in err and "another --out" in err
    assert main(["--quiet", *sweep_args(tmp_path / "new", "--rewire-every", "0")]) == 1
    assert "every_batches must be a whole number >= 1" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    from filelock import FileLock
    with FileLock(str(swept / ".sweep.lock")):        # another sweep at work there
        assert main(["--quiet", *sweep_args(swept, "--jobs", "2", "--rewire-every", "2",
                                            "--grad-window", "all")]) == 1
    assert "another sweep is running" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--quiet", *sweep_args(swept, "--grad-window", "0")])


def test_every_option_reaches_the_learned_structure_runs_only():
    from delayprop.cli import build_parser
    from delayprop.training._cli import _ablation_config
    from delayprop.training.ablation import AblationRun, run_config
    args = build_parser().parse_args(sweep_args(
        "x", "--rewire-every", "4", "--grad-window", "8", "--regrow-delay", "gradient",
        "--drop", "rigl", "--drop-fraction", "0.2", "--excitatory-fraction", "0.5"))
    base = _ablation_config(args)
    learned = run_config(base, AblationRun("learned_structure_fixed_delays", 0.125, 2))
    assert learned.rewiring == {"every_batches": 4, "grad_window": 8, "drop": "rigl",
                                "drop_fraction": 0.2, "excitatory_fraction": 0.5,
                                "regrow_delay": "gradient", "grow": "rigl", "dale": True}
    assert rewiring_from_config(learned).drop == "rigl"
    assert (learned.sparsity, learned.seed, learned.delay_learning) == (0.875, 2, False)
    assert rewiring_from_config(learned).regrow_delay == "gradient"
    fixed = run_config(base, AblationRun("fixed_structure_learned_delays", 0.5, 0))
    assert fixed.rewiring == {} and fixed.delay_learning


def test_grad_window_all_means_every_batch_since_the_last_rewiring():
    def window(**rewiring):
        return rewiring_from_config(ExperimentConfig(sparsity=0.5, rewiring=rewiring)
                                    ).grad_window
    assert window(grad_window="all") is None
    assert window(grad_window=4) == 4
    assert window() == 16


def test_the_progress_bar_counts_epochs_of_the_whole_sweep(tmp_path):
    cfg = ExperimentConfig(epochs=3)
    runs = [SweepRun(tmp_path / name, cfg) for name in ("a", "b", "c")]
    for run, epochs in zip(runs, (2, 5, 0)):          # b ran longer than asked: counts 3
        run.directory.mkdir()
        if epochs:
            lines = ["epoch,loss"] + [f"{e},1.0" for e in range(1, epochs + 1)]
            (run.directory / "metrics.csv").write_text("\n".join(lines) + "\n")
    text = io.StringIO()
    progress = _Progress(runs, quiet=False, desc="t", file=text)
    assert (progress.bar.total, progress.bar.n) == (9, 5)
    (runs[2].directory / "metrics.csv").write_text("epoch,loss\n1,1.0\n")
    progress.refresh()
    assert progress.bar.n == 6
    progress.close()
    assert "6/9" in text.getvalue() and "epoch" in text.getvalue()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_failed_run_is_reported_and_the_others_finish(tmp_path, capsys, jobs):
    out = tmp_path / "abl"
    # 1 % of 40 inputs leaves each hidden neuron 0.4 synapses: that run fails at set-up
    args = sweep_args(out, "--jobs", jobs, models=["fixed_structure_fixed_delays"],
                      keep=("0.01", "0.5"), epochs=1)
    assert main(["--quiet", *args]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 runs failed" in err and "keep0.01" in err and "sparsity 0.99" in err
    assert "log:" in err or jobs == "1"                 # workers keep a log each
    table = list(csv.DictReader(open(out / "ablation.csv")))
    assert [r["active_fraction"] for r in table] == ["0.5"]          # the finished run kept


def _pids(out: Path) -> set[int]:
    return {int(p) for log in (out / "logs").glob("*.log")
            for p in re.findall(r"pid (\d+)", log.read_text())}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_stops_the_workers_and_the_sweep_resumes(tmp_path):
    out = tmp_path / "abl"
    models = ["fixed_structure_fixed_delays", "fixed_structure_learned_delays",
              "learned_structure_learned_delays"]
    args = sweep_args(out, "--jobs", "2", models=models, epochs=8)
    command = [sys.executable, "-c",
               "import sys; from delayprop.cli import main; sys.exit(main(sys.argv[1:]))",
               "--quiet", *args]
    env = {k: v for k, v in os.environ.items() if k != "DELAYPROP_DATA"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    dirs = [out / m / "keep0.5" / "seed0" for m in models]
    deadline = time.monotonic() + 300
    finished = started = []
    while time.monotonic() < deadline and proc.poll() is None:
        finished = [d for d in dirs if (d / "summary.json").exists()]
        started = [d for d in dirs if d not in finished and (d / "checkpoint.npz").exists()]
        if finished and started:
            break
        time.sleep(0.05)
    assert finished and started, "the sweep ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130, proc.stderr.read()
    assert "interrupted" in proc.stderr.read()
    assert not [p for p in _pids(out) if _alive(p)]               # no worker left running
    finished = [d for d in dirs if (d / "summary.json").exists()]
    stamps = {d: (d / "summary.json").stat().st_mtime_ns for d in finished}
    begun = {d: (d / "graph_initial.npz").stat().st_mtime_ns for d in started
             if d not in finished}
    assert begun
    assert main(["--quiet", *args]) == 0
    for d, stamp in stamps.items():                                 # not run again
        assert (d / "summary.json").stat().st_mtime_ns == stamp
    for d, stamp in begun.items():                                  # resumed, not restarted
        assert (d / "graph_initial.npz").stat().st_mtime_ns == stamp
        log = out / "logs" / ("_".join(d.parts[-3:]) + ".log")
        assert re.search(r"resumed .* at epoch [1-8]\n", log.read_text())
    assert all(json.loads((d / "summary.json").read_text())["epochs"] == 8 for d in dirs)


def test_sweeps_of_several_directories_share_one_plot(swept, tmp_path):
    from delayprop.errors import ConfigError
    from delayprop.training.ablation import plot_sweeps
    png = plot_sweeps({"a": (swept, "learned_structure_learned_delays"),
                       "b": (swept, "fixed_structure_learned_delays")}, tmp_path / "p.png")
    assert png.stat().st_size > 10_000
    with pytest.raises(ConfigError, match="no finished runs of fixed_structure_fixed_delays"):
        plot_sweeps({"c": (swept, "fixed_structure_fixed_delays")}, tmp_path / "q.png")
