"""Independent re-simulation of a :class:`~delayprop.graph.NetworkGraph` in Brian2.

This is delayprop's second opinion: it shares no code with delayprop's own generator and
runtime, only the network description, and reproduces the discrete step order of
docs/design.md ("Step order"), which is GeNN 5's, exactly. It validates exports and the
engine.

Step order to reproduce (GeNN, step ``k``, ``t = k dt``)::

    synapse phase   spikes of step k-1:  ring[(k + d) mod D][post] += w   (w*x for graded)
    postsynaptic    linSyn = inSyn + ring[k mod D];  ring slot cleared
                    Isyn  += init * linSyn;  inSyn = linSyn * decay     (per incoming group)
    neuron          V = alpha*V + (1 - alpha)*Isyn;  V >= v_thresh -> spike, V = v_reset

    init = (tau_syn/dt) (1 - exp(-dt/tau_syn)),  decay = exp(-dt/tau_syn),
    alpha = exp(-dt/tau_mem).   A spike of step k enters Isyn in step k + 1 + d.

Mapping onto Brian2 (one time step of Brian2's schedule ``start, groups, thresholds,
synapses, resets, end``; every object has ``dt = graph.dt`` ms; all variables unitless,
float64; code target ``numpy`` by default, no compilation):

================================  =======================================================
GeNN / docs/design.md             Brian2 construct
================================  =======================================================
ring slot read in step k          per incoming projection ``p`` of a population, a neuron
(``ring[k mod D]``)               variable ``r_p``: the arrivals destined for the next
                                  neuron update, summed from 0 like a ring slot
``inSyn`` of group p              neuron variable ``g_p``
postsynaptic + neuron phase       ``run_regularly`` at ``when='groups'``:
                                  ``g_p = g_p + r_p; r_p = 0`` (linSyn),
                                  ``Isyn = sum_p init_p*g_p``, ``g_p = g_p*decay_p``,
                                  ``V = alpha*V + (1.0 - alpha)*Isyn``
threshold / reset                 ``threshold='V >= v_thresh'`` (slot ``thresholds``),
                                  ``reset='V = v_reset'`` (slot ``resets``); ``li``: none
synapse with delay d (steps)      ``Synapses(on_pre='r_p_post += w')`` with per-synapse
                                  ``delay = d*dt``. Brian2 runs ``on_pre`` in the
                                  ``synapses`` slot of step ``k + d`` (k = spike step, after
                                  the threshold of step k), so the next neuron update, in
                                  step ``k + d + 1``, takes it in: ``k + 1 + d`` as in GeNN.
``spike_source``                  ``SpikeGeneratorGroup`` with times ``step * dt``
``graded_input`` (value x, k)     ``NeuronGroup`` with ``threshold='xin(t, i) != 0'`` on a
                                  2-D ``TimedArray`` ``xin[step, neuron]``; ``on_pre`` is
                                  ``r_p_post += w * xin(t - d_steps*dt, i_pre)``: Brian2
                                  evaluates a delayed ``on_pre`` at delivery time, so the
                                  value is looked up at the emission step, never at k + d.
V at the end of step k            ``StateMonitor(when='end')`` (after resets)
spikes of step k                  ``SpikeMonitor``; step = round(t / dt)
batch instance b                  one copy of every population and synapse; neuron ``i``
                                  of instance ``b`` is Brian2 neuron ``b*size + i``
================================  =======================================================

Reading ``r_p`` into ``g_p`` at the start of the next update instead of adding into a ring at
``(k + d) mod D`` is GeNN's ring with the pointer advanced at the end of a step, which the
GeNN reference notes call equivalent. Sums are taken in another order than GeNN's, so V
agrees to rounding (1e-15 relative), not bit for bit; spikes agree exactly unless a
threshold test falls within rounding of ``v_thresh``.

Brian2 2.9 (the newest release for Python 3.11) reads ``numpy.ndarray.ptp``, which NumPy
2.4 removed; :func:`_import_brian2` patches that one line at import time when needed.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from delayprop.errors import ConfigError, DataError, SimulationError
from delayprop.graph import NetworkGraph, NeuronGroup, Projection

__all__ = ["Brian2Result", "simulate_brian2", "check_inputs", "syn_constants"]

logger = logging.getLogger(__name__)

INPUT_KINDS = ("spike_source", "graded_input")
_CODEGEN_TARGETS = ("numpy", "cython")

SpikeTrain = tuple[NDArray[np.int64], NDArray[np.int64]]


@dataclass
class Brian2Result:
    """What :func:`simulate_brian2` recorded.

    Attributes
    ----------
    spikes : dict of str to list of (steps, ids)
        For every ``lif`` population, one ``(steps, ids)`` pair of int64 arrays per batch
        instance, sorted by step, then id.
    v : dict of str to ndarray
        For every population in ``record_v``: V at the end of each step (after reset),
        shape ``[batch, num_steps, size]``.
    num_steps : int
    dt : float
        Step in ms.
    """
    spikes: dict[str, list[SpikeTrain]] = field(default_factory=dict)
    v: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    num_steps: int = 0
    dt: float = 1.0

    @property
    def batch_size(self) -> int:
        for trains in self.spikes.values():
            return len(trains)
        for v in self.v.values():
            return v.shape[0]
        return 0


def syn_constants(tau_syn: float, dt: float) -> tuple[float, float]:
    """``(init, decay)`` of GeNN's ``ExpCurr``, evaluated in GeNN's operation order.

    ``decay = exp(-dt/tau_syn)``, ``init = (tau_syn * (1 - exp(-dt/tau_syn))) * (1/dt)``.
    """
    decay = float(np.exp(-dt / tau_syn))
    return (tau_syn * (1.0 - decay)) * (1.0 / dt), decay


# --------------------------------------------------------------------------- input checks

def _whole_numbers(arr: Any, what: str) -> NDArray[np.int64]:
    a = np.asarray(arr)
    if a.ndim != 1:
        raise DataError(f"{what} must be a 1-D array, got shape {a.shape}")
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        return a.astype(np.int64)
    raise DataError(f"{what} must hold whole numbers, got dtype {a.dtype} "
                    f"(e.g. {a.ravel()[:3].tolist()}); round explicitly before passing")


def _check_spike_instance(pop: NeuronGroup, b: int, entry: Any, num_steps: int) -> SpikeTrain:
    where = f"input '{pop.name}', batch instance {b}"
    if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
        raise DataError(f"{where}: expected a (steps, ids) pair, got {type(entry).__name__}")
    steps = _whole_numbers(entry[0], f"{where}: steps")
    ids = _whole_numbers(entry[1], f"{where}: ids")
    if len(steps) != len(ids):
        raise DataError(f"{where}: {len(steps)} steps but {len(ids)} ids; "
                        f"they must pair up one to one")
    if len(ids) and (ids.min() < 0 or ids.max() >= pop.size):
        raise DataError(f"{where}: ids must lie in [0, {pop.size}), got "
                        f"[{ids.min()}, {ids.max()}]")
    if len(steps) and (steps.min() < 0 or steps.max() >= num_steps):
        raise DataError(f"{where}: steps must lie in [0, {num_steps}) for a {num_steps}-step "
                        f"trial, got [{steps.min()}, {steps.max()}]")
    keys = steps * max(pop.size, 1) + ids
    uniq, counts = np.unique(keys, return_counts=True)
    if len(uniq) != len(keys):
        dup = uniq[counts > 1][0]
        raise DataError(f"{where}: neuron {dup % max(pop.size, 1)} spikes twice in step "
                        f"{dup // max(pop.size, 1)}; a neuron emits at most one spike per step")
    order = np.lexsort((ids, steps))
    return steps[order], ids[order]


def _check_one_input(pop: NeuronGroup, value: Any, num_steps: int):
    if pop.kind == "spike_source":
        if isinstance(value, np.ndarray) or not isinstance(value, (list, tuple)):
            raise DataError(f"input '{pop.name}' (spike_source): expected a list with one "
                            f"(steps, ids) pair per batch instance, got "
                            f"{type(value).__name__}")
        return [_check_spike_instance(pop, b, e, num_steps) for b, e in enumerate(value)]
    x = np.asarray(value, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (num_steps, pop.size):
        raise DataError(f"input '{pop.name}' (graded_input): expected shape "
                        f"[batch, {num_steps}, {pop.size}], got {list(x.shape)}")
    if not np.all(np.isfinite(x)):
        raise DataError(f"input '{pop.name}' (graded_input): values must be finite; found "
                        f"{int(np.sum(~np.isfinite(x)))} NaN/inf")
    return x


def check_inputs(graph: NetworkGraph, inputs: Mapping[str, Any],
                 num_steps: int) -> tuple[int, dict[str, Any]]:
    """Validate ``inputs`` for ``graph`` and return ``(batch_size, normalised inputs)``.

    Spike inputs come back as lists of sorted int64 ``(steps, ids)``; graded inputs as
    float64 arrays ``[batch, num_steps, size]``.

    Raises
    ------
    ConfigError
        ``num_steps`` is not a whole number >= 1, a key is not an input population of the
        graph, or an input population has no entry.
    DataError
        Wrong container, shape, ids or steps out of range, duplicate spikes, batch sizes
        that differ between populations.
    """
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1:
        raise ConfigError(f"num_steps must be a whole number >= 1, got {num_steps!r}")
    if not isinstance(inputs, Mapping):
        raise DataError(f"inputs must be a dict population name -> data, got "
                        f"{type(inputs).__name__}")
    in_pops = {p.name: p for p in graph.populations if p.kind in INPUT_KINDS}
    unknown = sorted(set(inputs) - set(in_pops))
    if unknown:
        raise ConfigError(f"inputs name {unknown}, which are not input populations of the "
                          f"graph; input populations: {sorted(in_pops)}")
    missing = sorted(set(in_pops) - set(inputs))
    if missing:
        raise ConfigError(f"no input given for input population(s) {missing}; pass an empty "
                          f"spike list or zeros for a population that should stay silent")
    out, batches = {}, {}
    for name, pop in in_pops.items():
        out[name] = _check_one_input(pop, inputs[name], int(num_steps))
        batches[name] = len(out[name])
    if len(set(batches.values())) > 1:
        raise DataError(f"inputs disagree on the batch size: {batches}")
    batch = next(iter(batches.values()), 1)
    if batch < 1:
        raise DataError(f"inputs hold no batch instance (batch size 0): {batches}")
    return batch, out


def _check_record(graph: NetworkGraph, record_v: Sequence[str]) -> tuple[str, ...]:
    if isinstance(record_v, str):
        record_v = (record_v,)
    names = {p.name: p for p in graph.populations}
    for name in record_v:
        if name not in names or names[name].kind not in ("lif", "li"):
            valid = sorted(n for n, p in names.items() if p.kind in ("lif", "li"))
            raise ConfigError(f"record_v: '{name}' is not a lif/li population of the graph; "
                              f"choose from {valid}")
    return tuple(dict.fromkeys(record_v))


# --------------------------------------------------------------------------- brian2 import

_PTP_OLD = "ptp = wrap_function_keep_dimensions(np.ndarray.ptp)"
_PTP_NEW = "ptp = wrap_function_keep_dimensions(np.ptp)"
_PATCHED = "brian2.units.fundamentalunits"


class _PtpLoader(importlib.machinery.SourceFileLoader):
    """Loads brian2's fundamentalunits with the NumPy >= 2.4 ``ndarray.ptp`` line fixed."""

    def get_code(self, fullname):          # bypass the .pyc so the patch always applies
        source = importlib.util.decode_source(self.get_data(self.path))
        return compile(source.replace(_PTP_OLD, _PTP_NEW), self.path, "exec",
                       dont_inherit=True)


