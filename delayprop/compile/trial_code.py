"""Code blocks of the trial-level input path (see trial.py for what and why).

Each method returns the body of one generated function; the backends wrap them (CPU:
one call per batch instance inside its thread; CUDA: the loops marked below become
threads). Everything that touches a model is the users' code, run with the same
substitutions as the ring path (:class:`~delayprop.compile.lower.Lowerer`).
"""
from __future__ import annotations

from dataclasses import dataclass

from delayprop.compile.layout import c_type
from delayprop.compile.lower import Lowerer, _indent
from delayprop.compile.network_spec import SynapseGroupSpec, SynapseMatrixType
from delayprop.compile.trial import delay_argument, event_type, trial_groups, trial_sources, \
    trial_stride

__all__ = ["TrialCode"]


@dataclass
class TrialCode:
    low: Lowerer

    @property
    def spec(self):
        return self.low.spec

    @property
    def T(self) -> int:
        return self.spec.training.num_steps

    @property
    def groups(self) -> list[SynapseGroupSpec]:
        return trial_groups(self.spec)

    @property
    def sources(self) -> dict[str, list[str]]:
        return trial_sources(self.spec)

    def _time(self, step: str) -> str:
        """``t`` of step ``step`` (only the recording runs neuron code, which may read it)."""
        return f"({step}) * {self.low.literal(self.spec.dt)}"

    def instance_prologue(self) -> list[str]:
        """GeNN's built-in names for code run per instance ``b``."""
        return [f"const scalar dt = {self.low.literal(self.spec.dt)};", "const int batch = b;",
                f"const int num_batch = {self.spec.batch_size};",
                "(void)dt; (void)batch; (void)num_batch;"]

    # ------------------------------------------------------------------ 1. record
    def record_neuron(self, pop_name: str) -> tuple[list[str], str]:
        """``(prologue, body)``: neuron ``id`` of instance ``b`` runs its own code for
        every step of the trial from its initial state, recording its events and the
        variables trial groups read, then returns to its initial state."""
        low, T = self.low, self.T
        pop = self.spec.population(pop_name)
        p = pop.name
        lay = low.layout
        prologue = low.population_pointers(pop) + self.instance_prologue()
        prologue.append(f"const uint32_t num_neurons = {pop.size};")
        names = [f"{p}_trialEvent"] + [f"{p}_trialRec_{v}" for v in self.sources[p]]
        prologue += [lay.pointer(n) for n in names]
        at = ("(size_t)id", "b", "k")
        record = [f"{p}_trialEvent[{lay[p + '_trialEvent'].row_index(*at)}] = "
                  f"{p}_spiked[id] ? ({self.event[0]})k : {self.event[1]}u;"]
        record += [f"{p}_trialRec_{v}[{lay[f'{p}_trialRec_{v}'].row_index(*at)}] = "
                   f"{p}_{v}[id];" for v in self.sources[p]]
        initial = "\n".join(f"{p}_{v.name}[id] = {lay[f'{p}_{v.name}_init'].element('b', 'id')};"
                            for v in pop.model.vars) + "\n"
        body = ("// from the initial state, whatever the last trial left\n" + initial
                + f"for (int64_t k = 0; k < {T}; k++) {{\n"
                f"    const scalar t = {self._time('k')};\n"
                + _indent(low.neuron_body(pop)) + _indent("\n".join(record)) + "\n}\n"
                "// back to the initial state: the trial's steps run this population again\n"
                + initial)
        return prologue, body

    # ------------------------------------------------------------------ 2. order
    def order_body(self, sg: SynapseGroupSpec, spare_flag: str) -> str:
        """Serial code: the group's synapses by target column, each column ordered by
        (delay descending, presynaptic index, row position); out-of-range delays are left
        out and flagged by ``spare_flag`` (the ring's spare slot, checked by the runtime)."""
        low, g = self.low, sg.name
        D = sg.max_dendritic_delay_timesteps
        n_pre = self.spec.population(sg.source).size
        n_post = self.spec.population(sg.target).size
        _, delay_text = delay_argument(sg.wu_model.pre_spike_syn_code)
        delay = low.user_expr(delay_text, sg.param_dict_wu())
        loads = [f"const {c_type(v.type, low.scalar)} {v.name} = {g}_{v.name}[id_syn];"
                 for v in sg.wu_model.vars]
        count = f"{g}_colCount"
        pass1 = "\n".join(loads + [
            f"const uint32_t dp_d = dp_delay_steps{delay};",
            f"if (dp_d >= {D}u) {{ {g}_synDelay[id_syn] = {D}u; {spare_flag} }}",
            f"else {{ {g}_synDelay[id_syn] = dp_d; {count}[{D - 1}u - dp_d]++; }}"]) + "\n"
        pass2 = (f"const uint32_t dp_d = {g}_synDelay[id_syn];\n"
                 f"if (dp_d < {D}u) {g}_colTmp[{count}[{D - 1}u - dp_d]++] = (uint32_t)id_syn;\n")
        if sg.matrix_type is SynapseMatrixType.SPARSE:
            post, pre = f"{g}_ind[dp_syn]", f"dp_syn / {g}_maxRow"
        else:
            post, pre = f"dp_syn % {n_post}u", f"dp_syn / {n_post}u"

        def rows(body):
            return (f"for (uint32_t id_pre = 0; id_pre < {n_pre}u; id_pre++) {{\n"
                    + _indent(low.synapse_row_loop(sg, body)) + "}\n")
        lines = ["const int b = 0;   // shared arrays only", "(void)b;"]
        lines += low.group_pointers(sg)
        lines += [low.layout.pointer(f"{g}_{n}") for n in
                  ("colStart", "colCount", "colSyn", "colPre", "colPost", "colDelay", "colTmp",
                   "synDelay")]
        lines += [f"for (uint32_t dp_q = 0; dp_q <= {max(D, n_post)}u; dp_q++) {count}[dp_q] = 0;",
                  "// 1: each synapse's delay; counts per delay, longest first",
                  rows(pass1),
                  "uint32_t dp_total = 0;",
                  f"for (uint32_t dp_q = 0; dp_q < {D}u; dp_q++) {{ const uint32_t dp_n = "
                  f"{count}[dp_q]; {count}[dp_q] = dp_total; dp_total += dp_n; }}",
                  "// 2: synapses by delay (longest first), in row order within one delay",
                  rows(pass2),
                  "// 3: stably by target column",
                  f"for (uint32_t dp_q = 0; dp_q <= {n_post}u; dp_q++) {count}[dp_q] = 0;",
                  f"for (uint32_t dp_i = 0; dp_i < dp_total; dp_i++) {{ const uint32_t dp_syn = "
                  f"{g}_colTmp[dp_i]; {count}[{post}]++; }}",
                  f"{g}_colStart[0] = 0;",
                  f"for (uint32_t dp_j = 0; dp_j < {n_post}u; dp_j++) {{ {g}_colStart[dp_j + 1] "
                  f"= {g}_colStart[dp_j] + {count}[dp_j]; {count}[dp_j] = {g}_colStart[dp_j]; }}",
                  "for (uint32_t dp_i = 0; dp_i < dp_total; dp_i++) {",
                  f"    const uint32_t dp_syn = {g}_colTmp[dp_i];",
                  f"    const uint32_t dp_pos = {count}[{post}]++;",
                  f"    {g}_colSyn[dp_pos] = dp_syn;",
                  f"    {g}_colPre[dp_pos] = {pre};",
                  f"    {g}_colPost[dp_pos] = {post};",
                  f"    {g}_colDelay[dp_pos] = {g}_synDelay[dp_syn];",
                  "}"]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ shared pieces
    # The whole-trial loops run over f = instance * S + step (S = trial_stride): an event
    # of step f reaches the target's input at f + 1 + d. See trial.py for the padding.
    @property
    def event(self) -> tuple[str, int]:
        return event_type(self.spec)

    @property
    def S(self) -> int:
        return trial_stride(self.spec)

    def _column_pointers(self, sg) -> list[str]:
        g = sg.name
        return [self.low.layout.pointer(f"{g}_{n}", const=True)
                for n in ("colStart", "colSyn", "colPre", "colDelay")]

    def _row(self, name: str, neuron: str) -> str:
        """Offset of a neuron's row (all instances and steps) in a whole-trial array."""
        return self.low.layout[name].row_index(f"(size_t){neuron}", "0", "0")

    def _synapse_bind(self, sg) -> list[str]:
        """Binds ``id_syn``, ``id_pre``, ``dp_dl`` and the source's record rows (``dp_ev``,
        ``dp_rec_<var>``) for column entry ``dp_c``."""
        g, src = sg.name, sg.source
        lines = [f"const uint32_t id_syn = {g}_colSyn[dp_c];",
                 f"const uint32_t id_pre = {g}_colPre[dp_c];",
                 f"const uint32_t dp_dl = {g}_colDelay[dp_c];",
                 f"const {self.event[0]} dp_lim = dp_dl < {self.T - 1}u ? "
                 f"({self.event[0]})({self.T - 1}u - dp_dl) : 0;   "
                 f"// events of steps < dp_lim arrive within their trial",
                 f"const {self.event[0]}* __restrict__ const dp_ev = {src}_trialEvent + "
                 f"{self._row(src + '_trialEvent', 'id_pre')};"]
        for v in self.sources[src]:
            a = self.low.layout[f"{src}_trialRec_{v}"]
            lines.append(f"const {a.ctype}* __restrict__ const dp_rec_{v} = {a.name} + "
                         f"{self._row(a.name, 'id_pre')};")
        return lines

    def _source_refs(self, sg, refs, bound, at: str) -> list[str]:
        """The source's referenced variables as recorded at whole-trial index ``at``."""
        return self.low.ref_lines(bound, refs, self.spec.population(sg.source),
                                  f"dp_rec_{{var}}[{at}]")

    def _group_prologue(self, sg, thread: str) -> list[str]:
        low = self.low
        lines = (["const int b = 0;   // shared arrays only", "(void)b;"]
                 + self.instance_prologue() + low.group_pointers(sg, thread=thread))
        lines += self._column_pointers(sg)
        src = sg.source
        lines.append(low.layout.pointer(f"{src}_trialEvent", const=True))
        lines += [low.layout.pointer(f"{src}_trialRec_{v}", const=True)
                  for v in self.sources[src]]
        return lines

    def synapse_constants(self, sg, model) -> list[str]:
        low = self.low
        lines = [f"const {c_type(v.type, low.scalar)} {v.name} = {sg.name}_{v.name}[id_syn];"
                 for v in model.vars]
        return lines + low._egp_aliases(sg.name, model)

    # ------------------------------------------------------------------ 3. currents
    def current_value(self, sg, at: str) -> str:
        """Code for the event at whole-trial index ``at`` of the synapse bound: ``dp_val``
        = what its ``addToPostDelay`` delivers (the user's code)."""
        low, m = self.low, sg.wu_model
        lines = self._source_refs(sg, m.pre_neuron_var_refs, sg.pre_var_refs, at)
        lines += ["scalar dp_val = 0;",
                  "#define addToPostDelay(dp_x, dp_d) dp_val = (dp_x)",
                  "#define addToPost(dp_x) dp_val = (dp_x)",
                  low.user_block(m.pre_spike_syn_code, sg.param_dict_wu(),
                                 f"{sg.name}/{m.name}.pre_spike_syn_code"),
                  "#undef addToPostDelay", "#undef addToPost"]
        return "\n".join(lines) + "\n"

    def currents_cpu(self, sg) -> tuple[list[str], str]:
        """``(prologue, body)`` of ``dp_trial_currents_<group>(dp, num_instances)``: the
        input current of every instance and step, column by column over the threads, each
        synapse one loop over the batch's instances and steps that vectorises."""
        g = sg.name
        n_post = self.spec.population(sg.target).size
        prologue = self._group_prologue(sg, "0") + [self.low.layout.pointer(f"{g}_trialIn")]
        prologue.append(f"const int64_t dp_len = (int64_t)num_instances * {self.S};")
        body = ("#pragma omp parallel for schedule(dynamic, 4)\n"
                f"for (int dp_j = 0; dp_j < {n_post}; dp_j++) {{\n"
                "    const uint32_t id_post = (uint32_t)dp_j;\n"
                f"    scalar* __restrict__ const dp_col = {g}_trialIn + {self._row(g + '_trialIn', 'id_post')};\n"
                "    for (int64_t dp_f = 0; dp_f < dp_len; dp_f++) dp_col[dp_f] = 0;\n"
                f"    for (uint32_t dp_c = {g}_colStart[id_post]; dp_c < {g}_colStart[id_post + 1]; dp_c++) {{\n"
                + _indent("\n".join(self._synapse_bind(sg)
                                    + self.synapse_constants(sg, sg.wu_model)), 8) + "\n"
                "        const int64_t dp_last = dp_len - 1 - (int64_t)dp_dl;\n"
                "        #pragma omp simd\n"
                "        for (int64_t dp_f = 0; dp_f < dp_last; dp_f++) {\n"
                + _indent(self.current_value(sg, "dp_f"), 12)
                + "            // no event, or one arriving after its trial: adds +0, the sum is unchanged\n"
                "            dp_col[dp_f + 1 + dp_dl] += dp_ev[dp_f] < dp_lim ? dp_val : (scalar)0;\n"
                "        }\n    }\n}\n")
        return prologue, body

    def currents_gather(self, sg) -> tuple[list[str], str]:
        """``(prologue, body)``: the current of column ``id_post`` at step ``k`` of instance
        ``b`` (one CUDA thread), adding the column's synapses in the same order, straight
        into ``<group>_trialStep`` (the layout the neuron code reads)."""
        g = sg.name
        step = self.low.layout[f"{g}_trialStep"]
        prologue = self._group_prologue(sg, "0")[2:] + [step.pointer()]
        body = ("scalar dp_sum = 0;\n"
                f"for (uint32_t dp_c = {g}_colStart[id_post]; dp_c < {g}_colStart[id_post + 1]; dp_c++) {{\n"
                + _indent("\n".join(self._synapse_bind(sg))) + "\n"
                "    const int64_t dp_t = k - 1 - (int64_t)dp_dl;\n"
                f"    const int64_t dp_f = (int64_t)b * {self.S} + dp_t;\n"
                f"    if (dp_t < 0 || dp_ev[dp_f] == {self.event[1]}u) continue;\n"
                + _indent("\n".join(self.synapse_constants(sg, sg.wu_model))) + "\n"
                + _indent(self.current_value(sg, "dp_f")) + "    dp_sum += dp_val;\n}\n"
                f"{g}_trialStep[{step.row_index('k', 'id_post')}] = dp_sum;\n")
        return prologue, body

    def to_steps(self, sg) -> tuple[list[str], str]:
        """``(prologue, body)``: instance ``b``'s rows of ``<group>_trialIn`` into
        ``<group>_trialStep`` ([step][neuron], contiguous for the neuron code)."""
        g = sg.name
        n = self.spec.population(sg.target).size
        lay = self.low.layout
        prologue = [lay.pointer(f"{g}_trialIn", const=True), lay.pointer(f"{g}_trialStep")]
        body = _tiled(self.T, n, f"{g}_trialStep[{lay[g + '_trialStep'].row_index('k', 'id')}] = "
                      f"{g}_trialIn[{lay[g + '_trialIn'].row_index('(size_t)id', 'b', 'k')}];")
        return prologue, body

    def from_steps(self, pop_name: str) -> tuple[list[str], str]:
        """``(prologue, body)``: instance ``b``'s adjoint values, written step by step
        (``<pop>_trialStep_<var>``), into ``<pop>_trialAdj_<var>`` ([neuron][b][step])."""
        from delayprop.compile.trial import trial_adjoint_vars
        lay = self.low.layout
        n = self.spec.population(pop_name).size
        prologue, body = [], ""
        for v in trial_adjoint_vars(self.spec)[pop_name]:
            src, dst = f"{pop_name}_trialStep_{v}", f"{pop_name}_trialAdj_{v}"
            prologue += [lay.pointer(src, const=True), lay.pointer(dst)]
            body += _tiled(self.T, n, f"{dst}[{lay[dst].row_index('(size_t)id', 'b', 'k')}] = "
                                     f"{src}[{lay[src].row_index('k', 'id')}];")
        return prologue, body

    # ------------------------------------------------------------------ 4. gradients
    def gradient_terms(self, sg, at: str, adjoint_at=None) -> str:
        """Code for the event at whole-trial index ``at`` of the synapse bound: the adjoint
        model's code with its REDUCE_BATCH_SUM variables as per-event locals."""
        low, adj = self.low, sg.adjoint
        constants = {**sg.param_dict_wu(), **dict(sg.adjoint_params)}
        lines = [f"const scalar {tv}_pre = dp_rec_{tv}[{at}];" for tv in adj.pre_tape_vars]
        lines += [f"const scalar {v}_post = "
                  + (adjoint_at(v) if adjoint_at else f"dp_adj_{v}[{at} + 1 + dp_dl]") + ";"
                  for v in adj.post_delayed_vars]
        lines += [f"{c_type(v.type, low.scalar)} {v.name} = 0;" for v in adj.vars]
        lines += ["#define addToPre(dp_x) ((void)(dp_x))   // the source has no adjoint",
                  low.user_block(adj.pre_spike_syn_code, constants,
                                 f"{sg.name}/{adj.name}.pre_spike_syn_code"),
                  "#undef addToPre"]
        return "\n".join(lines) + "\n"

    def _adjoint_rows(self, sg) -> list[str]:
        out = []
        for v in sg.adjoint.post_delayed_vars:
            name = f"{sg.target}_trialAdj_{v}"
            out.append(f"const scalar* __restrict__ const dp_adj_{v} = {name} + "
                       f"{self._row(name, 'id_post')};")
        return out

    def _adjoint_pointers(self, sg) -> list[str]:
        return [self.low.layout.pointer(f"{sg.target}_trialAdj_{v}", const=True)
                for v in sg.adjoint.post_delayed_vars]

    def gradients_cpu(self, sg) -> tuple[list[str], str]:
        """``(prologue, body)`` of ``dp_trial_gradients_<group>(dp, num_instances)``: the
        batch's gradients, column by column over the threads (a synapse belongs to one
        column, so they go to buffer 0), each synapse one vectorised reduction over the
        batch's instances and steps."""
        g, adj = sg.name, sg.adjoint
        n_post = self.spec.population(sg.target).size
        prologue = self._group_prologue(sg, "0") + self._adjoint_pointers(sg)
        prologue.append(f"const int64_t dp_len = (int64_t)num_instances * {self.S};")
        sums = [f"dp_sum_{v.name}" for v in adj.vars]
        body = ("#pragma omp parallel for schedule(dynamic, 4)\n"
                f"for (int dp_j = 0; dp_j < {n_post}; dp_j++) {{\n"
                "    const uint32_t id_post = (uint32_t)dp_j;\n"
                + _indent("\n".join(self._adjoint_rows(sg))) + "\n"
                f"    for (uint32_t dp_c = {g}_colStart[id_post]; dp_c < {g}_colStart[id_post + 1]; dp_c++) {{\n"
                + _indent("\n".join(self._synapse_bind(sg)
                                    + self.synapse_constants(sg, sg.wu_model)), 8) + "\n"
                "        const int64_t dp_last = dp_len - 1 - (int64_t)dp_dl;\n"
                + "".join(f"        scalar {s} = 0;\n" for s in sums)
                + f"        #pragma omp simd reduction(+:{', '.join(sums)})\n"
                "        for (int64_t dp_f = 0; dp_f < dp_last; dp_f++) {\n"
                + _indent(self.gradient_terms(sg, "dp_f"), 12)
                + "".join(f"            dp_sum_{v.name} += dp_ev[dp_f] < dp_lim ? {v.name} : (scalar)0;\n"
                          for v in adj.vars)
                + "        }\n"
                + "".join(f"        {g}_{v.name}[id_syn] += dp_sum_{v.name};\n" for v in adj.vars)
                + "    }\n}\n")
        return prologue, body

    def gradients_column_entry(self, sg) -> tuple[list[str], str]:
        """``(prologue, body)``: the gradients of column entry ``dp_c`` (column
        ``id_post``) of instance ``b`` (one CUDA thread), added with ``ops.add``; the
        adjoint values come from ``<target>_trialStep_<var>`` of instance ``b``."""
        adj, lay = sg.adjoint, self.low.layout
        names = [f"{sg.target}_trialStep_{v}" for v in adj.post_delayed_vars]
        prologue = self._group_prologue(sg, "0")[2:] + [lay.pointer(n, const=True)
                                                         for n in names]

        def read(v):
            a = lay[f"{sg.target}_trialStep_{v}"]
            return f"{a.name}[{a.row_index('dp_t + 1 + dp_dl', 'id_post')}]"
        body = ("\n".join(self._synapse_bind(sg) + self.synapse_constants(sg, sg.wu_model))
                + "\n" + "".join(f"scalar dp_sum_{v.name} = 0;\n" for v in adj.vars)
                + f"for (int64_t dp_t = 0; dp_t < (int64_t)dp_lim; dp_t++) {{\n"
                f"    const int64_t dp_f = (int64_t)b * {self.S} + dp_t;\n"
                f"    if (dp_ev[dp_f] == {self.event[1]}u) continue;\n"
                + _indent(self.gradient_terms(sg, "dp_f", read))
                + "".join(f"    dp_sum_{v.name} += {v.name};\n" for v in adj.vars) + "}\n"
                + "".join(self.low.ops.add(f"{sg.name}_{v.name}[id_syn]", f"dp_sum_{v.name}")
                          + "\n" for v in adj.vars))
        return prologue, body


def _tiled(T: int, n: int, statement: str, tile: int = 16) -> str:
    """``statement`` for every step ``k`` < T and neuron ``id`` < n, in tiles of
    ``tile`` x ``tile``: a transpose between [step][neuron] and [neuron][instance][step]
    whose strides would otherwise map every row to the same few L1 cache sets."""
    return (f"for (int64_t dp_k0 = 0; dp_k0 < {T}; dp_k0 += {tile}) {{\n"
            f"    for (uint32_t dp_i0 = 0; dp_i0 < {n}u; dp_i0 += {tile}) {{\n"
            f"        const int64_t dp_k1 = dp_k0 + {tile} < {T} ? dp_k0 + {tile} : {T};\n"
            f"        const uint32_t dp_i1 = dp_i0 + {tile} < {n}u ? dp_i0 + {tile} : {n}u;\n"
            "        for (int64_t k = dp_k0; k < dp_k1; k++) {\n"
            f"            for (uint32_t id = dp_i0; id < dp_i1; id++) {statement}\n"
            "        }\n    }\n}\n")
