"""Model definitions in GeNN 5's model language.

The creator functions take the same arguments as PyGeNN's (``create_neuron_model``,
``create_postsynaptic_model``, ``create_weight_update_model``,
``create_current_source_model``), so the same call works in real PyGeNN. Models are
immutable values, checked when they are defined: names must be valid C identifiers, unique
and not reserved, and every name a code string uses must be known — an unknown name is
reported with the model, the field, the line and a close match.

Two delayprop extensions describe the backward (adjoint) pass of EventProp in the same
language: :class:`AdjointNeuronModel` and :class:`AdjointWeightUpdateModel`; see
``language.md`` beside this file.

Examples
--------
>>> lif = create_neuron_model(
...     "LIF", params=["tau_mem", "v_thresh", "v_reset"],
...     derived_params=[("alpha", lambda p, dt: np.exp(-dt / p["tau_mem"]))],
...     vars=[("V", "scalar")],
...     sim_code="V = alpha * V + (1.0 - alpha) * Isyn;",
...     threshold_condition_code="V >= v_thresh",
...     reset_code="V = v_reset;")
>>> lif.var_names
('V',)
"""
from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, fields
from typing import Callable, Mapping, Sequence

import numpy as np

from delayprop.errors import ModelDefinitionError, UnknownNameError
from delayprop.genn_models.code_strings import C_KEYWORDS, MATH_FUNCTIONS, check_names, rewrite_legacy

__all__ = [
    "VarAccess", "Var", "NeuronModel", "PostsynapticModel", "WeightUpdateModel",
    "CurrentSourceModel", "AdjointNeuronModel", "AdjointWeightUpdateModel",
    "create_neuron_model", "create_postsynaptic_model", "create_weight_update_model",
    "create_current_source_model", "create_adjoint_neuron_model",
    "create_adjoint_weight_update_model", "VAR_TYPES", "RESERVED_NAMES",
]

#: C types a variable may have (``scalar`` is float or double, the model's precision).
VAR_TYPES = ("scalar", "float", "double", "int8_t", "uint8_t", "int16_t", "uint16_t",
             "int32_t", "uint32_t", "int64_t", "uint64_t", "bool")

#: Names the generator provides in code strings; models may not define them.
RESERVED_NAMES = frozenset({
    "t", "dt", "id", "id_pre", "id_post", "id_syn", "batch", "num_neurons", "num_pre",
    "num_post", "num_batch", "Isyn", "inSyn", "RevISyn", "injectCurrent", "addToPost",
    "addToPostDelay", "addToPre",
}) | C_KEYWORDS


class VarAccess(enum.Enum):
    """Where a variable lives, with GeNN's meaning.

    ``READ_WRITE`` (default) and ``READ_ONLY_DUPLICATE``: one copy per batch instance.
    ``READ_ONLY``: one copy shared by all batch instances (weights, delays).
    ``REDUCE_BATCH_SUM``: an accumulator summed over the batch (gradients); code may only
    add to it.
    """
    READ_WRITE = "READ_WRITE"
    READ_ONLY = "READ_ONLY"
    READ_ONLY_DUPLICATE = "READ_ONLY_DUPLICATE"
    REDUCE_BATCH_SUM = "REDUCE_BATCH_SUM"

    @property
    def duplicated(self) -> bool:
        return self in (VarAccess.READ_WRITE, VarAccess.READ_ONLY_DUPLICATE)


@dataclass(frozen=True)
class Var:
    """A model variable: ``name``, C ``type`` and :class:`VarAccess`."""
    name: str
    type: str = "scalar"
    access: VarAccess = VarAccess.READ_WRITE


DerivedParam = tuple[str, Callable[[Mapping[str, float], float], float]]