class _PtpFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _PATCHED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _PtpLoader(fullname, spec.origin)
        return spec


@contextlib.contextmanager
def _quiet_pyparsing():
    """brian2 2.9 calls pyparsing names that pyparsing 3.3 deprecates; hide only those."""
    with warnings.catch_warnings():
        for module in ("pyparsing", "brian2"):
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        yield


def _import_brian2():
    """Import brian2, working around its use of ``numpy.ndarray.ptp`` on NumPy >= 2.4."""
    if "brian2" in sys.modules or hasattr(np.ndarray, "ptp"):
        with _quiet_pyparsing():
            import brian2
        return brian2
    finder = _PtpFinder()
    sys.meta_path.insert(0, finder)
    try:
        with _quiet_pyparsing():
            import brian2
    except ImportError as err:
        raise ConfigError(f"simulate_brian2 needs brian2 (pip install 'delayprop[validation]')"
                          f"; importing it failed: {err}") from err
    finally:
        sys.meta_path.remove(finder)
    return brian2


@contextlib.contextmanager
def _brian2_prefs(b2, target: str):
    """Set brian2's code target and float64 for one run, then restore the user's prefs."""
    prefs = b2.prefs
    saved = (prefs.codegen.target, prefs.core.default_float_dtype)
    prefs.codegen.target = target
    prefs.core.default_float_dtype = np.float64
    try:
        with _quiet_pyparsing():
            yield
    finally:
        prefs.codegen.target, prefs.core.default_float_dtype = saved


