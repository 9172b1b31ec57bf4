r"""Exact event-driven simulation of the continuous-time network: the truth for gradient tests.

EventProp differentiates the continuous-time model below; the dt-step engine approximates
it. Finite differences of the discrete engine see a piecewise-constant loss, so gradient
tests compare EventProp with finite differences of *this* simulator (docs/design.md,
"EventProp").

Model, for every neuron j of a ``'lif'`` or ``'li'`` population (time in ms)::

    tau_mem dV/dt = -V + sum_k I_k          tau_k dI_k/dt = -I_k

with one current ``I_k`` per distinct ``tau_syn`` of the projections into the population.
An event of presynaptic neuron i at time s reaches j through synapse (i, j) at
``a = s + delay_ms`` and makes ``I_k`` jump by ``w`` (``w * x`` for a graded value x).
A ``'lif'`` neuron spikes at the exact time t* where V reaches ``v_thresh`` from below and
``V <- v_reset``; ``'li'`` neurons never spike. At t = 0, ``V = v_init`` and ``I = 0``.

Timing against the discrete engine: an input event of step k happens at ``(k + 1) * dt``;
``delay_ms = delay_steps * dt`` unless overridden; the engine's readout value of step n
(n = 0..T-1) is the sample ``V(t_n)``, ``t_n = (n + 1) * dt``.

Closed form. A unit jump of ``I_k`` at s = 0 moves V by
``g_k(s) = tau_k / (tau_k - tau_m) (exp(-s/tau_k) - exp(-s/tau_m))``, evaluated without
cancellation as ``(s/tau_m) exp(-s/tau_m) expm1(z)/z``, ``z = s (1/tau_m - 1/tau_k)``, for
small ``|z|``; ``tau_k == tau_m`` is the limit ``(s/tau_m) exp(-s/tau_m)``. A spike at t*
(``V(t*) = v_thresh``) is a jump ``v_reset - v_thresh`` of V. Samples add every event into
the first sample at or after it in closed form and carry ``(V, I)`` between samples with
the exact propagator over dt.

Spike times. Arrivals and threshold crossings are processed in time order from a priority
queue; at equal times all arrivals come before threshold checks. After each change of a
neuron's state its next crossing is searched on ``f(s) = V(s) - v_thresh``, a sum of terms
``p(s) e^{r s}``: by Rolle's theorem the zeros of ``f'`` (found recursively: each
derivative of ``e^{-r0 s} f`` has one term fewer) cut the interval into monotone pieces;
the first piece whose end reaches the threshold holds the crossing (also one that only
touches it), found by Brent's method to ~1e-13 ms.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from delayprop.errors import ConfigError, DataError, FiniteDifferenceError
from delayprop.graph import NetworkGraph
from delayprop.reference._exact_neuron import _first_crossing, _Pop
from delayprop.reference.brian2_sim import check_inputs

# FiniteDifferenceError lives in delayprop.errors (the error family); it is re-exported here
__all__ = ["ExactResult", "FiniteDifferenceError", "READOUTS", "simulate_exact",
           "readout_logits", "loss_from_samples", "exact_loss", "finite_difference"]

#: Readouts of :func:`exact_loss`; all but ``'sum_squared'`` feed a softmax cross-entropy.
READOUTS = ("sum", "mean", "max", "exp_weighted", "sum_squared")
_MAX_SPIKES = 1_000_000          # per batch instance; more means runaway activity


@dataclass(frozen=True)
class ExactResult:
    """Result of :func:`simulate_exact`.

    Attributes
    ----------
    spike_times : dict of str to list of (ndarray, ndarray)
        Per ``'lif'`` and ``'spike_source'`` population, one ``(times_ms, ids)`` pair per
        batch instance, sorted by time then id (float64 ms, int64).
    samples : dict of str to ndarray
        Per ``'lif'``/``'li'`` population, ``V(t_n)`` as ``[batch, num_steps, size]``;
        at a spike time the value after the reset.
    currents_at_spikes : dict of str to list of ndarray
        Per ``'lif'`` population and instance, the total current ``sum_k I_k`` of the
        spiking neuron at its spike time (after arrivals at that time), aligned with
        ``spike_times``.
    sample_times : ndarray
        ``t_n = (n + 1) * dt`` in ms.
    """
    spike_times: dict
    samples: dict
    currents_at_spikes: dict
    sample_times: NDArray[np.float64]


# ------------------------------------------------------------------------------- validation
def _resolve_parameters(graph: NetworkGraph, weights, delays_ms) -> dict:
    """``{projection: (weights, delays_ms)}`` as float64 arrays, overrides applied."""
    out = {p.name: [p.weight.astype(np.float64), p.delay * float(graph.dt)]
           for p in graph.projections}
    for label, override, pos in (("weights", weights, 0), ("delays_ms", delays_ms, 1)):
        for name, values in (override or {}).items():
            if name not in out:
                raise ConfigError(f"{label}: '{name}' is not a projection; known: "
                                  f"{sorted(out)}")
            arr, n = np.asarray(values, dtype=np.float64), len(out[name][0])
            if arr.shape != (n,) or not np.all(np.isfinite(arr)):
                raise ConfigError(f"{label}['{name}']: expected {n} finite values (one per "
                                  f"synapse), got shape {arr.shape}")
            if pos == 1 and n and arr.min() < 0.0:
                raise ConfigError(f"delays_ms['{name}']: delays must be >= 0 ms, got "
                                  f"{arr.min()!r} at synapse {int(arr.argmin())}")
            out[name][pos] = arr
    return out


def _build_pops(graph: NetworkGraph) -> dict:
    pops = {}
    for p in graph.populations:
        if p.kind not in ("lif", "li"):
            continue
        theta = float(p.v_thresh) if p.kind == "lif" else math.inf
        if p.kind == "lif" and not (p.v_reset < theta and p.v_init < theta):
            raise ConfigError(f"population '{p.name}': the continuous model needs "
                              f"v_reset < v_thresh and v_init < v_thresh, got v_reset="
                              f"{p.v_reset}, v_init={p.v_init}, v_thresh={theta}")
        taus = tuple(sorted({float(q.tau_syn) for q in graph.incoming(p.name)}))
        pops[p.name] = _Pop(p.kind, int(p.size), float(p.tau_mem), theta, float(p.v_reset),
                            float(p.v_init), taus)
    return pops


def _input_events(graph: NetworkGraph, inputs, num_steps: int) -> tuple[int, dict]:
    """Validate ``inputs`` (as :func:`~delayprop.reference.brian2_sim.check_inputs`); return
    the batch size and ``{pop: [(times_ms, ids, values)] per instance}``."""
    batch, checked = check_inputs(graph, inputs, num_steps)
    dt, events = float(graph.dt), {}
    for name, value in checked.items():
        if graph.population(name).kind == "spike_source":
            events[name] = [((steps + 1) * dt, ids, np.ones(len(ids))) for steps, ids in value]
        else:
            events[name] = []
            for x in value:
                steps, ids = np.nonzero(x)
                events[name].append(((steps + 1) * dt, ids.astype(np.int64), x[steps, ids]))
    return batch, events


# ------------------------------------------------------------------------------- simulation
def _concat(chunks: list) -> tuple:
    """Concatenate ``(time, neuron, int, float)`` array 4-tuples (none: empty arrays)."""
    seed = (np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return tuple(np.concatenate([s, *(c[i] for c in chunks)]).astype(s.dtype)
                 for i, s in enumerate(seed))


class _Network:
    """Per-call constants: populations, resolved parameters, fan-out of every projection."""

    def __init__(self, graph: NetworkGraph, num_steps: int, weights, delays_ms):
        self.graph, self.num_steps = graph, int(num_steps)
        self.t_end = self.num_steps * float(graph.dt)
        self.sample_times = (np.arange(self.num_steps) + 1) * float(graph.dt)
        self.pops = _build_pops(graph)
        params = _resolve_parameters(graph, weights, delays_ms)
        self.fan_out = {}            # source -> [(proj, order, indptr, w, d, k)]
        self.lists = {}              # (source lif, neuron) -> [(d, target, post, k, w)]
        for proj in graph.projections:
            (w, d), k = params[proj.name], self.pops[proj.target].taus.index(proj.tau_syn)
            order = np.argsort(proj.pre, kind="stable")
            counts = np.bincount(proj.pre, minlength=graph.population(proj.source).size)
            indptr = np.concatenate([[0], np.cumsum(counts)])
            self.fan_out.setdefault(proj.source, []).append((proj, order, indptr, w, d, k))
            if graph.population(proj.source).kind == "lif":
                for i in range(len(counts)):
                    syn = order[indptr[i]:indptr[i + 1]]
                    self.lists.setdefault((proj.source, i), []).extend(
                        zip(d[syn].tolist(), [proj.target] * len(syn),
                            proj.post[syn].tolist(), [k] * len(syn), w[syn].tolist()))

    def input_arrivals(self, events: dict, b: int) -> dict:
        """Arrivals caused by instance b's input events: ``{target: [(a, post, k, amt)]}``."""
        out = {name: [] for name in self.pops}
        for src, per_instance in events.items():
            times, ids, vals = per_instance[b]
            for proj, order, indptr, w, d, k in self.fan_out.get(src, []):
                counts = indptr[ids + 1] - indptr[ids]
                ev = np.repeat(np.arange(len(ids)), counts)
                first = np.repeat(indptr[ids] - np.cumsum(counts) + counts, counts)
                syn = order[first + np.arange(len(ev))]
                a = times[ev] + d[syn]
                keep = a <= self.t_end
                out[proj.target].append((a[keep], proj.post[syn][keep],
                                         np.full(keep.sum(), k), (w[syn] * vals[ev])[keep]))
        return {name: _concat(chunks) for name, chunks in out.items()}


