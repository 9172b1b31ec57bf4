"""Closed forms and threshold-crossing search of one population of the exact simulator.

See delayprop/reference/exact.py for the model; this module holds the per-population
constants (:class:`_Pop`), the response to a unit current jump, and the search for the
first threshold crossing on ``f(s) = V(s) - v_thresh``, a sum of terms ``p(s) e^{r s}``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

_XTOL, _RTOL = 1e-14, 8.9e-16    # Brent tolerances (ms, relative)


@dataclass
class _Pop:
    """Constants of one lif/li population; ``taus`` lists its distinct tau_syn (ms)."""
    kind: str
    size: int
    tau_m: float
    theta: float
    v_reset: float
    v_init: float
    taus: tuple

    def __post_init__(self):
        tm = self.tau_m     # x: 1/tau_m - 1/tau_k (1/ms); c: tau_k/(tau_k - tau_m); gmax
        self.x = tuple(1.0 / tm - 1.0 / tk for tk in self.taus)
        self.c = tuple(tk / (tk - tm) if tk != tm else 0.0 for tk in self.taus)
        peaks = [math.log(tk / tm) / x if x != 0.0 else tm for tk, x in zip(self.taus, self.x)]
        self.gmax = tuple(self.g(k, s) * (1 + 1e-9) + 1e-300 for k, s in enumerate(peaks))

    def g(self, k: int, s: float) -> float:
        """Change of V at lag s (ms) after a unit jump of current k (scalar, exact)."""
        z = s * self.x[k]
        if abs(z) < 0.5:
            return (s / self.tau_m) * math.exp(-s / self.tau_m) * (
                math.expm1(z) / z if z != 0.0 else 1.0)
        return self.c[k] * (math.exp(-s / self.taus[k]) - math.exp(-s / self.tau_m))

    def g_array(self, k: int, s: NDArray) -> NDArray:
        """Vectorised :meth:`g` for lags ``s >= 0``."""
        z = s * self.x[k]
        small = np.abs(z) < 0.5
        zs = np.where(small & (z != 0.0), z, 1.0)
        phi = np.where(z != 0.0, np.expm1(zs) / zs, 1.0)
        near = (s / self.tau_m) * np.exp(-s / self.tau_m) * phi
        far = self.c[k] * (np.exp(-s / self.taus[k]) - np.exp(-s / self.tau_m))
        return np.where(small, near, far)

    def v_at(self, v0: float, cur: list, s: float) -> float:
        """V after s ms from state (v0, cur) without further input."""
        v = v0 * math.exp(-s / self.tau_m)
        for k, i_k in enumerate(cur):
            if i_k != 0.0:
                v += i_k * self.g(k, s)
        return v


# ----------------------------------------------------------------------------- root finding
def _rep_eval(terms, s: float) -> float:
    return sum((p0 + p1 * s) * math.exp(r * s) for r, p0, p1 in terms)


def _rep_zeros(terms, lo: float, hi: float) -> list:
    """Zeros in (lo, hi) of ``sum (p0 + p1 s) e^{r s}`` over ``terms = [(r, p0, p1)]``."""
    terms = [t for t in terms if t[1] != 0.0 or t[2] != 0.0]
    count = sum(1 if t[2] == 0.0 else 2 for t in terms)
    if count <= 1:
        return []
    if count == 2:                                   # closed forms
        if len(terms) == 1:
            _, p0, p1 = terms[0]
            s = -p0 / p1
        else:
            (r1, a, _), (r2, b, _) = terms
            if a * b >= 0.0:
                return []
            s = math.log(-b / a) / (r1 - r2)
        return [s] if lo < s < hi else []
    r0 = terms[0][0]                                 # zeros of (e^{-r0 s} f)' split f
    deriv = [(r, p1 + (r - r0) * p0, (r - r0) * p1) for r, p0, p1 in terms]
    pts = [lo, *_rep_zeros(deriv, lo, hi), hi]
    vals = [_rep_eval(terms, s) for s in pts]
    roots = []
    for a, b, fa, fb in zip(pts[:-1], pts[1:], vals[:-1], vals[1:]):
        if fa * fb < 0.0:
            roots.append(brentq(lambda s: _rep_eval(terms, s), a, b, xtol=_XTOL, rtol=_RTOL))
        elif fb == 0.0 and b < hi:
            roots.append(b)
    return roots


def _first_crossing(pop: _Pop, v0: float, cur: list, horizon: float) -> float | None:
    """Lag s in [0, horizon] of the first V(s) >= theta without further input, or None."""
    theta = pop.theta
    if v0 >= theta:
        return 0.0
    bound = (v0 if v0 > 0.0 else v0 * math.exp(-horizon / pop.tau_m)) + sum(
        i_k * gm for i_k, gm in zip(cur, pop.gmax) if i_k > 0.0)
    if bound < theta or horizon <= 0.0:
        return None
    rm = -1.0 / pop.tau_m
    a_m, b_m, terms = v0, 0.0, []
    for k, i_k in enumerate(cur):
        if i_k == 0.0:
            continue
        if abs(pop.x[k]) * horizon < 1e-6:           # tau_k ~ tau_m: s e^{-s/tau_m} term
            b_m += i_k / pop.tau_m
        else:
            a_m -= i_k * pop.c[k]
            terms.append((-1.0 / pop.taus[k], i_k * pop.c[k], 0.0))
    terms.append((rm, a_m, b_m))
    deriv = [(r, p1 + r * p0, r * p1) for r, p0, p1 in terms]      # f' (constant drops)
    pts = [0.0, *_rep_zeros(deriv, 0.0, horizon), horizon]
    for a, b in zip(pts[:-1], pts[1:]):          # f(a) < 0 here; f monotone on [a, b]
        if pop.v_at(v0, cur, b) >= theta:
            return brentq(lambda s: pop.v_at(v0, cur, s) - theta, a, b, xtol=_XTOL,
                          rtol=_RTOL)
    return None
