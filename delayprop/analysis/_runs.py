"""The analysis of run directories behind ``delayprop analyse``.

A run directory holds ``graph_initial.npz`` (the network before training) and
``graph_final.npz`` (after), both written by :func:`delayprop.graph.save_graph`. Two modes:

* trained vs untrained: every run's final graphs form the group "trained", the initial
  graphs the group "untrained"; one Mann-Whitney U test, U of "trained";
* named groups (e.g. fixed vs learned delays): each group's final graphs; every pair of
  groups is compared, U of the group named first.
"""
from __future__ import annotations

import csv
import itertools
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from delayprop.analysis._compare import compare_morans
from delayprop.analysis._morans import max_morans_i, morans_i
from delayprop.analysis._plots import plot_morans_distributions, plot_receptive_fields
from delayprop.analysis._receptive import receptive_fields_from_graph
from delayprop.errors import ConfigError, DataError
from delayprop.graph import load_graph

__all__ = ["INITIAL_GRAPH", "FINAL_GRAPH", "Populations", "analyse_runs"]

logger = logging.getLogger(__name__)

INITIAL_GRAPH = "graph_initial.npz"
FINAL_GRAPH = "graph_final.npz"


@dataclass(frozen=True)
class Populations:
    """Names of the input, hidden and output populations in the graphs."""
    input: str = "input"
    hidden: str = "hidden"
    output: str = "output"


@dataclass
class _Run:
    """One run directory of one group, with its receptive fields and scores."""
    group: str
    path: Path
    label: str
    final: NDArray[np.float64]
    initial: NDArray[np.float64] | None
    dt: float
    scores: dict[str, NDArray[np.float64]] = field(default_factory=dict)


def _fields(path: Path, pops: Populations) -> tuple[NDArray[np.float64], float]:
    """Receptive fields of one graph file, with errors naming the file."""
    graph = load_graph(path)
    try:
        return receptive_fields_from_graph(graph, pops.input, pops.hidden, pops.output), graph.dt
    except DataError as err:
        raise DataError(f"{path}: {err}") from err


def _load_run(group: str, path: str | os.PathLike, pops: Populations, need_initial: bool,
              label: str) -> _Run:
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"run directory {path} does not exist (expected a folder holding "
                        f"{INITIAL_GRAPH} and {FINAL_GRAPH})")
    wanted = [FINAL_GRAPH] + ([INITIAL_GRAPH] if need_initial else [])
    missing = [name for name in wanted if not (path / name).is_file()]
    if missing:
        raise DataError(f"run directory {path} lacks {missing}; a run needs {wanted}, "
                        f"written with delayprop.graph.save_graph")
    final, dt = _fields(path / FINAL_GRAPH, pops)
    initial = None
    if (path / INITIAL_GRAPH).is_file():
        initial, _ = _fields(path / INITIAL_GRAPH, pops)
    return _Run(group, path, label, final, initial, dt)


def _labels(entries: list[tuple[str, str]], with_group: bool) -> list[str]:
    """File-safe, unique labels for (group, run path) entries."""
    labels, seen = [], set()
    for group, path in entries:
        name = Path(path).resolve().name
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{group}_{name}" if with_group else name)
        label, k = base, 2
        while label in seen:
            label, k = f"{base}_{k}", k + 1
        seen.add(label)
        labels.append(label)
    return labels


def _check_groups(groups: list[tuple[str, list[str]]]) -> None:
    names = [name for name, _ in groups]
    if not groups:
        raise ConfigError("no groups given; pass --group NAME RUN [RUN ...] at least twice")
    if len(set(names)) != len(names):
        raise ConfigError(f"group names must be unique, got {names}")
    empty = [name for name, runs in groups if not runs]
    if empty:
        raise ConfigError(f"group(s) {empty} have no run directories; write --group NAME "
                          f"RUN [RUN ...]")


def _check_settings(n_permutations: int, alternative: str) -> None:
    """Fail before any file is read."""
    if isinstance(n_permutations, bool) or int(n_permutations) != n_permutations \
            or n_permutations < 0:
        raise ConfigError(f"n_permutations must be a whole number >= 0, got "
                          f"{n_permutations!r}")
    if alternative not in ("two-sided", "less", "greater"):
        raise ConfigError(f"alternative must be one of ('two-sided', 'less', 'greater'), "
                          f"got {alternative!r}")


def _score(runs: list[_Run], n_permutations: int, seed: int, progress: bool) -> None:
    """Moran's I (permuted maximum and as-is) of every field, stored on the runs."""
    jobs = [(run, key) for run in runs for key in ("final", "initial")
            if getattr(run, key) is not None]
    for run, key in tqdm(jobs, desc="Moran's I", unit="graph",
                         disable=None if progress else True):
        fields = getattr(run, key)
        run.scores[key] = np.atleast_1d(max_morans_i(fields, n_permutations, seed))
        run.scores[f"{key}_unpermuted"] = np.atleast_1d(morans_i(fields))


def _write_tables(out: Path, groups: dict[str, list[tuple[_Run, str]]],
                  report: dict) -> tuple[Path, Path]:
    csv_path, json_path = out / "morans_i.csv", out / "morans_i.json"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["group", "run", "graph", "output", "morans_i", "morans_i_unpermuted"])
        for name, members in groups.items():
            for run, key in members:
                graph = FINAL_GRAPH if key == "final" else INITIAL_GRAPH
                for o, (best, plain) in enumerate(zip(run.scores[key],
                                                      run.scores[f"{key}_unpermuted"])):
                    writer.writerow([name, str(run.path), graph, o, repr(float(best)),
                                     repr(float(plain))])
    with open(json_path, "w") as f:
        json.dump(report, f, indent=2)
    return csv_path, json_path