class _Instance:
    """Event loop of one batch instance over the lif populations.

    Heap entries: arrivals ``(a, 0, seq, pop, j, k, amount)`` and threshold crossings
    ``(t, 1, seq, pop, j, version)``; at equal times arrivals (0) pop first. A crossing is
    valid only if the neuron's state has not changed since it was computed (``version``).
    """

    def __init__(self, net: _Network, arrivals: dict, scale: dict | None = None):
        self.net, self.heap, self.arrivals = net, [], arrivals
        self.scale = scale or {}                           # pop -> [T, size] spike factors
        self.state = {n: ([p.v_init] * p.size, [[0.0] * len(p.taus) for _ in range(p.size)],
                          [0.0] * p.size, [0] * p.size, [math.inf] * p.size)
                      for n, p in net.pops.items() if p.kind == "lif"}
        self.spikes = {n: [] for n in self.state}          # (t, id, I, jump)
        self.late = {n: [] for n in net.pops}              # arrivals from lif spikes
        for target in self.state:
            a, post, k, amt = arrivals[target]
            order = np.lexsort((k, post, a))               # sum simultaneous arrivals
            a, post, k, amt = a[order], post[order], k[order], amt[order]
            new = np.ones(len(a), bool)
            new[1:] = (a[1:] != a[:-1]) | (post[1:] != post[:-1]) | (k[1:] != k[:-1])
            starts = np.flatnonzero(new)
            amt = np.add.reduceat(amt, starts) if len(a) else amt
            self.heap.extend(zip(a[starts].tolist(), [0] * len(starts),
                                 range(len(self.heap), len(self.heap) + len(starts)),
                                 [target] * len(starts), post[starts].tolist(),
                                 k[starts].tolist(), amt.tolist()))
        self.seq = len(self.heap)
        heapq.heapify(self.heap)

    def _advance(self, name: str, j: int, t: float) -> None:
        pop, (v, cur, tlast) = self.net.pops[name], self.state[name][:3]
        s = t - tlast[j]
        if s > 0.0:
            v[j] = pop.v_at(v[j], cur[j], s)
            cur[j] = [i_k * math.exp(-s / tk) for i_k, tk in zip(cur[j], pop.taus)]
            tlast[j] = t

    def _schedule(self, name: str, j: int, t: float) -> None:
        v, cur, _, version, pending = self.state[name]
        version[j] += 1
        s = _first_crossing(self.net.pops[name], v[j], cur[j], self.net.t_end - t)
        if s is not None and t + s > self.net.t_end:     # rounding at the horizon
            s = None
        pending[j] = math.inf if s is None else t + s
        if s is not None:
            self.seq += 1
            heapq.heappush(self.heap, (t + s, 1, self.seq, name, j, version[j]))

    def run(self) -> None:
        while self.heap:
            item = heapq.heappop(self.heap)
            t, kind, _, name, j = item[:5]
            cur, _, version, pending = self.state[name][1:]
            if kind == 0:
                self._advance(name, j, t)
                cur[j][item[5]] += item[6]
                # keep a crossing due now (V is continuous); inhibition cannot make one
                if pending[j] > t and (item[6] > 0.0 or pending[j] < math.inf):
                    self._schedule(name, j, t)
            elif item[5] == version[j]:
                self._spike(name, j, t)

    def _spike(self, name: str, j: int, t: float) -> None:
        v, cur = self.state[name][:2]
        self._advance(name, j, t)
        pop = self.net.pops[name]
        self.spikes[name].append((t, j, sum(cur[j]), pop.v_reset - v[j]))
        if len(self.spikes[name]) > _MAX_SPIKES:
            raise ConfigError(f"population '{name}' emitted more than {_MAX_SPIKES} spikes "
                              f"in one batch instance before {t:.6g} ms: runaway activity "
                              f"(check weights, recurrent zero delays and v_reset)")
        v[j] = pop.v_reset
        factor = 1.0
        if name in self.scale:        # the step whose interval (k dt, (k+1) dt] holds t
            table = self.scale[name]
            k_step = min(max(math.ceil(t / float(self.net.graph.dt) - 1e-9) - 1, 0),
                         len(table) - 1)
            factor = float(table[k_step, j])
        for d, target, post, k, w in self.net.lists.get((name, j), ()):
            if t + d <= self.net.t_end and factor != 0.0:
                self.late[target].append((t + d, post, k, w * factor))
                if target in self.state:
                    self.seq += 1
                    heapq.heappush(self.heap, (t + d, 0, self.seq, target, post, k,
                                               w * factor))
        self._schedule(name, j, t)

    def result(self, name: str) -> tuple:
        """``(samples [T, size], spike times, ids, currents)`` of one population."""
        late = [tuple(np.array(c) for c in zip(*self.late[name]))] if self.late[name] else []
        rec = np.array(self.spikes.get(name, []), dtype=float).reshape(-1, 4)
        rec = rec[np.lexsort((rec[:, 1], rec[:, 0]))]               # by time, then id
        spikes = rec[:, 0], rec[:, 1].astype(np.int64), rec[:, 3]
        samples = _samples(self.net.pops[name], self.net.sample_times, float(self.net.graph.dt),
                           _concat([self.arrivals[name], *late]), spikes)
        return samples, spikes[0], spikes[1], rec[:, 2]


