"""CPU backend: one C++ file, OpenMP across batch instances.

Each thread takes whole batch instances and runs all their steps (forward, and backward in
training) before taking the next, so an instance's state stays in that core's cache and
instances never share a write (gradients go to one buffer per thread, summed afterwards).
"""
from __future__ import annotations

from delayprop.compile.backends import _common as common
from delayprop.genn_models.code_strings import tokenize
from delayprop.compile.backends.template import render_template
from delayprop.compile.lower import Lowerer, _indent, taped_populations
from delayprop.compile.network_spec import NetworkSpec
from delayprop.compile.trial import trial_adjoint_vars
from delayprop.compile.trial_code import TrialCode

__all__ = ["CpuOps", "render_cpu", "SOURCE_NAME"]

SOURCE_NAME = "delayprop_model.cpp"


class CpuOps:
    """Within one instance everything is sequential: no atomics needed."""

    def add(self, target: str, value: str) -> str:
        return f"{target} += {value};"

    def append(self, counter: str, index_var: str) -> str:
        return f"const uint32_t {index_var} = {counter}++;"

    def set_bit(self, word: str, bit: str) -> str:
        return f"{word} |= (1u << ({bit}));"

    def simd_reduction(self, var: str) -> str:
        """Vectorise a loop whose iterations are independent but for a sum into ``var``
        (GCC does not see this alone through the ring-buffer gathers)."""
        return f"#pragma omp simd reduction(+:{var})"


def _block(title: str, prologue: list[str], body: str) -> str:
    return f"{{   // {title}\n" + _indent("\n".join(prologue) + "\n" + body) + "}\n"


def _synapse_phase(low: Lowerer) -> str:
    parts = []
    for sg in low.spec.synapse_groups:
        src = low.spec.population(sg.source)
        prologue = low.group_pointers(sg)
        prologue += low.delay_prologue(sg)
        prologue += [low.layout.pointer(f"{src.name}_spk", local="dp_spk", const=True,
                                        restrict=False),
                     f"const uint32_t dp_spkCnt = dp.{src.name}_spkCnt[b];"]
        prologue += low.ref_pointers(sg)
        loop = ("for (uint32_t dp_i = 0; dp_i < dp_spkCnt; dp_i++) {\n"
                "    const uint32_t id_pre = dp_spk[dp_i];\n"
                + _indent(low.synapse_row_loop(sg, low.synapse_body(sg))) + "}\n")
        block = _block(f"synapse group '{sg.name}' ({sg.wu_model.name})", prologue, loop)
        if low.is_trial(sg):      # the training forward pass reads <group>_trialIn instead
            block = "if constexpr (!DP_TRIAL) " + block
        parts.append(block)
    return "".join(parts)


def _simd(*models, code: str | None = None) -> str:
    """``omp simd`` for a loop over neurons: iterations are independent by the language's
    rules. Not where the loop's code uses an extra global parameter of ``models``, since
    such code may index an array behind a condition (e.g. SpikeSourceArray) that a
    vectorised loop would read anyway; without ``code``, not for models that have any."""
    egps = {name for m in models if m is not None for name, _ in m.extra_global_params}
    if code is not None:
        egps &= {t.text for t in tokenize(code) if t.kind == "ident"}
    return "" if egps else "#pragma omp simd\n"


