"""One call per target: constrain, write, load back, re-simulate, report.

=============  ==================  =============================================
target         default profile     files written into ``out_dir``
=============  ==================  =============================================
``spinnaker``  ``spinnaker``       PyNN lists + ``network.py`` (pyNN.spiNNaker),
                                   connectivity.json/.npz
``pynn``       none (float)        PyNN lists + ``network.py`` (pyNN.nest),
                                   connectivity.json/.npz
``loihi2``     ``loihi2``          ``network.nir``, connectivity.json/.npz
                                   (8-bit mantissas and exponents)
``nir``        none (float)        ``network.nir``, connectivity.json/.npz
=============  ==================  =============================================

Every export is loaded back from the files just written and compared with the network it
was made from, synapse by synapse; with data, the loaded-back network and the original are
re-simulated in Brian2 (:func:`validate_export`). ``report.json`` records the numbers.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray

from delayprop.errors import ConfigError, DataError, ExportError
from delayprop.graph import NetworkGraph
from delayprop.export.check import check
from delayprop.export.check import fan_in as fan_in_of
from delayprop.export.constrain import ConstrainReport, constrain
from delayprop.export.nir_io import read_nir, write_nir
from delayprop.export.plain import write_plain
from delayprop.export.profile import HardwareProfile, get_profile
from delayprop.export.pynn import read_pynn, write_pynn
from delayprop.export.validate import ValidationReport, validate_export

__all__ = ["TARGETS", "ExportResult", "export", "load_export_data", "same_connectivity"]

logger = logging.getLogger(__name__)

#: target -> (default profile name or None, primary writer, PyNN backend of the script)
TARGETS = {"spinnaker": ("spinnaker", "pynn", "spiNNaker"), "pynn": (None, "pynn", "nest"),
           "loihi2": ("loihi2", "nir", None), "nir": (None, "nir", None)}


@dataclass
class ExportResult:
    """What :func:`export` wrote and measured."""
    target: str
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    synapses: int = 0
    max_fan_in: dict[str, int] = field(default_factory=dict)
    delay_steps: tuple[int, int] | None = None
    delay_target: str = ""
    constrain: ConstrainReport | None = None
    validation: ValidationReport | None = None
    violations_before: int | None = None      # limits the trained network broke, if any

    def summary(self) -> str:
        lines = [f"export to {self.target}: {self.out_dir}",
                 f"synapses: {self.synapses}",
                 "max fan-in: " + (", ".join(f"{k} {v}" for k, v in self.max_fan_in.items())
                                   or "-")]
        if self.delay_steps is not None:
            lines.append(f"delays used: {self.delay_steps[0]}..{self.delay_steps[1]} steps "
                         f"-> {self.delay_target}")
        if self.violations_before is not None:
            lines.append(f"profile check of the trained network: {self.violations_before} "
                         f"violation(s)")
        if self.constrain is not None:
            c = self.constrain
            lines.append(f"pruned: {c.pruned} synapse(s) (fan-in {sum(c.pruned_fan_in.values())}"
                         f", rows {sum(c.pruned_rows.values())})")
            if c.profile.weight_bits is not None:
                lines.append(f"weights: {c.profile.weight_bits}-bit ({c.profile.weight_sign}),"
                             f" profile '{c.profile.name}'; weight error: max "
                             f"{c.max_abs_weight_error:.3g} ({c.relative_weight_error:.2e} of "
                             f"max |w|), {c.zeroed} small weight(s) rounded to zero")
                lines += [f"  {g.name}: scale 2^{g.exponent}, max error {g.max_abs_error:.3g}, "
                          f"zeroed {g.zeroed}/{g.synapses}" for g in c.scale_groups]
            else:
                lines.append("weights: float64, unchanged (weight error 0)")
            if c.cores:
                lines.append("cores: " + ", ".join(f"{k} {v}" for k, v in c.cores.items())
                             + f" ({c.profile.neurons_per_core} neurons/core)")
        else:
            lines.append("weights: float64, unchanged (weight error 0)")
        if self.validation is not None:
            lines.append(self.validation.summary())
        else:
            lines.append("accuracy: no data given (--data)")
        return "\n".join(lines)

    __str__ = summary


def same_connectivity(a: NetworkGraph, b: NetworkGraph) -> list[str]:
    """Differences between two graphs' synapse lists (order-free), as messages; [] = same."""
    out = []
    pb = {p.name: p for p in b.projections}
    for p in a.projections:
        q = pb.get(p.name)
        if q is None:
            out.append(f"projection '{p.name}' missing")
            continue
        ka, kb = (np.lexsort((x.weight, x.delay, x.post, x.pre)) for x in (p, q))
        for key in ("pre", "post", "delay", "weight"):
            if len(ka) != len(kb) or not np.array_equal(getattr(p, key)[ka], getattr(q, key)[kb]):
                out.append(f"projection '{p.name}': '{key}' differs")
                break
        if (p.source, p.target, p.max_delay, p.tau_syn) != (q.source, q.target, q.max_delay,
                                                            q.tau_syn):
            out.append(f"projection '{p.name}': source/target/max_delay/tau_syn differ")
    if {p.name for p in b.projections} - {p.name for p in a.projections}:
        out.append("extra projections")
    if a.populations != b.populations:
        out.append("populations differ")
    return out