def _identifier(name: object, context: str, what: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise ModelDefinitionError(f"[{context}] {what} name {name!r} is not a valid C "
                                   f"identifier (letters, digits, '_'; not starting with a digit)")
    if name in RESERVED_NAMES or name in MATH_FUNCTIONS:
        raise ModelDefinitionError(f"[{context}] {what} name '{name}' is reserved; choose "
                                   f"another name")
    if name.startswith("dp_"):
        raise ModelDefinitionError(f"[{context}] {what} name '{name}' is reserved "
                                   f"(the prefix 'dp_' is used by generated code)")
    return name


def _as_params(params, context) -> tuple[str, ...]:
    out = []
    for p in params or ():
        name = p[0] if isinstance(p, (tuple, list)) else p   # ("name", "type") accepted
        out.append(_identifier(name, context, "parameter"))
    return tuple(out)


def _as_vars(vars_, context, default_access=VarAccess.READ_WRITE) -> tuple[Var, ...]:
    out = []
    for v in vars_ or ():
        if isinstance(v, Var):
            var = v
        elif isinstance(v, (tuple, list)) and 1 <= len(v) <= 3:
            name, vtype = v[0], (v[1] if len(v) > 1 else "scalar")
            access = v[2] if len(v) > 2 else default_access
            if not isinstance(access, VarAccess):
                try:
                    access = VarAccess(str(getattr(access, "name", access)))
                except ValueError:
                    raise ModelDefinitionError(
                        f"[{context}] variable '{name}': access must be one of "
                        f"{[a.value for a in VarAccess]}, got {access!r}") from None
            var = Var(name, vtype, access)
        else:
            raise ModelDefinitionError(f"[{context}] a variable must be (name, type[, access]),"
                                       f" got {v!r}")
        _identifier(var.name, context, "variable")
        if var.type not in VAR_TYPES:
            raise ModelDefinitionError(f"[{context}] variable '{var.name}': type '{var.type}' "
                                       f"is not one of {', '.join(VAR_TYPES)}")
        out.append(var)
    return tuple(out)


def _as_derived(derived, context) -> tuple[DerivedParam, ...]:
    out = []
    for d in derived or ():
        if not (isinstance(d, (tuple, list)) and len(d) == 2 and callable(d[1])):
            raise ModelDefinitionError(f"[{context}] a derived parameter must be "
                                       f"(name, callable(params, dt)), got {d!r}")
        out.append((_identifier(d[0], context, "derived parameter"), d[1]))
    return tuple(out)


def _as_egps(egps, context) -> tuple[tuple[str, str], ...]:
    out = []
    for e in egps or ():
        if not (isinstance(e, (tuple, list)) and len(e) == 2):
            raise ModelDefinitionError(f"[{context}] an extra global parameter must be "
                                       f"(name, type), got {e!r}")
        name, etype = e
        base = etype.rstrip("*").strip()
        if base not in VAR_TYPES:
            raise ModelDefinitionError(f"[{context}] extra global parameter '{name}': type "
                                       f"'{etype}' is not one of {', '.join(VAR_TYPES)} "
                                       f"(with '*' for arrays)")
        out.append((_identifier(name, context, "extra global parameter"), etype))
    return tuple(out)


def _as_refs(refs, context) -> tuple[tuple[str, str], ...]:
    out = []
    for r in refs or ():
        name, rtype = (r, "scalar") if isinstance(r, str) else (r[0], r[1])
        out.append((_identifier(name, context, "variable reference"), rtype))
    return tuple(out)


def _unique(model_name: str, *groups: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in (n for g in groups for n in g):
        if name in seen:
            raise ModelDefinitionError(f"[{model_name}] name '{name}' is defined twice")
        seen.add(name)


class _ModelBase:
    """Shared helpers of all model kinds (frozen dataclasses)."""
    name: str
    params: tuple[str, ...]
    derived_params: tuple[DerivedParam, ...]
    vars: tuple[Var, ...]
    extra_global_params: tuple[tuple[str, str], ...]

    @property
    def var_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.vars)

    @property
    def derived_param_names(self) -> tuple[str, ...]:
        return tuple(d[0] for d in self.derived_params)

    def var(self, name: str) -> Var:
        for v in self.vars:
            if v.name == name:
                return v
        raise UnknownNameError(f"model '{self.name}' has no variable '{name}'; it has "
                               f"{list(self.var_names)}")

    def evaluate_params(self, values: Mapping[str, float], dt: float, context: str,
                        inherited: Mapping[str, float] | None = None) -> dict[str, float]:
        """Return params and derived params as numbers, checking that each is given.

        ``inherited`` (an adjoint's forward model's values) is visible to derived-param
        functions but not returned."""
        values = dict(values or {})
        missing = [p for p in self.params if p not in values]
        extra = [k for k in values if k not in self.params]
        if missing or extra:
            raise ModelDefinitionError(
                f"[{context}] model '{self.name}' takes params {list(self.params)}; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"unknown {extra}" if extra else ""))
        out = {p: float(values[p]) for p in self.params}
        for name, fn in self.derived_params:
            try:
                out[name] = float(fn({**(inherited or {}), **out}, float(dt)))
            except Exception as err:   # user callable: report which one failed
                raise ModelDefinitionError(f"[{context}] derived parameter '{name}' of model "
                                           f"'{self.name}' failed: {err}") from err
        return out

    def digest(self) -> str:
        """Hash of every code string, name and type (derived-param functions excluded)."""
        h = hashlib.sha256()
        for f in fields(self):   # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "derived_params":
                value = [d[0] for d in value]
            h.update(f"{f.name}={value!r};".encode())
        return h.hexdigest()[:16]

    def _check_code(self, field_name: str, known: set[str]) -> None:
        code = getattr(self, field_name)
        if code:
            check_names(code, known, f"{self.name}.{field_name}")


def _base_names(model) -> set[str]:
    return (set(model.params) | set(model.derived_param_names) | set(model.var_names)
            | {e[0] for e in model.extra_global_params} | {"t", "dt", "batch", "num_batch"})


@dataclass(frozen=True)
class NeuronModel(_ModelBase):
    name: str
    params: tuple[str, ...] = ()
    derived_params: tuple[DerivedParam, ...] = ()
    vars: tuple[Var, ...] = ()
    sim_code: str = ""
    threshold_condition_code: str = ""
    reset_code: str = ""
    extra_global_params: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        _unique(self.name, self.params, self.derived_param_names, self.var_names,
                [e[0] for e in self.extra_global_params])
        known = _base_names(self) | {"Isyn", "id", "num_neurons"}
        for f in ("sim_code", "threshold_condition_code", "reset_code"):
            self._check_code(f, known)
        if ";" in self.threshold_condition_code.strip().rstrip(";"):
            raise ModelDefinitionError(f"[{self.name}.threshold_condition_code] must be one "
                                       f"expression (e.g. 'V >= v_thresh'), not statements")

    @property
    def spikes(self) -> bool:
        return bool(self.threshold_condition_code.strip())


@dataclass(frozen=True)
class PostsynapticModel(_ModelBase):
    name: str
    params: tuple[str, ...] = ()
    derived_params: tuple[DerivedParam, ...] = ()
    vars: tuple[Var, ...] = ()
    sim_code: str = ""
    extra_global_params: tuple[tuple[str, str], ...] = ()
    neuron_var_refs: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        _unique(self.name, self.params, self.derived_param_names, self.var_names,
                [r[0] for r in self.neuron_var_refs])
        known = (_base_names(self) | {r[0] for r in self.neuron_var_refs}
                 | {"inSyn", "injectCurrent", "id", "num_neurons"})
        self._check_code("sim_code", known)


@dataclass(frozen=True)
class WeightUpdateModel(_ModelBase):
    name: str
    params: tuple[str, ...] = ()
    derived_params: tuple[DerivedParam, ...] = ()
    vars: tuple[Var, ...] = ()
    pre_spike_syn_code: str = ""
    extra_global_params: tuple[tuple[str, str], ...] = ()
    pre_neuron_var_refs: tuple[tuple[str, str], ...] = ()
    post_neuron_var_refs: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        _unique(self.name, self.params, self.derived_param_names, self.var_names,
                [r[0] for r in self.pre_neuron_var_refs],
                [r[0] for r in self.post_neuron_var_refs])
        known = (_base_names(self) | {r[0] for r in self.pre_neuron_var_refs}
                 | {r[0] for r in self.post_neuron_var_refs}
                 | {"addToPost", "addToPostDelay", "id_pre", "id_post", "id_syn", "num_pre",
                    "num_post"})
        self._check_code("pre_spike_syn_code", known)
        for v in self.vars:
            if v.access is VarAccess.REDUCE_BATCH_SUM:
                raise ModelDefinitionError(f"[{self.name}] variable '{v.name}': "
                                           f"REDUCE_BATCH_SUM belongs to adjoint models")


@dataclass(frozen=True)
class CurrentSourceModel(_ModelBase):
    name: str
    params: tuple[str, ...] = ()
    derived_params: tuple[DerivedParam, ...] = ()
    vars: tuple[Var, ...] = ()
    injection_code: str = ""
    extra_global_params: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        _unique(self.name, self.params, self.derived_param_names, self.var_names)
        self._check_code("injection_code", _base_names(self)
                         | {"injectCurrent", "id", "num_neurons"})


@dataclass(frozen=True)
class AdjointNeuronModel(_ModelBase):
    """Backward-pass (adjoint) dynamics of a population — a delayprop extension.

    The backward pass runs steps ``n = T-1 ... 0``. In each step, for every neuron that
    spiked in forward step ``n`` (read from the tape), ``jump_code`` runs with the tape
    variables recorded at that spike and ``RevISyn`` (the sum of what outgoing adjoint
    synapses passed with ``addToPre``); then ``sim_code`` runs for every neuron. Code may
    read and write the adjoint ``vars`` and read the forward model's vars (their values at
    the end of the forward pass) and params.

    ``tape_vars`` are ``(name, type, expression)``: the expression is evaluated in the
    forward neuron's scope when it spikes (after ``sim_code``, before ``reset_code``), e.g.
    ``("ISpike", "scalar", "Isyn")``.
    """
    name: str
    params: tuple[str, ...] = ()
    derived_params: tuple[DerivedParam, ...] = ()
    vars: tuple[Var, ...] = ()
    tape_vars: tuple[tuple[str, str, str], ...] = ()
    jump_code: str = ""
    sim_code: str = ""
    extra_global_params: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        _unique(self.name, self.params, self.derived_param_names, self.var_names,
                [v[0] for v in self.tape_vars])
        # Forward names are checked at network level, where the forward model is known.

    @property
    def tape_var_names(self) -> tuple[str, ...]:
        return tuple(v[0] for v in self.tape_vars)

    def check_against(self, forward: NeuronModel) -> None:
        fwd = set(forward.params) | set(forward.derived_param_names) | set(forward.var_names)
        clash = fwd & (set(self.var_names) | set(self.params) | set(self.derived_param_names)
                       | set(self.tape_var_names))
        if clash:
            raise ModelDefinitionError(f"[{self.name}] names {sorted(clash)} are also "
                                       f"defined by forward model '{forward.name}'")
        base = _base_names(self) | fwd | {"id", "num_neurons"}
        self._check_code("jump_code", base | set(self.tape_var_names) | {"RevISyn"})
        self._check_code("sim_code", base)
        fwd_known = _base_names(forward) | {"Isyn", "id", "num_neurons"}
        for name, vtype, expr in self.tape_vars:
            if vtype not in VAR_TYPES:
                raise ModelDefinitionError(f"[{self.name}] tape variable '{name}': type "
                                           f"'{vtype}' is not one of {', '.join(VAR_TYPES)}")
            check_names(expr, fwd_known, f"{self.name}.tape_vars[{name}]")


@dataclass(frozen=True)
class AdjointWeightUpdateModel(_ModelBase):
    """Backward-pass counterpart of a weight update model — a delayprop extension.

    ``pre_spike_syn_code`` runs in backward step ``n`` for every synapse of every tape
    event the presynaptic population emitted in forward step ``n``. It may read the forward
    weight-update variables, ``<tape var>_pre`` for each name in ``pre_tape_vars``, and
    ``<var>_post`` for each postsynaptic adjoint variable in ``post_delayed_vars``, read at
    the step the forward event arrived: ``n + 1 + delay`` with ``delay`` the expression
    given (the mirror of ``addToPostDelay``). ``addToPre(x)`` adds ``x`` to the
    presynaptic neuron's ``RevISyn``. Gradient accumulators have access
    ``REDUCE_BATCH_SUM``.
    """
    name: str
    params: tuple[str, ...] = ()
    derived_params: tuple[DerivedParam, ...] = ()
    vars: tuple[Var, ...] = ()
    pre_tape_vars: tuple[str, ...] = ()
    post_delayed_vars: tuple[str, ...] = ()
    delay: str = "0"
    pre_spike_syn_code: str = ""
    extra_global_params: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        _unique(self.name, self.params, self.derived_param_names, self.var_names)

    def check_against(self, forward: WeightUpdateModel) -> None:
        fwd = set(forward.params) | set(forward.derived_param_names) | set(forward.var_names)
        clash = fwd & (set(self.var_names) | set(self.params) | set(self.derived_param_names))
        if clash:
            raise ModelDefinitionError(f"[{self.name}] names {sorted(clash)} are also "
                                       f"defined by forward model '{forward.name}'")
        known = (_base_names(self) | fwd | {f"{v}_pre" for v in self.pre_tape_vars}
                 | {f"{v}_post" for v in self.post_delayed_vars}
                 | {"addToPre", "id_pre", "id_post", "id_syn", "num_pre", "num_post"})
        self._check_code("pre_spike_syn_code", known)
        check_names(self.delay, set(forward.var_names) | set(forward.params)
                    | set(forward.derived_param_names), f"{self.name}.delay")


def _code(value, model_name, field_name) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ModelDefinitionError(f"[{model_name}.{field_name}] code must be a string, "
                                   f"got {type(value).__name__}")
    return rewrite_legacy(value, f"{model_name}.{field_name}")


def _name(class_name) -> str:
    if not isinstance(class_name, str) or not re.fullmatch(r"[A-Za-z_]\w*", class_name):
        raise ModelDefinitionError(f"model name {class_name!r} must be a valid identifier")
    return class_name


def create_neuron_model(class_name: str, params=None, vars=None, derived_params=None,
                        sim_code=None, threshold_condition_code=None, reset_code=None,
                        extra_global_params=None) -> NeuronModel:
    """Define a neuron model (PyGeNN's signature).

    Parameters
    ----------
    class_name : str
        Name of the model, used in messages and generated code.
    params : list of str
        Parameter names; values are given per population and baked into the code.
    vars : list of (name, type[, access])
        State variables, one value per neuron and batch instance.
    derived_params : list of (name, callable(params, dt))
        Constants computed once at generation time (e.g. ``exp(-dt / tau_mem)``).
    sim_code : str
        C code run once per step; may read ``Isyn`` (summed synaptic input), ``t``, ``dt``,
        ``id``, ``batch``.
    threshold_condition_code : str
        A C expression; when true, the neuron spikes in this step.
    reset_code : str
        C code run after a spike.
    extra_global_params : list of (name, type)
        Arrays (type ending in ``*``) or scalars shared by the population.
    """
    name = _name(class_name)
    return NeuronModel(
        name, _as_params(params, name), _as_derived(derived_params, name),
        _as_vars(vars, name), _code(sim_code, name, "sim_code"),
        _code(threshold_condition_code, name, "threshold_condition_code"),
        _code(reset_code, name, "reset_code"), _as_egps(extra_global_params, name))


def create_postsynaptic_model(class_name: str, params=None, vars=None, derived_params=None,
                              sim_code=None, extra_global_params=None,
                              neuron_var_refs=None) -> PostsynapticModel:
    """Define a postsynaptic model (PyGeNN's signature).

    ``sim_code`` runs once per neuron and step with ``inSyn`` (the synaptic input
    accumulated so far, this step's dendritic-delay slot already added) and calls
    ``injectCurrent(x)`` to add ``x`` to the neuron's ``Isyn``.
    """
    name = _name(class_name)
    return PostsynapticModel(
        name, _as_params(params, name), _as_derived(derived_params, name),
        _as_vars(vars, name), _code(sim_code, name, "sim_code"),
        _as_egps(extra_global_params, name), _as_refs(neuron_var_refs, name))


def create_weight_update_model(class_name: str, params=None, vars=None, derived_params=None,
                               pre_spike_syn_code=None, extra_global_params=None,
                               pre_neuron_var_refs=None,
                               post_neuron_var_refs=None) -> WeightUpdateModel:
    """Define a weight update model (PyGeNN's signature, the subset delayprop runs).

    ``pre_spike_syn_code`` runs for every synapse of a presynaptic neuron that spiked in
    the previous step; ``addToPost(x)`` adds ``x`` to the target's input now,
    ``addToPostDelay(x, d)`` ``d`` steps later (``0 <= d <`` the group's
    ``max_dendritic_delay_timesteps``; floating-point ``d`` is rounded).
    """
    name = _name(class_name)
    return WeightUpdateModel(
        name, _as_params(params, name), _as_derived(derived_params, name),
        _as_vars(vars, name), _code(pre_spike_syn_code, name, "pre_spike_syn_code"),
        _as_egps(extra_global_params, name), _as_refs(pre_neuron_var_refs, name),
        _as_refs(post_neuron_var_refs, name))


def create_current_source_model(class_name: str, params=None, vars=None,
                                derived_params=None, injection_code=None,
                                extra_global_params=None) -> CurrentSourceModel:
    """Define a current source (PyGeNN's signature); ``injectCurrent(x)`` adds to Isyn."""
    name = _name(class_name)
    return CurrentSourceModel(
        name, _as_params(params, name), _as_derived(derived_params, name),
        _as_vars(vars, name), _code(injection_code, name, "injection_code"),
        _as_egps(extra_global_params, name))


def create_adjoint_neuron_model(class_name: str, params=None, vars=None, derived_params=None,
                                tape_vars=None, jump_code=None, sim_code=None,
                                extra_global_params=None) -> AdjointNeuronModel:
    """Define the backward-pass dynamics of a population (see :class:`AdjointNeuronModel`)."""
    name = _name(class_name)
    tapes = tuple((_identifier(t[0], name, "tape variable"), t[1], t[2])
                  for t in tape_vars or ())
    return AdjointNeuronModel(
        name, _as_params(params, name), _as_derived(derived_params, name),
        _as_vars(vars, name), tapes, _code(jump_code, name, "jump_code"),
        _code(sim_code, name, "sim_code"), _as_egps(extra_global_params, name))


def create_adjoint_weight_update_model(class_name: str, params=None, vars=None,
                                       derived_params=None, pre_tape_vars=None,
                                       post_delayed_vars=None, delay="0",
                                       pre_spike_syn_code=None,
                                       extra_global_params=None) -> AdjointWeightUpdateModel:
    """Define the backward pass of a synapse group (see :class:`AdjointWeightUpdateModel`)."""
    name = _name(class_name)
    return AdjointWeightUpdateModel(
        name, _as_params(params, name), _as_derived(derived_params, name),
        _as_vars(vars, name), tuple(pre_tape_vars or ()), tuple(post_delayed_vars or ()),
        str(delay), _code(pre_spike_syn_code, name, "pre_spike_syn_code"),
        _as_egps(extra_global_params, name))


def exp_decay(tau_name: str) -> Callable[[Mapping[str, float], float], float]:
    """Derived-parameter helper: ``exp(-dt / p[tau_name])``."""
    return lambda p, dt: float(np.exp(-dt / p[tau_name]))
