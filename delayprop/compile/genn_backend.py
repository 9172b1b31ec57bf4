"""``Model(..., backend="genn")``: the same network built and run by real PyGeNN.

The populations, synapse groups and current sources a user adds are those of
:class:`~delayprop.compile.model.Model`; at :meth:`GeNNBackedModel.build` each is handed
to PyGeNN (``add_neuron_population``, ``add_synapse_population`` with
``init_weight_update``/``init_postsynaptic`` and ``max_dendritic_delay_timesteps``,
``add_current_source``) with models made by PyGeNN's creator functions from the same code
strings (:mod:`delayprop.compile.genn_translate`). GeNN generates, compiles and runs the
code; delayprop only moves values in and out.

The interface is the Model's: ``set_spikes``/extra global params, ``vars[...]`` views and
``values``, ``run``/``step_time``, ``spike_recording_data``, ``reinitialise``. The arrays
behind the views are GeNN's own host buffers (:class:`_GeNNArrays`), shaped as delayprop's
(``[batch, neurons]``; SPARSE synapse variables in the ragged layout, whose row stride GeNN
and delayprop share).

Backends: ``"genn"`` takes the first backend this PyGeNN was built with (CUDA before the
CPU), ``"genn:<name>"`` a named one (``genn:cuda``, ``genn:single_threaded_cpu``). The
single-threaded CPU backend simulates batch 1 only. Extra keyword arguments of ``Model``
are GeNN preferences (``optimize_code=True`` is the default here). GeNN's build output
lives in the cache (``$DELAYPROP_CACHE/genn/<key>``), never in the working directory.
"""
from __future__ import annotations

import dataclasses
import hashlib
import subprocess
from pathlib import Path

import numpy as np
from filelock import FileLock

from delayprop.compile.cache import cache_key, cache_root
from delayprop.compile.genn_compat import check_model_for_genn
from delayprop.compile.genn_translate import PyGeNNModels
from delayprop.compile.handles import egp_name, ind_name, init_name, row_length_name, var_name
from delayprop.compile.lower import _default_ref
from delayprop.compile.model import Model
from delayprop.compile.network_spec import SynapseMatrixType
from delayprop.errors import BuildError, ConfigError, ModelDefinitionError, StateError

__all__ = ["GeNNBackedModel", "require_pygenn", "genn_backend_name", "genn_build_root",
           "DEFAULT_RECORDING_STEPS"]

#: Steps GeNN's spike-recording buffer holds when load() is not told; runs longer than
#: this are read out every that many steps (the buffer is a ring in GeNN).
DEFAULT_RECORDING_STEPS = 1000

INSTALL_HINT = ("PyGeNN is not on the package index: install GeNN 5 from source "
                "('pip install .' in a GeNN checkout, with CUDA_PATH set for its CUDA "
                "backend); see the README, 'With GeNN'")


def require_pygenn():
    """The ``pygenn`` module, or ConfigError saying how to install it."""
    try:
        import pygenn
    except ImportError as err:
        raise ConfigError(f"backend 'genn' needs PyGeNN ({err}); {INSTALL_HINT}") from None
    return pygenn


def genn_backend_name(backend: str) -> str:
    """GeNN's backend for ``"genn"`` (the best one built) or ``"genn:<name>"``."""
    require_pygenn()
    from pygenn.genn_model import backend_modules
    available = list(backend_modules)
    if backend == "genn":
        if not available:
            raise ConfigError(f"this PyGeNN has no backend built in; {INSTALL_HINT}")
        return available[0]
    name = backend.split(":", 1)[1]
    if name not in available:
        raise ConfigError(f"backend '{backend}': this PyGeNN has GeNN backends {available}, "
                          f"not '{name}' (GeNN builds its CUDA backend only where CUDA was "
                          f"found at install time)")
    return name


def genn_build_root() -> Path:
    """Where GeNN's generated code and libraries go: ``$DELAYPROP_CACHE/genn``."""
    return cache_root().parent / "genn"


