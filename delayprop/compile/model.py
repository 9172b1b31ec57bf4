"""The user-facing network builder, shaped like PyGeNN's ``GeNNModel``.

Lifecycle: ``add_*`` → :meth:`Model.build` (generate + compile, cached) →
:meth:`Model.load` (allocate and initialise arrays) → :meth:`Model.run` /
:meth:`Model.step_time` → :meth:`Model.unload`. A step out of order raises
:class:`StateError` naming the missing step.

Examples
--------
>>> from delayprop.compile import Model, init_postsynaptic, init_weight_update
>>> from delayprop.genn_models import LIF, ExpCurr, SpikeSourceArray, StaticPulseDendriticDelay
>>> model = Model("double", "demo", batch_size=2)
>>> inp = model.add_neuron_population("input", 3, SpikeSourceArray)
>>> hid = model.add_neuron_population("hidden", 4, LIF,
...     {"tau_mem": 20.0, "v_thresh": 1.0, "v_reset": 0.0}, {"V": 0.0})
>>> sg = model.add_synapse_population("ih", "SPARSE", inp, hid,
...     init_weight_update(StaticPulseDendriticDelay, vars={"g": [2.0, 2.0], "d": [0, 3]}),
...     init_postsynaptic(ExpCurr, {"tau": 5.0}), max_dendritic_delay_timesteps=4)
>>> sg.set_sparse_connections([0, 1], [2, 3])
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from delayprop.compile._groups import (CurrentSource, NeuronGroup, PostsynapticInit,
                                       SynapseGroup, WeightUpdateInit, broadcast)
from delayprop.compile.backends import render, source_name
from delayprop.compile.build import build_shared_library
from delayprop.compile.handles import (egp_name, ind_name, init_name, recording_name,
                                       row_length_name, var_name)
from delayprop.compile.layout import ArrayRole, RuntimeSizes
from delayprop.compile.lower import taped_populations
from delayprop.compile.network_spec import (CurrentSourceSpec, NetworkSpec, PopulationSpec,
                                            Precision, SynapseGroupSpec, SynapseMatrixType,
                                            TrainingSpec)
from delayprop.compile.runtime import Runtime
from delayprop.errors import CodeGenerationError, ConfigError, StateError
from delayprop.genn_models.spec import (AdjointNeuronModel, AdjointWeightUpdateModel,
                                        CurrentSourceModel, NeuronModel)

__all__ = ["Model"]

logger = logging.getLogger(__name__)

BACKENDS = ("cpu", "cuda")


def _is_genn(backend) -> bool:
    """``"genn"`` or ``"genn:<GeNN backend>"``: real PyGeNN (compile/genn_backend.py)."""
    return isinstance(backend, str) and (backend == "genn" or backend.startswith("genn:"))


class Model:
    """A network of populations and synapse groups, generated into C++ or CUDA.

    Parameters
    ----------
    precision : {'float', 'double'}
        Type of ``scalar`` (GeNN's model precision).
    model_name : str
        Name used in the generated code and the cache.
    backend : {'cpu', 'cuda', 'genn', 'genn:<GeNN backend>'}
        'genn' builds and runs the network with real PyGeNN (see genn_backend.py).
    dt : float
        Simulation step in ms.
    batch_size : int
        Number of independent instances simulated together.
    """

    def __new__(cls, precision="float", model_name="model", backend="cpu", **kwargs):
        if cls is Model and _is_genn(backend):
            from delayprop.compile.genn_backend import GeNNBackedModel
            cls = GeNNBackedModel
        return super().__new__(cls)

    def __init__(self, precision: str = "float", model_name: str = "model",
                 backend: str = "cpu", *, dt: float = 1.0, batch_size: int = 1):
        if backend not in BACKENDS and not _is_genn(backend):
            raise ConfigError(f"backend must be one of {BACKENDS + ('genn', 'genn:<name>')},"
                              f" got {backend!r}")
        self.precision = Precision.parse(precision)
        self.name = model_name
        self.backend = backend
        self.dt = float(dt)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.neuron_populations: dict[str, NeuronGroup] = {}
        self.synapse_populations: dict[str, SynapseGroup] = {}
        self.current_sources: dict[str, CurrentSource] = {}
        self.training: TrainingSpec | None = None
        self.tape_capacity: int | None = None     # per population and instance, training
        self._spec: NetworkSpec | None = None
        self._library: Path | None = None
        self._source: str | None = None
        self._layout = None
        self._runtime: Runtime | None = None
        self.build_count = 0      # compilations (cache misses and hits) this object did

    # ------------------------------------------------------------------ building blocks
    def _new_name(self, name: str) -> str:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("dp_"):
            raise ConfigError(f"name {name!r} must be a valid identifier not starting "
                              f"with 'dp_'")
        if name in self.neuron_populations or name in self.synapse_populations \
                or name in self.current_sources:
            raise ConfigError(f"name '{name}' is already used in model '{self.name}'")
        if self._spec is not None:
            raise StateError(f"model '{self.name}' is already built; add everything before "
                             f"build()")
        return name

    def add_neuron_population(self, pop_name: str, num_neurons: int, neuron: NeuronModel,
                              params=None, vars=None, *, adjoint: AdjointNeuronModel = None,
                              adjoint_params=None) -> NeuronGroup:
        """Add ``num_neurons`` neurons of model ``neuron`` (PyGeNN's signature)."""
        name = self._new_name(pop_name)
        if not isinstance(neuron, NeuronModel):
            raise ConfigError(f"population '{name}': neuron must be a NeuronModel (made with "
                              f"create_neuron_model), got {type(neuron).__name__}")
        if int(num_neurons) != num_neurons or num_neurons < 0:
            raise ConfigError(f"population '{name}': num_neurons must be a whole number >= 0,"
                              f" got {num_neurons!r}")
        pop = NeuronGroup(self, name, num_neurons, neuron, params, vars)
        pop.adjoint, pop.adjoint_params = adjoint, dict(adjoint_params or {})
        self.neuron_populations[name] = pop
        return pop

    def add_synapse_population(self, pop_name: str, matrix_type, source, target,
                               weight_update_init: WeightUpdateInit,
                               postsynaptic_init: PostsynapticInit,
                               max_dendritic_delay_timesteps: int = 1, *,
                               adjoint: AdjointWeightUpdateModel = None,
                               adjoint_params=None, adjoint_vars=None) -> SynapseGroup:
        """Connect ``source`` to ``target`` (populations or their names)."""
        name = self._new_name(pop_name)
        src, tgt = self._population(source, name), self._population(target, name)
        if not isinstance(weight_update_init, WeightUpdateInit):
            raise ConfigError(f"synapse group '{name}': use init_weight_update(...) for the "
                              f"weight update model")
        if not isinstance(postsynaptic_init, PostsynapticInit):
            raise ConfigError(f"synapse group '{name}': use init_postsynaptic(...) for the "
                              f"postsynaptic model")
        from delayprop.delays import check_ring_size   # D: the ring size, delays 0..D-1
        check_ring_size(max_dendritic_delay_timesteps, f"synapse group '{name}'",
                        "max_dendritic_delay_timesteps")
        sg = SynapseGroup(self, name, matrix_type, src, tgt, weight_update_init,
                          postsynaptic_init, max_dendritic_delay_timesteps)
        sg.adjoint, sg.adjoint_params = adjoint, dict(adjoint_params or {})
        sg.adjoint_init = dict(adjoint_vars or {})
        self.synapse_populations[name] = sg
        return sg

    def add_current_source(self, cs_name: str, current_source_model: CurrentSourceModel, pop,
                           params=None, vars=None) -> CurrentSource:
        name = self._new_name(cs_name)
        cs = CurrentSource(self, name, current_source_model, self._population(pop, name),
                           params, vars)
        self.current_sources[name] = cs
        return cs

    def _population(self, ref, where: str) -> NeuronGroup:
        name = ref.name if isinstance(ref, NeuronGroup) else ref
        if name not in self.neuron_populations:
            raise ConfigError(f"'{where}': population {name!r} is not in model '{self.name}'; "
                              f"known: {list(self.neuron_populations)}")
        return self.neuron_populations[name]

    # ------------------------------------------------------------------ spec and code
    def spec(self) -> NetworkSpec:
        """The validated description the code is generated from."""
        if self._spec is not None:
            return self._spec
        pops = []
        for p in self.neuron_populations.values():
            params = p.model.evaluate_params(p.params, self.dt, f"population '{p.name}'")
            adj_params = ()
            if p.adjoint is not None:
                p.adjoint.check_against(p.model)
                adj_params = tuple(p.adjoint.evaluate_params(
                    p.adjoint_params, self.dt, f"population '{p.name}' adjoint",
                    inherited=params).items())
            pops.append(PopulationSpec(p.name, p.size, p.model, tuple(params.items()),
                                       p.adjoint, adj_params, bool(p.spike_recording_enabled)))
        groups = []
        for s in self.synapse_populations.values():
            wu = s.wu.model.evaluate_params(s.wu.params, self.dt, f"synapse group '{s.name}'")
            ps = s.ps.model.evaluate_params(s.ps.params, self.dt, f"synapse group '{s.name}'")
            adj_params = ()
            if s.adjoint is not None:
                s.adjoint.check_against(s.wu.model)
                adj_params = tuple(s.adjoint.evaluate_params(
                    s.adjoint_params, self.dt, f"synapse group '{s.name}' adjoint",
                    inherited=wu).items())
            groups.append(SynapseGroupSpec(
                s.name, s.source.name, s.target.name, s.matrix_type, s.wu.model,
                tuple(wu.items()), s.ps.model, tuple(ps.items()),
                s.max_dendritic_delay_timesteps, tuple(s.wu.pre_var_refs.items()),
                tuple(s.wu.post_var_refs.items()), tuple(s.ps.var_refs.items()),
                s.adjoint, adj_params))
        sources = [CurrentSourceSpec(c.name, c.target.name, c.model, tuple(
            c.model.evaluate_params(c.params, self.dt, f"current source '{c.name}'").items()))
            for c in self.current_sources.values()]
        self._spec = NetworkSpec(self.name, self.precision, self.dt, self.batch_size,
                                 tuple(pops), tuple(groups), tuple(sources), self.training)
        return self._spec

    def generate_source(self) -> str:
        """The generated C++ (or CUDA) source, without compiling it."""
        if self._source is None:
            self._source, self._layout = render(self.spec(), self.backend)
        return self._source

    def dump_source(self, path) -> Path:
        """Write the generated source to ``path`` (a file, or a directory to put it in)."""
        path = Path(path)
        if path.is_dir() or not path.suffix:          # a folder (existing or to create)
            path.mkdir(parents=True, exist_ok=True)
            path = path / source_name(self.backend)
        path.write_text(self.generate_source())
        return path

    def build(self) -> Path:
        """Generate and compile (or fetch from the cache); return the library's path."""
        try:
            source = self.generate_source()
        except (CodeGenerationError, ConfigError):
            self._spec = None
            raise
        self._library = build_shared_library(source, source_name(self.backend), self.backend)
        self.build_count += 1
        return self._library

    # ------------------------------------------------------------------ runtime
    def load(self, num_recording_timesteps: int | None = None) -> None:
        """Allocate and initialise every array (after :meth:`build`)."""
        if self._library is None:
            raise StateError(f"model '{self.name}' has not been built; call build() first")
        if self._runtime is not None:
            raise StateError(f"model '{self.name}' is already loaded; call unload() first")
        spec = self.spec()
        sizes = RuntimeSizes(
            max_row_length={s.name: s.connectivity().max_row_length
                            for s in self.synapse_populations.values()
                            if s.matrix_type is SynapseMatrixType.SPARSE},
            rec_steps=int(num_recording_timesteps or 0),
            tape_capacity={p: self._initial_tape(p) for p in taped_populations(spec)})
        self._runtime = Runtime(spec, self._layout, self._library, sizes, self.backend)
        try:
            # the code reads the ring's length from dp_rt: without this, steps before the
            # first growth in run() went unrecorded when num_recording_timesteps was given
            self._runtime.set_rt("rec_steps", sizes.rec_steps)
            self._upload_initial_state()
            self.reinitialise()
        except BaseException:
            self.unload()
            raise

    def _upload_initial_state(self) -> None:
        """Initial values, extra global parameters given before load() and connectivity
        of every population, current source and synapse group, into the loaded runtime
        (every backend's load uses this)."""
        for p in self.neuron_populations.values():
            for var in p.model.var_names:
                p.set_initial(var, p._init.get(var, 0))
        for c in self.current_sources.values():
            for var in c.model.var_names:
                c.set_initial(var, c._init.get(var, 0))
        for s in self.synapse_populations.values():
            self._upload_connectivity(s)
        for owner in (*self.neuron_populations.values(), *self.current_sources.values(),
                      *self.synapse_populations.values()):
            for egp, values in owner._egp_values.items():
                self._runtime.replace(egp_name(owner.name, egp), values)

    def _initial_tape(self, pop_name: str) -> int:
        """Events per instance a population's spike tape holds at first (it grows)."""
        if self.tape_capacity is not None:
            return int(self.tape_capacity)
        pop = self.neuron_populations[pop_name]
        return max(64, pop.size * max(self.training.num_steps, 1) // 8)

    def _runtime_or_raise(self) -> Runtime:
        if self._runtime is None:
            raise StateError(f"model '{self.name}' is not loaded; call build() and load() "
                             f"first")
        return self._runtime

    @property
    def runtime(self) -> Runtime:
        """The loaded model's arrays and entry points (StateError before :meth:`load`)."""
        return self._runtime_or_raise()

    @property
    def loaded(self) -> bool:
        return self._runtime is not None

    def _upload_connectivity(self, s: SynapseGroup) -> None:
        rt = self._runtime
        if s.matrix_type is SynapseMatrixType.SPARSE:
            ragged = s.connectivity()
            if rt.sizes.max_row_length.get(s.name) != ragged.max_row_length:
                rt.sizes.max_row_length[s.name] = ragged.max_row_length
                rt.set_rt(f"max_row_length.{s.name}", ragged.max_row_length)
                for name in rt.names(s.name, ArrayRole.CONN, ArrayRole.WUVAR,
                                     ArrayRole.ADJOINT_WUVAR):
                    rt.resize(name)
            rows, ind = row_length_name(s.name), ind_name(s.name)
            rt.arrays[rows][...] = ragged.row_length
            rt.arrays[ind][...] = ragged.ind(s.source.size)
            rt.push(rows, ind)
        self._upload_group_vars(s)

    def _upload_group_vars(self, s: SynapseGroup, only: str | None = None) -> None:
        rt = self._runtime
        for var in s.wu.model.vars:
            if only in (None, var.name):
                self._upload_synapse_var(s, var, s._init.get(var.name, 0))
        if s.adjoint is not None:
            for var in s.adjoint.vars:
                if only in (None, var.name):
                    self._upload_synapse_var(s, var, s.adjoint_init.get(var.name, 0))
        for var in s.ps.model.var_names:
            if only in (None, var):
                init, current = init_name(s.name, var), var_name(s.name, var)
                arr = rt.arrays[init]
                arr[...] = broadcast(s._ps_init.get(var, 0), arr.shape,
                                     f"synapse group '{s.name}' variable '{var}'")
                rt.arrays[current][...] = arr
                rt.push(init, current)

    def _upload_synapse_var(self, s: SynapseGroup, var, values) -> None:
        rt = self._runtime
        name = var_name(s.name, var.name)
        arr = rt.arrays[name]
        what = f"synapse group '{s.name}' variable '{var.name}'"
        if s.matrix_type is SynapseMatrixType.SPARSE:
            flat = s.connectivity().scatter(values, s.source.size, arr.dtype, what)
        else:
            values = np.asarray(values)
            n = s.source.size * s.target.size
            if values.shape == (s.source.size, s.target.size):
                values = values.reshape(n)
            flat = broadcast(values, (n,), what)
        arr[...] = flat        # broadcasts over a leading batch or thread axis
        rt.push(name)

    def reinitialise(self) -> None:
        """Put every batch instance back to its initial state; time back to 0."""
        rt = self._runtime_or_raise()
        rt.reset()
        for name in rt.names(None, ArrayRole.RECORD):
            rt.arrays[name][...] = 0
            rt.push(name)

    def run(self, num_steps: int) -> None:
        """Simulate ``num_steps`` steps of every batch instance inside compiled code."""
        rt = self._runtime_or_raise()
        num_steps = int(num_steps)
        if num_steps < 0:
            raise ConfigError(f"num_steps must be >= 0, got {num_steps}")
        if any(p.spike_recording_enabled for p in self.neuron_populations.values()):
            needed = self.timestep + num_steps - rt.get_rt("rec_start")
            if needed > rt.sizes.rec_steps:
                rt.sizes.rec_steps = max(needed, 2 * rt.sizes.rec_steps)
                for name in rt.names(None, ArrayRole.RECORD):
                    rt.pull(name)
                    rt.resize(name, keep=True)
                rt.set_rt("rec_steps", rt.sizes.rec_steps)
        rt.run(num_steps)

    def step_time(self) -> None:
        """Advance one step (PyGeNN's name)."""
        self.run(1)

    @property
    def timestep(self) -> int:
        return self._runtime_or_raise().get_rt("timestep")

    @property
    def t(self) -> float:
        return self.timestep * self.dt

    def _recorded_spikes(self, pop: NeuronGroup) -> list[tuple[np.ndarray, np.ndarray]]:
        rt = self._runtime_or_raise()
        if not pop.spike_recording_enabled:
            raise StateError(f"population '{pop.name}': spike recording is off; set "
                             f"spike_recording_enabled = True before build()")
        name = recording_name(pop.name)
        rt.pull(name)
        start = rt.get_rt("rec_start")
        steps = min(self.timestep - start, rt.sizes.rec_steps)
        words = np.ascontiguousarray(rt.arrays[name][:, :steps])
        bits = np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")
        inst, step, ids = np.nonzero(bits[..., :pop.size])     # sorted by (inst, step, id)
        bounds = np.searchsorted(inst, np.arange(self.batch_size + 1))
        times = (start + step) * self.dt
        ids = ids.astype(np.int64)
        return [(times[lo:hi], ids[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]

    def pull_recording_buffers_from_device(self) -> None:
        """PyGeNN's name; recording data is pulled on access, so this only checks state."""
        self._runtime_or_raise()

    def unload(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.unload()