def _samples(pop: _Pop, times: NDArray, dt: float, arrivals: tuple, spikes: tuple) -> NDArray:
    """Exact ``V(t_n)`` ``[T, size]`` from arrivals ``(a, post, k, amount)`` and resets
    ``(t*, id, jump)``: every event enters the first sample at or after it in closed form,
    then ``(V, I)`` is carried from sample to sample by the exact propagator over dt."""
    (a, post, k, amt), (t_s, ids, jump) = arrivals, spikes
    num, size, n_k, tm = len(times), pop.size, max(len(pop.taus), 1), pop.tau_m
    bins = np.searchsorted(times, a)
    lag = times[np.minimum(bins, num - 1)] - a
    taus = np.asarray(pop.taus + (1.0,))[k]
    d_i = np.bincount((bins * size + post) * n_k + k, amt * np.exp(-lag / taus),
                      num * size * n_k).reshape(num, size, n_k)
    g_lag = np.zeros(len(a))
    for kk in range(len(pop.taus)):
        g_lag[k == kk] = pop.g_array(kk, lag[k == kk])
    r_bins = np.searchsorted(times, t_s)
    d_v = (np.bincount(bins * size + post, amt * g_lag, num * size)
           + np.bincount(r_bins * size + ids, jump * np.exp(-(times[r_bins] - t_s) / tm),
                         num * size)).reshape(num, size)
    decay_v = math.exp(-dt / tm)
    decay_i = np.array([math.exp(-dt / tk) for tk in pop.taus] or [0.0])
    g_dt = np.array([pop.g(kk, dt) for kk in range(len(pop.taus))] or [0.0])
    out = np.empty((num, size))
    v, cur = np.full(size, pop.v_init * decay_v), np.zeros((size, n_k))
    for n in range(num):
        if n:
            v, cur = decay_v * v + cur @ g_dt, cur * decay_i
        v, cur = v + d_v[n], cur + d_i[n]
        out[n] = v
    return out