class GeNNBackedModel(Model):
    """A :class:`Model` whose code GeNN generates, compiles and runs (see module doc)."""

    def __init__(self, precision: str = "float", model_name: str = "model",
                 backend: str = "genn", *, dt: float = 1.0, batch_size: int = 1,
                 **genn_preferences):
        super().__init__(precision, model_name, backend, dt=dt, batch_size=batch_size)
        self._pg = require_pygenn()
        self.genn_backend = genn_backend_name(backend)
        if self.genn_backend == "single_threaded_cpu" and self.batch_size != 1:
            raise ConfigError(
                f"model '{model_name}': GeNN's single_threaded_cpu backend simulates one "
                f"instance at a time, so batch_size must be 1 (got {self.batch_size}); use "
                f"GeNN's CUDA backend or delayprop's 'cpu' backend for batches")
        # GeNN compiles without -O unless told; keyword arguments are GeNN preferences
        self.genn_preferences = {"optimize_code": True, **genn_preferences}
        from pygenn.genn_model import backend_modules
        known = backend_modules[self.genn_backend].Preferences()
        unknown = sorted(k for k in self.genn_preferences if not hasattr(known, k))
        if unknown:
            raise ConfigError(f"model '{model_name}': {unknown} are not preferences of "
                              f"GeNN's {self.genn_backend} backend")
        self._genn = None                    # pygenn.GeNNModel, from build() on
        self._row_capacity: dict[str, int] = {}
        self._rec_steps = DEFAULT_RECORDING_STEPS
        self._drained = 0                    # recording read out up to this step
        self._spikes: dict[str, list] = {}   # per population: [(steps, ids)] per instance
        self.build_dir: Path | None = None

    # ------------------------------------------------------------------ definitions
    def add_neuron_population(self, pop_name, num_neurons, neuron, params=None, vars=None, *,
                              adjoint=None, adjoint_params=None):
        where = f"population '{pop_name}'"
        _refuse_adjoint(adjoint, where)
        _check(neuron, where)
        return super().add_neuron_population(pop_name, num_neurons, neuron, params, vars)

    def add_synapse_population(self, pop_name, matrix_type, source, target,
                               weight_update_init, postsynaptic_init,
                               max_dendritic_delay_timesteps=1, *, adjoint=None,
                               adjoint_params=None, adjoint_vars=None):
        where = f"synapse group '{pop_name}'"
        _refuse_adjoint(adjoint, where)
        for init in (weight_update_init, postsynaptic_init):
            _check(getattr(init, "model", None), where)
        return super().add_synapse_population(pop_name, matrix_type, source, target,
                                              weight_update_init, postsynaptic_init,
                                              max_dendritic_delay_timesteps)

    def add_current_source(self, cs_name, current_source_model, pop, params=None, vars=None):
        _check(current_source_model, f"current source '{cs_name}'")
        return super().add_current_source(cs_name, current_source_model, pop, params, vars)

    def generate_source(self) -> str:
        raise ConfigError(f"model '{self.name}': GeNN generates its own code; after build() "
                          f"it is in model.build_dir")

    def dump_source(self, path) -> Path:
        self.generate_source()

    # ------------------------------------------------------------------ build
    def build(self) -> Path:
        """Hand the network to PyGeNN and let GeNN generate and compile it."""
        if self.training is not None:
            raise ConfigError(f"model '{self.name}': EventProp training is delayprop's own "
                              f"(adjoint models GeNN does not have); train with backend "
                              f"'cpu' or 'cuda'")
        spec = self.spec()
        if self._genn is not None:
            return self.build_dir
        root = genn_build_root()
        key = cache_key(self.genn_backend, getattr(self._pg, "__version__", ""),
                        repr(sorted(self.genn_preferences.items())),
                        self._structure_digest(spec))
        directory = root / key
        directory.mkdir(parents=True, exist_ok=True)
        genn = self._make_genn()
        with FileLock(str(root / f"{key}.lock")):
            try:
                genn.build(path_to_model=str(directory))
            except subprocess.CalledProcessError as err:
                raise BuildError(f"model '{self.name}': GeNN's generated code did not "
                                 f"compile ({err}); see the compiler output above and "
                                 f"{directory}") from None
            except RuntimeError as err:
                raise BuildError(f"model '{self.name}': GeNN rejected the model "
                                 f"({err or 'see its log above'}); see "
                                 f"delayprop/genn_models/language.md") from None
        self._genn, self.build_dir, self._library = genn, directory, directory
        self.build_count += 1
        return directory

    def _structure_digest(self, spec) -> str:
        """Everything GeNN's code depends on (model code, sizes, params, row capacity)."""
        h = hashlib.sha256()
        h.update(repr((spec.precision.value, spec.dt, spec.batch_size, spec.name)).encode())
        for p in spec.populations:
            h.update(repr((p.name, p.size, p.model.digest(), p.params,
                           p.record_spikes)).encode())
        for s in spec.synapse_groups:
            h.update(repr((s.name, s.source, s.target, s.matrix_type.value,
                           s.wu_model.digest(), s.wu_params, s.ps_model.digest(),
                           s.ps_params, s.max_dendritic_delay_timesteps,
                           s.pre_var_refs, s.post_var_refs, s.ps_var_refs,
                           self._row_length(s.name))).encode())
        for c in spec.current_sources:
            h.update(repr((c.name, c.target, c.model.digest(), c.params)).encode())
        return h.hexdigest()

    def _row_length(self, group: str) -> int | None:
        s = self.synapse_populations[group]
        if s.matrix_type is SynapseMatrixType.SPARSE:
            return s.connectivity().max_row_length
        return None

    def _make_genn(self):
        pg = self._pg
        models = PyGeNNModels(pg)
        genn = pg.GeNNModel(self.precision.value, self.name, backend=self.genn_backend,
                            **self.genn_preferences)
        genn.dt = self.dt
        genn.batch_size = self.batch_size
        pops = {}
        for p in self.neuron_populations.values():
            pops[p.name] = genn.add_neuron_population(
                p.name, p.size, models(p.model), _base_params(p.model, p.params),
                {v: None for v in p.model.var_names})
            pops[p.name].spike_recording_enabled = bool(p.spike_recording_enabled)
            for egp, values in p._egp_values.items():
                pops[p.name].extra_global_params[egp].set_init_values(values)
        for s in self.synapse_populations.values():
            src, tgt = self.spec().population(s.source.name), self.spec().population(
                s.target.name)
            wu = pg.init_weight_update(
                models(s.wu.model), _base_params(s.wu.model, s.wu.params),
                {v: None for v in s.wu.model.var_names},
                pre_var_refs=_refs(pg, s.wu.model.pre_neuron_var_refs, s.wu.pre_var_refs,
                                   src, pops[s.source.name]),
                post_var_refs=_refs(pg, s.wu.model.post_neuron_var_refs, s.wu.post_var_refs,
                                    tgt, pops[s.target.name]))
            ps = pg.init_postsynaptic(
                models(s.ps.model), _base_params(s.ps.model, s.ps.params),
                {v: None for v in s.ps.model.var_names},
                var_refs=_refs(pg, s.ps.model.neuron_var_refs, s.ps.var_refs, tgt,
                               pops[s.target.name]))
            group = genn.add_synapse_population(s.name, s.matrix_type.value,
                                                pops[s.source.name], pops[s.target.name],
                                                wu, ps)
            group.max_dendritic_delay_timesteps = s.max_dendritic_delay_timesteps
            if s.matrix_type is SynapseMatrixType.SPARSE:
                ragged = s.connectivity()
                group.set_sparse_connections(ragged.pre, ragged.post)
                group.max_connections = ragged.max_row_length      # >= 1, as delayprop's
                self._row_capacity[s.name] = ragged.max_row_length
            for egp, values in s._egp_values.items():
                group.extra_global_params[egp].set_init_values(values)
        for c in self.current_sources.values():
            source = genn.add_current_source(c.name, models(c.model), pops[c.target.name],
                                             _base_params(c.model, c.params),
                                             {v: None for v in c.model.var_names})
            for egp, values in c._egp_values.items():
                source.extra_global_params[egp].set_init_values(values)
        return genn

    # ------------------------------------------------------------------ runtime
    def load(self, num_recording_timesteps: int | None = None) -> None:
        """Load GeNN's model and give every variable, parameter and synapse its values.

        ``num_recording_timesteps`` sizes GeNN's spike-recording ring (default
        :data:`DEFAULT_RECORDING_STEPS`); longer runs are read out as they go."""
        if self._genn is None:
            raise StateError(f"model '{self.name}' has not been built; call build() first")
        if self._runtime is not None:
            raise StateError(f"model '{self.name}' is already loaded; call unload() first")
        if num_recording_timesteps:
            self._rec_steps = int(num_recording_timesteps)
        self._load_genn()

    def _load_genn(self) -> None:
        self._genn.load(num_recording_timesteps=self._rec_steps)
        self._runtime = _GeNNArrays(self)
        self._drained = 0
        self._spikes = {p.name: [[] for _ in range(self.batch_size)]
                        for p in self.neuron_populations.values()
                        if p.spike_recording_enabled}
        try:
            self._upload_initial_state()
        except BaseException:
            self.unload()
            raise

    def _upload_connectivity(self, s) -> None:
        rt = self._runtime
        if s.matrix_type is SynapseMatrixType.SPARSE:
            capacity = self._row_capacity[s.name]
            ragged = s.connectivity()
            if ragged.max_row_length > capacity:
                raise ConfigError(
                    f"synapse group '{s.name}': GeNN fixes a SPARSE group's row capacity "
                    f"when it builds ({capacity} synapses); the new connectivity has a row "
                    f"of {ragged.max_row_length}; build a new model for it")
            if ragged.max_row_length != capacity:         # GeNN's row stride is fixed
                within = ragged.slots - ragged.pre * ragged.max_row_length
                s._conn = ragged = dataclasses.replace(
                    ragged, max_row_length=capacity, slots=ragged.pre * capacity + within)
            rows, ind = row_length_name(s.name), ind_name(s.name)
            rt.arrays[rows][...] = ragged.row_length
            rt.arrays[ind][...] = ragged.ind(s.source.size)
            rt.push(rows, ind)
        self._upload_group_vars(s)

    def reinitialise(self) -> None:
        """Every instance back to its initial state, time back to 0 (GeNN 5 has no
        reinitialise: the model is reloaded and given its values again)."""
        self._runtime_or_raise()
        self._genn.unload()
        self._runtime = None
        self._load_genn()

    def run(self, num_steps: int) -> None:
        """Simulate ``num_steps`` steps (GeNN's ``step_time``, one call per step)."""
        self._runtime_or_raise()
        num_steps = int(num_steps)
        if num_steps < 0:
            raise ConfigError(f"num_steps must be >= 0, got {num_steps}")
        genn, cap = self._genn, self._rec_steps
        recording = bool(self._spikes)
        for _ in range(num_steps):
            if recording and genn.timestep - self._drained == cap:
                self._drain()
            genn.step_time()

    @property
    def timestep(self) -> int:
        self._runtime_or_raise()
        return int(self._genn.timestep)

    def _drain(self) -> None:
        """Move a full recording ring (``cap`` steps ending now) into Python."""
        for name, parts in self._read_ring(self._rec_steps).items():
            for b, part in enumerate(parts):
                self._spikes[name][b].append(part)
        self._drained = self._genn.timestep

    def _read_ring(self, steps_unread: int) -> dict[str, list]:
        """Spikes of the last ``steps_unread`` (<= cap) steps, per population and
        instance, as (steps, ids), decoded from GeNN's recording ring: step s is in row
        s % cap, rows of [cap, batch, words] 32-bit words, bit i of a row is neuron i."""
        genn, cap, B = self._genn, self._rec_steps, self.batch_size
        now = int(genn.timestep)
        genn.pull_recording_buffers_from_device()
        steps = np.arange(now - steps_unread, now)
        out = {}
        for name in self._spikes:
            group = genn.neuron_populations[name]
            raw = np.asarray(genn._runtime.get_array(group, "recordSpk").host_view)
            words = raw.view(np.uint32).reshape(cap, B, -1)[steps % cap]
            bits = np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")
            row, inst, ids = np.nonzero(bits[..., :group.num_neurons])
            out[name] = [(steps[row[inst == b]], ids[inst == b].astype(np.int64))
                         for b in range(B)]
        return out

    def _recorded_spikes(self, pop):
        self._runtime_or_raise()
        if not pop.spike_recording_enabled:
            raise StateError(f"population '{pop.name}': spike recording is off; set "
                             f"spike_recording_enabled = True before build()")
        unread = self.timestep - self._drained
        fresh = self._read_ring(unread)[pop.name] if unread else None
        out = []
        for b in range(self.batch_size):
            parts = list(self._spikes[pop.name][b]) + ([fresh[b]] if fresh else [])
            steps = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
            ids = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
            order = np.lexsort((ids, steps))
            out.append((steps[order] * self.dt, ids[order]))
        return out

    def unload(self) -> None:
        if self._runtime is not None:
            self._genn.unload()
            self._runtime = None


