"""Validated, immutable description of a network, the input of code generation.

Everything that changes the generated code lives here (models, evaluated parameters, sizes,
connectivity kind, ring sizes, batch size, precision); everything that does not (weights,
delays, sparse row contents, initial values, input data) lives in arrays bound at run time,
so that changing them, and rewiring sparse groups, never rebuilds anything.
"""
from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

import numpy as np

from delayprop.delays import check_ring_size
from delayprop.errors import CodeGenerationError, ModelDefinitionError, UnknownNameError
from delayprop.genn_models.spec import (AdjointNeuronModel, AdjointWeightUpdateModel,
                                        CurrentSourceModel, NeuronModel, PostsynapticModel,
                                        WeightUpdateModel)

__all__ = ["SynapseMatrixType", "Precision", "PopulationSpec", "SynapseGroupSpec",
           "CurrentSourceSpec", "NetworkSpec"]


class SynapseMatrixType(enum.Enum):
    """Connectivity layout, GeNN's names: DENSE ``[pre, post]`` or SPARSE (ragged rows)."""
    DENSE = "DENSE"
    SPARSE = "SPARSE"

    @classmethod
    def parse(cls, value) -> "SynapseMatrixType":
        if isinstance(value, cls):
            return value
        name = str(getattr(value, "name", value)).upper()
        for member in cls:
            if name == member.value or name.startswith(member.value + "_"):
                return member   # accepts GeNN's "DENSE_INDIVIDUALG", "SPARSE_INDIVIDUALG"
        raise CodeGenerationError(f"matrix_type must be 'DENSE' or 'SPARSE', got {value!r}")


class Precision(enum.Enum):
    FLOAT = "float"
    DOUBLE = "double"

    @property
    def dtype(self) -> np.dtype:
        """The numpy type of ``scalar`` (note: numpy reads the string "float" as float64)."""
        return np.dtype(np.float32 if self is Precision.FLOAT else np.float64)

    @classmethod
    def parse(cls, value) -> "Precision":
        try:
            return cls(str(value).lower())
        except ValueError:
            raise CodeGenerationError(f"precision must be 'float' or 'double', "
                                      f"got {value!r}") from None


@dataclass(frozen=True)
class PopulationSpec:
    name: str
    size: int
    model: NeuronModel
    params: tuple[tuple[str, float], ...]          # params and derived params, evaluated
    adjoint: AdjointNeuronModel | None = None
    adjoint_params: tuple[tuple[str, float], ...] = ()
    record_spikes: bool = False

    @property
    def param_dict(self) -> dict[str, float]:
        return dict(self.params)


@dataclass(frozen=True)
class SynapseGroupSpec:
    name: str
    source: str
    target: str
    matrix_type: SynapseMatrixType
    wu_model: WeightUpdateModel
    wu_params: tuple[tuple[str, float], ...]
    ps_model: PostsynapticModel
    ps_params: tuple[tuple[str, float], ...]
    max_dendritic_delay_timesteps: int = 1
    pre_var_refs: tuple[tuple[str, str], ...] = ()     # (name in WU code, source var)
    post_var_refs: tuple[tuple[str, str], ...] = ()    # (name in WU code, target var)
    ps_var_refs: tuple[tuple[str, str], ...] = ()      # (name in PSM code, target var)
    adjoint: AdjointWeightUpdateModel | None = None
    adjoint_params: tuple[tuple[str, float], ...] = ()

    def param_dict_wu(self) -> dict[str, float]:
        return dict(self.wu_params)


