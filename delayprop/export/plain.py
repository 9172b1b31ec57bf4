"""Plain export for any other tool: ``connectivity.json`` (readable) + ``connectivity.npz``.

``connectivity.json`` holds ``format``, ``dt`` (ms), the delay rule, the profile (if any),
every population with its parameters and every projection with its scalars, synapse count,
delay range in steps and in target ticks, and the exponent(s) of quantised weights.
``connectivity.npz`` holds, per projection ``P``: ``P/pre``, ``P/post``, ``P/weight``
(model units; exactly ``mantissa * 2**exponent`` when quantised), ``P/delay_steps``
(delayprop steps d), ``P/delay_ticks`` (``d + delay_offset``, the target's ticks),
``P/delay_ms`` (``(d + 1) * dt``, the time from spike to arrival) and, when quantised,
``P/mantissa`` and ``P/exponent``.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from delayprop import __version__
from delayprop.errors import DataError
from delayprop.graph import NetworkGraph, NeuronGroup, Projection
from delayprop.export.profile import HardwareProfile
from delayprop.export.quantise import Quantised

__all__ = ["write_plain", "read_plain"]

FORMAT = "delayprop.connectivity/1"


def write_plain(graph: NetworkGraph, out_dir: str | Path, *,
                profile: HardwareProfile | None = None,
                quantised: Quantised | None = None) -> Path:
    """Write ``connectivity.json`` and ``connectivity.npz`` into ``out_dir``; return the json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    offset = profile.delay_offset if profile is not None else 1
    arrays, projs = {}, []
    for p in graph.projections:
        ticks = p.delay + offset
        arrays.update({f"{p.name}/pre": p.pre, f"{p.name}/post": p.post,
                       f"{p.name}/weight": p.weight, f"{p.name}/delay_steps": p.delay,
                       f"{p.name}/delay_ticks": ticks,
                       f"{p.name}/delay_ms": (p.delay + 1) * graph.dt})
        entry = {"name": p.name, "source": p.source, "target": p.target,
                 "tau_syn": p.tau_syn, "max_delay": p.max_delay, "synapses": p.num_synapses,
                 "delay_steps": [int(p.delay.min()), int(p.delay.max())] if p.num_synapses
                 else None,
                 "delay_ticks": [int(ticks.min()), int(ticks.max())] if p.num_synapses
                 else None}
        if quantised is not None and profile is not None and profile.weight_bits:
            arrays[f"{p.name}/mantissa"] = quantised.mantissa[p.name]
            arrays[f"{p.name}/exponent"] = quantised.exponent[p.name]
            entry["exponents"] = sorted({int(e) for e in quantised.exponent[p.name]})
        projs.append(entry)
    meta = {"format": FORMAT, "delayprop": __version__, "dt": graph.dt,
            "delay_rule": f"delay_ticks = delay_steps + {offset}; delay_ms = "
                          f"(delay_steps + 1) * dt: a spike of step k reaches the "
                          f"postsynaptic current in step k + 1 + delay_steps",
            "profile": profile.to_dict() if profile is not None else None,
            "populations": [asdict(p) for p in graph.populations], "projections": projs}
    np.savez_compressed(out / "connectivity.npz", **arrays)
    path = out / "connectivity.json"
    path.write_text(json.dumps(meta, indent=1))
    return path


def read_plain(out_dir: str | Path) -> NetworkGraph:
    """Load a :func:`write_plain` export back as a NetworkGraph."""
    out = Path(out_dir)
    try:
        meta = json.loads((out / "connectivity.json").read_text())
        data = np.load(out / "connectivity.npz", allow_pickle=False)
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{out}: cannot read connectivity.json/.npz: {err}") from err
    if meta.get("format") != FORMAT:
        raise DataError(f"{out}/connectivity.json: format {meta.get('format')!r}, expected "
                        f"{FORMAT!r}")
    with data:
        projs = [Projection(p["name"], p["source"], p["target"], data[f"{p['name']}/pre"],
                            data[f"{p['name']}/post"], data[f"{p['name']}/weight"],
                            data[f"{p['name']}/delay_steps"], p["max_delay"], p["tau_syn"])
                 for p in meta["projections"]]
    return NetworkGraph([NeuronGroup(**p) for p in meta["populations"]], projs, dt=meta["dt"])
