"""Make a network fit a hardware profile and report what that cost.

Order: refuse what cannot be fixed (graded inputs on a binary-spike target, delays outside
the target's range: delays are never clipped), then fan-in (refuse or prune), then row
length (refuse or prune), then weight quantisation (:mod:`delayprop.export.quantise`).
Pruning removes the synapses with the smallest ``|w|`` first (ties: projection order, then
synapse order). With data, the original and the constrained network are re-simulated in
Brian2 and their spikes and accuracies compared (:func:`validate_export`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray

from delayprop.errors import ConfigError, ExportError
from delayprop.graph import NetworkGraph, Projection
from delayprop.export.check import CheckReport, check, fan_in, row_lengths
from delayprop.export.profile import HardwareProfile, get_profile
from delayprop.export.quantise import Quantised, ScaleGroup, quantise
from delayprop.export.validate import ValidationReport, validate_export

__all__ = ["ConstrainReport", "Constrained", "constrain"]

logger = logging.getLogger(__name__)
_POLICIES = ("refuse", "prune")


@dataclass
class ConstrainReport:
    """What :func:`constrain` changed and what it cost."""
    profile: HardwareProfile
    synapses_before: int = 0
    synapses_after: int = 0
    pruned_fan_in: dict[str, int] = field(default_factory=dict)
    pruned_rows: dict[str, int] = field(default_factory=dict)
    max_fan_in_before: dict[str, int] = field(default_factory=dict)
    max_fan_in_after: dict[str, int] = field(default_factory=dict)
    delay_steps: tuple[int, int] | None = None
    delay_ticks: tuple[int, int] | None = None
    scale_groups: list[ScaleGroup] = field(default_factory=list)
    cores: dict[str, int] = field(default_factory=dict)
    validation: ValidationReport | None = None

    @property
    def pruned(self) -> int:
        return sum(self.pruned_fan_in.values()) + sum(self.pruned_rows.values())

    @property
    def zeroed(self) -> int:
        """Non-zero weights that quantisation rounded to zero (kept as zero-weight synapses)."""
        return sum(g.zeroed for g in self.scale_groups)

    @property
    def max_abs_weight_error(self) -> float:
        return max((g.max_abs_error for g in self.scale_groups), default=0.0)

    @property
    def relative_weight_error(self) -> float:
        """Largest error over the largest |w|, per scale group, maximised over groups."""
        return max((g.max_abs_error / g.max_abs_weight for g in self.scale_groups
                    if g.max_abs_weight > 0), default=0.0)

    def summary(self) -> str:
        p = self.profile
        lines = [f"profile '{p.name}': synapses {self.synapses_before} -> "
                 f"{self.synapses_after} (pruned {self.pruned}: fan-in "
                 f"{sum(self.pruned_fan_in.values())}, rows {sum(self.pruned_rows.values())})",
                 f"max fan-in: {_fmt(self.max_fan_in_before)} -> {_fmt(self.max_fan_in_after)}"
                 f" (limit {p.max_fan_in})"]
        if self.delay_steps is not None:
            lines.append(f"delays used: {self.delay_steps[0]}..{self.delay_steps[1]} steps -> "
                         f"{self.delay_ticks[0]}..{self.delay_ticks[1]} ticks (d + "
                         f"{p.delay_offset}; target {p.min_delay_ticks}..{p.max_delay_ticks})")
        if p.weight_bits is not None:
            lines.append(f"weights: {p.weight_bits}-bit ({p.weight_sign}), "
                         f"{len(self.scale_groups)} scale group(s), max |error| "
                         f"{self.max_abs_weight_error:.3g} ({self.relative_weight_error:.2e} "
                         f"of max |w|), {self.zeroed} small weight(s) rounded to zero")
            for g in self.scale_groups:
                lines.append(f"  {g.name}: 2^{g.exponent}, max|w| {g.max_abs_weight:.4g}, max "
                             f"error {g.max_abs_error:.3g}, rms {g.rms_error:.3g}, "
                             f"zeroed {g.zeroed}/{g.synapses}")
        if self.cores:
            lines.append(f"cores: {_fmt(self.cores)} ({p.neurons_per_core} neurons/core)")
        if self.validation is not None:
            lines.append(self.validation.summary())
        return "\n".join(lines)

    __str__ = summary


def _fmt(d: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items()) or "-"


@dataclass
class Constrained:
    """Result of :func:`constrain`: the fitted graph, its fixed-point weights, the report.

    ``graph`` holds the quantised weights as floats (exactly ``mantissa * 2**exponent``)
    and delays in delayprop steps; writers convert delays to the target's units.
    """
    graph: NetworkGraph
    report: ConstrainReport
    quantised: Quantised


def _refuse_unfixable(report: CheckReport):
    bad = report.of_kind("graded_input") + report.of_kind("delay")
    if bad:
        raise ExportError(f"cannot export to '{report.profile.name}':\n"
                          + "\n".join(f"  - {v.message}" for v in bad))


def _keep_mask(groups: NDArray, abs_w: NDArray, excess_of_group) -> NDArray[np.bool_]:
    """Drop, in every group, its ``excess`` synapses of smallest |w| (stable ties)."""
    order = np.lexsort((np.arange(len(abs_w)), abs_w, groups))
    g_sorted = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1] if len(order) else np.zeros(0, int)
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    keep = np.ones(len(abs_w), dtype=bool)
    keep[order[rank < excess_of_group(g_sorted)]] = False
    return keep


def _prune_fan_in(graph: NetworkGraph, limit: int, pruned: dict[str, int]) -> NetworkGraph:
    masks = {p.name: np.ones(p.num_synapses, bool) for p in graph.projections}
    for pop in graph.populations:
        incoming = graph.incoming(pop.name)
        counts = fan_in(graph, pop.name) if incoming else np.zeros(0)
        if not incoming or counts.max(initial=0) <= limit:
            continue
        post = np.concatenate([p.post for p in incoming])
        abs_w = np.concatenate([np.abs(p.weight) for p in incoming])
        keep = _keep_mask(post, abs_w, lambda g: np.maximum(counts[g] - limit, 0))
        start = 0
        for proj in incoming:
            masks[proj.name] &= keep[start:start + proj.num_synapses]
            start += proj.num_synapses
        pruned[pop.name] = int((~keep).sum())
    return _masked(graph, masks)


def _prune_rows(graph: NetworkGraph, profile: HardwareProfile,
                pruned: dict[str, int]) -> NetworkGraph:
    limit, masks = profile.max_row_length, {}
    for proj in graph.projections:
        _, lengths, row_id = row_lengths(proj, profile)
        masks[proj.name] = np.ones(proj.num_synapses, bool)
        if not lengths.size or lengths.max() <= limit:
            continue
        keep = _keep_mask(row_id, np.abs(proj.weight), lambda g: np.maximum(lengths[g] - limit, 0))
        masks[proj.name] = keep
        pruned[proj.name] = int((~keep).sum())
    return _masked(graph, masks)


def _masked(graph: NetworkGraph, masks: dict[str, NDArray]) -> NetworkGraph:
    projs = [Projection(p.name, p.source, p.target, p.pre[m], p.post[m], p.weight[m],
                        p.delay[m], p.max_delay, p.tau_syn)
             for p in graph.projections for m in (masks[p.name],)]
    return NetworkGraph(graph.populations, projs, dt=graph.dt)


def _fit_structure(graph: NetworkGraph, profile: HardwareProfile, first: CheckReport,
                   fan_in_policy: str, rows_policy: str, report: ConstrainReport):
    """Apply the fan-in then the row-length policy; returns the pruned graph."""
    if first.of_kind("fan_in"):
        if fan_in_policy == "refuse":
            raise ExportError(f"cannot export to '{profile.name}' (fan_in='refuse'):\n"
                              + "\n".join(f"  - {v.message}" for v in first.of_kind("fan_in")))
        graph = _prune_fan_in(graph, profile.max_fan_in, report.pruned_fan_in)
    rows = check(graph, profile).of_kind("row_length")
    if rows:
        if rows_policy == "refuse":
            raise ExportError(f"cannot export to '{profile.name}' (rows='refuse'):\n"
                              + "\n".join(f"  - {v.message}" for v in rows))
        graph = _prune_rows(graph, profile, report.pruned_rows)
    return graph


def constrain(network: NetworkGraph, profile: str | HardwareProfile, *,
              fan_in: str = "refuse", rows: str = "refuse",
              inputs: Mapping[str, Any] | None = None, num_steps: int | None = None,
              labels: NDArray | None = None, readout: str | None = "output") -> Constrained:
    """Make ``network`` fit ``profile``: prune (or refuse) and quantise; report the cost.

    Parameters
    ----------
    network : NetworkGraph
    profile : str or HardwareProfile
    fan_in, rows : {'refuse', 'prune'}
        What to do where a neuron's fan-in or a synaptic row is over the limit: raise
        :class:`ExportError` listing every offender, or drop the smallest ``|w|`` first.
    inputs, num_steps, labels, readout
        Optional data: both networks are re-simulated in Brian2 and compared
        (:func:`validate_export`); the report then holds spike agreement and, with labels,
        the accuracy before and after.

    Returns
    -------
    Constrained

    Raises
    ------
    ExportError
        Delays outside the target's range (never clipped), graded inputs on a binary
        target, or fan-in/row violations under the 'refuse' policy.
    ConfigError
        Unknown policy, or inputs without num_steps.
    """
    profile = get_profile(profile)
    for name, value in (("fan_in", fan_in), ("rows", rows)):
        if value not in _POLICIES:
            raise ConfigError(f"{name} must be one of {_POLICIES}, got {value!r}")
    if inputs is not None and num_steps is None:
        raise ConfigError("inputs were given without num_steps; pass both to validate")
    first = check(network, profile)
    _refuse_unfixable(first)
    report = ConstrainReport(profile, synapses_before=first.synapses,
                             max_fan_in_before=dict(first.max_fan_in), cores=first.cores)
    pruned = _fit_structure(network, profile, first, fan_in, rows, report)
    q = quantise(pruned, profile)
    final = check(q.graph, profile)
    report.synapses_after = final.synapses
    report.max_fan_in_after = dict(final.max_fan_in)
    report.scale_groups = q.groups
    delays = [p.delay for p in q.graph.projections if p.num_synapses]
    if delays:
        lo, hi = int(min(d.min() for d in delays)), int(max(d.max() for d in delays))
        report.delay_steps = (lo, hi)
        report.delay_ticks = (int(profile.ticks(lo)), int(profile.ticks(hi)))
    if inputs is not None:
        report.validation = validate_export(network, q.graph, inputs, num_steps, labels,
                                            readout)
    logger.info("constrain: %s", report.summary().replace("\n", "; "))
    return Constrained(q.graph, report, q)