def _group_values(members: list[tuple[_Run, str]]) -> NDArray[np.float64]:
    return np.concatenate([run.scores[key] for run, key in members])


def analyse_runs(runs: list[str | os.PathLike] | None = None, out: str | os.PathLike = ".",
                 *, groups: list[tuple[str, list[str | os.PathLike]]] | None = None,
                 n_permutations: int = 2000, seed: int = 0,
                 populations: Populations = Populations(), alternative: str = "two-sided",
                 progress: bool = True, command: str | None = None) -> dict:
    """Receptive fields, Moran's I and Mann-Whitney U tests of run directories.

    Parameters
    ----------
    runs : list of path-like, optional
        Run directories for the trained (final) vs untrained (initial) comparison.
    out : path-like
        Output folder (created): ``receptive_fields_<run>.png`` per run
        (``receptive_fields_<group>_<run>.png`` with ``groups``), ``morans_i.png``,
        ``morans_i.csv``, ``morans_i.json``.
    groups : list of (name, runs), optional
        Instead of ``runs``: named groups of trained runs, compared pairwise.
    n_permutations, seed : int
        Row permutations for :func:`max_morans_i`; 0 scores the maps as they are.
    populations : Populations
        Population names in the graphs.
    alternative : {'two-sided', 'less', 'greater'}
        Alternative of the U tests (about the first group of each pair).
    progress : bool
        Show a progress bar (only on a terminal).
    command : str, optional
        The command line, recorded in the JSON.

    Returns
    -------
    dict
        The report written to ``morans_i.json``: settings, per-group values and means,
        comparisons (U, p, means, n), figure paths.

    Raises
    ------
    ConfigError
        Neither or both of ``runs`` and ``groups``; empty or duplicate groups; fewer than
        two groups; a negative ``n_permutations`` or unknown ``alternative``.
    DataError
        A run directory or graph file is missing, a population is missing, or a layer has
        no synapses.
    """
    _check_settings(n_permutations, alternative)
    if (runs is None) == (groups is None):
        raise ConfigError("give either run directories (trained vs untrained) or named "
                          "groups (--group NAME RUN ...), not both and not neither")
    trained_vs_untrained = groups is None
    if trained_vs_untrained and not runs:
        raise ConfigError("no run directories given; pass RUN [RUN ...] (each holding "
                          f"{INITIAL_GRAPH} and {FINAL_GRAPH})")
    spec = [("trained", list(runs or []))] if trained_vs_untrained else \
        [(name, list(members)) for name, members in groups]
    _check_groups(spec)
    if not trained_vs_untrained and len(spec) < 2:
        raise ConfigError(f"comparing groups needs at least two --group options, got "
                          f"{len(spec)} ({spec[0][0]!r}); to compare trained with untrained "
                          f"networks pass the run directories without --group")
    entries = [(name, run) for name, members in spec for run in members]
    labels = _labels(entries, with_group=not trained_vs_untrained)
    loaded = [_load_run(g, p, populations, trained_vs_untrained, label)
              for (g, p), label in zip(entries, labels)]
    _score(loaded, n_permutations, seed, progress)
    if trained_vs_untrained:
        members = {"trained": [(r, "final") for r in loaded],
                   "untrained": [(r, "initial") for r in loaded]}
    else:
        members = {name: [(r, "final") for r in loaded if r.group == name] for name, _ in spec}
    values = {name: _group_values(m) for name, m in members.items()}
    comparisons = [compare_morans(values[a], values[b], alternative, a, b)
                   for a, b in itertools.combinations(values, 2)]
    return _write_outputs(Path(out), loaded, members, values, comparisons, {
        "command": command, "mode": "trained_vs_untrained" if trained_vs_untrained
        else "groups", "n_permutations": int(n_permutations), "seed": seed,
        "alternative": alternative, "populations": vars(populations)})


def _write_outputs(out: Path, loaded: list[_Run], members: dict, values: dict,
                   comparisons: list, settings: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for run in loaded:
        path = out / f"receptive_fields_{run.label}.png"
        title = str(run.path) if settings["mode"] == "trained_vs_untrained" \
            else f"{run.group}: {run.path}"
        plot_receptive_fields(run.final, run.initial, dt=run.dt, path=path, title=title)
        figures.append(str(path))
    stat = "max over row permutations" if settings["n_permutations"] else "as is"
    dist = out / "morans_i.png"
    plot_morans_distributions(values, comparisons, path=dist,
                              title=f"Moran's I of receptive fields ({stat})")
    figures.append(str(dist))
    report = {
        **settings,
        "groups": [{"name": name, "n": int(values[name].size),
                    "mean": float(values[name].mean()),
                    "median": float(np.median(values[name])),
                    "runs": [{"path": str(r.path), "graph": FINAL_GRAPH if key == "final"
                              else INITIAL_GRAPH, "morans_i": r.scores[key].tolist(),
                              "morans_i_unpermuted": r.scores[f"{key}_unpermuted"].tolist()}
                             for r, key in m]}
                   for name, m in members.items()],
        "comparisons": [c.to_dict() for c in comparisons],
        "figures": figures}
    csv_path, json_path = _write_tables(out, members, report)
    for group in report["groups"]:
        logger.info("%s: n = %d, mean Moran's I = %.4f, median = %.4f", group["name"],
                    group["n"], group["mean"], group["median"])
    for c in comparisons:
        logger.info("%s vs %s: U = %g, p = %.3g (%s)", c.label_a, c.label_b, c.statistic,
                    c.pvalue, c.alternative)
    logger.info("wrote %s, %s and %d figures to %s", json_path.name, csv_path.name,
                len(figures), out)
    return report
