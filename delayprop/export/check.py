"""Check a network against a hardware profile and report every violation, with where it is.

:func:`check` never changes the network. Each :class:`Violation` names the kind of limit,
the population or projection, the offending neurons (or synapses) and how far over the
limit each one is; :func:`~delayprop.export.constrain` makes a network fit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from delayprop.graph import NetworkGraph, Projection
from delayprop.export.profile import HardwareProfile, get_profile

__all__ = ["Violation", "CheckReport", "check", "fan_in", "row_lengths"]

_SHOW = 5          # offenders spelt out in a message


@dataclass(frozen=True, eq=False)
class Violation:
    """One limit broken in one population or projection.

    Attributes
    ----------
    kind : {'fan_in', 'row_length', 'delay', 'graded_input'}
    group : str
        Population (``fan_in``, ``graded_input``) or projection name.
    where : ndarray of int
        Offenders: postsynaptic neuron ids (``fan_in``), ``[pre, core, receptor]`` rows
        (``row_length``; receptor 0 = excitatory/signed, 1 = inhibitory), ``[pre, post]``
        pairs (``delay``), empty (``graded_input``).
    values : ndarray of int
        Measured value per offender (synapse count, row length, delay in ticks).
    limit : int
        The limit broken (for delays: the bound broken, max or min ticks).
    over_by : ndarray of int
        How far over (or, for delays under the minimum, under) the limit each one is.
    message : str
    """
    kind: str
    group: str
    where: NDArray[np.int64]
    values: NDArray[np.int64]
    limit: int
    over_by: NDArray[np.int64]
    message: str

    @property
    def count(self) -> int:
        return max(len(self.values), 1 if self.kind == "graded_input" else 0)

    def __str__(self) -> str:
        return self.message


@dataclass
class CheckReport:
    """Result of :func:`check`: violations and the numbers that matter to the target."""
    profile: HardwareProfile
    violations: list[Violation] = field(default_factory=list)
    synapses: int = 0
    max_fan_in: dict[str, int] = field(default_factory=dict)
    max_row_length: dict[str, int] = field(default_factory=dict)
    delay_steps: dict[str, tuple[int, int]] = field(default_factory=dict)
    cores: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def of_kind(self, kind: str) -> list[Violation]:
        return [v for v in self.violations if v.kind == kind]

    def summary(self) -> str:
        head = (f"profile '{self.profile.name}': {self.synapses} synapses, "
                f"{len(self.violations)} violation(s)")
        return "\n".join([head] + [f"  - {v.message}" for v in self.violations])

    __str__ = summary


def fan_in(graph: NetworkGraph, population: str) -> NDArray[np.int64]:
    """Synapses onto each neuron of ``population``, all incoming projections together."""
    size = graph.population(population).size
    counts = np.zeros(size, dtype=np.int64)
    for proj in graph.incoming(population):
        counts += np.bincount(proj.post, minlength=size)
    return counts


def row_lengths(proj: Projection, profile: HardwareProfile) -> tuple[NDArray, NDArray, NDArray]:
    """Rows of ``proj``: ``keys [n, 3] = (pre, core, receptor)``, lengths, row of each synapse.

    A row is one presynaptic neuron's synapses onto one core of the target population
    (``neurons_per_core``) of one receptor type (the sign, when ``weight_sign='receptor'``).
    """
    if proj.num_synapses == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 3), dtype=np.int64), empty, empty
    core = proj.post // profile.neurons_per_core if profile.neurons_per_core else \
        np.zeros_like(proj.post)
    receptor = (proj.weight < 0).astype(np.int64) if profile.weight_sign == "receptor" else \
        np.zeros_like(proj.post)
    keys, inverse, counts = np.unique(np.stack([proj.pre, core, receptor], axis=1), axis=0,
                                      return_inverse=True, return_counts=True)
    return keys.astype(np.int64), counts.astype(np.int64), inverse.ravel().astype(np.int64)


def _listing(where: NDArray, values: NDArray, over: NDArray, label) -> str:
    order = np.argsort(-over, kind="stable")[:_SHOW]
    parts = [f"{label(where[i])}: {values[i]} (over by {over[i]})" for i in order]
    more = f", ... {len(values) - _SHOW} more" if len(values) > _SHOW else ""
    return "; ".join(parts) + more


def _check_fan_in(graph: NetworkGraph, profile: HardwareProfile, report: CheckReport):
    for pop in graph.populations:
        if pop.kind not in ("lif", "li"):
            continue
        counts = fan_in(graph, pop.name)
        report.max_fan_in[pop.name] = int(counts.max()) if counts.size else 0
        limit = profile.max_fan_in
        bad = np.flatnonzero(counts > limit) if limit is not None else []
        if len(bad):
            over = counts[bad] - limit
            msg = (f"fan-in: population '{pop.name}': {len(bad)} neuron(s) receive more than "
                   f"{limit} synapses ({_listing(bad, counts[bad], over, lambda n: f'neuron {n}')}"
                   f"); prune (constrain(..., fan_in='prune')) or retrain with a fan-in limit")
            report.violations.append(Violation("fan_in", pop.name, bad.astype(np.int64),
                                               counts[bad], limit, over, msg))


def _check_rows(graph: NetworkGraph, profile: HardwareProfile, report: CheckReport):
    for proj in graph.projections:
        keys, lengths, _ = row_lengths(proj, profile)
        report.max_row_length[proj.name] = int(lengths.max()) if lengths.size else 0
        limit = profile.max_row_length
        if limit is None or not lengths.size or lengths.max() <= limit:
            continue
        bad = np.flatnonzero(lengths > limit)
        over = lengths[bad] - limit
        rec = ("exc", "inh")

        def label(k):
            return f"pre {k[0]} -> core {k[1]} ({rec[k[2]]})"
        msg = (f"row length: projection '{proj.name}': {len(bad)} row(s) hold more than "
               f"{limit} synapses ({_listing(keys[bad], lengths[bad], over, label)}); prune "
               f"(constrain(..., row='prune')) or use fewer neurons per core")
        report.violations.append(Violation("row_length", proj.name, keys[bad], lengths[bad],
                                           limit, over, msg))


def _check_delays(graph: NetworkGraph, profile: HardwareProfile, report: CheckReport):
    lo, hi = profile.min_delay_ticks, profile.max_delay_ticks
    for proj in graph.projections:
        if proj.num_synapses == 0:
            continue
        report.delay_steps[proj.name] = (int(proj.delay.min()), int(proj.delay.max()))
        ticks = profile.ticks(proj.delay)
        for bad, bound, word in (
                (np.flatnonzero(ticks > hi) if hi is not None else [], hi, "above"),
                (np.flatnonzero(ticks < lo), lo, "below")):
            if not len(bad):
                continue
            over = np.abs(ticks[bad] - bound)
            where = np.stack([proj.pre[bad], proj.post[bad]], axis=1)
            msg = (f"delay: projection '{proj.name}': {len(bad)} synapse(s) need delays "
                   f"{word} the target's {lo}..{hi} ticks (delay d steps -> d + "
                   f"{profile.delay_offset} ticks; "
                   f"{_listing(where, ticks[bad], over, lambda w: f'{w[0]}->{w[1]}')}); "
                   f"delays are never clipped: use a profile with a longer delay range "
                   f"(e.g. 'spinnaker-delay-ext') or retrain with max_delay <= "
                   f"{profile.delay_slots if hi is not None else '?'}")
            report.violations.append(Violation("delay", proj.name, where, ticks[bad], bound,
                                               over, msg))


def check(network: NetworkGraph, profile: str | HardwareProfile) -> CheckReport:
    """Report every limit of ``profile`` that ``network`` breaks.

    Parameters
    ----------
    network : NetworkGraph
    profile : str or HardwareProfile
        A built-in name (``'spinnaker'``, ``'spinnaker-delay-ext'``, ``'loihi2'``), a
        profile file or a profile.

    Returns
    -------
    CheckReport
        ``report.ok`` is True when nothing is violated; ``report.violations`` lists fan-in,
        row-length, delay-range and graded-input violations with the offending neurons and
        how far over the limit each one is.
    """
    profile = get_profile(profile)
    report = CheckReport(profile, synapses=sum(p.num_synapses for p in network.projections))
    if profile.neurons_per_core:
        report.cores = {p.name: -(-p.size // profile.neurons_per_core)
                        for p in network.populations if p.kind in ("lif", "li")}
    for pop in network.populations:
        if pop.kind == "graded_input" and not profile.graded_events:
            msg = (f"graded input: population '{pop.name}' emits graded (valued) events, "
                   f"which '{profile.name}' cannot carry (binary spikes only); encode the "
                   f"input as spikes (a 'spike_source' population) before exporting")
            report.violations.append(Violation("graded_input", pop.name,
                                               np.zeros(0, np.int64), np.zeros(0, np.int64),
                                               0, np.zeros(0, np.int64), msg))
    _check_fan_in(network, profile, report)
    _check_rows(network, profile, report)
    _check_delays(network, profile, report)
    return report
