"""Lowering: a :class:`NetworkSpec` -> plain C code blocks, one per phase and object.

This stage substitutes names and constants into the users' code strings and wraps them in
the loads, stores and bookkeeping of the step order of docs/design.md. It writes no files and
knows no compiler. What differs between CPU and CUDA (loops, atomics, where per-instance
pointers come from) is asked of a small :class:`BackendOps` object, so both backends share
every line of model code.

Forward step k of one batch instance (GeNN's order)::

    synapse phase   for every group: for every spike its source emitted in step k-1:
                    run pre_spike_syn_code for each synapse of the row;
                    addToPostDelay(x, d) adds x into ring slot (k + d) % D
    neuron phase    for every population, for every neuron:
                    Isyn = 0; for every incoming group: inSyn += den[k % D], slot cleared,
                    postsynaptic sim_code (injectCurrent adds to Isyn);
                    current sources; sim_code; if threshold: spike, tape, reset_code

Backward step n (training, n = T-1 ... 0)::

    synapse phase   for every group with an adjoint: for every tape event of its source in
                    forward step n: adjoint pre_spike_syn_code per synapse, reading the
                    target's adjoint vars at step n + 1 + d (ring, below); addToPre
    neuron phase    for every population with an adjoint: jump_code for each of its tape
                    spikes of step n (with RevISyn), then sim_code for every neuron, then the
                    adjoint vars are written into ring slot n % depth

    delayed adjoint ring of a target population (depth = largest D reading it):
        slot m % depth holds the value after backward step m; reading slot
        (n + 1 + d) % depth in step n sees step n + 1 + d (zero if >= T, never written).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from delayprop.compile.layout import THREAD, ArrayRole, Layout, array_layout, c_type
from delayprop.compile.network_spec import NetworkSpec, PopulationSpec, SynapseGroupSpec, \
    SynapseMatrixType
from delayprop.errors import CodeGenerationError, ModelDefinitionError
from delayprop.genn_models.code_strings import tokenize
from delayprop.genn_models.spec import VarAccess

__all__ = ["BackendOps", "Lowerer", "taped_populations", "delayed_ring_size", "LINE_RESTORE",
           "delay_table_size"]

#: Placeholder the backend replaces by a ``#line`` directive back into the generated file.
LINE_RESTORE = "#line DP_RESTORE"


class BackendOps(Protocol):
    """The few operations whose code differs between backends."""

    def add(self, target: str, value: str) -> str:
        """``target += value`` where other threads may write ``target`` too."""

    def append(self, counter: str, index_var: str) -> str:
        """Declare ``const uint32_t index_var`` = old value of ``counter``, incremented."""

    def set_bit(self, word: str, bit: str) -> str:
        """``word |= (1u << bit)`` where other threads may write ``word`` too."""


def taped_populations(spec: NetworkSpec) -> dict[str, list[tuple[str, str, str]]]:
    """Populations whose forward events the backward pass replays, with their tape vars.

    A population is taped when it is the source of a group with an adjoint model (on the
    ring, or traced for RigL's probe; see compile/trial.py). Its tape
    vars are its adjoint model's ``tape_vars`` plus every ``pre_tape_vars`` name of an
    outgoing adjoint group that is a forward variable (taped as itself).
    """
    out: dict[str, list[tuple[str, str, str]]] = {}
    if spec.training is None:
        return out
    for pop in spec.populations:      # spiking populations with an adjoint jump need a tape
        if pop.adjoint is not None and pop.model.spikes and pop.adjoint.jump_code.strip():
            out[pop.name] = list(pop.adjoint.tape_vars)
    from delayprop.compile.trial import is_trial_group
    probed = {p for p, _ in spec.training.trace_vars}
    for sg in spec.synapse_groups:
        # a trial-level group replays nothing, but RigL's probe (training/rewiring.py)
        # reads its source's events from the tape when its target is traced
        if sg.adjoint is None or (is_trial_group(spec, sg) and sg.target not in probed):
            continue
        src = spec.population(sg.source)
        tapes = out.setdefault(src.name, list(src.adjoint.tape_vars) if src.adjoint else [])
        for name in sg.adjoint.pre_tape_vars:
            if any(t[0] == name for t in tapes):
                continue
            if name not in src.model.var_names:
                raise ModelDefinitionError(
                    f"synapse group '{sg.name}': adjoint model '{sg.adjoint.name}' reads "
                    f"'{name}_pre', but '{name}' is neither a tape variable nor a variable of "
                    f"population '{src.name}'")
            tapes.append((name, src.model.var(name).type, name))
    return out


def delayed_ring_size(spec: NetworkSpec, pop_name: str) -> dict[str, int]:
    """``{adjoint var: ring depth}`` for the delayed reads of ``pop_name``'s adjoint vars."""
    from delayprop.compile.trial import is_trial_group
    depth: dict[str, int] = {}
    for sg in spec.incoming(pop_name):
        if sg.adjoint is None or is_trial_group(spec, sg):  # these read <pop>_trialAdj
            continue
        target = spec.population(pop_name)
        for var in sg.adjoint.post_delayed_vars:
            if target.adjoint is None or var not in target.adjoint.var_names:
                raise ModelDefinitionError(
                    f"synapse group '{sg.name}': adjoint model '{sg.adjoint.name}' reads "
                    f"'{var}_post', which is not an adjoint variable of population "
                    f"'{pop_name}'")
            depth[var] = max(depth.get(var, 1), sg.max_dendritic_delay_timesteps)
    return depth


@dataclass
class Lowerer:
    spec: NetworkSpec
    ops: BackendOps

    # ------------------------------------------------------------------ helpers
    @property
    def scalar(self) -> str:
        return self.spec.precision.value

    def literal(self, value: float) -> str:
        value = float(value)
        if not math.isfinite(value):
            raise CodeGenerationError(f"a parameter value is not finite ({value}); check "
                                      f"params and derived params")
        if self.scalar == "float":
            return f"{float(np.float32(value))!r}f"
        return repr(value)

    def substitute(self, code: str, constants: dict[str, float]) -> str:
        """Replace parameter names by literals; type unsuffixed float literals as scalar."""
        out = []
        for tok in tokenize(code):
            if tok.kind == "ident" and tok.text in constants:
                out.append(f"({self.literal(constants[tok.text])})")
            elif tok.kind == "number" and self.scalar == "float" and _is_plain_float(tok.text):
                out.append(tok.text + "f")
            else:
                out.append(tok.text)
        return "".join(out)

    def user_block(self, code: str, constants: dict[str, float], where: str) -> str:
        """A user code string with constants substituted, under a ``#line`` marker."""
        if not code.strip():
            return ""
        body = self.substitute(code.strip("\n"), constants)
        return f"// --- {where} ---\n#line 1 \"{where}\"\n{body}\n{LINE_RESTORE}\n"

    def user_expr(self, code: str, constants: dict[str, float]) -> str:
        return "(" + self.substitute(code.strip().rstrip(";"), constants) + ")"

    def _pop(self, name: str) -> PopulationSpec:
        return self.spec.population(name)

    # ------------------------------------------------------------------ prologues
    # Every pointer below comes from the layout (layout.py), which alone knows strides,
    # padding and run-time sizes; these methods only choose which arrays a block needs.
    @functools.cached_property
    def layout(self) -> Layout:
        return array_layout(self.spec)

    def _pointers(self, names, index: str = "b", **kwargs) -> list[str]:
        return [self.layout.pointer(n, index, **kwargs) for n in names]

    def _egp_pointers(self, owner: str, model, restrict: bool = False) -> list[str]:
        return self._pointers((f"{owner}_{name}" for name, _ in model.extra_global_params),
                              restrict=restrict)

    def population_pointers(self, pop: PopulationSpec, adjoint: bool = False) -> list[str]:
        """Per-instance pointer declarations for a population's arrays (instance ``b``)."""
        p = pop.name
        lines = self._pointers(f"{p}_{v.name}" for v in pop.model.vars)
        lines += self._egp_pointers(p, pop.model)
        if pop.model.spikes:
            lines += self._pointers((f"{p}_spk", f"{p}_spkCnt", f"{p}_spiked"))
        if adjoint and pop.adjoint is not None:
            lines += self._egp_pointers(p, pop.adjoint)
            lines += self._pointers(f"{p}_{v.name}" for v in pop.adjoint.vars)
            lines += self._pointers([f"{p}_RevISyn"])
            lines += self.adjoint_ring_pointers(pop)
            lines += self._pointers(a.name for a in self.layout.select(p, ArrayRole.TRACE))
            lines += self._pointers(a.name for a in self.layout.select(p, ArrayRole.TRIAL)
                                    if a.name.startswith(f"{p}_trialStep_"))
        if self.spec.training is not None and p in taped_populations(self.spec):
            lines += self.tape_pointers(pop)
        return lines

    def adjoint_ring_pointers(self, pop: PopulationSpec) -> list[str]:
        """Pointers to the delayed adjoint rings of ``pop`` (read by incoming groups)."""
        return self._pointers(a.name for a in self.layout.select(pop.name,
                                                                  ArrayRole.ADJOINT_RING))

    def tape_pointers(self, pop: PopulationSpec) -> list[str]:
        p = pop.name
        lines = [f"const int64_t {p}_tapeCap = dp.dp_rt[DP_RT_tape_capacity_{p}];"]
        lines += self._pointers((f"{p}_tapeId", f"{p}_tapeStart", f"{p}_tapeCount"))
        for tv, _, _ in taped_populations(self.spec)[p]:
            lines += self._pointers((f"{p}_tape_{tv}", f"{p}_tapeTmp_{tv}"))
        return lines

    def postsynaptic_pointers(self, sg: SynapseGroupSpec) -> list[str]:
        """Per-instance pointers to a group's input current, ring and postsynaptic vars."""
        g = sg.name
        trial = [f"{g}_trialStep"] if self.is_trial(sg) else []
        return self._pointers([f"{g}_inSyn", f"{g}_den"] + trial
                              + [f"{g}_{v.name}" for v in sg.ps_model.vars])

    def is_trial(self, sg: SynapseGroupSpec) -> bool:
        """Whether ``sg`` is a trial-level group (compile/trial.py): in the training
        forward pass (``DP_TRIAL``) its input comes from ``<group>_trialIn``."""
        from delayprop.compile.trial import is_trial_group
        return self.spec.training is not None and is_trial_group(self.spec, sg)

    def group_pointers(self, sg: SynapseGroupSpec, thread: str = "0") -> list[str]:
        """Pointers to a group's connectivity and weight-update vars, and its ring."""
        g = sg.name
        lines = self._pointers([f"{g}_den"])
        if sg.matrix_type is SynapseMatrixType.SPARSE:
            lines.append(f"const uint32_t {g}_maxRow = (uint32_t)dp.dp_rt[DP_RT_max_row_length_{g}];")
            lines += self._pointers((f"{g}_rowLength", f"{g}_ind"), const=True)
        wu_vars = list(sg.wu_model.vars) + (list(sg.adjoint.vars) if sg.adjoint else [])
        for v in wu_vars:
            a = self.layout[f"{g}_{v.name}"]
            lines.append(a.pointer(thread if a.lead == THREAD else "b"))
        lines += self._egp_pointers(g, sg.wu_model, restrict=True)
        return lines

    # ------------------------------------------------------------------ forward: synapses
    def synapse_row_loop(self, sg: SynapseGroupSpec, body: str, pragma: str = "") -> str:
        """Loop over the row of ``id_pre`` binding ``id_syn`` and ``id_post``."""
        pragma = pragma + "\n" if pragma else ""
        g = sg.name
        n_pre, n_post = self._pop(sg.source).size, self._pop(sg.target).size
        # 32-bit indices when they fit: cheaper, and they let AVX2 gathers vectorise loops
        itype = "int32_t" if n_pre * n_post < 2 ** 31 else "int64_t"
        if sg.matrix_type is SynapseMatrixType.SPARSE:
            return (f"const uint32_t dp_rowLen = {g}_rowLength[id_pre];\n"
                    f"{pragma}for (uint32_t dp_s = 0; dp_s < dp_rowLen; dp_s++) {{\n"
                    f"    const {itype} id_syn = ({itype})id_pre * ({itype}){g}_maxRow + ({itype})dp_s;\n"
                    f"    const uint32_t id_post = {g}_ind[id_syn];\n"
                    + _indent(body) + "}\n")
        return (f"const {itype} dp_row = ({itype})id_pre * {n_post};\n"
                f"{pragma}for (uint32_t id_post = 0; id_post < {n_post}u; id_post++) {{\n"
                f"    const {itype} id_syn = dp_row + ({itype})id_post;\n"
                + _indent(body) + "}\n")

    def synapse_body(self, sg: SynapseGroupSpec) -> str:
        """Forward code for one synapse (``id_pre``, ``id_syn``, ``id_post`` bound)."""
        g, m = sg.name, sg.wu_model
        src, tgt = self._pop(sg.source), self._pop(sg.target)
        lines = []
        for v in m.vars:
            ct = c_type(v.type, self.scalar)
            if v.access is VarAccess.READ_ONLY:
                lines.append(f"const {ct} {v.name} = {g}_{v.name}[id_syn];")
            else:
                lines.append(f"{ct}& {v.name} = {g}_{v.name}[id_syn];")
        lines += self._egp_aliases(g, m)
        lines += self._ref_lines(sg.pre_var_refs, m.pre_neuron_var_refs, src, "id_pre")
        lines += self._ref_lines(sg.post_var_refs, m.post_neuron_var_refs, tgt, "id_post")
        # dp_slotOff[d] = row offset of ring slot (k + d) % D; delays >= D map to the spare
        # slot D (see delay_prologue): one table load instead of a wrap-around per synapse.
        ring_add = self.ops.add(f"{g}_den[dp_ring_offset(dp_slotOff, dp_d) + id_post]",
                                "(dp_x)")
        lines.append(f"#define addToPostDelay(dp_x, dp_d) do {{ {ring_add} }} while (0)")
        direct = self.ops.add(f"{g}_den[{self.layout[g + '_den'].row_index('dp_wslot', 'id_post')}]",
                              "(dp_x)")
        lines.append(f"#define addToPost(dp_x) do {{ {direct} }} while (0)")
        lines.append(self.user_block(m.pre_spike_syn_code, sg.param_dict_wu(),
                                     f"{g}/{m.name}.pre_spike_syn_code"))
        lines.append("#undef addToPostDelay\n#undef addToPost")
        return "\n".join(lines) + "\n"

    def delay_prologue(self, sg: SynapseGroupSpec) -> list[str]:
        """The per-step table of ring-row offsets behind ``addToPostDelay`` (step ``k``)."""
        D = sg.max_dendritic_delay_timesteps
        den = self.layout[f"{sg.name}_den"]
        size = delay_table_size(D)
        return [f"const uint32_t dp_wslot = (uint32_t)(k % {D});",
                f"uint32_t dp_slotOff[{size}];",
                f"for (uint32_t dp_d = 0; dp_d < {D}u; dp_d++) {{",
                "    const uint32_t dp_s = dp_wslot + dp_d;",
                f"    dp_slotOff[dp_d] = {den.row_index(f'dp_s < {D}u ? dp_s : dp_s - {D}u', '0')};",
                "}",
                f"for (uint32_t dp_d = {D}; dp_d < {size}u; dp_d++) dp_slotOff[dp_d] = "
                f"{den.row_index(f'{D}u', '0')};"]

    def _egp_aliases(self, owner: str, model) -> list[str]:
        """Extra global parameters by their model names (arrays as pointers)."""
        out = []
        for name, etype in model.extra_global_params:
            ct = c_type(etype.rstrip("*").strip(), self.scalar)
            if etype.endswith("*"):
                out.append(f"{ct}* const {name} = {owner}_{name};")
            else:
                out.append(f"const {ct} {name} = {owner}_{name}[0];")
        return out

    def ref_pointers(self, sg: SynapseGroupSpec) -> list[str]:
        """Per-instance pointers to the source/target variables the weight update model
        references (``x_pre``, ``V_post``, ...)."""
        lines = []
        for refs, bound, pop_name in ((sg.wu_model.pre_neuron_var_refs, sg.pre_var_refs,
                                       sg.source),
                                      (sg.wu_model.post_neuron_var_refs, sg.post_var_refs,
                                       sg.target)):
            pop = self._pop(pop_name)
            binding = dict(bound)
            for ref, _ in refs:
                var = pop.model.var(binding.get(ref) or _default_ref(ref, pop))
                line = self.layout.pointer(f"{pop.name}_{var.name}", const=True,
                                           restrict=False)
                if line not in lines:
                    lines.append(line)
        return lines

    def _ref_lines(self, bindings, declared, pop, index) -> list[str]:
        return self.ref_lines(bindings, declared, pop, f"{pop.name}_{{var}}[{index}]")

    def ref_lines(self, bindings, declared, pop, read: str) -> list[str]:
        """``const T ref = ...;`` for each declared variable reference of a synapse
        model, bound to a variable of ``pop`` (explicitly, or by its name); ``read`` is
        the C expression of the value with ``{var}`` for the variable's name."""
        binding = dict(bindings)
        out = []
        for ref, rtype in declared:
            var = binding.get(ref) or _default_ref(ref, pop)
            out.append(f"const {c_type(rtype, self.scalar)} {ref} = {read.format(var=var)};")
        return out

    # ------------------------------------------------------------------ forward: neurons
    def neuron_body(self, pop: PopulationSpec) -> str:
        """Forward update of neuron ``id`` of one instance in step ``k`` (time ``t``).

        Kept free of appends and branches with side effects so that the compiler can
        vectorise it: it only raises a flag in ``<pop>_spiked``; :meth:`spike_body` then
        emits, records and tapes the flagged neurons.
        """
        p, m = pop.name, pop.model
        lines = [f"{c_type(v.type, self.scalar)} {v.name} = {p}_{v.name}[id];" for v in m.vars]
        lines += self._egp_aliases(p, m)
        lines.append(f"{self.scalar} Isyn = 0;")
        for sg in self.spec.incoming(p):
            lines.append(self._postsynaptic_block(sg))
        for cs in self.spec.current_sources:
            if cs.target == p:
                lines.append(self._current_source_block(cs))
        lines.append(self.user_block(m.sim_code, pop.param_dict, f"{p}/{m.name}.sim_code"))
        if m.spikes:
            lines.append(f"const bool dp_spike = "
                         f"{self.user_expr(m.threshold_condition_code, pop.param_dict)};")
            lines.append(f"{p}_spiked[id] = dp_spike;")
            for tv, _, expr in self._tapes(pop):
                lines.append(f"{p}_tapeTmp_{tv}[id] = {self.user_expr(expr, pop.param_dict)};")
            if m.reset_code.strip():
                lines.append("if (dp_spike) {")
                lines.append(_indent(self.user_block(m.reset_code, pop.param_dict,
                                                     f"{p}/{m.name}.reset_code")))
                lines.append("}")
        lines += [f"{p}_{v.name}[id] = {v.name};" for v in m.vars]
        return "\n".join(lines) + "\n"

    def _tapes(self, pop: PopulationSpec) -> list[tuple[str, str, str]]:
        if self.spec.training is None:
            return []
        return taped_populations(self.spec).get(pop.name, [])

    def spike_body(self, pop: PopulationSpec) -> str:
        """Emit (spike buffer, recording, tape) neuron ``id`` if it spiked this step."""
        p = pop.name
        lines = [self.ops.append(f"{p}_spkCnt[0]", "dp_spkIdx"), f"{p}_spk[dp_spkIdx] = id;"]
        if pop.record_spikes:
            lines.append("if (dp_recRow >= 0 && dp_recRow < dp_recSteps) {")
            lines.append("    " + self.ops.set_bit(
                f"{p}_recSpk[{self.layout[p + '_recSpk'].row_index('(size_t)dp_recRow', 'id / 32')}]",
                "id % 32"))
            lines.append("}")
        if p in taped_populations(self.spec) if self.spec.training else False:
            lines.append(self.ops.append(f"{p}_tapeCount[0]", "dp_tapeIdx"))
            lines.append(f"if (dp_tapeIdx < {p}_tapeCap) {{")
            lines.append(f"    {p}_tapeId[dp_tapeIdx] = id;")
            for tv, _, _ in self._tapes(pop):
                lines.append(f"    {p}_tape_{tv}[dp_tapeIdx] = {p}_tapeTmp_{tv}[id];")
            lines.append("}")
        return (f"if ({p}_spiked[id]) {{\n" + _indent("\n".join(lines)) + "\n}\n")

    def _postsynaptic_block(self, sg: SynapseGroupSpec) -> str:
        g, m = sg.name, sg.ps_model
        den = self.layout[f"{g}_den"]
        ring = [f"{self.scalar}* const dp_denSlot = {g}_den + {den.row_index(f'dp_rslot_{g}', 'id')};",
                f"{self.scalar} inSyn = {g}_inSyn[id] + *dp_denSlot;",
                "*dp_denSlot = 0;"]
        lines = [f"{{   // input from synapse group '{g}' ({m.name})"]
        if self.is_trial(sg):
            trial_in = self.layout[f"{g}_trialStep"]
            lines += [f"    {self.scalar} inSyn;",
                      "    if constexpr (DP_TRIAL) {   // the whole trial's input, see trial.py",
                      f"        inSyn = {g}_inSyn[id] + {g}_trialStep[{trial_in.row_index('k', 'id')}];",
                      "    } else {",
                      "        " + ring[0], "        " + ring[1].replace(f"{self.scalar} inSyn", "inSyn"),
                      "        " + ring[2], "    }"]
        else:
            lines += ["    " + line for line in ring]
        lines += [f"    {c_type(v.type, self.scalar)} {v.name} = {g}_{v.name}[id];"
                  for v in m.vars]
        binding = dict(sg.ps_var_refs)
        tgt = self._pop(sg.target)
        for ref, rtype in m.neuron_var_refs:
            var = binding.get(ref) or _default_ref(ref, tgt)
            lines.append(f"    const {c_type(rtype, self.scalar)} {ref} = {var};")
        lines.append("#define injectCurrent(dp_x) Isyn += (dp_x)")
        lines.append(_indent(self.user_block(m.sim_code, dict(sg.ps_params),
                                             f"{g}/{m.name}.sim_code")))
        lines.append("#undef injectCurrent")
        lines.append(f"    {g}_inSyn[id] = inSyn;")
        lines += [f"    {g}_{v.name}[id] = {v.name};" for v in m.vars]
        lines.append("}")
        return "\n".join(lines)

    def _current_source_block(self, cs) -> str:
        lines = [f"{{   // current source '{cs.name}' ({cs.model.name})"]
        for v in cs.model.vars:
            a = self.layout[f"{cs.name}_{v.name}"]
            lines.append(f"    {a.ctype}& {v.name} = {a.element('b', 'id')};")
        lines += ["    " + self.layout.pointer(f"{cs.name}_{e[0]}", local=e[0], restrict=False)
                  for e in cs.model.extra_global_params]
        lines.append("#define injectCurrent(dp_x) Isyn += (dp_x)")
        lines.append(_indent(self.user_block(cs.model.injection_code, dict(cs.params),
                                             f"{cs.name}/{cs.model.name}.injection_code")))
        lines.append("#undef injectCurrent\n}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ backward
    def backward_synapse_body(self, sg: SynapseGroupSpec) -> str:
        """Adjoint code for one synapse of a tape event ``dp_e`` of the source, step ``n``."""
        g, fwd, adj = sg.name, sg.wu_model, sg.adjoint
        src, tgt = self._pop(sg.source), self._pop(sg.target)
        constants = {**sg.param_dict_wu(), **dict(sg.adjoint_params)}
        lines = []
        for v in fwd.vars:
            lines.append(f"const {c_type(v.type, self.scalar)} {v.name} = {g}_{v.name}[id_syn];")
        reduce_vars = []
        for v in adj.vars:
            ct = c_type(v.type, self.scalar)
            if v.access is VarAccess.REDUCE_BATCH_SUM:
                lines.append(f"{ct} {v.name} = 0;")
                reduce_vars.append(v)
            else:
                lines.append(f"{ct}& {v.name} = {g}_{v.name}[id_syn];")
        for tv in adj.pre_tape_vars:
            lines.append(f"const {self.scalar} {tv}_pre = {src.name}_tape_{tv}[dp_e];")
        depths = delayed_ring_size(self.spec, tgt.name)
        if adj.post_delayed_vars:
            # slot of step n + 1 + d without a division: dp_rbase_<var> = (n + 1) % depth
            # (see backward_synapse_prologue) plus d < D <= depth, wrapped once
            D = sg.max_dendritic_delay_timesteps
            lines.append(f"const uint32_t dp_dl0 = dp_delay_steps"
                         f"{self.user_expr(adj.delay, constants)};")
            lines.append(f"const uint32_t dp_dl = dp_dl0 < {D}u ? dp_dl0 : 0u;")
            # No test for n + 1 + d >= T: those slots are never written in this trial and
            # were zeroed at its start (see the ring diagram at the top of this module).
            for var in adj.post_delayed_vars:
                depth = depths[var]
                ring = self.layout[f"{tgt.name}_ring_{var}"]
                lines.append(f"const int32_t dp_slot_{var} = (int32_t)(dp_rbase_{var} + dp_dl) - "
                             f"((dp_rbase_{var} + dp_dl >= {depth}u) ? {depth} : 0);")
                lines.append(f"const {self.scalar} {var}_post = "
                             f"{tgt.name}_ring_{var}[{ring.row_index(f'dp_slot_{var}', '(int32_t)id_post')}];")
        lines.append("#define addToPre(dp_x) dp_rev += (dp_x)")
        lines.append(self.user_block(adj.pre_spike_syn_code, constants,
                                     f"{g}/{adj.name}.pre_spike_syn_code"))
        lines.append("#undef addToPre")
        for v in reduce_vars:
            lines.append(self.ops.add(f"{g}_{v.name}[id_syn]", v.name))
        return "\n".join(lines) + "\n"

    def backward_row(self, sg: SynapseGroupSpec) -> str:
        """The backward code of one tape event's row; ``addToPre`` sums into ``dp_rev``,
        added to the presynaptic ``RevISyn`` once per row."""
        src = self._pop(sg.source)
        # Each synapse of a row writes only its own gradient slots; addToPre is a sum.
        loop = self.synapse_row_loop(sg, self.backward_synapse_body(sg),
                                     getattr(self.ops, "simd_reduction", lambda v: "")("dp_rev"))
        if src.adjoint is None:
            return f"{self.scalar} dp_rev = 0;\n(void)dp_rev;\n" + loop
        return (f"{self.scalar} dp_rev = 0;\n" + loop
                + self.ops.add(f"{src.name}_RevISyn[id_pre]", "dp_rev") + "\n")

    def backward_synapse_prologue(self, sg: SynapseGroupSpec) -> list[str]:
        """Per-step constants of a group's backward synapse code (backward step ``n``)."""
        lines = []
        depths = delayed_ring_size(self.spec, sg.target)
        for var in sg.adjoint.post_delayed_vars:
            lines.append(f"const uint32_t dp_rbase_{var} = (uint32_t)((n + 1) % {depths[var]});")
        return lines

    def _adjoint_locals(self, pop: PopulationSpec) -> tuple[list[str], list[str]]:
        p = pop.name
        load = [f"{c_type(v.type, self.scalar)} {v.name} = {p}_{v.name}[id];"
                for v in pop.model.vars + pop.adjoint.vars]
        load += self._egp_aliases(p, pop.model) + self._egp_aliases(p, pop.adjoint)
        store = [f"{p}_{v.name}[id] = {v.name};" for v in pop.model.vars + pop.adjoint.vars]
        return load, store

    def jump_body(self, pop: PopulationSpec) -> str:
        """Adjoint jump of neuron ``id`` for its tape spike ``dp_e`` of step ``n``."""
        p, adj = pop.name, pop.adjoint
        constants = {**pop.param_dict, **dict(pop.adjoint_params)}
        load, store = self._adjoint_locals(pop)
        lines = load + [f"const {c_type(tt, self.scalar)} {tv} = {p}_tape_{tv}[dp_e];"
                        for tv, tt, _ in adj.tape_vars]
        lines += [f"const {self.scalar} RevISyn = {p}_RevISyn[id];", f"{p}_RevISyn[id] = 0;",
                  self.user_block(adj.jump_code, constants, f"{p}/{adj.name}.jump_code")]
        return "\n".join(lines + store) + "\n"

    def backward_neuron_body(self, pop: PopulationSpec) -> str:
        """Adjoint dynamics of neuron ``id`` in backward step ``n`` (all neurons)."""
        p, adj = pop.name, pop.adjoint
        constants = {**pop.param_dict, **dict(pop.adjoint_params)}
        load, store = self._adjoint_locals(pop)
        lines = load + [self.user_block(adj.sim_code, constants, f"{p}/{adj.name}.sim_code")]
        lines += store
        from delayprop.compile.trial import trial_adjoint_vars
        for var in trial_adjoint_vars(self.spec).get(p, ()):
            rows = self.layout[f"{p}_trialStep_{var}"]
            lines.append(f"{p}_trialStep_{var}[{rows.row_index('n', 'id')}] = {var};")
        for var, depth in delayed_ring_size(self.spec, p).items():
            ring = self.layout[f"{p}_ring_{var}"]
            lines.append(f"{p}_ring_{var}[{ring.row_index(f'n % {depth}', 'id')}] = {var};")
        for pv, av in self.spec.training.trace_vars:
            if pv == p:
                trace = self.layout[f"{p}_trace_{av}"]
                lines.append(f"{p}_trace_{av}[{trace.row_index('(size_t)n', 'id')}] = {av};")
        return "\n".join(lines) + "\n"


def delay_table_size(D: int) -> int:
    """Entries of the per-step delay table: every uint8 value, or D, plus the spare."""
    return max(D, 256) + 1


def _is_plain_float(text: str) -> bool:
    lower = text.lower()
    return (("." in lower or "e" in lower) and not lower.startswith("0x")
            and lower[-1] not in "fdul")


def _indent(text: str, n: int = 4) -> str:
    pad = " " * n
    return "".join(pad + line if line.strip() and not line.startswith("#") else line
                   for line in text.splitlines(True))


def _default_ref(ref: str, pop: PopulationSpec) -> str:
    """``x_pre`` binds to variable ``x`` of the source, ``V_post`` to ``V`` of the target."""
    for suffix in ("_pre", "_post"):
        if ref.endswith(suffix) and ref[: -len(suffix)] in pop.model.var_names:
            return ref[: -len(suffix)]
    if ref in pop.model.var_names:
        return ref
    raise ModelDefinitionError(
        f"variable reference '{ref}' is not bound and population '{pop.name}' has no variable "
        f"'{ref.rsplit('_', 1)[0]}'; bind it explicitly (e.g. pre_var_refs={{'{ref}': 'x'}})")
