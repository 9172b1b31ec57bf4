"""Data-parallel training (delayprop.training.parallel): the shard arithmetic, the
divergence check, and N = 2 ranks under mpirun against one process (double precision,
same global batch: the same weights, delays and metrics to 1e-9 relative)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from delayprop.training.parallel import (Communicator, RankDivergenceError, SingleProcess,
                                         launched_ranks)

WORKER = Path(__file__).with_name("mpi_worker.py")


class FakeRanks(Communicator):
    """Rank ``rank`` of ``size``, whose peers hold ``peer_digest`` (for the check)."""

    def __init__(self, rank, size, peer_digest=None):
        super().__init__()
        self.rank, self.size, self.peer_digest = rank, size, peer_digest

    def _allreduce(self, buffer):
        return buffer * self.size           # every rank holds the same values

    def _allgather(self, value):
        return [value if self.peer_digest is None or r == self.rank else self.peer_digest
                for r in range(self.size)]


@pytest.mark.parametrize("total,size", [(32, 2), (7, 2), (1, 2), (10, 3), (5, 8)])
def test_shards_cover_the_batch_once_in_order(total, size):
    ranges = [FakeRanks(r, size).shard_range(total) for r in range(size)]
    assert ranges[0][0] == 0 and ranges[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    sizes = [hi - lo for lo, hi in ranges]
    assert max(sizes) - min(sizes) <= 1
    assert max(sizes) <= FakeRanks(0, size).capacity(total)


def test_one_reduction_packs_every_array():
    comm = FakeRanks(0, 2)
    out = comm.sum({"a": np.ones((2, 3)), "b": np.arange(4.0), "c": np.array([1.5])})
    np.testing.assert_array_equal(out["a"], 2 * np.ones((2, 3)))
    np.testing.assert_array_equal(out["b"], 2 * np.arange(4.0))
    assert out["c"].shape == (1,) and comm.reductions == 1 and comm.bytes_reduced == 11 * 8
    single = SingleProcess()
    assert single.sum({"a": np.arange(3.0)})["a"].tolist() == [0, 1, 2]
    assert single.reductions == 0 and single.shard_range(9) == (0, 9)


def test_diverged_connectivity_is_an_error():
    active = np.eye(4, dtype=bool)
    FakeRanks(0, 2).check_same("the connectivity", active)          # all agree
    with pytest.raises(RankDivergenceError, match="the connectivity of 'ih' differs between "
                                                  r"ranks \(ranks \[1\]"):
        FakeRanks(0, 2, peer_digest="x").check_same("the connectivity of 'ih'", active)


def test_launchers_are_recognised(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS",
                 "SLURM_STEP_ID"):
        monkeypatch.delenv(name, raising=False)
    assert launched_ranks() == 1
    monkeypatch.setenv("SLURM_NTASKS", "4")          # an sbatch script, not an srun task
    assert launched_ranks() == 1
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "3")
    assert launched_ranks() == 3


# ---------------------------------------------------------------------- under mpirun
def _mpiexec() -> list[str] | None:
    exe = shutil.which("mpiexec") or shutil.which("mpirun")
    if exe is None:
        return None
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    # Open MPI refuses root and more ranks than cores unless told
    return [exe, "--oversubscribe", "--allow-run-as-root"] if "Open MPI" in version \
        else [exe]


def _skip_reason() -> str | None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'delayprop[mpi]' mpich)"
    if _mpiexec() is None:
        return "no mpiexec/mpirun on PATH (pip install mpich, or a system MPI)"
    return None


needs_mpi = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def _run(tmp_path, ranks, kind, epochs, name, *extra):
    out = tmp_path / f"{name}.npz"
    cmd = [sys.executable, str(WORKER), str(out), kind, str(epochs), *extra]
    if ranks > 1:
        cmd = _mpiexec() + ["-n", str(ranks)] + cmd
    env = {k: v for k, v in os.environ.items()
           if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with np.load(out) as f:
        result = {k: f[k] for k in f.files}
    result["history"] = json.loads(str(result["history"]))
    assert int(result["ranks"]) == ranks
    return result


def _assert_same(one, two):
    arrays = [k for k in one if k not in ("history", "ranks", "reductions")]
    assert arrays
    for key in arrays:
        if one[key].dtype == bool:
            np.testing.assert_array_equal(two[key], one[key], err_msg=key)
        else:
            np.testing.assert_allclose(two[key], one[key], rtol=1e-9, atol=1e-12, err_msg=key)
    assert len(one["history"]) == len(two["history"])
    for a, b in zip(one["history"], two["history"]):
        assert a.keys() == b.keys()
        for key in a:
            if key != "seconds":
                np.testing.assert_allclose(b[key], a[key], rtol=1e-9, err_msg=key)


@needs_mpi
def test_augmented_graded_batches_are_drawn_as_in_one_process(tmp_path):
    """Channel shifts drawn for the global batch on every rank (also on the rank with no
    share of the last batch): 2 ranks equal 1 process."""
    one = _run(tmp_path, 1, "graded", 2, "one")
    two = _run(tmp_path, 2, "graded", 2, "two")
    _assert_same(one, two)


@needs_mpi
def test_two_ranks_train_as_one_process(tmp_path):
    """Dense delays, spike-count regulariser and dropout; 21 samples in batches of 5, so
    the last batch leaves rank 1 without a sample."""
    one = _run(tmp_path, 1, "plain", 2, "one")
    two = _run(tmp_path, 2, "plain", 2, "two")
    _assert_same(one, two)
    assert not np.allclose(one["ih.d"], _run(tmp_path, 1, "plain", 1, "short")["ih.d"]), \
        "the second epoch changed nothing: the comparison would prove nothing"


@needs_mpi
def test_two_ranks_rewire_as_one_process(tmp_path):
    """RigL every 2 batches, regrowth at the gradient's best delay."""
    one = _run(tmp_path, 1, "rigl", 2, "one")
    two = _run(tmp_path, 2, "rigl", 2, "two")
    assert sum(h["ih_dropped"] for h in one["history"]) > 0, "nothing was rewired"
    _assert_same(one, two)
    # one Allreduce per optimiser step (2 epochs x 5 batches) and per validation batch
    # (2 epochs x 2)
    assert int(two["reductions"]) == 2 * 5 + 2 * 2