def simulate_exact(graph: NetworkGraph, inputs: Mapping, num_steps: int,
                   delays_ms: Mapping | None = None,
                   weights: Mapping | None = None,
                   spike_scale: Mapping | None = None) -> ExactResult:
    """Simulate ``graph`` exactly in continuous time (see the module docstring).

    Parameters
    ----------
    graph : NetworkGraph
        Network; ``graph.dt`` (ms) maps steps to times.
    inputs : dict
        Population name -> events, for every input population, as for
        :func:`~delayprop.reference.simulate_brian2`: ``'spike_source'``: a list (one entry
        per batch instance) of ``(steps, ids)`` integer arrays, an event of step k happening
        at ``(k + 1) * dt``; ``'graded_input'``: an array ``[batch, num_steps, size]``
        (nonzero = an event with that value).
    num_steps : int
        Number of samples T; samples are taken at ``t_n = (n + 1) * dt``.
    delays_ms : dict of str to array, optional
        Real-valued delays in ms per synapse of the named projections (default:
        ``delay_steps * dt``).
    weights : dict of str to array, optional
        Real-valued weights per synapse of the named projections.
    spike_scale : dict of str to array, optional
        Per ``'lif'`` population, ``[batch, num_steps, size]`` factors: a spike of neuron j
        at time t in ``(k dt, (k + 1) dt]`` reaches every synapse with its weight times
        ``spike_scale[b, k, j]`` (dropout: 0 or 1/(1-p)); the neuron resets either way.

    Returns
    -------
    ExactResult

    Raises
    ------
    ConfigError, DataError
        Malformed inputs (see :func:`~delayprop.reference.brian2_sim.check_inputs`), bad
        overrides, ``v_reset``/``v_init`` not below ``v_thresh``, runaway spiking.

    Examples
    --------
    >>> from delayprop.graph import NeuronGroup, Projection, NetworkGraph
    >>> g = NetworkGraph([NeuronGroup("in", 1, "spike_source"),
    ...                   NeuronGroup("out", 1, "li", tau_mem=20.0)],
    ...                  [Projection("p", "in", "out", [0], [0], [1.0], [0], 1, 5.0)])
    >>> r = simulate_exact(g, {"in": [([0], [0])]}, num_steps=3)
    >>> r.samples["out"].shape
    (1, 3, 1)
    """
    batch, events = _input_events(graph, inputs, num_steps)
    net = _Network(graph, num_steps, weights, delays_ms)
    scales = _check_scale(graph, spike_scale, batch, net)
    samples = {n: np.empty((batch, net.num_steps, p.size)) for n, p in net.pops.items()}
    spikes = {n: [] for n, p in net.pops.items() if p.kind == "lif"}
    currents = {n: [] for n in spikes}
    for b in range(batch):
        inst = _Instance(net, net.input_arrivals(events, b),
                         {n: a[b] for n, a in scales.items()})
        inst.run()
        for name in net.pops:
            samples[name][b], t_s, ids, cur = inst.result(name)
            if name in spikes:
                spikes[name].append((t_s, ids))
                currents[name].append(cur)
    for name, per_instance in events.items():
        if graph.population(name).kind == "spike_source":
            spikes[name] = [(t, i) for t, i, _ in per_instance]    # sorted by check_inputs
    return ExactResult(spikes, samples, currents, net.sample_times)


