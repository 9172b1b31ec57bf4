"""Figures: receptive fields (the paper's Figure 1 style) and Moran's I distributions.

Figures are built on :class:`matplotlib.figure.Figure` directly and rendered with the Agg
canvas, so nothing here touches pyplot's global state or needs a display.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from delayprop.analysis._compare import MoransComparison
from delayprop.errors import ConfigError

__all__ = ["plot_receptive_fields", "plot_morans_distributions"]

#: Diverging colormap: negative (blue) - white (0) - positive (red).
CMAP = "RdBu_r"


def _new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike | None) -> None:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)


def _check_fields(fields: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(fields, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise ConfigError(f"{name} must have shape (outputs, channels, delays) or (channels, "
                          f"delays), got {np.shape(fields)}")
    return arr


def _draw_field(ax, field: np.ndarray, title: str):
    """One receptive field, colour scale symmetric about 0 (white) at its own max |value|."""
    vmax = float(np.max(np.abs(field))) or 1.0
    image = ax.imshow(field, cmap=CMAP, vmin=-vmax, vmax=vmax, aspect="auto",
                      origin="lower", interpolation="nearest")
    ax.set_title(f"{title} (±{vmax:.3g})", fontsize=8)
    ax.tick_params(labelsize=6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return image


def _grid(n_rows: int, n_cols: int, title: bool) -> tuple[Figure, np.ndarray]:
    """A grid of fixed-size panels with margins in inches (no layout engine: with dozens
    of panels constrained layout costs seconds)."""
    width, height = 2.0 * n_cols + 0.8, 1.8 * n_rows + 0.5 + 0.3 * title
    fig = _new_figure(width, height, layout=None)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, gridspec_kw=dict(
        left=0.6 / width, right=1 - 0.2 / width, bottom=0.45 / height,
        top=1 - (0.3 + 0.3 * title) / height, wspace=0.3, hspace=0.5))
    return fig, axes


def plot_receptive_fields(final: ArrayLike, initial: ArrayLike | None = None, *,
                          outputs: Sequence[int] | None = None, per_row: int | None = None,
                          dt: float | None = None, title: str | None = None,
                          path: str | os.PathLike | None = None) -> Figure:
    """Receptive fields of output neurons, before and after training, as a grid.

    Parameters
    ----------
    final : array_like, shape (O, C, T) or (C, T)
        Receptive fields after training (e.g. from :func:`receptive_fields_from_graph`).
    initial : array_like, shape (O, C, T'), optional
        Fields before training; when given, each output shows "initial | final" side by side.
    outputs : sequence of int, optional
        Which outputs to draw (default: all).
    per_row : int, optional
        Outputs per grid row (default 4 with ``initial``, else 5).
    dt : float, optional
        Step in ms, shown in the delay axis label.
    title : str, optional
        Figure title.
    path : path-like, optional
        Where to write the figure (PNG by extension); parent folders are created.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ConfigError
        Arrays of the wrong shape, ``initial`` and ``final`` with different output or channel
        counts, or an output index out of range.

    Notes
    -----
    Blue is negative, red positive, white zero; each panel has its own symmetric scale
    (``±max |RF|``, printed in its title), as trained and untrained maps differ in magnitude.
    """
    after = _check_fields(final, "final")
    before = None if initial is None else _check_fields(initial, "initial")
    if before is not None and before.shape[:2] != after.shape[:2]:
        raise ConfigError(f"initial fields have {before.shape[0]} outputs x {before.shape[1]} "
                          f"channels, final fields {after.shape[0]} x {after.shape[1]}; "
                          f"they must match")
    chosen = list(range(after.shape[0])) if outputs is None else [int(o) for o in outputs]
    if not chosen or any(not 0 <= o < after.shape[0] for o in chosen):
        raise ConfigError(f"outputs must be non-empty indices in [0, {after.shape[0]}), got "
                          f"{outputs!r}")
    panels = 1 if before is None else 2
    per_row = per_row or (5 if before is None else 4)
    n_rows = -(-len(chosen) // per_row)
    n_cols = min(per_row, len(chosen)) * panels
    fig, axes = _grid(n_rows, n_cols, bool(title))
    for ax in axes.flat:
        ax.set_axis_off()
    xlabel = "delay (steps)" if dt is None else f"delay (steps of {dt:g} ms)"
    for k, out in enumerate(chosen):
        row, col = divmod(k, per_row)
        maps = [("final", after[out])] if before is None else \
            [("initial", before[out]), ("final", after[out])]
        for j, (label, field) in enumerate(maps):
            ax = axes[row, col * panels + j]
            ax.set_axis_on()
            _draw_field(ax, field, f"output {out}, {label}")
            if k + per_row >= len(chosen):          # nothing below: label the time axis
                ax.set_xlabel(xlabel, fontsize=7)
            if col == 0 and j == 0:
                ax.set_ylabel("input channel", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    _save(fig, path)
    return fig


def _comparison_line(c: MoransComparison) -> str:
    return (f"{c.label_a} vs {c.label_b}: U = {c.statistic:g}, p = {c.pvalue:.3g} "
            f"(n = {c.n_a}, {c.n_b}; {c.alternative})")


def plot_morans_distributions(groups: Mapping[str, ArrayLike],
                              comparisons: MoransComparison | Sequence[MoransComparison]
                              | None = None, *, title: str | None = None,
                              ylabel: str = "Moran's I",
                              path: str | os.PathLike | None = None) -> Figure:
    """Box plots of Moran's I per group, with every value as a jittered dot.

    Parameters
    ----------
    groups : mapping of str to array_like
        Group name -> values, drawn left to right in the mapping's order.
    comparisons : MoransComparison or sequence of them, optional
        Tests whose U and p are written in the title.
    title : str, optional
        First title line.
    ylabel : str
        Y axis label.
    path : path-like, optional
        Where to write the figure; parent folders are created.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ConfigError
        If ``groups`` is empty or a group has no values.
    """
    if not groups:
        raise ConfigError("groups is empty; give at least one group of values")
    names = list(groups)
    values = [np.asarray(groups[n], dtype=np.float64).ravel() for n in names]
    empty = [n for n, v in zip(names, values) if v.size == 0]
    if empty:
        raise ConfigError(f"group(s) {empty} have no values to plot")
    if isinstance(comparisons, MoransComparison):
        comparisons = [comparisons]
    fig = _new_figure(1.6 * len(names) + 2.0, 4.0)
    ax = fig.subplots()
    ax.boxplot(values, showfliers=False, widths=0.5)
    ax.set_xticks(range(1, len(names) + 1), names)
    rng = np.random.default_rng(0)          # jitter only; fixed so figures are reproducible
    for k, v in enumerate(values, start=1):
        ax.scatter(k + rng.uniform(-0.15, 0.15, v.size), v, s=10, alpha=0.6, zorder=3)
    ax.set_ylabel(ylabel)
    lines = ([title] if title else []) + [_comparison_line(c) for c in comparisons or []]
    if lines:
        ax.set_title("\n".join(lines), fontsize=9)
    _save(fig, path)
    return fig
