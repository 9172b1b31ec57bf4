"""Memory layout: every array the generated code reads or writes.

Python (numpy) owns all memory; the generated code receives one pointer per array, in the
order of :func:`array_layout`, through ``dp_bind``. Shapes that depend on run-time values
(sparse row capacity, recording length, tape capacity, thread count) are given as
callables of :class:`RuntimeSizes` so that rewiring or a longer run reallocates an array
and rebinds it without rebuilding the code.

Naming: ``<population>_<var>``, ``<group>_<var>``; sparse groups use GeNN's ragged layout
``<group>_rowLength[pre]``, ``<group>_ind[pre * max_row_length + s]``.

Dendritic ring of a synapse group (per batch instance), D = max_dendritic_delay_timesteps::

    slot:   0      1      ...    D-1      D       step k reads and clears slot k % D;
    den:  [N_post][N_post] ... [N_post][N_post]   a spike of step k-1 with delay d adds
                                                   into slot (k + d) % D; slot D takes
                                                   events whose delay is out of range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from delayprop.compile.network_spec import NetworkSpec, SynapseMatrixType
from delayprop.errors import CodeGenerationError
from delayprop.genn_models.spec import VarAccess

__all__ = ["ArrayRole", "ArraySpec", "Layout", "RtDim", "RuntimeSizes", "RT_FIELDS",
           "rt_fields", "array_layout", "NUMPY_TYPES", "c_type", "INSTANCE", "THREAD",
           "SHARED"]

#: Slots of the ``dp_rt`` int64 array shared by Python and the generated code; see
#: :func:`rt_fields` for the per-group and per-population slots that follow them.
RT_FIELDS = ("timestep", "rec_start", "rec_steps", "error", "error_detail", "num_threads")


def rt_fields(spec: NetworkSpec) -> tuple[str, ...]:
    """All ``dp_rt`` slots: :data:`RT_FIELDS`, then ``max_row_length.<sparse group>``,
    then ``tape_capacity.<taped population>``."""
    from delayprop.compile.lower import taped_populations
    sparse = [f"max_row_length.{g.name}" for g in spec.synapse_groups
              if g.matrix_type is SynapseMatrixType.SPARSE]
    tapes = ([f"tape_capacity.{p}" for p in taped_populations(spec)]
             if spec.training is not None else [])
    return RT_FIELDS + tuple(sparse) + tuple(tapes)

NUMPY_TYPES = {"float": np.float32, "double": np.float64, "int8_t": np.int8,
               "uint8_t": np.uint8, "int16_t": np.int16, "uint16_t": np.uint16,
               "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64,
               "uint64_t": np.uint64, "bool": np.bool_}


def padded8(n: int) -> int:
    """``n`` rounded up to a multiple of 8 (spike flags are scanned 8 at a time)."""
    return (n + 7) // 8 * 8


def c_type(vtype: str, precision: str) -> str:
    return precision if vtype == "scalar" else vtype


class ArrayRole(str, Enum):
    """What an array is for; the runtime and training select arrays by role."""
    RT = "rt"                          # dp_rt: run-time integers shared with the code
    VAR = "var"                        # a neuron / current-source model variable
    INIT = "init"                      # initial values of a VAR (copied at reset)
    EGP = "egp"                        # an extra global parameter
    SPIKE = "spike"                    # spike counts and indices of the last step
    SCRATCH = "scratch"                # per-step temporaries (spike flags, tape staging)
    RECORD = "record"                  # spike recording bits
    INSYN = "insyn"                    # a group's input current
    RING = "ring"                      # a group's dendritic delay ring
    PSVAR = "psvar"                    # a postsynaptic model variable
    PSINIT = "psinit"                  # initial values of a PSVAR
    CONN = "conn"                      # sparse connectivity (rowLength, ind)
    WUVAR = "wuvar"                    # a weight update model variable
    ADJOINT = "adjoint"                # an adjoint neuron variable
    ADJOINT_RING = "adjoint_ring"      # delayed reads of a target's adjoint variables
    ADJOINT_WUVAR = "adjoint_wuvar"    # an adjoint synapse variable (gradients)
    TAPE = "tape"                      # forward events replayed backward
    TRACE = "trace"                    # an adjoint variable at every step (RigL)
    LOSS = "loss"                      # labels and per-instance loss
    TRIAL = "trial"                    # whole-trial buffers of trial-level groups

    def __str__(self) -> str:
        return self.value


@dataclass
class RuntimeSizes:
    """Sizes that may change after the code is built."""
    max_row_length: dict[str, int] = field(default_factory=dict)   # per SPARSE group
    rec_steps: int = 0
    tape_capacity: dict[str, int] = field(default_factory=dict)    # per taped population
    num_threads: int = 1

    def value(self, rt_field: str) -> int:
        """The size behind a ``dp_rt`` slot name (``max_row_length.<group>`` ...)."""
        kind, _, owner = rt_field.partition(".")
        if kind in ("max_row_length", "tape_capacity"):
            return getattr(self, kind)[owner]
        return getattr(self, kind)


@dataclass(frozen=True)
class RtDim:
    """A dimension known only at run time: ``scale`` times the ``dp_rt`` slot ``field``
    (the generated code reads the slot; numpy takes the value from :class:`RuntimeSizes`)."""
    field: str
    scale: int = 1

    def size(self, rs: RuntimeSizes) -> int:
        return self.scale * rs.value(self.field)

    def c_expr(self) -> str:
        slot = f"dp.dp_rt[DP_RT_{self.field.replace('.', '_')}]"
        return slot if self.scale == 1 else f"{self.scale} * {slot}"


#: What the leading axis of an array is indexed by in the generated code.
INSTANCE, THREAD, SHARED = "instance", "thread", "shared"


@dataclass(frozen=True)
class ArraySpec:
    """One generated array: the single description behind the C declaration in
    ``DPState``, every pointer the generated code takes into it, and its numpy view.

    ``dims`` are whole numbers or :class:`RtDim`; with ``lead`` = INSTANCE (THREAD) the
    first dimension is the batch instance (the thread's gradient buffer), and a pointer
    for instance ``b`` starts ``b`` rows of the remaining dimensions in.
    """
    name: str                      # C field name
    ctype: str                     # C element type (precision already resolved)
    dims: tuple                    # ints and RtDims
    owner: str                     # population / group / current source name, or ""
    role: ArrayRole
    var: str = ""                  # model variable / EGP name where role is var/egp
    zero_on_reset: bool = False    # cleared at the start of every trial
    lead: str = SHARED             # INSTANCE, THREAD or SHARED (no per-index rows)

    @property
    def dtype(self):
        return NUMPY_TYPES[self.ctype]

    def shape(self, rs: RuntimeSizes) -> tuple[int, ...]:
        return tuple(d.size(rs) if isinstance(d, RtDim) else int(d) for d in self.dims)

    @property
    def row_dims(self) -> tuple:
        """The dimensions under one leading index (all of them for a SHARED array)."""
        return self.dims[1:] if self.lead != SHARED else self.dims

    def row_elements(self) -> int:
        """Elements under one leading index; only for arrays with static row shapes."""
        if any(isinstance(d, RtDim) for d in self.row_dims):
            raise CodeGenerationError(f"array '{self.name}' has a run-time row size")
        return math.prod(int(d) for d in self.row_dims)

    def row_stride_c(self) -> str:
        """C expression of the elements under one leading index."""
        static = math.prod(int(d) for d in self.row_dims if not isinstance(d, RtDim))
        parts = [d.c_expr() for d in self.row_dims if isinstance(d, RtDim)]
        if not parts:
            return str(static)
        factor = "" if static == 1 else f"{static} * "
        return "(size_t)" + factor + " * ".join(f"({p})" for p in parts)

    def row_index(self, *indices: str) -> str:
        """C expression of element ``indices`` (one per row dimension) within a row."""
        dims = self.row_dims
        if len(indices) != len(dims):
            raise CodeGenerationError(f"array '{self.name}' rows have {len(dims)} "
                                      f"dimensions, got {len(indices)} indices")
        expr = ""
        for i, (idx, dim) in enumerate(zip(indices, dims)):
            if i == 0:
                expr = f"({idx})"
            else:
                size = dim.c_expr() if isinstance(dim, RtDim) else str(dim)
                expr = f"({expr}) * {size} + ({idx})" if i > 1 else f"{expr} * {size} + ({idx})"
        return expr or "0"

    def element(self, index: str, *row: str) -> str:
        """C lvalue of element ``row`` of row ``index`` (through ``dp``)."""
        inner = self.row_index(*row) if row else "0"
        if self.lead == SHARED:
            return f"dp.{self.name}[{inner}]"
        return f"dp.{self.name}[(size_t)({index}) * {self.row_stride_c()} + {inner}]"

    def flat_element(self, index: str, i: str) -> str:
        """C lvalue of the ``i``-th element of row ``index``, counting in memory order."""
        if self.lead == SHARED:
            return f"dp.{self.name}[{i}]"
        return f"dp.{self.name}[(size_t)({index}) * {self.row_stride_c()} + ({i})]"

    def pointer(self, index: str = "b", *, local: str | None = None, const: bool = False,
                restrict: bool = True) -> str:
        """Declaration of a pointer to the row ``index`` of this array (the whole array for
        SHARED ones), named ``local`` (default: the array's own name)."""
        local = local or self.name
        qual = "const " if const else ""
        rs = " __restrict__" if restrict else ""
        offset = "" if self.lead == SHARED else f" + (size_t)({index}) * {self.row_stride_c()}"
        return f"{qual}{self.ctype}*{rs} const {local} = dp.{self.name}{offset};"


class Layout:
    """Every array of one network, by name; the generated code and the runtime ask it."""

    def __init__(self, arrays: list[ArraySpec]):
        self.arrays = list(arrays)
        self.by_name = {a.name: a for a in self.arrays}

    def __getitem__(self, name: str) -> ArraySpec:
        try:
            return self.by_name[name]
        except KeyError:
            raise CodeGenerationError(f"the layout has no array '{name}'") from None

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def __iter__(self):
        return iter(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)

    def select(self, owner: str | None = None, *roles: ArrayRole) -> list[ArraySpec]:
        """Arrays of ``owner`` (any owner if None) with one of ``roles`` (any if none)."""
        return [a for a in self.arrays if (owner is None or a.owner == owner)
                and (not roles or a.role in roles)]

    def pointer(self, name: str, index: str = "b", **kwargs) -> str:
        return self[name].pointer(index, **kwargs)


def array_layout(spec: NetworkSpec) -> Layout:
    """All arrays of ``spec`` in binding order (``dp_rt`` is always first)."""
    prec = spec.precision.value
    B = spec.batch_size
    out = [ArraySpec("dp_rt", "int64_t", (len(rt_fields(spec)),), "", ArrayRole.RT)]
    for pop in spec.populations:
        out += _population_arrays(spec, pop, prec, B)
    for cs in spec.current_sources:
        n = spec.population(cs.target).size
        for v in cs.model.vars:
            out.append(ArraySpec(f"{cs.name}_{v.name}", c_type(v.type, prec), (B, n),
                                 cs.name, ArrayRole.VAR, v.name, lead=INSTANCE))
        out += _egps(cs.name, cs.model, prec)
    for sg in spec.synapse_groups:
        out += _group_arrays(spec, sg, prec, B)
    if spec.training is not None:
        out.append(ArraySpec("dp_labels", "int32_t", (B,), "", ArrayRole.LOSS,
                             lead=INSTANCE))
        out.append(ArraySpec("dp_loss", prec, (B,), "", ArrayRole.LOSS, lead=INSTANCE))
    return Layout(out)


def _egps(owner, model, prec) -> list[ArraySpec]:
    out = []
    for name, etype in model.extra_global_params:
        ctype = c_type(etype.rstrip("*").strip(), prec)
        # Arrays are sized by the user (bound with Runtime.replace); scalars are
        # one-element arrays read as egp[0].
        dims = (0,) if etype.endswith("*") else (1,)
        out.append(ArraySpec(f"{owner}_{name}", ctype, dims, owner, ArrayRole.EGP, name))
    return out


def _per_instance(name, ctype, B, row, owner, role, var="", zero=False) -> ArraySpec:
    return ArraySpec(name, ctype, (B,) + tuple(row), owner, role, var, zero_on_reset=zero,
                     lead=INSTANCE)


def _population_arrays(spec, pop, prec, B) -> list[ArraySpec]:
    n, p = pop.size, pop.name
    out = []
    for v in pop.model.vars:
        ct = c_type(v.type, prec)
        out.append(_per_instance(f"{p}_{v.name}", ct, B, (n,), p, ArrayRole.VAR, v.name))
        out.append(_per_instance(f"{p}_{v.name}_init", ct, B, (n,), p, ArrayRole.INIT,
                                 v.name))
    out += _egps(p, pop.model, prec)
    if pop.model.spikes:
        out.append(_per_instance(f"{p}_spkCnt", "uint32_t", B, (), p, ArrayRole.SPIKE,
                                 zero=True))
        out.append(_per_instance(f"{p}_spk", "uint32_t", B, (max(n, 1),), p,
                                 ArrayRole.SPIKE))
        # padded: the CPU backend scans the flags eight at a time
        out.append(_per_instance(f"{p}_spiked", "uint8_t", B, (padded8(n),), p,
                                 ArrayRole.SCRATCH))
    if pop.record_spikes:
        words = (n + 31) // 32
        out.append(ArraySpec(f"{p}_recSpk", "uint32_t", (B, RtDim("rec_steps"), words), p,
                             ArrayRole.RECORD, lead=INSTANCE))
    if spec.training is not None:
        out += _training_population_arrays(spec, pop, prec, B)
    return out


def _training_population_arrays(spec, pop, prec, B) -> list[ArraySpec]:
    from delayprop.compile.lower import delayed_ring_size, taped_populations
    n, T, p = pop.size, spec.training.num_steps, pop.name
    out = []
    if pop.adjoint is not None:
        for v in pop.adjoint.vars:
            out.append(_per_instance(f"{p}_{v.name}", c_type(v.type, prec), B, (n,), p,
                                     ArrayRole.ADJOINT, v.name, zero=True))
        out.append(_per_instance(f"{p}_RevISyn", prec, B, (n,), p, ArrayRole.ADJOINT,
                                 "RevISyn", zero=True))
        out += _egps(p, pop.adjoint, prec)
        for var, depth in delayed_ring_size(spec, p).items():
            out.append(_per_instance(f"{p}_ring_{var}", prec, B, (depth, n), p,
                                     ArrayRole.ADJOINT_RING, var, zero=True))
    taped = taped_populations(spec)
    if p in taped:
        cap = RtDim(f"tape_capacity.{p}")
        out.append(_per_instance(f"{p}_tapeId", "uint32_t", B, (cap,), p, ArrayRole.TAPE))
        for tv, ttype, _ in taped[p]:
            ct = c_type(ttype, prec)
            out.append(_per_instance(f"{p}_tape_{tv}", ct, B, (cap,), p, ArrayRole.TAPE, tv))
            out.append(_per_instance(f"{p}_tapeTmp_{tv}", ct, B, (n,), p, ArrayRole.SCRATCH,
                                     tv))
        out.append(_per_instance(f"{p}_tapeStart", "uint32_t", B, (T + 1,), p,
                                 ArrayRole.TAPE))
        out.append(_per_instance(f"{p}_tapeCount", "uint32_t", B, (), p, ArrayRole.TAPE,
                                 zero=True))
    from delayprop.compile.trial import event_type, trial_adjoint_vars, trial_sources, \
        trial_stride
    rows = (n, B, trial_stride(spec)) if p in trial_sources(spec) or \
        p in trial_adjoint_vars(spec) else ()              # [neuron][instance][step]
    for var in trial_sources(spec).get(p, ()):
        out.append(ArraySpec(f"{p}_trialRec_{var}", c_type(pop.model.var(var).type, prec),
                             rows, p, ArrayRole.TRIAL, var))
    if p in trial_sources(spec):
        # the step itself where the neuron had an event, else the largest value (trial.py)
        out.append(ArraySpec(f"{p}_trialEvent", event_type(spec)[0], rows, p,
                             ArrayRole.TRIAL))
    for var in trial_adjoint_vars(spec).get(p, ()):
        out.append(ArraySpec(f"{p}_trialAdj_{var}", prec, rows, p, ArrayRole.TRIAL, var))
        # written step by step by the adjoint neuron code, then moved into trialAdj
        out.append(_per_instance(f"{p}_trialStep_{var}", prec, B, (T, n), p, ArrayRole.TRIAL,
                                 var))
    for pv, av in spec.training.trace_vars:
        if pv == p:
            out.append(_per_instance(f"{p}_trace_{av}", prec, B, (T, n), p, ArrayRole.TRACE,
                                     av))
    return out


def _group_arrays(spec, sg, prec, B) -> list[ArraySpec]:
    n_pre = spec.population(sg.source).size
    n_post = spec.population(sg.target).size
    D = sg.max_dendritic_delay_timesteps
    g = sg.name
    out = [_per_instance(f"{g}_inSyn", prec, B, (n_post,), g, ArrayRole.INSYN, zero=True),
           # D slots and one more: events with an out-of-range delay land in slot D,
           # never read, so a bad delay cannot write outside the ring (runtime reports it)
           _per_instance(f"{g}_den", prec, B, (D + 1, n_post), g, ArrayRole.RING, zero=True)]
    for v in sg.ps_model.vars:
        ct = c_type(v.type, prec)
        out.append(_per_instance(f"{g}_{v.name}", ct, B, (n_post,), g, ArrayRole.PSVAR,
                                 v.name))
        out.append(_per_instance(f"{g}_{v.name}_init", ct, B, (n_post,), g,
                                 ArrayRole.PSINIT, v.name))
    if sg.matrix_type is SynapseMatrixType.SPARSE:
        row = RtDim(f"max_row_length.{g}", scale=n_pre)
        out.append(ArraySpec(f"{g}_rowLength", "uint32_t", (n_pre,), g, ArrayRole.CONN))
        out.append(ArraySpec(f"{g}_ind", "uint32_t", (row,), g, ArrayRole.CONN))
    else:
        row = n_pre * n_post
    wu_vars = list(sg.wu_model.vars)
    if sg.adjoint is not None:
        wu_vars += list(sg.adjoint.vars)
    for v in wu_vars:
        role = ArrayRole.WUVAR if v in sg.wu_model.vars else ArrayRole.ADJOINT_WUVAR
        ct = c_type(v.type, prec)
        if v.access is VarAccess.REDUCE_BATCH_SUM:     # one gradient buffer per thread
            out.append(ArraySpec(f"{g}_{v.name}", ct, (RtDim("num_threads"), row), g, role,
                                 v.name, lead=THREAD))
        elif v.access.duplicated:
            out.append(_per_instance(f"{g}_{v.name}", ct, B, (row,), g, role, v.name))
        else:
            out.append(ArraySpec(f"{g}_{v.name}", ct, (row,), g, role, v.name))
    out += _egps(g, sg.wu_model, prec)
    from delayprop.compile.trial import is_trial_group
    if spec.training is not None and is_trial_group(spec, sg):
        out += _trial_group_arrays(spec, sg, prec, B, row)
    return out


def _trial_group_arrays(spec, sg, prec, B, row) -> list[ArraySpec]:
    """Whole-trial input current and the delay-ordered columns of a trial-level group
    (compile/trial.py); the column arrays are rebuilt from the connectivity and delays
    at the start of every forward pass."""
    from delayprop.compile.trial import trial_stride
    g = sg.name
    n_post = spec.population(sg.target).size
    D = sg.max_dendritic_delay_timesteps
    out = [ArraySpec(f"{g}_trialIn", prec, (n_post, B, trial_stride(spec)), g,
                     ArrayRole.TRIAL),
           # trialIn of one instance step by step, as the neuron code reads it
           _per_instance(f"{g}_trialStep", prec, B, (spec.training.num_steps, n_post), g,
                         ArrayRole.TRIAL),
           ArraySpec(f"{g}_colStart", "uint32_t", (n_post + 1,), g, ArrayRole.CONN),
           ArraySpec(f"{g}_colCount", "uint32_t", (max(D, n_post) + 1,), g, ArrayRole.CONN)]
    for name in ("colSyn", "colPre", "colPost", "colDelay", "colTmp", "synDelay"):
        out.append(ArraySpec(f"{g}_{name}", "uint32_t", (row,), g, ArrayRole.CONN))
    return out