def _check_scale(graph: NetworkGraph, spike_scale, batch: int, net: _Network) -> dict:
    out = {}
    for name, values in (spike_scale or {}).items():
        pop = net.pops.get(name)
        if pop is None or pop.kind != "lif":
            raise ConfigError(f"spike_scale: '{name}' is not a 'lif' population")
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (batch, net.num_steps, pop.size) or not np.all(np.isfinite(arr)):
            raise ConfigError(f"spike_scale['{name}']: expected finite values of shape "
                              f"{(batch, net.num_steps, pop.size)}, got {arr.shape}")
        out[name] = arr
    return out


# ----------------------------------------------------------------------------------- losses
def readout_logits(samples: NDArray, readout: str, dt: float) -> NDArray[np.float64]:
    """Logits ``z [batch, size]`` from readout samples ``[batch, T, size]``.

    ``'sum'``: ``sum_n V(t_n)``; ``'mean'``: ``(1/T) sum_n V(t_n)``; ``'max'``:
    ``max_n V(t_n)``; ``'exp_weighted'``: ``(1/T) sum_n exp(-n dt / (T dt)) V(t_n)``
    (weight at the engine's time ``n * dt`` of step n).
    """
    samples = np.asarray(samples, dtype=np.float64)
    num = samples.shape[1]
    weight = {"sum": np.ones(num), "mean": np.full(num, 1.0 / num),
              "exp_weighted": np.exp(-(np.arange(num) * dt) / (num * dt)) / num}
    if readout == "max":
        return samples.max(axis=1)
    if readout not in weight:
        raise ConfigError(f"readout must be one of {READOUTS[:4]} for logits, got {readout!r}")
    return np.einsum("n,bno->bo", weight[readout], samples)


