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

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

import numpy as np

from delayprop.compile.spec import NetworkSpec, SynapseMatrixType
from delayprop.genn_models.spec import VarAccess

__all__ = ["ArrayRole", "ArraySpec", "RuntimeSizes", "RT_FIELDS", "rt_fields", "array_layout",
           "NUMPY_TYPES", "c_type"]

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

    def __str__(self) -> str:
        return self.value


@dataclass
class RuntimeSizes:
    """Sizes that may change after the code is built."""
    max_row_length: dict[str, int] = field(default_factory=dict)   # per SPARSE group
    rec_steps: int = 0
    tape_capacity: dict[str, int] = field(default_factory=dict)    # per taped population
    num_threads: int = 1


@dataclass(frozen=True)
class ArraySpec:
    name: str                      # C field name
    ctype: str                     # C element type (precision already resolved)
    shape: Callable[[RuntimeSizes], tuple[int, ...]]
    owner: str                     # population / group / current source name, or ""
    role: ArrayRole
    var: str = ""                  # model variable / EGP name where role is var/egp
    zero_on_reset: bool = False    # cleared at the start of every trial

    @property
    def dtype(self):
        return NUMPY_TYPES[self.ctype]


def _const(*shape: int) -> Callable[[RuntimeSizes], tuple[int, ...]]:
    return lambda rs: tuple(shape)


def array_layout(spec: NetworkSpec) -> list[ArraySpec]:
    """All arrays of ``spec`` in binding order (``dp_rt`` is always first)."""
    prec = spec.precision.value
    B = spec.batch_size
    out = [ArraySpec("dp_rt", "int64_t", _const(len(rt_fields(spec))), "", ArrayRole.RT)]
    for pop in spec.populations:
        out += _population_arrays(spec, pop, prec, B)
    for cs in spec.current_sources:
        n = spec.population(cs.target).size
        for v in cs.model.vars:
            out.append(ArraySpec(f"{cs.name}_{v.name}", c_type(v.type, prec), _const(B, n),
                                 cs.name, ArrayRole.VAR, v.name))
        out += _egps(cs.name, cs.model, prec)
    for sg in spec.synapse_groups:
        out += _group_arrays(spec, sg, prec, B)
    if spec.training is not None:
        out.append(ArraySpec("dp_labels", "int32_t", _const(B), "", ArrayRole.LOSS))
        out.append(ArraySpec("dp_loss", prec, _const(B), "", ArrayRole.LOSS))
    return out


def _egps(owner, model, prec) -> list[ArraySpec]:
    out = []
    for name, etype in model.extra_global_params:
        ctype = c_type(etype.rstrip("*").strip(), prec)
        # Arrays are sized by the user; scalars are one-element arrays read as egp[0].
        shape = (lambda rs: (0,)) if etype.endswith("*") else _const(1)
        out.append(ArraySpec(f"{owner}_{name}", ctype, shape, owner, ArrayRole.EGP, name))
    return out


def _population_arrays(spec, pop, prec, B) -> list[ArraySpec]:
    n = pop.size
    out = []
    for v in pop.model.vars:
        ct = c_type(v.type, prec)
        out.append(ArraySpec(f"{pop.name}_{v.name}", ct, _const(B, n), pop.name, ArrayRole.VAR,
                             v.name))
        out.append(ArraySpec(f"{pop.name}_{v.name}_init", ct, _const(B, n), pop.name,
                             ArrayRole.INIT, v.name))
    out += _egps(pop.name, pop.model, prec)
    if pop.model.spikes:
        out.append(ArraySpec(f"{pop.name}_spkCnt", "uint32_t", _const(B), pop.name, ArrayRole.SPIKE,
                             zero_on_reset=True))
        out.append(ArraySpec(f"{pop.name}_spk", "uint32_t", _const(B, max(n, 1)), pop.name,
                             ArrayRole.SPIKE))
        out.append(ArraySpec(f"{pop.name}_spiked", "uint8_t", _const(B, padded8(n)),
                             pop.name, ArrayRole.SCRATCH))
    if pop.record_spikes:
        words = (n + 31) // 32
        out.append(ArraySpec(f"{pop.name}_recSpk", "uint32_t",
                             lambda rs, w=words: (B, rs.rec_steps, w), pop.name, ArrayRole.RECORD))
    if spec.training is not None:
        out += _training_population_arrays(spec, pop, prec, B)
    return out


