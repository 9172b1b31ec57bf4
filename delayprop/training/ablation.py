"""The ablation of the paper's Figure 3: structure and delays, fixed or learned, vs sparsity.

Four models — structure fixed/learned x delays fixed/learned; weights always trained;
learned structure is DEEP R drop + RigL growth with Dale's law, fixed structure has
plain signed weights (no Dale's law), as in the paper. Fixed delays keep their random
initial values. Sparsity starts at 50 % of the input->hidden synapses present and halves
the connections each step down to 3.125 %. Every (model, sparsity, seed) run has its own
directory; a finished run (summary.json present) is not repeated and an interrupted one
resumes from its checkpoint, so a killed sweep continues where it stopped.
"""
from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from delayprop.errors import ConfigError

__all__ = ["MODELS", "KEEP_FRACTIONS", "run_ablation", "summarise_ablation",
           "plot_ablation"]

logger = logging.getLogger(__name__)

#: model name -> (learned structure, learned delays)
MODELS = {
    "fixed_structure_fixed_delays": (False, False),
    "fixed_structure_learned_delays": (False, True),
    "learned_structure_fixed_delays": (True, False),
    "learned_structure_learned_delays": (True, True),
}
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
    return [AblationRun(m, k, s) for s in seeds for k in keeps for m in models]


def run_ablation(base, out_dir, models=tuple(MODELS), keeps=KEEP_FRACTIONS, seeds=(0, 1, 2),
                 quiet: bool = False) -> Path:
    """Run (or continue) the sweep; return the path of the summary table."""
    from tqdm.auto import tqdm

    from delayprop.training.experiment import run_experiment
    out_dir = Path(out_dir)
    runs = plan(models, keeps, seeds)
    bar = tqdm(runs, desc="ablation", unit="run", disable=quiet)
    for run in bar:
        directory = out_dir / run.directory
        bar.set_postfix_str(run.directory)
        if (directory / "summary.json").exists():
            continue                                   # finished earlier
        structure, delays = MODELS[run.model]
        cfg = base.replace(
            sparsity=1.0 - run.keep, seed=run.seed, delay_learning=delays,
            rewiring={"grow": "rigl", "dale": True} if structure else {})
        resume = (directory / "checkpoint.npz").exists()
        if directory.exists() and not resume:
            for stale in directory.iterdir():          # killed before its first checkpoint
                stale.unlink()
        run_experiment(cfg, directory, resume=resume, quiet=True,
                       command=f"delayprop ablation (run {run.directory})")
    return summarise_ablation(out_dir, base.epochs)


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
              "learned_structure_learned_delays": ("C3", "s", "-")}
    for model, (colour, marker, line) in styles.items():
        rows = [r for r in table if r["model"] == model]
        if not rows:
            continue
        x = [r["active_fraction"] * 100 for r in rows]
        y = [r["mean_test_accuracy"] * 100 for r in rows]
        e = [0 if np.isnan(r["sd_test_accuracy"]) else r["sd_test_accuracy"] * 100
             for r in rows]
        ax.errorbar(x, y, yerr=e, color=colour, marker=marker, ls=line, capsize=3,
                    label=model.replace("_", " "))
    ax.set_xscale("log", base=2)
    present = sorted({r["active_fraction"] * 100 for r in table}, reverse=True)
    ax.set_xticks(present, [f"{p:g}" for p in present])
    ax.minorticks_off()
    ax.invert_xaxis()
    ax.set(xlabel="input->hidden synapses present (%)", ylabel="test accuracy (%)")
    seeds = max(r["seeds"] for r in table)
    ax.set_title(f"RawHD ablation (mean ± sd over up to {seeds} seeds"
                 + (f", {epochs} epochs)" if epochs else ")"), fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
