"""Neuron groups, synapse groups, current sources and their variables (see model.py).

What the layers above use is public: :meth:`NeuronGroup.set_initial`,
:meth:`SynapseGroup.connectivity`, :meth:`SynapseGroup.to_user_order` /
:meth:`~SynapseGroup.from_user_order`, :meth:`egp_value`; array names come from
:mod:`delayprop.compile.handles`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from delayprop.compile.handles import egp_name, init_name, var_name
from delayprop.compile.network_spec import SynapseMatrixType
from delayprop.compile.ragged import Ragged
from delayprop.errors import ConfigError
from delayprop.genn_models.spec import PostsynapticModel, WeightUpdateModel

__all__ = ["init_weight_update", "init_postsynaptic", "WeightUpdateInit", "PostsynapticInit",
           "Variable", "NeuronGroup", "SynapseGroup", "CurrentSource",
           "broadcast",
           "spike_source_arrays"]


@dataclass(frozen=True)
class WeightUpdateInit:
    model: WeightUpdateModel
    params: Mapping[str, float] = field(default_factory=dict)
    vars: Mapping[str, Any] = field(default_factory=dict)
    pre_var_refs: Mapping[str, str] = field(default_factory=dict)
    post_var_refs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PostsynapticInit:
    model: PostsynapticModel
    params: Mapping[str, float] = field(default_factory=dict)
    vars: Mapping[str, Any] = field(default_factory=dict)
    var_refs: Mapping[str, str] = field(default_factory=dict)


def init_weight_update(snippet: WeightUpdateModel, params=None, vars=None, pre_var_refs=None,
                       post_var_refs=None) -> WeightUpdateInit:
    """Weight update model with its parameter values and variable initial values
    (PyGeNN's ``init_weight_update``). Variable references map a name used in the code
    (e.g. ``x_pre``) to a variable of the source/target population (default: the name
    without its ``_pre``/``_post`` suffix)."""
    if not isinstance(snippet, WeightUpdateModel):
        raise ConfigError(f"init_weight_update takes a WeightUpdateModel, got "
                          f"{type(snippet).__name__}")
    return WeightUpdateInit(snippet, dict(params or {}), dict(vars or {}),
                            dict(pre_var_refs or {}), dict(post_var_refs or {}))


def init_postsynaptic(snippet: PostsynapticModel, params=None, vars=None,
                      var_refs=None) -> PostsynapticInit:
    """Postsynaptic model with its parameter values (PyGeNN's ``init_postsynaptic``)."""
    if not isinstance(snippet, PostsynapticModel):
        raise ConfigError(f"init_postsynaptic takes a PostsynapticModel, got "
                          f"{type(snippet).__name__}")
    return PostsynapticInit(snippet, dict(params or {}), dict(vars or {}),
                            dict(var_refs or {}))


class Variable:
    """A state variable or extra global parameter of a population or group.

    ``view`` is the live numpy array (no copy; on CUDA call ``pull_from_device`` first and
    ``push_to_device`` after writing); ``values`` is a copy, in synapse order for SPARSE
    groups (sorted by presynaptic, then postsynaptic index).
    """

    def __init__(self, owner: "_Owner", name: str, array_name: str):
        self._owner, self.name, self._array = owner, name, array_name

    @property
    def view(self) -> np.ndarray:
        return self._owner._model._runtime_or_raise().arrays[self._array]

    @property
    def values(self) -> np.ndarray:
        return self._owner.to_user_order(self.name, self.view).copy()

    @values.setter
    def values(self, new) -> None:
        self._owner._set_current(self.name, new)

    def set_init_values(self, values) -> None:
        """Set the initial values (before or after :meth:`Model.load`)."""
        self._owner.set_initial(self.name, values)

    def push_to_device(self) -> None:
        self._owner._model._runtime_or_raise().push(self._array)

    def pull_from_device(self) -> None:
        self._owner._model._runtime_or_raise().pull(self._array)


class _Owner:
    """Common bookkeeping of populations, synapse groups and current sources."""
    _model: "Model"   # noqa: F821  (delayprop.compile.model.Model; avoids an import cycle)
    name: str

    _egp_values: dict[str, np.ndarray]

    def to_user_order(self, var: str, array: np.ndarray) -> np.ndarray:
        """An array of variable ``var`` in the compiled layout -> values in the user's
        order (the identity except for SPARSE synapse variables)."""
        return array

    def egp_value(self, name: str) -> np.ndarray | None:
        """The array last given to extra global parameter ``name`` (None if none was)."""
        return self._egp_values.get(name)


class NeuronGroup(_Owner):
    """A neuron population (see :meth:`Model.add_neuron_population`; GeNN's name)."""

    def __init__(self, model, name, size, neuron, params, vars_):
        self._model, self.name, self.size, self.model = model, name, int(size), neuron
        self.params = dict(params or {})
        self._init = dict(vars_ or {})
        self._egp_values: dict[str, np.ndarray] = {}
        unknown = set(self._init) - set(neuron.var_names)
        if unknown:
            raise ConfigError(f"population '{name}': model '{neuron.name}' has no variables "
                              f"{sorted(unknown)}; it has {list(neuron.var_names)}")
        self.spike_recording_enabled = False
        self.vars = {v: Variable(self, v, var_name(name, v)) for v in neuron.var_names}
        self.extra_global_params = {e[0]: _EGP(self, e[0]) for e in neuron.extra_global_params}

    def set_initial(self, var: str, values) -> None:
        """Initial values of variable ``var`` (a scalar, [neurons] or [batch, neurons]);
        once loaded, also its current values (uploaded)."""
        self._init[var] = values
        rt = self._model._runtime
        if rt is not None:
            init, current = init_name(self.name, var), var_name(self.name, var)
            values = broadcast(values, rt.arrays[init].shape,
                               f"population '{self.name}' variable '{var}'")
            rt.arrays[init][...] = values
            rt.arrays[current][...] = values
            rt.push(init, current)

    def _set_current(self, var, values):
        rt = self._model._runtime_or_raise()
        name = var_name(self.name, var)
        arr = rt.arrays[name]
        arr[...] = broadcast(values, arr.shape, f"population '{self.name}' variable '{var}'")
        rt.push(name)

    def set_spikes(self, spikes) -> None:
        """Give a SpikeSourceArray population its spikes, one entry per batch instance.

        ``spikes[b]`` is ``(times_ms, ids)``; spikes of one neuron must be at distinct
        steps (the model emits at most one spike per step). Fills ``startSpike``,
        ``endSpike`` and the ``spikeTimes`` extra global parameter.
        """
        self._require_spike_source()
        batch = self._model.batch_size
        if len(spikes) != batch:
            raise ConfigError(f"population '{self.name}': got spikes for {len(spikes)} batch "
                              f"instances, the model has batch_size {batch}")
        start, end, times = spike_source_arrays(spikes, self.size, self._model.dt,
                                                f"population '{self.name}'")
        self.set_spike_arrays(start, end, times)

    def set_spike_arrays(self, start, end, times) -> None:
        """Set ``startSpike``/``endSpike`` [batch, neurons] and ``spikeTimes`` directly
        (see :func:`spike_source_arrays`): instance b's neuron i fires at
        ``times[start[b, i]:end[b, i]]``."""
        self._require_spike_source()
        self.set_initial("startSpike", start)
        self.set_initial("endSpike", end)
        self.extra_global_params["spikeTimes"].set_init_values(times)

    def _require_spike_source(self):
        if set(self.model.var_names) != {"startSpike", "endSpike"}:
            raise ConfigError(f"population '{self.name}': spike input needs a "
                              f"SpikeSourceArray population, this one is '{self.model.name}'")

    @property
    def spike_recording_data(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Spikes since load, reinitialise or the last pull: per batch instance
        ``(times in ms, ids)``, sorted by time then id."""
        return self._model._recorded_spikes(self)


class _EGP:
    """An extra global parameter (PyGeNN's ``extra_global_params[name]``)."""

    def __init__(self, owner, name):
        self._owner, self.name = owner, name

    def set_init_values(self, values) -> None:
        values = np.ascontiguousarray(values)      # no copy for a C-contiguous array
        self._owner._egp_values[self.name] = values
        rt = self._owner._model._runtime
        if rt is not None:
            rt.replace(egp_name(self._owner.name, self.name), values)

    @property
    def view(self) -> np.ndarray:
        rt = self._owner._model._runtime_or_raise()
        return rt.arrays[egp_name(self._owner.name, self.name)]

    def push_to_device(self) -> None:
        self._owner._model._runtime_or_raise().push(egp_name(self._owner.name, self.name))


class SynapseGroup(_Owner):
    """A synapse population (see :meth:`Model.add_synapse_population`)."""

    def __init__(self, model, name, matrix_type, source, target, wu, ps, max_delay):
        self._model, self.name = model, name
        self.matrix_type = SynapseMatrixType.parse(matrix_type)
        self.source, self.target = source, target
        self.wu, self.ps = wu, ps
        self.max_dendritic_delay_timesteps = int(max_delay)
        self._conn: Ragged | None = None
        unknown = set(wu.vars) - set(wu.model.var_names)
        if unknown:
            raise ConfigError(f"synapse group '{name}': model '{wu.model.name}' has no "
                              f"variables {sorted(unknown)}; it has {list(wu.model.var_names)}")
        self._init = dict(wu.vars)
        self._ps_init = dict(ps.vars)
        self.vars = {v: Variable(self, v, var_name(name, v)) for v in wu.model.var_names}
        self.psm_vars = {v: Variable(self, v, var_name(name, v)) for v in ps.model.var_names}
        self.extra_global_params = {e[0]: _EGP(self, e[0])
                                    for e in wu.model.extra_global_params}
        self._egp_values: dict[str, np.ndarray] = {}

    # connectivity -----------------------------------------------------------
    def set_sparse_connections(self, pre_indices, post_indices) -> None:
        """Set the synapses of a SPARSE group as parallel index lists (PyGeNN's name)."""
        if self.matrix_type is not SynapseMatrixType.SPARSE:
            raise ConfigError(f"synapse group '{self.name}' is DENSE; set_sparse_connections "
                              f"is for SPARSE groups")
        self._conn = Ragged.from_lists(pre_indices, post_indices, self.source.size,
                                       self.target.size, self.name)
        if self._model._runtime is not None:
            self._model._upload_connectivity(self)

    def set_connectivity(self, pre_indices, post_indices, **var_values) -> None:
        """Rewire a loaded SPARSE group: new synapse lists and their variable values.

        Arrays are rewritten (reallocated when the longest row grows) and uploaded; the
        compiled code is not rebuilt.
        """
        for var in var_values:
            if var not in self.wu.model.var_names:
                raise ConfigError(f"synapse group '{self.name}' has no variable '{var}'")
        self._init.update(var_values)
        self.set_sparse_connections(pre_indices, post_indices)

    def get_sparse_pre_inds(self) -> np.ndarray:
        return self.connectivity().pre.copy()

    def get_sparse_post_inds(self) -> np.ndarray:
        return self.connectivity().post.copy()

    def connectivity(self) -> Ragged:
        """The ragged layout of a SPARSE group's synapses (synapse order, slots)."""
        if self._conn is None:
            raise ConfigError(f"synapse group '{self.name}' is SPARSE but has no synapses; "
                              f"call set_sparse_connections(pre, post) first")
        return self._conn

    @property
    def num_synapses(self) -> int:
        if self.matrix_type is SynapseMatrixType.DENSE:
            return self.source.size * self.target.size
        return len(self.connectivity().pre)

    def to_user_order(self, var: str, array: np.ndarray) -> np.ndarray:
        """An array of ``var`` in the compiled layout (any leading axes) -> values in
        synapse order (sorted by (pre, post); the ragged slots gathered for SPARSE)."""
        if var in self.psm_vars:
            return array
        if self.matrix_type is SynapseMatrixType.SPARSE:
            return self.connectivity().gather(array)
        return array

    def from_user_order(self, var: str, values, dtype=np.float64,
                        what: str | None = None) -> np.ndarray:
        """Values of ``var``, one per synapse in the order of the connection lists (or a
        scalar for SPARSE groups) -> a new array in the compiled layout of ``dtype``."""
        if var in self.psm_vars or self.matrix_type is SynapseMatrixType.DENSE:
            return np.asarray(values, dtype).copy()
        return self.connectivity().scatter(
            values, self.source.size, dtype,
            what or f"synapse group '{self.name}' variable '{var}'")

    def set_initial(self, var: str, values) -> None:
        """Initial values of weight update or postsynaptic variable ``var``; once
        loaded, also uploaded."""
        if var in self.psm_vars:
            self._ps_init[var] = values
        else:
            self._init[var] = values
        if self._model._runtime is not None:
            self._model._upload_group_vars(self, only=var)

    def _set_current(self, var, values):
        self.set_initial(var, values)


class CurrentSource(_Owner):
    def __init__(self, model, name, cs_model, pop, params, vars_):
        self._model, self.name, self.model, self.target = model, name, cs_model, pop
        self.params = dict(params or {})
        self._init = dict(vars_ or {})
        self.vars = {v: Variable(self, v, var_name(name, v)) for v in cs_model.var_names}
        self.extra_global_params = {e[0]: _EGP(self, e[0])
                                    for e in cs_model.extra_global_params}
        self._egp_values: dict[str, np.ndarray] = {}

    def set_initial(self, var: str, values) -> None:
        """Values of variable ``var`` (uploaded once loaded)."""
        self._init[var] = values
        rt = self._model._runtime
        if rt is not None:
            name = var_name(self.name, var)
            arr = rt.arrays[name]
            arr[...] = broadcast(values, arr.shape, f"current source '{self.name}' '{var}'")
            rt.push(name)

    def _set_current(self, var, values):
        self.set_initial(var, values)


def broadcast(values, shape, what) -> np.ndarray:
    """``values`` broadcast to ``shape`` (ConfigError naming ``what`` otherwise)."""
    arr = np.asarray(values)
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        # [n] given for a [batch, n] array broadcasts; anything else is an error
        raise ConfigError(f"{what}: got values of shape {arr.shape}, expected a scalar or an "
                          f"array broadcastable to {shape}") from None



def spike_source_arrays(spikes, size: int, dt: float, what: str):
    """``(start, end, times)`` for a SpikeSourceArray from ``spikes[b] = (times_ms, ids)``.

    A spike at time s is emitted in the first step k with k*dt >= s (GeNN's rule); the
    stored time is (k - 1/2)*dt, so that step is kept whatever the rounding of k*dt.
    """
    lengths, all_times, all_ids = [], [], []
    for b, (times, ids) in enumerate(spikes):
        times = np.asarray(times, dtype=np.float64).ravel()
        ids = np.asarray(ids).ravel().astype(np.int64)
        if times.shape != ids.shape:
            raise ConfigError(f"{what}, instance {b}: {len(times)} times but {len(ids)} ids")
        lengths.append(len(ids))
        all_times.append(times)
        all_ids.append(ids)
    count = len(lengths)
    times = np.concatenate(all_times) if all_times else np.zeros(0)
    ids = np.concatenate(all_ids) if all_ids else np.zeros(0, np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        bad = int(np.flatnonzero((ids < 0) | (ids >= size))[0])
        inst = int(np.searchsorted(np.cumsum(lengths), bad, side="right"))
        raise ConfigError(f"{what}, instance {inst}: neuron ids must lie in [0, {size}), got "
                          f"{ids[bad]}")
    key = np.repeat(np.arange(count), lengths) * size + ids
    order = np.lexsort((times, key))                 # by (instance, neuron), then time
    counts = np.bincount(key, minlength=count * size).reshape(count, size)
    end = np.cumsum(counts.ravel()).reshape(count, size).astype(np.uint32)
    start = (end - counts).astype(np.uint32)
    step = np.ceil(times[order] / dt - 1e-9)
    return start, end, (step - 0.5) * dt


