"""The ablation of the paper's Figure 3: structure and delays, fixed or learned, vs sparsity.

Four models of the paper — structure fixed/learned x delays fixed/learned; weights always
trained; learned structure is DEEP R drop + RigL growth with Dale's law, fixed structure
has plain signed weights (no Dale's law), as in the paper. Fixed delays keep their random
initial values. A fifth model, the control the paper lacks, learns its structure without
Dale's law (``learned_structure_learned_delays_no_dale``: one sign per synapse, as the
fixed-structure models have): against the fixed-structure models it shows the effect of
rewiring alone, against the Dale's-law model the cost of Dale's law.

Sparsity starts at 50 % of the input->hidden synapses present and halves the connections
each step down to 3.125 %. Every (model, sparsity, seed) run has its own directory; the
sweep is resumable and runs ``jobs`` runs side by side (see :mod:`delayprop.training.sweep`).
Rewiring options given in the base configuration (``every_batches``, ``grad_window``, ...)
apply to the learned-structure runs and are recorded in each run's ``config.json``, so a
sweep directory holds one setting: give each setting its own ``out_dir``.
"""
from __future__ import annotations

import csv
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from delayprop.errors import ConfigError

__all__ = ["MODELS", "PAPER_MODELS", "KEEP_FRACTIONS", "run_ablation", "run_config",
           "summarise_ablation", "plot_ablation", "plot_sweeps"]

logger = logging.getLogger(__name__)


class Model(NamedTuple):
    learned_structure: bool
    learned_delays: bool
    dale: bool = False                   # Dale's law (learned structure only)


MODELS = {
    "fixed_structure_fixed_delays": Model(False, False),
    "fixed_structure_learned_delays": Model(False, True),
    "learned_structure_fixed_delays": Model(True, False, dale=True),
    "learned_structure_learned_delays": Model(True, True, dale=True),
    "learned_structure_learned_delays_no_dale": Model(True, True, dale=False),   # control
}
#: the four models of the paper's Figure 3
PAPER_MODELS = tuple(MODELS)[:4]
#: fractions of input->hidden synapses present (50 % halving down to <= 3.2 %)
KEEP_FRACTIONS = (0.5, 0.25, 0.125, 0.0625, 0.03125)


@dataclass(frozen=True)
class AblationRun:
    model: str
    keep: float
    seed: int

    @property
    def directory(self) -> str:
        return f"{self.model}/keep{self.keep:g}/seed{self.seed}"


def plan(models, keeps, seeds) -> list[AblationRun]:
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ConfigError(f"unknown ablation models {unknown}; choose from {list(MODELS)}")
    bad = [k for k in keeps if not 0.0 < k <= 1.0]
    if bad:
        raise ConfigError(f"fractions of synapses present must lie in (0, 1], got {bad}")
    return [AblationRun(m, k, s) for s in seeds for k in keeps for m in models]


def run_config(base, run: AblationRun):
    """The ExperimentConfig of one run: ``base`` with the run's sparsity, seed, delays and
    structure (learned structure: RigL growth, Dale's law as the model says, plus any
    rewiring options of ``base``)."""
    model = MODELS[run.model]
    rewiring = {**base.rewiring, "grow": "rigl", "dale": model.dale} \
        if model.learned_structure else {}
    return base.replace(sparsity=1.0 - run.keep, seed=run.seed,
                        delay_learning=model.learned_delays, rewiring=rewiring)


def run_ablation(base, out_dir, models=tuple(MODELS), keeps=KEEP_FRACTIONS, seeds=(0, 1, 2),
                 quiet: bool = False, jobs: int = 1) -> Path:
    """Run (or continue) the sweep, ``jobs`` runs at a time; return the path of the
    summary table. Runs that fail are named in a SweepError once the others are done
    (the table then holds the finished ones)."""
    from delayprop.errors import SweepError
    from delayprop.training.sweep import SweepRun, run_sweep
    out_dir = Path(out_dir)
    runs = [SweepRun(out_dir / r.directory, run_config(base, r),
                     f"delayprop ablation (run {r.directory})")
            for r in plan(models, keeps, seeds)]
    from delayprop.training.rewiring import rewiring_from_config
    for run in runs:                          # bad options: one error now, not one per run
        if run.config.rewiring:
            rewiring_from_config(run.config)
    from delayprop.training.parallel import world
    comm = world()                        # under mpirun the ranks share the runs
    with _only_sweep_in(out_dir, comm):
        try:
            run_sweep(runs, jobs=jobs, quiet=quiet, logs=out_dir / "logs", desc="ablation")
        except SweepError:
            if comm.is_root and _results(out_dir):
                summarise_ablation(out_dir, base.epochs)
            raise
        if comm.is_root:
            summarise_ablation(out_dir, base.epochs)
        comm.barrier()                    # every rank returns once the table is written
        return out_dir / "ablation.csv"