def _resolve_profile(target: str, profile, max_fan_in) -> HardwareProfile | None:
    if target not in TARGETS:
        raise ConfigError(f"unknown export target {target!r}; choose from {sorted(TARGETS)}")
    spec = profile if profile is not None else TARGETS[target][0]
    if spec is None:
        if max_fan_in is not None:       # float weights, any delay: only the fan-in limit
            return HardwareProfile(f"{target}-fan-in", max_fan_in=int(max_fan_in),
                                   delay_offset=1, description="fan-in limit only")
        return None
    prof = get_profile(spec)
    if max_fan_in is not None:
        prof = dataclasses.replace(prof, max_fan_in=int(max_fan_in))
    return prof


def _write(graph: NetworkGraph, target: str, out: Path, profile, quantised, num_steps):
    _, writer, backend = TARGETS[target]
    if writer == "pynn":
        files = [write_pynn(graph, out, simulator=backend, num_steps=num_steps or 100),
                 out / "network.json"]
        back = read_pynn(out)
    else:
        files = [write_nir(graph, out / "network.nir")]
        back = read_nir(out / "network.nir")
    files.append(write_plain(graph, out, profile=profile, quantised=quantised))
    diff = same_connectivity(graph, back)
    if diff:
        raise ExportError(f"the {writer} files written to {out} do not load back to the "
                          f"exported network: {diff}")
    return files, back


def export(graph: NetworkGraph, target: str, out_dir: str | Path, *,
           profile: str | HardwareProfile | None = None, max_fan_in: int | None = None,
           fan_in: str = "refuse", rows: str = "refuse",
           inputs: Mapping[str, Any] | None = None, num_steps: int | None = None,
           labels: NDArray | None = None, readout: str | None = "output") -> ExportResult:
    """Export ``graph`` to ``target`` in ``out_dir`` (see the module docstring).

    Parameters
    ----------
    graph : NetworkGraph
    target : {'spinnaker', 'pynn', 'loihi2', 'nir'}
    out_dir : path
    profile : str or HardwareProfile, optional
        Overrides the target's default profile (e.g. ``'spinnaker-delay-ext'``, a file).
    max_fan_in : int, optional
        Fan-in limit per postsynaptic neuron, overriding the profile's.
    fan_in, rows : {'refuse', 'prune'}
    inputs, num_steps, labels, readout
        Optional data for validation by re-simulation (see :func:`validate_export`).

    Returns
    -------
    ExportResult
    """
    prof = _resolve_profile(target, profile, max_fan_in)
    out = Path(out_dir)
    result = ExportResult(target, out)
    exported, quantised = graph, None
    if prof is not None:
        result.violations_before = len(check(graph, prof).violations)
        fitted = constrain(graph, prof, fan_in=fan_in, rows=rows)
        exported, quantised, result.constrain = fitted.graph, fitted.quantised, fitted.report
    result.files, back = _write(exported, target, out, prof, quantised, num_steps)
    result.synapses = sum(p.num_synapses for p in exported.projections)
    result.max_fan_in = {p.name: int(fan_in_of(exported, p.name).max(initial=0))
                         for p in exported.populations if p.kind in ("lif", "li")}
    delays = [p.delay for p in exported.projections if p.num_synapses]
    if delays:
        lo, hi = min(int(d.min()) for d in delays), max(int(d.max()) for d in delays)
        result.delay_steps = (lo, hi)
        offset = prof.delay_offset if prof is not None else 1
        result.delay_target = (f"{lo + offset}..{hi + offset} ticks of {graph.dt} ms "
                               f"(d + {offset}); {(lo + 1) * graph.dt:g}..{(hi + 1) * graph.dt:g}"
                               f" ms from spike to arrival")
    if inputs is not None:
        result.validation = validate_export(graph, back, inputs, num_steps, labels, readout)
    _write_report(result, out)
    return result