class _GeNNArrays:
    """GeNN's host buffers under delayprop's array names and shapes (what the group
    objects of model.py read and write), with push/pull through PyGeNN."""

    def __init__(self, model: GeNNBackedModel):
        self._model = model
        genn, B = model._genn, model.batch_size
        self.arrays: dict[str, np.ndarray] = {}
        self._push: dict[str, object] = {}     # name -> object with push/pull_from_device
        self._egps: dict[str, tuple] = {}      # name -> (pygenn group, egp name)
        for p in model.neuron_populations.values():
            group = genn.neuron_populations[p.name]
            for v in p.model.var_names:
                self._bind(var_name(p.name, v), group.vars[v], (B, p.size))
                self.arrays[init_name(p.name, v)] = np.zeros_like(self.arrays[var_name(
                    p.name, v)])
            self._bind_egps(p.name, group, p.model)
        for c in model.current_sources.values():
            group = genn.current_sources[c.name]
            for v in c.model.var_names:
                self._bind(var_name(c.name, v), group.vars[v], (B, c.target.size))
            self._bind_egps(c.name, group, c.model)
        for s in model.synapse_populations.values():
            group = genn.synapse_populations[s.name]
            for v in s.wu.model.vars:
                # SPARSE: GeNN's ragged array (PyGeNN's public view refuses it, since only
                # the backend knows the stride; CPU and CUDA use max_connections)
                variable = group.vars[v.name]
                row = variable._view.size // (B if v.access.duplicated and B > 1 else 1)
                shape = (B, row) if v.access.duplicated else (row,)
                self._bind(var_name(s.name, v.name), variable, shape, raw=True)
            for v in s.ps.model.var_names:
                self._bind(var_name(s.name, v), group.psm_vars[v], (B, s.target.size))
                self.arrays[init_name(s.name, v)] = np.zeros_like(self.arrays[var_name(
                    s.name, v)])
            if s.matrix_type is SynapseMatrixType.SPARSE:
                conn = _Connectivity(group)
                self.arrays[row_length_name(s.name)] = group._row_lengths.view
                self.arrays[ind_name(s.name)] = group._ind.view
                self._push[row_length_name(s.name)] = conn
                self._push[ind_name(s.name)] = conn
            self._bind_egps(s.name, group, s.wu.model)

    def _bind(self, name, variable, shape, raw=False) -> None:
        view = variable._view if raw else variable.view
        self.arrays[name] = view.reshape(shape) if view.size == int(np.prod(shape)) else view
        self._push[name] = variable

    def _bind_egps(self, owner, group, model) -> None:
        for egp, _ in model.extra_global_params:
            name = egp_name(owner, egp)
            self._egps[name] = (group, egp)
            param = group.extra_global_params[egp]
            self.arrays[name] = param.view if param.view is not None else np.zeros(0)
            self._push[name] = param

    def push(self, *names: str) -> None:
        for name in names or list(self._push):
            target = self._push.get(name)
            if target is not None:              # *_init arrays live in Python only
                target.push_to_device()

    def pull(self, *names: str) -> None:
        for name in names or list(self._push):
            target = self._push.get(name)
            if target is not None:
                target.pull_from_device()

    def replace(self, name: str, values) -> None:
        """Give an extra global parameter new values (reallocated when its size changes)."""
        group, egp = self._egps[name]
        param = group.extra_global_params[egp]
        dtype = self.arrays[name].dtype if param.view is not None else None
        values = np.ascontiguousarray(values, dtype=dtype)
        if param.view is None or param.view.size != values.size:
            runtime = self._model._genn._runtime
            runtime.allocate_array(group, egp, max(values.size, 1))
            param.set_array(runtime.get_array(group, egp))
            values = np.ascontiguousarray(values, dtype=param.view.dtype)
        param.view[:values.size] = values.ravel()
        param.push_to_device()
        self.arrays[name] = param.view[:values.size]

    def close(self) -> None:
        self.arrays.clear()


class _Connectivity:
    """Push/pull of a SPARSE group's rowLength and ind together (PyGeNN moves both)."""

    def __init__(self, group):
        self._group = group

    def push_to_device(self):
        self._group.push_connectivity_to_device()

    def pull_from_device(self):
        self._group.pull_connectivity_from_device()


def _base_params(model, values) -> dict:
    return {p: float(values[p]) for p in model.params}


def _refs(pg, declared, bound, pop_spec, genn_pop) -> dict:
    """Variable references of a model, bound as delayprop binds them (``x_pre`` to the
    source's ``x`` unless given), as PyGeNN references."""
    out = {}
    for ref, _ in declared:
        var = dict(bound).get(ref) or _default_ref(ref, pop_spec)
        out[ref] = pg.create_var_ref(genn_pop, var)
    return out


def _check(model, where: str) -> None:
    if model is not None:
        check_model_for_genn(model, where)


def _refuse_adjoint(adjoint, where: str) -> None:
    if adjoint is not None:
        raise ModelDefinitionError(
            f"{where}: adjoint model '{adjoint.name}' is a delayprop extension (EventProp's "
            f"backward pass) that GeNN does not have; train with backend 'cpu' or 'cuda'")
