"""Weight quantisation to a target's fixed-point format.

Every weight becomes ``w_q = m * 2**e`` with an integer mantissa ``m`` in the profile's
``mantissa_range`` and one exponent ``e`` shared by a scale group: all synapses of one
receptor type (sign) onto one postsynaptic population (SpiNNaker's shift per synapse type,
``scale_scope='post_receptor'``; ``m`` is then the magnitude), or all synapses of one
projection (Loihi's exponent per connection, ``'projection'``; ``m`` carries the sign).

Rule: ``e`` is the smallest integer for which every weight of the group fits
(``max|w| <= m_max * 2**e``), and ``m = rint(w / 2**e)`` (round half to even). The
rounding error of every weight is at most ``2**(e - 1)``, and any smaller ``e`` would
overflow the largest weight, so this ``e`` minimises the largest error without ever
clipping a weight. Weights whose magnitude is below ``2**(e - 1)`` round to zero; they
are counted and reported, never dropped silently.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from delayprop.errors import ExportError
from delayprop.graph import NetworkGraph, Projection
from delayprop.export.profile import HardwareProfile

__all__ = ["ScaleGroup", "Quantised", "choose_exponent", "quantise"]


@dataclass(frozen=True)
class ScaleGroup:
    """One group of synapses sharing an exponent, and what quantising it cost.

    Attributes
    ----------
    name : str
        ``"<population>/excitatory"``, ``"<population>/inhibitory"`` or the projection.
    exponent : int or None
        ``w_q = m * 2**exponent``; None when every weight of the group is zero.
    synapses : int
    max_abs_weight, max_abs_error, rms_error : float
        Model units.
    zeroed : int
        Non-zero weights that rounded to zero.
    """
    name: str
    exponent: int | None
    synapses: int
    max_abs_weight: float
    max_abs_error: float
    rms_error: float
    zeroed: int


@dataclass
class Quantised:
    """A quantised graph with its mantissas and exponents per projection."""
    graph: NetworkGraph
    groups: list[ScaleGroup]
    mantissa: dict[str, NDArray[np.int64]]
    exponent: dict[str, NDArray[np.int64]]

    @property
    def zeroed(self) -> int:
        return sum(g.zeroed for g in self.groups)


def choose_exponent(weights: NDArray[np.float64], lo: int, hi: int) -> int | None:
    """Smallest ``e`` with ``lo <= w / 2**e <= hi`` for every weight (None if all zero)."""
    w = np.asarray(weights, dtype=np.float64)
    pos, neg = float(w.max(initial=0.0)), float(-w.min(initial=0.0))
    if pos == 0 and neg == 0:
        return None
    if neg > 0 and lo == 0:
        raise ExportError(f"choose_exponent: a weight of {-neg:g} in a group of unsigned "
                          f"magnitudes (stored range [0, {hi}]); give a signed range "
                          f"(lo < 0) or quantise the magnitudes and carry the sign by "
                          f"receptor type")
    e = max(math.ceil(math.log2(v / b)) for v, b in ((pos, hi), (neg, -lo)) if v > 0)

    def fits(k):
        return pos <= hi * 2.0 ** k and neg <= -lo * 2.0 ** k
    while not fits(e):            # guard against log2 rounding at exact powers of two
        e += 1
    while fits(e - 1):
        e -= 1
    return e


def _quantise_group(name: str, values: NDArray, lo: int, hi: int):
    """Mantissas, exponent and :class:`ScaleGroup` of one group of (signed) values."""
    e = choose_exponent(values, lo, hi) if values.size else None
    if e is None:
        mant = np.zeros(values.shape, dtype=np.int64)
        q = np.zeros_like(values)
    else:
        mant = np.rint(values / 2.0 ** e).astype(np.int64)
        q = mant * 2.0 ** e
    err = np.abs(q - values)
    group = ScaleGroup(name, e, int(values.size),
                       float(np.abs(values).max(initial=0.0)),
                       float(err.max(initial=0.0)),
                       float(np.sqrt(np.mean(err ** 2))) if values.size else 0.0,
                       int(np.sum((mant == 0) & (values != 0))))
    return mant, e, group


def _post_receptor(graph: NetworkGraph, lo: int, hi: int):
    mant = {p.name: np.zeros(p.num_synapses, np.int64) for p in graph.projections}
    expo = {p.name: np.zeros(p.num_synapses, np.int64) for p in graph.projections}
    groups = []
    for pop in graph.populations:
        incoming = graph.incoming(pop.name)
        for label, select in (("excitatory", lambda w: w >= 0), ("inhibitory", lambda w: w < 0)):
            masks = [select(p.weight) for p in incoming]
            mags = np.concatenate([np.abs(p.weight[m]) for p, m in zip(incoming, masks)]
                                  or [np.zeros(0)])
            if not mags.size:
                continue
            m, e, group = _quantise_group(f"{pop.name}/{label}", mags, 0, hi)
            groups.append(group)
            start = 0
            for proj, mask in zip(incoming, masks):
                n = int(mask.sum())
                mant[proj.name][mask] = m[start:start + n]
                expo[proj.name][mask] = 0 if e is None else e
                start += n
    return mant, expo, groups


def _per_projection(graph: NetworkGraph, lo: int, hi: int):
    mant, expo, groups = {}, {}, []
    for proj in graph.projections:
        m, e, group = _quantise_group(proj.name, proj.weight, lo, hi)
        mant[proj.name] = m
        expo[proj.name] = np.full(proj.num_synapses, 0 if e is None else e, dtype=np.int64)
        if proj.num_synapses:
            groups.append(group)
    return mant, expo, groups


def quantise(graph: NetworkGraph, profile: HardwareProfile) -> Quantised:
    """Quantise every weight of ``graph`` to ``profile``'s format (module docstring rule).

    With ``profile.weight_bits = None`` the weights are kept as they are (exponent 0,
    mantissa 0 arrays are returned only for shape).
    """
    rng = profile.mantissa_range
    if rng is None:
        zeros = {p.name: np.zeros(p.num_synapses, np.int64) for p in graph.projections}
        return Quantised(graph, [], zeros, dict(zeros))
    lo, hi = rng
    if profile.scale_scope == "post_receptor":
        mant, expo, groups = _post_receptor(graph, lo, hi)
    else:
        mant, expo, groups = _per_projection(graph, lo, hi)
    projections = []
    for proj in graph.projections:
        sign = np.where(proj.weight < 0, -1.0, 1.0) if profile.weight_sign == "receptor" \
            else 1.0
        w_q = sign * mant[proj.name] * np.exp2(expo[proj.name].astype(np.float64))
        projections.append(_with_weights(proj, w_q))
    new = NetworkGraph(graph.populations, projections, dt=graph.dt)
    return Quantised(new, groups, mant, expo)


def _with_weights(proj: Projection, weight: NDArray) -> Projection:
    return Projection(proj.name, proj.source, proj.target, proj.pre, proj.post, weight,
                      proj.delay, proj.max_delay, proj.tau_syn)