# --------------------------------------------------------------------------- network build

def _update_code(incoming: list[int]) -> str:
    """Postsynaptic + neuron phase for one population, GeNN order (see module docstring)."""
    lines = []
    for k in incoming:
        lines += [f"g_{k} = g_{k} + r_{k}", f"r_{k} = 0"]
    lines.append("Isyn = " + (" + ".join(f"init_{k}*g_{k}" for k in incoming) or "0"))
    lines += [f"g_{k} = g_{k}*decay_{k}" for k in incoming]
    lines.append("V = alpha*V + (1.0 - alpha)*Isyn")
    return "\n".join(lines)


def _neuron_group(b2, pop: NeuronGroup, incoming: list[tuple[int, Projection]],
                  batch: int, dt: float, clock_dt, name: str):
    ks = [k for k, _ in incoming]
    model = "V : 1\nIsyn : 1\n" + "".join(f"g_{k} : 1\nr_{k} : 1\n" for k in ks)
    ns = {"alpha": float(np.exp(-dt / pop.tau_mem))}
    for k, proj in incoming:
        ns[f"init_{k}"], ns[f"decay_{k}"] = syn_constants(proj.tau_syn, dt)
    kwargs = {}
    if pop.kind == "lif":
        ns.update(v_thresh=float(pop.v_thresh), v_reset=float(pop.v_reset))
        kwargs = dict(threshold="V >= v_thresh", reset="V = v_reset")
    group = b2.NeuronGroup(batch * pop.size, model, dt=clock_dt, namespace=ns,
                           name=name, **kwargs)
    group.V = float(pop.v_init)
    group.run_regularly(_update_code(ks), when="groups", order=0)
    return group