def _training_population_arrays(spec, pop, prec, B) -> list[ArraySpec]:
    from delayprop.compile.lower import delayed_ring_size, taped_populations
    n, T = pop.size, spec.training.num_steps
    out = []
    if pop.adjoint is not None:
        for v in pop.adjoint.vars:
            out.append(ArraySpec(f"{pop.name}_{v.name}", c_type(v.type, prec), _const(B, n),
                                 pop.name, ArrayRole.ADJOINT, v.name, zero_on_reset=True))
        out.append(ArraySpec(f"{pop.name}_RevISyn", prec, _const(B, n), pop.name, ArrayRole.ADJOINT,
                             "RevISyn", zero_on_reset=True))
        out += _egps(pop.name, pop.adjoint, prec)
        for var, depth in delayed_ring_size(spec, pop.name).items():
            out.append(ArraySpec(f"{pop.name}_ring_{var}", prec, _const(B, depth, n),
                                 pop.name, ArrayRole.ADJOINT_RING, var, zero_on_reset=True))
    if pop.name in taped_populations(spec):
        name = pop.name
        out.append(ArraySpec(f"{name}_tapeId", "uint32_t",
                             lambda rs, p=name: (B, rs.tape_capacity[p]), name, ArrayRole.TAPE))
        for tv, ttype, _ in taped_populations(spec)[name]:
            out.append(ArraySpec(f"{name}_tape_{tv}", c_type(ttype, prec),
                                 lambda rs, p=name: (B, rs.tape_capacity[p]), name, ArrayRole.TAPE,
                                 tv))
            out.append(ArraySpec(f"{name}_tapeTmp_{tv}", c_type(ttype, prec), _const(B, n),
                                 name, ArrayRole.SCRATCH, tv))
        out.append(ArraySpec(f"{name}_tapeStart", "uint32_t", _const(B, T + 1), name,
                             ArrayRole.TAPE))
        out.append(ArraySpec(f"{name}_tapeCount", "uint32_t", _const(B), name, ArrayRole.TAPE,
                             zero_on_reset=True))
    for pv, av in spec.training.trace_vars:
        if pv == pop.name:
            out.append(ArraySpec(f"{pop.name}_trace_{av}", prec, _const(B, T, n), pop.name,
                                 ArrayRole.TRACE, av))
    return out


def _group_arrays(spec, sg, prec, B) -> list[ArraySpec]:
    n_pre = spec.population(sg.source).size
    n_post = spec.population(sg.target).size
    D = sg.max_dendritic_delay_timesteps
    name = sg.name
    out = [ArraySpec(f"{name}_inSyn", prec, _const(B, n_post), name, ArrayRole.INSYN,
                     zero_on_reset=True),
           # D slots and one more: events with an out-of-range delay land in slot D,
           # never read, so a bad delay cannot write outside the ring (runtime reports it)
           ArraySpec(f"{name}_den", prec, _const(B, D + 1, n_post), name, ArrayRole.RING,
                     zero_on_reset=True)]
    for v in sg.ps_model.vars:
        out.append(ArraySpec(f"{name}_{v.name}", c_type(v.type, prec), _const(B, n_post),
                             name, ArrayRole.PSVAR, v.name))
        out.append(ArraySpec(f"{name}_{v.name}_init", c_type(v.type, prec),
                             _const(B, n_post), name, ArrayRole.PSINIT, v.name))
    if sg.matrix_type is SynapseMatrixType.SPARSE:
        out.append(ArraySpec(f"{name}_rowLength", "uint32_t", _const(n_pre), name, ArrayRole.CONN))
        out.append(ArraySpec(f"{name}_ind", "uint32_t",
                             lambda rs, g=name: (n_pre * rs.max_row_length[g],), name, ArrayRole.CONN))

        def syn_shape(rs, g=name):
            return (n_pre * rs.max_row_length[g],)
    else:
        def syn_shape(rs):
            return (n_pre * n_post,)
    wu_vars = list(sg.wu_model.vars)
    if sg.adjoint is not None:
        wu_vars += list(sg.adjoint.vars)
    for v in wu_vars:
        ct = c_type(v.type, prec)
        if v.access is VarAccess.REDUCE_BATCH_SUM:
            shape = (lambda rs, s=syn_shape: (rs.num_threads,) + s(rs))
        elif v.access.duplicated:
            shape = (lambda rs, s=syn_shape: (B,) + s(rs))
        else:
            shape = syn_shape
        role = ArrayRole.WUVAR if v in sg.wu_model.vars else ArrayRole.ADJOINT_WUVAR
        out.append(ArraySpec(f"{name}_{v.name}", ct, shape, name, role, v.name))
    out += _egps(name, sg.wu_model, prec)
    return out