@contextmanager
def _only_sweep_in(out_dir: Path, comm):
    """A lock: two sweeps in one directory would train the same runs at once. Under
    mpirun rank 0 holds it for all ranks, and all of them stop if it is taken."""
    from filelock import FileLock, Timeout
    lock = None
    if comm.is_root:
        out_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(out_dir / ".sweep.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            lock = None
    if not comm.allgather(lock is not None)[0]:          # rank 0's answer holds for all
        raise ConfigError(f"another sweep is running in {out_dir}; wait for it, or stop it "
                          f"(its runs resume later)")
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def _results(out_dir: Path) -> list[dict]:
    rows = []
    for summary in sorted(out_dir.glob("*/keep*/seed*/summary.json")):
        model, keep, seed = summary.parts[-4], summary.parts[-3][4:], summary.parts[-2][4:]
        data = json.loads(summary.read_text())
        rows.append({"model": model, "keep": float(keep), "seed": int(seed),
                     "test_accuracy": data["test_accuracy"], "epochs": data["epochs"]})
    return rows


def summarise_ablation(out_dir, epochs_requested: int | None = None) -> Path:
    """Write ablation_runs.csv, ablation.csv (mean and sd per model and sparsity) and
    ablation.png; return the path of ablation.csv."""
    out_dir = Path(out_dir)
    rows = _results(out_dir)
    if not rows:
        raise ConfigError(f"no finished ablation runs under {out_dir}")
    with open(out_dir / "ablation_runs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = []
    for model in MODELS:
        for keep in sorted({r["keep"] for r in rows}, reverse=True):
            acc = [r["test_accuracy"] for r in rows if r["model"] == model and r["keep"] == keep]
            if not acc:
                continue
            epochs = sorted({r["epochs"] for r in rows if r["model"] == model
                             and r["keep"] == keep})
            table.append({"model": model, "sparsity": 1 - keep, "active_fraction": keep,
                          "mean_test_accuracy": float(np.mean(acc)),
                          "sd_test_accuracy": float(np.std(acc, ddof=1)) if len(acc) > 1
                          else float("nan"),
                          "seeds": len(acc), "epochs": "/".join(map(str, epochs))})
    path = out_dir / "ablation.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    plot_ablation(table, out_dir / "ablation.png", epochs_requested)
    return path


def plot_ablation(table: list[dict], path, epochs=None) -> Path:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    styles = {"fixed_structure_fixed_delays": ("C0", "o", "--"),
              "fixed_structure_learned_delays": ("C0", "s", "-"),
              "learned_structure_fixed_delays": ("C3", "o", "--"),
              "learned_structure_learned_delays": ("C3", "s", "-"),
              "learned_structure_learned_delays_no_dale": ("C2", "^", ":")}
    for model, (colour, marker, line) in styles.items():
        rows = [r for r in table if r["model"] == model]
        if not rows:
            continue
        x = [r["active_fraction"] * 100 for r in rows]
        y = [r["mean_test_accuracy"] * 100 for r in rows]
        e = [0 if np.isnan(r["sd_test_accuracy"]) else r["sd_test_accuracy"] * 100
             for r in rows]
        label = model.replace("_", " ").replace(" no dale", ", no Dale's law (control)")
        ax.errorbar(x, y, yerr=e, color=colour, marker=marker, ls=line, capsize=3,
                    label=label)
    seeds = max(r["seeds"] for r in table)
    return _finish(fig, ax, {r["active_fraction"] * 100 for r in table},
                   f"RawHD ablation (mean ± sd over up to {seeds} seeds"
                   + (f", {epochs} epochs)" if epochs else ")"), path)


def _finish(fig, ax, present: set, title: str, path) -> Path:
    """Axes of accuracy against the share of synapses present (log scale, sparsest on
    the right), then the file."""
    ax.set_xscale("log", base=2)
    ticks = sorted(present, reverse=True)
    ax.set_xticks(ticks, [f"{p:g}" for p in ticks])
    ax.minorticks_off()
    ax.invert_xaxis()
    ax.set(xlabel="input->hidden synapses present (%)", ylabel="test accuracy (%)")
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def plot_sweeps(curves: dict, path, title: str = "") -> Path:
    """Models of several sweep directories in one plot: ``{label: (out_dir, model)}``,
    mean ± sd over the finished seeds of each point (e.g. a model of the main sweep
    beside the same model swept with another setting)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.subplots()
    present = set()
    for i, (label, (out_dir, model)) in enumerate(curves.items()):
        rows = [r for r in _results(Path(out_dir)) if r["model"] == model]
        if not rows:
            raise ConfigError(f"no finished runs of {model} under {out_dir}")
        keeps = sorted({r["keep"] for r in rows}, reverse=True)
        acc = [[r["test_accuracy"] * 100 for r in rows if r["keep"] == k] for k in keeps]
        counts = sorted({len(a) for a in acc})
        seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        ax.errorbar([k * 100 for k in keeps], [np.mean(a) for a in acc],
                    yerr=[np.std(a, ddof=1) if len(a) > 1 else 0 for a in acc],
                    color=f"C{i}", marker="os^vD<>"[i % 7], capsize=3,
                    label=f"{label} ({seeds} seeds)")
        present.update(k * 100 for k in keeps)
    return _finish(fig, ax, present, title or "RawHD ablation (mean ± sd over seeds)", path)