def _safe(name: str) -> str:
    """A Brian2 object-name fragment from a population/projection name (letters, _)."""
    return "".join(c if c.isalnum() else "_" for c in name)


def _input_group(b2, pop: NeuronGroup, data, batch: int, dt: float, clock_dt, name: str):
    n = pop.size
    if pop.kind == "spike_source":
        idx = np.concatenate([ids + b * n for b, (_, ids) in enumerate(data)] or [[]])
        steps = np.concatenate([s for s, _ in data] or [[]])
        group = b2.SpikeGeneratorGroup(batch * n, idx.astype(np.int64),
                                       steps.astype(np.float64) * dt * b2.ms, dt=clock_dt,
                                       name=name)
        return group, {}
    # graded: xin[step, b*n + i]
    table = np.ascontiguousarray(np.transpose(data, (1, 0, 2)).reshape(data.shape[1], -1))
    xin = b2.TimedArray(table, dt=clock_dt)
    ns = {"xin": xin}
    group = b2.NeuronGroup(batch * n, "", threshold="xin(t, i) != 0", reset="", dt=clock_dt,
                           namespace=ns, name=name)
    return group, ns


def _synapses(b2, k: int, proj: Projection, pre_group, post_group, pre_ns, pop_sizes,
              batch: int, clock_dt):
    graded = "xin" in pre_ns
    model = "w : 1\nd_steps : integer" if graded else "w : 1"
    on_pre = (f"r_{k}_post += w * xin(t - d_steps*dt, i_pre)" if graded
              else f"r_{k}_post += w")
    syn = b2.Synapses(pre_group, post_group, model, on_pre=on_pre, dt=clock_dt,
                      namespace=dict(pre_ns), name=f"proj_{k}_{_safe(proj.name)}")
    n_pre, n_post = pop_sizes[proj.source], pop_sizes[proj.target]
    offs = np.arange(batch, dtype=np.int64)[:, None]
    syn.connect(i=(proj.pre[None, :] + offs * n_pre).ravel(),
                j=(proj.post[None, :] + offs * n_post).ravel())
    syn.w = np.tile(proj.weight, batch)
    delays = np.tile(proj.delay, batch)
    syn.delay = delays.astype(np.float64) * clock_dt
    if graded:
        syn.d_steps = delays
    return syn


def _build(b2, graph: NetworkGraph, batch: int, data: dict, record_v: tuple[str, ...]):
    dt = float(graph.dt)
    clock_dt = dt * b2.ms
    sizes = {p.name: p.size for p in graph.populations}
    live = [(k, p) for k, p in enumerate(graph.projections)
            if p.num_synapses and sizes[p.source] and sizes[p.target]]
    groups, namespaces, objects = {}, {}, []
    for idx, pop in enumerate(graph.populations):
        if pop.size == 0:
            continue
        name = f"pop{idx}_{_safe(pop.name)}"
        if pop.kind in INPUT_KINDS:
            groups[pop.name], namespaces[pop.name] = _input_group(
                b2, pop, data[pop.name], batch, dt, clock_dt, name)
        else:
            incoming = [(k, p) for k, p in live if p.target == pop.name]
            groups[pop.name] = _neuron_group(b2, pop, incoming, batch, dt, clock_dt, name)
            namespaces[pop.name] = {}
        objects.append(groups[pop.name])
    for k, proj in live:
        objects.append(_synapses(b2, k, proj, groups[proj.source], groups[proj.target],
                                 namespaces[proj.source], sizes, batch, clock_dt))
    spike_mons = {p.name: b2.SpikeMonitor(groups[p.name]) for p in graph.populations
                  if p.kind == "lif" and p.size}
    v_mons = {name: b2.StateMonitor(groups[name], "V", record=True, when="end", dt=clock_dt)
              for name in record_v if sizes[name]}
    net = b2.Network(objects, list(spike_mons.values()), list(v_mons.values()))
    return net, spike_mons, v_mons


