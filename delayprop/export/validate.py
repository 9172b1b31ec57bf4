"""Validation by re-simulation: an exported network against the network it came from.

The original graph is simulated by delayprop's own engine (generated C++, double
precision) and the exported one independently in Brian2
(:func:`delayprop.reference.simulate_brian2`, GeNN's step order) on the same inputs — so an
unquantised export that reproduces the original's spikes exactly proves the export and the
engine at once (``engine='brian2'`` simulates both in Brian2). The report gives spike agreement per ``lif`` population and, on the readout population, the
predicted classes (argmax over readout neurons of V summed over time, the paper's
voltage-sum readout) and the accuracy of both when labels are given.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from delayprop.errors import ConfigError, DataError, ExportError
from delayprop.graph import NetworkGraph
from delayprop.reference.brian2_sim import check_inputs, simulate_brian2

__all__ = ["PopulationAgreement", "ValidationReport", "validate_export", "spike_agreement"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PopulationAgreement:
    """Spike agreement of one population over all batch instances.

    ``matched`` counts (instance, step, id) spikes present in both; ``agreement`` is
    ``2 * matched / (original + exported)`` (1.0 when neither spikes). ``within_one``
    counts spike pairs of the same instance and neuron at most one step apart, each spike
    in at most one pair (paired in time order; identical spikes pair first).
    """
    name: str
    spikes_original: int
    spikes_exported: int
    matched: int
    within_one: int | None = None

    @property
    def agreement_within_one(self) -> float | None:
        """Fraction of spikes, in both runs, that have a partner at most one step away."""
        if self.within_one is None:
            return None
        total = self.spikes_original + self.spikes_exported
        return 1.0 if total == 0 else 2.0 * self.within_one / total

    @property
    def agreement(self) -> float:
        total = self.spikes_original + self.spikes_exported
        return 1.0 if total == 0 else 2.0 * self.matched / total

    @property
    def identical(self) -> bool:
        return self.matched == self.spikes_original == self.spikes_exported


@dataclass
class ValidationReport:
    """Result of :func:`validate_export` (and of
    :func:`~delayprop.export.pynn_run.validate_in_pynn`, ``simulator`` naming the backend)."""
    num_steps: int
    batch_size: int
    simulator: str = "Brian2"
    populations: dict[str, PopulationAgreement] = field(default_factory=dict)
    readout: str | None = None
    predicted_original: NDArray[np.int64] | None = None
    predicted_exported: NDArray[np.int64] | None = None
    accuracy_original: float | None = None
    accuracy_exported: float | None = None
    max_abs_dv_readout: float | None = None

    @property
    def identical(self) -> bool:
        """Every population's spikes are the same in both simulations."""
        return all(p.identical for p in self.populations.values())

    @property
    def prediction_agreement(self) -> float | None:
        if self.predicted_original is None:
            return None
        return float(np.mean(self.predicted_original == self.predicted_exported))

    def summary(self) -> str:
        lines = [f"original (delayprop or Brian2) vs export re-simulated in "
                 f"{self.simulator}: {self.batch_size} trial(s) x {self.num_steps} steps"]
        for p in self.populations.values():
            near = "" if p.within_one is None else \
                f", {p.agreement_within_one:.4f} within +-1 step"
            lines.append(f"  {p.name}: spikes {p.spikes_original} -> {p.spikes_exported}, "
                         f"{p.matched} identical, agreement {p.agreement:.4f}{near}")
        if self.readout is not None:
            same = int(np.sum(self.predicted_original == self.predicted_exported))
            lines.append(f"  readout '{self.readout}': max |dV| {self.max_abs_dv_readout:.3g}, "
                         f"same class in {same} of {self.batch_size} trials "
                         f"({self.prediction_agreement:.2%})")
        if self.accuracy_original is not None:
            lines.append(f"  accuracy: original {self.accuracy_original:.2%}, exported "
                         f"{self.accuracy_exported:.2%}")
        return "\n".join(lines)

    __str__ = summary


def spike_agreement(name: str, a: list, b: list) -> PopulationAgreement:
    """Compare two per-instance lists of ``(steps, ids)`` spike trains."""
    matched = n_a = n_b = near = 0
    for (sa, ia), (sb, ib) in zip(a, b):
        ka = set(zip(sa.tolist(), ia.tolist()))
        kb = set(zip(sb.tolist(), ib.tolist()))
        matched += len(ka & kb)
        n_a, n_b = n_a + len(ka), n_b + len(kb)
        near += _pairs_within_one(ka - kb, kb - ka)
    return PopulationAgreement(name, n_a, n_b, matched, matched + near)


def _pairs_within_one(a: set, b: set) -> int:
    """Pairs (step, id) of a and b with the same id and steps at most one apart, greedily
    in step order, each element used once."""
    by_id: dict[int, list] = {}
    for step, i in a:
        by_id.setdefault(i, [[], []])[0].append(step)
    for step, i in b:
        by_id.setdefault(i, [[], []])[1].append(step)
    pairs = 0
    for sa, sb in by_id.values():
        sa.sort()
        sb.sort()
        x = y = 0
        while x < len(sa) and y < len(sb):
            if abs(sa[x] - sb[y]) <= 1:
                pairs, x, y = pairs + 1, x + 1, y + 1
            elif sa[x] < sb[y]:
                x += 1
            else:
                y += 1
    return pairs