def _neuron_phase(low: Lowerer) -> str:
    parts = []
    for pop in low.spec.populations:
        prologue = common.neuron_phase_prologue(low, pop)
        prologue += [f"const uint32_t num_neurons = {pop.size};"]
        if pop.model.spikes:
            prologue.append(f"{pop.name}_spkCnt[0] = 0;")
        loop = (_simd(pop.model) + "for (uint32_t id = 0; id < num_neurons; id++) {\n"
                + _indent(low.neuron_body(pop)) + "}\n")
        if pop.model.spikes:
            # scan the spike flags eight at a time (the array is padded to a multiple of 8)
            loop += ("for (uint32_t dp_w = 0; dp_w < num_neurons; dp_w += 8) {\n"
                     "    uint64_t dp_flags;\n"
                     f"    std::memcpy(&dp_flags, {pop.name}_spiked + dp_w, 8);\n"
                     "    if (!dp_flags) continue;\n"
                     "    const uint32_t dp_end = dp_w + 8 < num_neurons ? dp_w + 8 : num_neurons;\n"
                     "    for (uint32_t id = dp_w; id < dp_end; id++) {\n"
                     + _indent(low.spike_body(pop), 8) + "    }\n}\n")
        parts.append(_block(f"population '{pop.name}' ({pop.model.name})", prologue, loop))
    return "".join(parts)


def _backward_synapse_phase(low: Lowerer) -> str:
    parts = []
    for sg in low.spec.synapse_groups:
        if sg.adjoint is None or low.is_trial(sg):     # trial-level: after the pass
            continue
        src, tgt = low.spec.population(sg.source), low.spec.population(sg.target)
        prologue = low.group_pointers(sg, thread="dp_thread") + low.tape_pointers(src)
        prologue += low.adjoint_ring_pointers(tgt)
        if src.adjoint is not None:
            prologue.append(low.layout.pointer(f"{src.name}_RevISyn", restrict=False))
        prologue += low.backward_synapse_prologue(sg)
        loop = (f"for (uint32_t dp_e = {src.name}_tapeStart[n]; dp_e < {src.name}_tapeStart[n + 1]; dp_e++) {{\n"
                f"    const uint32_t id_pre = {src.name}_tapeId[dp_e];\n"
                + _indent(low.backward_row(sg)) + "}\n")
        parts.append(_block(f"adjoint of synapse group '{sg.name}' ({sg.adjoint.name})",
                            prologue, loop))
    return "".join(parts)


def _backward_neuron_phase(low: Lowerer) -> str:
    parts = []
    taped = taped_populations(low.spec)
    for pop in low.spec.populations:
        if pop.adjoint is None:
            continue
        prologue = low.population_pointers(pop, adjoint=True)
        prologue.append(f"const uint32_t num_neurons = {pop.size};")
        body = ""
        if pop.name in taped and pop.adjoint.jump_code.strip():
            body += (f"for (uint32_t dp_e = {pop.name}_tapeStart[n]; dp_e < {pop.name}_tapeStart[n + 1]; dp_e++) {{\n"
                     f"    const uint32_t id = {pop.name}_tapeId[dp_e];\n"
                     + _indent(low.jump_body(pop)) + "}\n")
        # the adjoint's jump code (above) may read its extra global parameters (e.g. the
        # regulariser's drive); its sim code, which this loop runs, usually does not
        body += (_simd(pop.model, pop.adjoint, code=pop.adjoint.sim_code)
                 + "for (uint32_t id = 0; id < num_neurons; id++) {\n"
                 + _indent(low.backward_neuron_body(pop)) + "}\n")
        parts.append(_block(f"adjoint of population '{pop.name}' ({pop.adjoint.name})",
                            prologue, body))
    return "".join(parts)