def _collect(graph: NetworkGraph, batch: int, num_steps: int, spike_mons, v_mons,
             record_v) -> Brian2Result:
    dt_s = graph.dt * 1e-3
    result = Brian2Result(num_steps=num_steps, dt=graph.dt)
    for pop in graph.populations:
        if pop.kind != "lif":
            continue
        if pop.size == 0:
            result.spikes[pop.name] = [(np.zeros(0, np.int64),) * 2 for _ in range(batch)]
            continue
        mon = spike_mons[pop.name]
        gid = np.asarray(mon.i[:], dtype=np.int64)
        steps = np.rint(np.asarray(mon.t_[:]) / dt_s).astype(np.int64)
        trains = []
        for b in range(batch):
            sel = (gid // pop.size) == b
            s, i = steps[sel], gid[sel] % pop.size
            order = np.lexsort((i, s))
            trains.append((s[order], i[order]))
        result.spikes[pop.name] = trains
    for name in record_v:
        size = graph.population(name).size
        if size == 0:
            result.v[name] = np.zeros((batch, num_steps, 0))
            continue
        v = np.asarray(v_mons[name].V[:], dtype=np.float64)     # [batch*size, steps]
        if v.shape[1] != num_steps:
            raise SimulationError(f"brian2 recorded {v.shape[1]} steps of V for '{name}', "
                                  f"expected {num_steps} (one per step of dt = {graph.dt} "
                                  f"ms): its StateMonitor and the network clock disagree")
        result.v[name] = v.reshape(batch, size, num_steps).transpose(0, 2, 1).copy()
    return result


def simulate_brian2(graph: NetworkGraph, inputs: Mapping[str, Any], num_steps: int,
                    record_v: Sequence[str] = (), *,
                    codegen_target: str = "numpy") -> Brian2Result:
    """Simulate ``graph`` in Brian2 with GeNN's discrete step order.

    Parameters
    ----------
    graph : NetworkGraph
    inputs : dict
        One entry per input population. ``spike_source``: a list with one ``(steps, ids)``
        pair of integer arrays per batch instance (neuron ``ids[i]`` spikes in step
        ``steps[i]``; at most one spike per neuron and step). ``graded_input``: an array
        ``[batch, num_steps, size]``; a non-zero value ``x`` in step ``k`` is an event whose
        synapses add ``weight * x``.
    num_steps : int
        Steps to simulate (``num_steps * graph.dt`` ms).
    record_v : sequence of str
        ``lif``/``li`` populations whose V is recorded at the end of every step.
    codegen_target : {'numpy', 'cython'}
        Brian2 code target. ``numpy`` needs no compiler and is the default.

    Returns
    -------
    Brian2Result
        Spikes of every ``lif`` population per instance; V of ``record_v``.

    Raises
    ------
    ConfigError
        Bad ``num_steps``, ``record_v``, ``codegen_target`` or input population names.
    DataError
        Malformed input data (see :func:`check_inputs`).

    Notes
    -----
    A spike emitted in step k through a synapse of delay d enters the postsynaptic current
    in step k + 1 + d; the module docstring maps every phase onto Brian2.
    """
    if codegen_target not in _CODEGEN_TARGETS:
        raise ConfigError(f"codegen_target must be one of {_CODEGEN_TARGETS}, "
                          f"got {codegen_target!r}")
    batch, data = check_inputs(graph, inputs, num_steps)
    num_steps = int(num_steps)
    record_v = _check_record(graph, record_v)
    b2 = _import_brian2()
    with _brian2_prefs(b2, codegen_target):
        net, spike_mons, v_mons = _build(b2, graph, batch, data, record_v)
        logger.debug("brian2: %d batch instance(s), %d steps", batch, num_steps)
        net.run(num_steps * graph.dt * b2.ms, namespace={})
    return _collect(graph, batch, num_steps, spike_mons, v_mons, record_v)