def _check_pair(original: NetworkGraph, exported: NetworkGraph, readout: str | None):
    a = {p.name: (p.kind, p.size) for p in original.populations}
    b = {p.name: (p.kind, p.size) for p in exported.populations}
    if a != b:
        raise ExportError(f"the exported graph's populations {b} differ from the original's "
                          f"{a}; validation compares the same populations")
    if original.dt != exported.dt:
        raise ExportError(f"the exported graph's dt {exported.dt} ms differs from the "
                          f"original's {original.dt} ms")
    if readout is not None and a.get(readout, ("",))[0] not in ("lif", "li"):
        raise ConfigError(f"readout '{readout}' is not a lif/li population; choose from "
                          f"{sorted(n for n, (k, _) in a.items() if k in ('lif', 'li'))} "
                          f"or pass readout=None")


def _chunks(data: dict[str, Any], batch: int, size: int):
    for start in range(0, batch, size):
        yield {k: v[start:start + size] for k, v in data.items()}


def _simulate(graph: NetworkGraph, data: dict, batch: int, num_steps: int, readout, chunk,
              desc: str, engine: str = "brian2") -> tuple[dict[str, list], NDArray | None]:
    spikes: dict[str, list] = {}
    vsum = []
    record = (readout,) if readout else ()
    chunks = list(_chunks(data, batch, chunk)) if data else [{}]
    for part in tqdm(chunks, desc=desc, disable=not sys.stderr.isatty() or len(chunks) < 2):
        if engine == "delayprop" and part:
            from delayprop.compile.graph_model import simulate_graph
            res = simulate_graph(graph, part, num_steps, record_v=record, precision="double")
        else:
            res = simulate_brian2(graph, part, num_steps, record_v=record)
        for name, trains in res.spikes.items():
            spikes.setdefault(name, []).extend(trains)
        if readout:
            vsum.append(res.v[readout])
    return spikes, (np.concatenate(vsum) if readout else None)


def validate_export(original_graph: NetworkGraph, exported_graph: NetworkGraph,
                    inputs: Mapping[str, Any], num_steps: int,
                    labels: NDArray | None = None, readout: str | None = "output", *,
                    batch_chunk: int = 32, engine: str = "delayprop") -> ValidationReport:
    """Simulate the original (delayprop's engine) and the export (Brian2) on ``inputs`` and
    compare spikes and readout classes.

    Parameters
    ----------
    original_graph, exported_graph : NetworkGraph
        Same populations (names, kinds, sizes) and ``dt``.
    inputs : dict
        As for :func:`~delayprop.reference.simulate_brian2`.
    num_steps : int
    labels : array of int, optional
        One class per batch instance, in ``[0, readout size)``.
    readout : str or None
        Population whose V, summed over time, gives the class by argmax. None: no readout.
    batch_chunk : int
        Batch instances simulated together (bounds memory).
    engine : {'delayprop', 'brian2'}
        Simulator of the original graph (the export always runs in Brian2).

    Returns
    -------
    ValidationReport

    Raises
    ------
    ExportError
        The graphs do not have the same populations or dt.
    ConfigError
        ``readout`` is not a lif/li population, or labels given without a readout.
    DataError
        Labels of the wrong length or out of range; malformed inputs.
    """
    if engine not in ("delayprop", "brian2"):
        raise ConfigError(f"engine must be 'delayprop' or 'brian2', got {engine!r}")
    _check_pair(original_graph, exported_graph, readout)
    batch, data = check_inputs(original_graph, inputs, num_steps)
    if labels is not None:
        labels = _check_labels(original_graph, labels, batch, readout)
    report = ValidationReport(int(num_steps), batch, readout=readout)
    runs = [_simulate(g, data, batch, int(num_steps), readout, max(int(batch_chunk), 1), desc,
                      sim)
            for g, desc, sim in ((original_graph, "original", engine),
                                 (exported_graph, "exported", "brian2"))]
    (spk_a, v_a), (spk_b, v_b) = runs
    compare_runs(report, spk_a, spk_b, v_a, v_b, readout, labels)
    logger.info("validation: %s", report.summary().replace("\n", "; "))
    return report


def compare_runs(report: ValidationReport, spk_a, spk_b, v_a, v_b, readout: str | None,
                 labels) -> None:
    """Fill ``report`` from the original's (``a``) and the export's (``b``) spikes per
    population and readout voltages [trial, step, neuron]."""
    for name in spk_a:
        report.populations[name] = spike_agreement(name, spk_a[name], spk_b[name])
    if readout is None:
        return
    report.max_abs_dv_readout = float(np.abs(v_a - v_b).max(initial=0.0))
    report.predicted_original = np.argmax(v_a.sum(axis=1), axis=1)
    report.predicted_exported = np.argmax(v_b.sum(axis=1), axis=1)
    if labels is not None:
        report.accuracy_original = float(np.mean(report.predicted_original == labels))
        report.accuracy_exported = float(np.mean(report.predicted_exported == labels))


def _check_labels(graph: NetworkGraph, labels, batch: int, readout: str | None) -> NDArray:
    if readout is None:
        raise ConfigError("labels were given but readout=None; name the readout population")
    y = np.asarray(labels)
    n = graph.population(readout).size
    if y.shape != (batch,) or y.dtype.kind not in "iu":
        raise DataError(f"labels must be {batch} integers (one per batch instance), got "
                        f"shape {y.shape} dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n):
        raise DataError(f"labels must lie in [0, {n}) (readout '{readout}' has {n} neurons), "
                        f"got [{y.min()}, {y.max()}]")
    return y.astype(np.int64)