def _write_report(result: ExportResult, out: Path):
    v, c = result.validation, result.constrain
    data = {"target": result.target, "violations_before": result.violations_before,
            "synapses": result.synapses,
            "max_fan_in": result.max_fan_in, "delay_steps": result.delay_steps,
            "delay_target": result.delay_target,
            "profile": c.profile.to_dict() if c else None,
            "pruned_fan_in": c.pruned_fan_in if c else {},
            "pruned_rows": c.pruned_rows if c else {},
            "weight_max_abs_error": c.max_abs_weight_error if c else 0.0,
            "weights_rounded_to_zero": c.zeroed if c else 0,
            "scale_groups": [dataclasses.asdict(g) for g in c.scale_groups] if c else [],
            "spike_agreement": {k: p.agreement for k, p in v.populations.items()} if v else None,
            "spikes_identical": v.identical if v else None,
            "accuracy_original": v.accuracy_original if v else None,
            "accuracy_exported": v.accuracy_exported if v else None,
            "files": [str(f) for f in result.files]}
    (out / "report.json").write_text(json.dumps(data, indent=1))


def load_export_data(path: str | Path, graph: NetworkGraph):
    """Read validation data for :func:`export` from an ``.npz`` file.

    Keys: for a ``graded_input`` population ``P``: ``P`` ``[batch, num_steps, size]``; for a
    ``spike_source`` population ``P``: ``P_steps``, ``P_ids``, ``P_trial`` (flat int arrays:
    step, neuron and batch instance of each spike); ``labels`` ``[batch]`` (optional);
    ``num_steps`` (scalar; optional when a graded input gives it).

    Returns
    -------
    (inputs, labels or None, num_steps)
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read data file {path}: {err}") from err
    labels = data.get("labels")
    num_steps = int(data["num_steps"]) if "num_steps" in data else None
    inputs, batch = {}, None if labels is None else len(labels)
    for pop in graph.populations:
        if pop.kind == "graded_input" and pop.name in data:
            inputs[pop.name] = data[pop.name]
            num_steps = num_steps or data[pop.name].shape[1]
            batch = batch or data[pop.name].shape[0]
    for pop in graph.populations:
        if pop.kind != "spike_source":
            continue
        keys = [f"{pop.name}_{k}" for k in ("steps", "ids", "trial")]
        if any(k not in data for k in keys):
            raise DataError(f"{path}: spike source '{pop.name}' needs arrays {keys}; found "
                            f"{sorted(data)}")
        steps, ids, trial = (data[k].astype(np.int64) for k in keys)
        n = batch or (int(trial.max()) + 1 if trial.size else 1)
        inputs[pop.name] = [(steps[trial == b], ids[trial == b]) for b in range(n)]
    if num_steps is None:
        raise DataError(f"{path}: give 'num_steps' (no graded input array fixes it)")
    return inputs, labels, num_steps