@needs_mpi
def test_resume_with_another_number_of_ranks(tmp_path):
    ckpt = tmp_path / "epoch1.npz"
    _run(tmp_path, 2, "rigl", 1, "first", "--save", str(ckpt))
    resumed = _run(tmp_path, 1, "rigl", 1, "resumed", "--load", str(ckpt))
    _assert_same(_run(tmp_path, 1, "rigl", 2, "straight"), resumed)


FIXTURE = str(Path(__file__).parents[1] / "fixtures" / "hd_audio_small")


def _cli(ranks, out, cache, *extra):
    cmd = [sys.executable, "-m", "delayprop", "--quiet", "train", "--data", "rawhd",
           "--data-path", FIXTURE, "--hidden", "16", "--batch-size", "8", "--precision",
           "double", "--no-schedule", "--out", str(out), *extra]
    if ranks > 1:
        cmd = _mpiexec() + ["-n", str(ranks)] + cmd
    env = {k: v for k, v in os.environ.items()
           if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS",
                        "DELAYPROP_DATA")}
    env["DELAYPROP_CACHE"] = str(cache)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


@needs_mpi
def test_mpirun_delayprop_train_writes_one_run_like_one_process(tmp_path):
    """``mpirun -n 2 delayprop train``: rank 0 alone writes the run directory (one
    metrics row per epoch, one config, summary and graphs), and the run equals the same
    command in one process; ``--resume`` continues it with another number of ranks
    (constant learning rates: a schedule would be stretched by the longer resumed run)."""
    cache = tmp_path / "cache"
    one, two = tmp_path / "one", tmp_path / "two"
    done = _cli(1, one, cache, "--epochs", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    done = _cli(2, two, cache, "--epochs", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    done = _cli(1, two, cache, "--epochs", "2", "--resume")    # 2 ranks -> 1
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split(",") for line in (two / "metrics.csv").read_text().splitlines()]
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    expected = json.loads((one / "summary.json").read_text())
    got = json.loads((two / "summary.json").read_text())
    for key in ("test_accuracy", "test_loss", "train_accuracy", "epochs"):
        assert got[key] == pytest.approx(expected[key], rel=1e-9), key
    for name in ("config.json", "graph_initial.npz", "graph_final.npz", "checkpoint.npz",
                 "learning_curve.png"):
        assert (two / name).stat().st_size > 0, name


def test_a_rank_other_than_0_writes_nothing(tmp_path, monkeypatch):
    """Rank 1 of 2 (a stand-in communicator: its peer holds the same values) trains its
    shard but leaves the run directory to rank 0."""
    from delayprop.training import parallel
    from delayprop.training.experiment import ExperimentConfig, run_experiment
    monkeypatch.setattr(parallel, "world", lambda: FakeRanks(1, 2))
    monkeypatch.delenv("DELAYPROP_DATA", raising=False)
    cfg = ExperimentConfig(data="rawhd", data_path=FIXTURE, hidden=16, batch_size=8, epochs=1)
    out = tmp_path / "run"
    summary = run_experiment(cfg, out, quiet=True)
    assert summary["epochs"] == 1
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


def _sweep(ranks, out, cache):
    cmd = [sys.executable, "-m", "delayprop", "ablation", "--data", "rawhd", "--data-path",
           FIXTURE, "--hidden", "16", "--batch-size", "8", "--precision", "double",
           "--epochs", "2", "--seeds", "1", "--keep", "0.5", "0.25", "--models",
           "fixed_structure_learned_delays", "learned_structure_learned_delays",
           "--out", str(out)]
    if ranks > 1:
        cmd = _mpiexec() + ["-n", str(ranks)] + cmd
    env = {k: v for k, v in os.environ.items()
           if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS",
                        "DELAYPROP_DATA")}
    env.update(DELAYPROP_CACHE=str(cache), OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


@needs_mpi
def test_mpirun_delayprop_ablation_shares_whole_runs_between_ranks(tmp_path):
    """``mpirun -n 2 delayprop ablation``: each rank trains whole runs in one process
    (claimed one at a time), both ranks get work, and every run equals the same sweep in
    one process; the table is written once."""
    cache = tmp_path / "cache"
    one, two = tmp_path / "one", tmp_path / "two"
    done = _sweep(1, one, cache)
    assert done.returncode == 0, done.stderr[-3000:]
    done = _sweep(2, two, cache)
    assert done.returncode == 0, done.stderr[-3000:]
    trained = {}
    for line in done.stderr.splitlines():
        if " trains " in line and "rank " in line:
            rank = int(line.split("rank ")[1].split()[0])
            trained[line.rsplit(" ", 1)[1]] = rank
    assert len(trained) == 4 and set(trained.values()) == {0, 1}, done.stderr[-3000:]
    assert done.stdout.count("mean_test_accuracy") == 1      # rank 0 alone prints it
    by_run = {}
    for out in (one, two):
        with open(out / "ablation_runs.csv") as f:
            rows = f.read().splitlines()
        by_run[out] = sorted(rows[1:])
    assert len(by_run[one]) == 4 and by_run[two] == by_run[one]
    for summary in one.glob("*/keep*/seed*/summary.json"):
        mine = json.loads(summary.read_text())
        theirs = json.loads((two / summary.relative_to(one)).read_text())
        for key in ("test_accuracy", "test_loss", "train_accuracy"):
            assert theirs[key] == pytest.approx(mine[key], rel=1e-9), (summary, key)
    # once finished, the sweep under mpirun has nothing left to do
    again = _sweep(2, two, cache)
    assert again.returncode == 0 and " trains " not in again.stderr, again.stderr[-2000:]


def test_jobs_under_mpirun_is_a_clear_error(monkeypatch, tmp_path):
    from delayprop.errors import ConfigError
    from delayprop.training import parallel
    from delayprop.training.experiment import ExperimentConfig
    from delayprop.training.sweep import SweepRun, run_sweep
    monkeypatch.setattr(parallel, "world", lambda: FakeRanks(0, 2))
    run = SweepRun(tmp_path / "run", ExperimentConfig(epochs=1))
    with pytest.raises(ConfigError, match="--jobs 2 under mpirun: each of the 2 ranks"):
        run_sweep([run], jobs=2, quiet=True)