@dataclass(frozen=True)
class CurrentSourceSpec:
    name: str
    target: str
    model: CurrentSourceModel
    params: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network; ``digest`` identifies the code it generates."""
    name: str
    precision: Precision
    dt: float
    batch_size: int
    populations: tuple[PopulationSpec, ...]
    synapse_groups: tuple[SynapseGroupSpec, ...] = ()
    current_sources: tuple[CurrentSourceSpec, ...] = ()
    training: "TrainingSpec | None" = None

    def __post_init__(self):
        if self.batch_size < 1:
            raise CodeGenerationError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.dt > 0:
            raise CodeGenerationError(f"dt must be > 0 ms, got {self.dt}")
        names = [p.name for p in self.populations] + [s.name for s in self.synapse_groups] \
            + [c.name for c in self.current_sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise CodeGenerationError(f"names must be unique across populations, synapse "
                                      f"groups and current sources; repeated: {dupes}")
        pops = {p.name: p for p in self.populations}
        for sg in self.synapse_groups:
            for end in (sg.source, sg.target):
                if end not in pops:
                    raise CodeGenerationError(f"synapse group '{sg.name}': population "
                                              f"'{end}' does not exist; known: {list(pops)}")
            check_ring_size(sg.max_dendritic_delay_timesteps, f"synapse group '{sg.name}'",
                            "max_dendritic_delay_timesteps", CodeGenerationError)
            if not pops[sg.source].model.spikes:
                raise CodeGenerationError(
                    f"synapse group '{sg.name}': source '{sg.source}' (model "
                    f"'{pops[sg.source].model.name}') has no threshold_condition_code, so it "
                    f"never emits spikes")
            for ref, var in sg.pre_var_refs:
                _check_ref(sg.name, ref, var, pops[sg.source])
            for ref, var in sg.post_var_refs + sg.ps_var_refs:
                _check_ref(sg.name, ref, var, pops[sg.target])
        for cs in self.current_sources:
            if cs.target not in pops:
                raise CodeGenerationError(f"current source '{cs.name}': population "
                                          f"'{cs.target}' does not exist")

    def population(self, name: str) -> PopulationSpec:
        for p in self.populations:
            if p.name == name:
                return p
        raise UnknownNameError(f"network '{self.name}' has no population '{name}'; known: "
                               f"{[p.name for p in self.populations]}")

    def incoming(self, name: str) -> list[SynapseGroupSpec]:
        return [s for s in self.synapse_groups if s.target == name]

    def outgoing(self, name: str) -> list[SynapseGroupSpec]:
        return [s for s in self.synapse_groups if s.source == name]

    def digest(self) -> str:
        h = hashlib.sha256(repr(self._key()).encode())
        return h.hexdigest()[:16]

    def _key(self):
        def model_key(m):
            return None if m is None else m.digest()
        return (self.name, self.precision.value, self.dt, self.batch_size,
                [(p.name, p.size, model_key(p.model), p.params, model_key(p.adjoint),
                  p.adjoint_params, p.record_spikes) for p in self.populations],
                [(s.name, s.source, s.target, s.matrix_type.value, model_key(s.wu_model),
                  s.wu_params, model_key(s.ps_model), s.ps_params,
                  s.max_dendritic_delay_timesteps, s.pre_var_refs, s.post_var_refs,
                  s.ps_var_refs, model_key(s.adjoint), s.adjoint_params)
                 for s in self.synapse_groups],
                [(c.name, c.target, model_key(c.model), c.params)
                 for c in self.current_sources],
                None if self.training is None else self.training.key())


def _check_ref(group: str, ref: str, var: str, pop: PopulationSpec) -> None:
    if var not in pop.model.var_names:
        raise ModelDefinitionError(
            f"synapse group '{group}': variable reference '{ref}' points to '{var}', which "
            f"population '{pop.name}' (model '{pop.model.name}') does not have; it has "
            f"{list(pop.model.var_names)}")


@dataclass(frozen=True)
class TrainingSpec:
    """What the training compiler adds to a network: trial length and the loss block.

    ``loss_code`` is C code run once per batch instance between the forward and the
    backward pass (see delayprop.training.losses); ``loss_population`` names the
    population whose vars it reads and writes.
    """
    num_steps: int
    loss_population: str
    loss_code: str
    trace_vars: tuple[tuple[str, str], ...] = field(default=())   # (population, adjoint var)
    #: input populations whose eligible outgoing groups are computed for the whole trial
    #: at once (compile/trial.py); every other group keeps the per-step dendritic ring
    trial_inputs: tuple[str, ...] = ()

    def key(self):
        return (self.num_steps, self.loss_population, self.loss_code, self.trace_vars,
                self.trial_inputs)