def loss_from_samples(samples: NDArray, labels, readout: str, dt: float) -> float:
    """Loss of readout samples ``[batch, T, size]``, averaged over the batch.

    ``'sum_squared'``: ``0.5 sum_n sum_o V_o(t_n)^2`` (``labels`` ignored); otherwise the
    softmax cross-entropy ``-z_y + logsumexp(z)`` of :func:`readout_logits` with label y.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if readout not in READOUTS:
        raise ConfigError(f"readout must be one of {READOUTS}, got {readout!r}")
    if readout == "sum_squared":
        return float(0.5 * np.mean(np.sum(samples ** 2, axis=(1, 2))))
    labels = np.asarray(labels) if labels is not None else None
    batch, _, size = samples.shape
    if (labels is None or labels.shape != (batch,) or not np.issubdtype(labels.dtype, np.integer)
            or (batch and (labels.min() < 0 or labels.max() >= size))):
        raise DataError(f"labels: expected {batch} integers in [0, {size}) for readout "
                        f"'{readout}', got {None if labels is None else labels.tolist()}")
    z = readout_logits(samples, readout, dt)
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    return float(np.mean(lse - z[np.arange(batch), labels]))


def _check_readout(graph: NetworkGraph, name: str, readout: str) -> None:
    kinds = {p.name: p.kind for p in graph.populations}
    if kinds.get(name) not in ("lif", "li"):
        raise ConfigError(f"readout_population must be a 'lif' or 'li' population, got "
                          f"{name!r} (kind {kinds.get(name)}); candidates: "
                          f"{[n for n, k in kinds.items() if k in ('lif', 'li')]}")
    if readout not in READOUTS:
        raise ConfigError(f"readout must be one of {READOUTS}, got {readout!r}")


def exact_loss(graph: NetworkGraph, inputs: Mapping, num_steps: int, labels,
               readout_population: str, readout: str = "sum",
               delays_ms: Mapping | None = None, weights: Mapping | None = None,
               spike_scale: Mapping | None = None) -> float:
    """Loss of the exact simulation (mean over the batch).

    Parameters
    ----------
    graph, inputs, num_steps, delays_ms, weights, spike_scale
        As for :func:`simulate_exact`.
    labels : array of int, shape [batch], or None
        Class per instance (ignored for ``'sum_squared'``).
    readout_population : str
        A ``'lif'`` or ``'li'`` population whose samples ``V(t_n)`` are read out.
    readout : {'sum', 'mean', 'max', 'exp_weighted', 'sum_squared'}
        See :func:`loss_from_samples`.

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        Unknown readout or readout population; see also :func:`simulate_exact`.
    DataError
        Labels of the wrong shape or range.
    """
    _check_readout(graph, readout_population, readout)
    result = simulate_exact(graph, inputs, num_steps, delays_ms=delays_ms, weights=weights,
                            spike_scale=spike_scale)
    return loss_from_samples(result.samples[readout_population], labels, readout, graph.dt)


def _spike_counts(graph: NetworkGraph, result: ExactResult) -> dict:
    return {n: np.array([np.bincount(i, minlength=graph.population(n).size) for _, i in v])
            for n, v in result.spike_times.items() if graph.population(n).kind == "lif"}


def finite_difference(graph: NetworkGraph, inputs: Mapping, num_steps: int, labels,
                      readout_population: str, readout: str, projection: str,
                      parameter: str = "weight", indices=None, eps: float | None = None,
                      *, delays_ms: Mapping | None = None, weights: Mapping | None = None,
                      check_kinks: bool = True,
                      spike_scale: Mapping | None = None) -> NDArray[np.float64]:
    """Central finite differences of :func:`exact_loss` per synapse of one projection.

    Parameters
    ----------
    graph, inputs, num_steps, labels, readout_population, readout, delays_ms, weights
        As for :func:`exact_loss`; ``delays_ms``/``weights`` are the point of expansion.
    spike_scale : dict, optional
        As for :func:`simulate_exact`: the same (dropout) factors for every evaluation.
    projection : str
        Name of the projection whose synapses are perturbed.
    parameter : {'weight', 'delay'}
        ``dL/dw`` (per unit weight) or ``dL/d(delay)`` per ms of delay.
    indices : array of int, optional
        Synapse indices (default: all).
    eps : float, optional
        Step: default ``1e-6 * max(1, |w|)`` for weights, ``1e-6`` ms for delays.
    check_kinks : bool
        For delays, refuse an arrival within ``4 eps`` of a sample time: V(t_n) has a kink
        there (V' jumps with I), so a central difference would average two one-sided slopes.
        Offset delays by a fraction of dt to avoid it.

    Returns
    -------
    ndarray, shape [len(indices)]

    Raises
    ------
    FiniteDifferenceError
        A spike appears or vanishes within ``+-eps`` (choose another seed or a smaller eps),
        or (``check_kinks``) an arrival sits on a sample time.
    ConfigError
        Unknown projection/parameter, bad indices or eps, a delay smaller than eps.
    """
    names = [p.name for p in graph.projections]
    if projection not in names or parameter not in ("weight", "delay"):
        raise ConfigError(f"projection must be one of {names} and parameter 'weight' or "
                          f"'delay', got {projection!r} and {parameter!r}")
    if eps is not None and not (np.isfinite(eps) and eps > 0):
        raise ConfigError(f"eps must be a finite number > 0, got {eps!r}")
    _check_readout(graph, readout_population, readout)
    proj = graph.projections[names.index(projection)]
    idx = np.arange(proj.num_synapses) if indices is None else np.asarray(indices).reshape(-1)
    if idx.size and (not np.issubdtype(idx.dtype, np.integer)
                     or idx.min() < 0 or idx.max() >= proj.num_synapses):
        raise ConfigError(f"indices must be integers in [0, {proj.num_synapses}) for "
                          f"projection '{projection}', got {idx.tolist()[:5]}")
    params = _resolve_parameters(graph, weights, delays_ms)
    point = {"weight": {n: p[0] for n, p in params.items()},
             "delay": {n: p[1] for n, p in params.items()}}
    base = simulate_exact(graph, inputs, num_steps, delays_ms=point["delay"],
                          weights=point["weight"], spike_scale=spike_scale)
    loss_from_samples(base.samples[readout_population], labels, readout, graph.dt)
    grads = np.empty(len(idx))
    for out, syn in enumerate(idx):
        value = point[parameter][projection][syn]
        h = eps or (1e-6 * max(1.0, abs(value)) if parameter == "weight" else 1e-6)
        if parameter == "delay":
            _check_delay_step(graph, inputs, base, proj, syn, value, h, check_kinks)
        losses = []
        for step in (h, -h):
            moved = {**point, parameter: {n: a.copy() for n, a in point[parameter].items()}}
            moved[parameter][projection][syn] = value + step
            res = simulate_exact(graph, inputs, num_steps, delays_ms=moved["delay"],
                                 weights=moved["weight"], spike_scale=spike_scale)
            now, before = _spike_counts(graph, res), _spike_counts(graph, base)
            changed = [n for n in now if not np.array_equal(now[n], before[n])]
            if changed:
                raise FiniteDifferenceError(
                    f"{parameter} of synapse {syn} of '{projection}' {value!r} {step:+.3g}: "
                    f"spike counts of {changed} change, so the loss is discontinuous here; "
                    f"choose another seed or a smaller eps")
            losses.append(loss_from_samples(res.samples[readout_population], labels,
                                            readout, graph.dt))
        grads[out] = (losses[0] - losses[1]) / (2.0 * h)
    return grads


def _check_delay_step(graph, inputs, base, proj, syn, value, h, check_kinks):
    if value < h:
        raise ConfigError(f"delay of synapse {syn} of '{proj.name}' is {value!r} ms < eps "
                          f"{h!r}; central differences need delays >= eps")
    src, pre = graph.population(proj.source), int(proj.pre[syn])
    if src.kind == "graded_input":
        x = np.asarray(inputs[src.name], dtype=np.float64)[:, :, pre]
        emitted = [(np.flatnonzero(row) + 1) * float(graph.dt) for row in x]
    else:
        emitted = [t[i == pre] for t, i in base.spike_times[src.name]]
    for b, times in enumerate(emitted if check_kinks else []):
        lag = (times + value)[:, None] - base.sample_times[None, :]
        if lag.size and np.min(np.abs(lag)) < 4 * h:
            raise FiniteDifferenceError(
                f"synapse {syn} of '{proj.name}': an arrival (instance {b}) lies within "
                f"{4 * h:.3g} ms of a sample time, where V(t_n) has a kink in the delay; "
                f"offset the delays by a fraction of dt (e.g. delays_ms = (d + 0.37) * dt) "
                f"or pass check_kinks=False to get the mean of the one-sided slopes")