def _trial_functions(low: Lowerer) -> tuple[str, str, str, str, str]:
    """The trial-level path (compile/trial.py): its functions; the code dp_forward runs
    before its trials (column order, the sources' recordings, every instance's input
    currents); the code dp_backward runs after its trials (the gradients); and what each
    instance runs before its forward steps and after its backward steps."""
    code = TrialCode(low)
    if not code.groups:
        return "", "", "", "", ""
    funcs, record, before, after = [], [], [], []
    for p in code.sources:
        prologue, body = code.record_neuron(p)
        n = low.spec.population(p).size
        funcs.append(_function(f"dp_trial_record_{p}", "const DPState& dp, const int b",
                               prologue, f"for (uint32_t id = 0; id < {n}u; id++) {{\n"
                               + _indent(body) + "}\n"))
        record.append(f"dp_trial_record_{p}(dp, b);")
    for sg in code.groups:
        g = sg.name
        D = sg.max_dendritic_delay_timesteps
        spare = f"{g}_den[{low.layout[g + '_den'].row_index(f'{D}u', '0')}] = 1;"
        funcs.append(_function(f"dp_trial_order_{g}", "const DPState& dp", [],
                               code.order_body(sg, spare)))
        before.insert(0, f"dp_trial_order_{g}(dp);")
        funcs.append(_function(f"dp_trial_currents_{g}",
                               "const DPState& dp, const int32_t num_instances",
                               *code.currents_cpu(sg)))
        if sg.adjoint is not None:
            funcs.append(_function(f"dp_trial_gradients_{g}",
                                   "const DPState& dp, const int32_t num_instances",
                                   *code.gradients_cpu(sg)))
            after.append(f"dp_trial_gradients_{g}(dp, num_instances);")
    before.append("#pragma omp parallel for schedule(static)")
    before.append("for (int b = 0; b < num_instances; b++) {")
    before += ["    " + r for r in record] + ["}"]
    before += [f"dp_trial_currents_{sg.name}(dp, num_instances);" for sg in code.groups]
    per_instance, per_instance_after = [], []
    for sg in code.groups:
        funcs.append(_function(f"dp_trial_to_steps_{sg.name}", "const DPState& dp, const int b",
                               *code.to_steps(sg)))
        per_instance.append(f"dp_trial_to_steps_{sg.name}(dp, b);")
    for p in trial_adjoint_vars(low.spec):
        funcs.append(_function(f"dp_trial_from_steps_{p}", "const DPState& dp, const int b",
                               *code.from_steps(p)))
        per_instance_after.append(f"dp_trial_from_steps_{p}(dp, b);")
    return ("// ---------------- trial-level input groups (compile/trial.py)\n" + "".join(funcs),
            "".join(f"    {c}\n" for c in before), "".join(f"    {c}\n" for c in after),
            "".join(f"        {c}\n" for c in per_instance),
            "".join(f"            {c}\n" for c in per_instance_after))


def _function(name: str, args: str, prologue: list[str], body: str) -> str:
    return (f"static void {name}({args}) {{\n" + _indent("\n".join(prologue) + "\n" + body)
            + "}\n")


def _training_functions(low: Lowerer) -> str:
    spec = low.spec
    T = spec.training.num_steps
    trial_code, before, after, start, end = _trial_functions(low)
    return render_template(
        "cpu_training.cpp", trial_functions=trial_code, tape_mark=common.tape_mark_body(low),
        loss_body=common.loss_body(low), scalar=low.scalar, dt=low.literal(spec.dt),
        batch_size=spec.batch_size, backward_synapse_phase=_backward_synapse_phase(low),
        backward_neuron_phase=_backward_neuron_phase(low),
        overflowed=common.overflow_test(spec), num_steps=T, last_step=T - 1,
        trial_before=before, trial_start=start, trial_end=end, trial_after=after)


def render_cpu(spec: NetworkSpec) -> tuple[str, list]:
    """Return the C++ source of ``spec`` (templates/cpu_model.cpp) and its array layout."""
    low = Lowerer(spec, CpuOps())
    struct, layout = common.state_struct(spec)
    source = render_template(
        "cpu_model.cpp", header=common.header(spec, "cpu"), scalar=spec.precision.value,
        rt_enum=common.rt_enum(spec), state_struct=struct,
        delay_helpers=common.delay_helpers("static"),
        reset_instance=common.reset_instance_body(layout), dt=low.literal(spec.dt),
        batch_size=spec.batch_size, synapse_phase=_synapse_phase(low),
        neuron_phase=_neuron_phase(low),
        training=_training_functions(low) if spec.training is not None else "",
        num_arrays=len(layout), digest=spec.digest())
    return common.finalize_lines(source, SOURCE_NAME), layout
