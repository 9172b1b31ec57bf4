"""A sweep: many training runs, resumable, N at a time, under one progress bar.

Each run has its own directory. A run whose ``summary.json`` records at least the epochs
asked for is finished and skipped; one with a checkpoint resumes from it (the run's own
settings are checked first, for every run, before anything starts); one killed before
its first checkpoint starts again from nothing.

``jobs > 1`` runs each run in its own worker process (a fresh interpreter, so a crash in
one run cannot take the others down), ``max(1, cores // jobs)`` OpenMP threads each:
``OMP_NUM_THREADS`` is in the worker's environment before it loads any library, and the
worker checks that OpenMP took it. A free slot takes the next run. A run that fails is
reported at the end with its directory and log; the others go on. Ctrl-C stops the
workers; the next call resumes their runs from their checkpoints.

Under ``mpirun -n N`` the ranks share the sweep: each rank trains whole runs, one at a
time, in one process (a run's batches are not split across ranks), and a free rank takes
the next unfinished run. A rank claims a run by a lock file beside its directory
(``seedK.claim``, held while it trains; the operating system drops it when the rank
dies, so a killed sweep leaves no stale claim), which needs a shared file system, as the
run directories do anyway. Rank 0 alone shows the progress bar; a run that fails on any
rank is reported by every rank at the end.

The progress bar counts epochs over the whole sweep (runs x epochs, the epochs already in
each run's ``metrics.csv`` included) and is updated from those files every two seconds,
so it works the same with one job or many.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from delayprop.errors import ConfigError, DelaypropError, SweepError

__all__ = ["SweepRun", "run_sweep", "cores", "threads_per_job"]

logger = logging.getLogger(__name__)

POLL_SECONDS = 2.0


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: where it lives, how it is trained, and the command recorded
    in its config.json."""
    directory: Path
    config: object                       # ExperimentConfig
    command: str = field(default="delayprop sweep")


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:               # not on Linux
        return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    return max(1, cores() // jobs)


# ------------------------------------------------------------------ run state
def _summary_epochs(directory: Path) -> int | None:
    try:
        return int(json.loads((directory / "summary.json").read_text())["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_finished(run: SweepRun) -> bool:
    epochs = _summary_epochs(Path(run.directory))
    return epochs is not None and epochs >= run.config.epochs


def _has_checkpoint(directory: Path) -> bool:
    return any((directory / name).exists() for name in ("checkpoint.npz", "checkpoint.prev.npz"))


def recorded(directory: Path) -> int:
    """Epochs in a run's metrics.csv; 0 when it cannot be read (being replaced, absent)."""
    from delayprop.training.journal import recorded_epochs
    try:
        return recorded_epochs(directory)
    except (DelaypropError, OSError, ValueError):
        return 0


def check_settings(runs: list[SweepRun]) -> None:
    """Refuse to mix settings: every run that already has epochs must have been made with
    its planned settings (but for the epochs and data path)."""
    from delayprop.training.experiment import _check_resumable
    problems = []
    for run in runs:
        directory = Path(run.directory)
        if not (directory / "config.json").exists():
            continue
        if not (_has_checkpoint(directory) or (directory / "summary.json").exists()):
            continue                                       # started again anyway
        try:
            _check_resumable(run.config, directory, allow_changes=False)
        except ConfigError as err:
            problems.append(str(err).split("; ")[0])
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConfigError("this sweep directory holds runs made with other settings: "
                          + "; ".join(problems[:3]) + more
                          + "; give the sweep's own settings, or another --out")


def _prepare(run: SweepRun) -> bool:
    """Whether the run resumes; a run killed before its first checkpoint is cleared."""
    directory = Path(run.directory)
    if _has_checkpoint(directory):
        return True
    if directory.exists():
        for stale in directory.iterdir():
            stale.unlink()
    return False


# ------------------------------------------------------------------ progress
class _Progress:
    """A tqdm bar in epochs over the whole sweep, refreshed from the runs' metrics by a
    thread (none when quiet)."""

    def __init__(self, runs: list[SweepRun], quiet: bool, desc: str, file=None):
        from tqdm.auto import tqdm
        self.runs = runs
        self.total = sum(r.config.epochs for r in runs)
        self.bar = tqdm(total=self.total, initial=self.done(), desc=desc, unit="epoch",
                        smoothing=0, disable=quiet, dynamic_ncols=True, file=file)
        self._stop = threading.Event()
        self._thread = None
        if not quiet:
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()

    def done(self) -> int:
        return sum(min(recorded(Path(r.directory)), r.config.epochs) for r in self.runs)

    def refresh(self) -> None:
        done = self.done()
        if done != self.bar.n:
            self.bar.update(done - self.bar.n)

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.refresh()

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.refresh()
        self.bar.close()


# ------------------------------------------------------------------ execution
def run_sweep(runs: list[SweepRun], jobs: int = 1, quiet: bool = False,
              logs: Path | None = None, desc: str = "sweep") -> None:
    """Train every unfinished run, ``jobs`` at a time; raise :class:`SweepError` naming
    each run that failed once all the others are done. Worker logs go to ``logs``."""
    if int(jobs) != jobs or jobs < 1:
        raise ConfigError(f"jobs must be a whole number >= 1, got {jobs!r}")
    from delayprop.training.parallel import world
    comm = world()
    if comm.size > 1 and jobs > 1:
        raise ConfigError(f"--jobs {jobs} under mpirun: each of the {comm.size} ranks "
                          f"trains one run at a time; start more ranks instead")
    check_settings(runs)
    todo = [r for r in runs if not is_finished(r)]
    progress = _Progress(runs, quiet or not comm.is_root, desc)
    try:
        if comm.size > 1:
            failures = _run_over_ranks(todo, comm)
        elif jobs == 1:
            failures = _run_here(todo)
        else:
            failures = _run_in_workers(todo, jobs, Path(logs) if logs else None)
    finally:
        progress.close()
    if failures:
        lines = [f"{len(failures)} of {len(todo)} runs failed (the others are done; run the "
                 f"same command again to retry these):"]
        lines += [f"  {run.directory}: {why}" for run, why in failures]
        raise SweepError("\n".join(lines))


def _run_here(todo: list[SweepRun]) -> list[tuple[SweepRun, str]]:
    """One run after the other in this process."""
    failures = []
    for run in todo:
        why = _train(run)
        if why:
            failures.append((run, why))
    return failures


def _train(run: SweepRun) -> str:
    """Train one run in this process, alone (also under mpirun); why it failed, or ''."""
    from delayprop.training.experiment import run_experiment
    from delayprop.training.parallel import SingleProcess
    try:
        run_experiment(run.config, run.directory, resume=_prepare(run), quiet=True,
                       command=run.command, communicator=SingleProcess())
    except Exception as err:                      # noqa: BLE001 - one run, not the sweep
        logger.debug("run %s failed", run.directory, exc_info=True)
        return f"{type(err).__name__}: {err}"
    return ""


def _claim_path(run: SweepRun) -> Path:
    directory = Path(run.directory)
    return directory.with_name(directory.name + ".claim")


def _run_over_ranks(todo: list[SweepRun], comm) -> list[tuple[SweepRun, str]]:
    """Every rank walks the same list and trains each run it can claim (see the module);
    return the failures of all ranks, on every rank."""
    from filelock import FileLock, Timeout
    comm.barrier()                       # all ranks have checked the settings
    mine = []
    for index, run in enumerate(todo):
        lock = FileLock(str(_claim_path(run)))
        Path(run.directory).parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue                      # another rank trains it
        try:
            if is_finished(run):          # another rank finished it before we came
                continue
            logger.info("rank %d of %d trains %s", comm.rank, comm.size, run.directory)
            why = _train(run)
            if why:
                mine.append((index, why))
        finally:
            lock.release()
    return [(todo[index], f"{why} (rank {rank})")
            for rank, part in enumerate(comm.allgather(mine)) for index, why in part]


class _Worker:
    """One run in a fresh interpreter with its share of the cores."""

    def __init__(self, run: SweepRun, threads: int, log: Path):
        self.run, self.log = run, log
        spec = {"config": run.config.to_json(), "directory": str(run.directory),
                "resume": _prepare(run), "command": run.command, "threads": threads}
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {run.command}\n")
            out.flush()
            # own session: a Ctrl-C reaches the parent only, which stops the workers
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from delayprop.training.sweep import "
                 "worker_main; sys.exit(worker_main(sys.argv[1]))", json.dumps(spec)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)

    def failure(self) -> str:
        """Why the finished worker failed (its last log line), or '' if it did not."""
        code = self.proc.returncode
        if code == 0:
            return ""
        try:
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln]
        except OSError:
            lines = []
        last = lines[-1] if lines else "no output"
        how = f"killed by signal {-code}" if code < 0 else f"exit {code}"
        return f"{last} ({how}; log: {self.log})"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()


def _run_in_workers(todo: list[SweepRun], jobs: int, logs: Path | None):
    threads = threads_per_job(jobs)
    logger.info("%d jobs x %d OpenMP threads (%d cores)", jobs, threads, cores())
    queue = list(todo)
    active: list[_Worker] = []
    failures = []
    try:
        while queue or active:
            while queue and len(active) < jobs:
                run = queue.pop(0)
                log = (logs or Path(run.directory).parent) / _log_name(run)
                active.append(_Worker(run, threads, log))
            time.sleep(0.2)
            for worker in [w for w in active if w.proc.poll() is not None]:
                active.remove(worker)
                why = worker.failure()
                if why:
                    failures.append((worker.run, why))
    finally:
        for worker in active:                 # Ctrl-C or an error here: stop the rest
            worker.stop()
        deadline = time.monotonic() + 10
        for worker in active:
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                worker.proc.kill()
                worker.proc.wait()
    return failures


def _log_name(run: SweepRun) -> str:
    parts = Path(run.directory).parts[-3:]
    return "_".join(parts) + ".log"


def worker_main(spec_json: str) -> int:
    """Entry of a worker process: check the thread count, then train one run."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s pid %(process)d %(levelname)s %(name)s: %(message)s")
    spec = json.loads(spec_json)
    _exit_with_parent()
    found = openmp_threads()
    if found is not None and found != spec["threads"]:
        print(f"OpenMP would use {found} threads, not the {spec['threads']} this job was "
              f"given (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})", file=sys.stderr)
        return 2
    logger.info("OpenMP threads: %s", found)
    from delayprop.training.experiment import ExperimentConfig, run_experiment
    try:
        cfg = ExperimentConfig(**spec["config"])
        run_experiment(cfg, spec["directory"], resume=spec["resume"], quiet=True,
                       command=spec["command"])
    except DelaypropError as err:             # one clear last line for the sweep's report
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


def _exit_with_parent() -> None:
    """A worker whose sweep died (killed, or a second Ctrl-C) stops too, so that no orphan
    goes on writing a run directory that the next sweep resumes."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(3)
    threading.Thread(target=watch, daemon=True).start()


def openmp_threads() -> int | None:
    """Threads an OpenMP parallel region of this process would use (None: no libgomp).
    The generated libraries link the same libgomp, so they see the same number."""
    import ctypes
    import ctypes.util
    for name in ("libgomp.so.1", ctypes.util.find_library("gomp")):
        if not name:
            continue
        try:
            return int(ctypes.CDLL(name).omp_get_max_threads())
        except (OSError, AttributeError):
            continue
    return None
