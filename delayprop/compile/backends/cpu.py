"""CPU backend: one C++ file, OpenMP across batch instances.

Each thread takes whole batch instances and runs all their steps (forward, and backward in
training) before taking the next, so an instance's state stays in that core's cache and
instances never share a write (gradients go to one buffer per thread, summed afterwards).
"""
from __future__ import annotations

from delayprop.compile.backends import _common as common
from delayprop.compile.lower import Lowerer, _indent, taped_populations
from delayprop.compile.spec import NetworkSpec
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


def _simd(*models) -> str:
    """``omp simd`` for a loop over neurons: iterations are independent by the language's
    rules. Not for models with extra global parameters, whose code may index an array
    behind a condition (e.g. SpikeSourceArray) that a vectorised loop would read anyway."""
    if any(m.extra_global_params for m in models if m is not None):
        return ""
    return "#pragma omp simd\n"


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
        body += (_simd(pop.model, pop.adjoint) + "for (uint32_t id = 0; id < num_neurons; id++) {\n"
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
    taped = taped_populations(spec)
    mark = "".join(f"    {low.layout[p + '_tapeStart'].element('b', 'k')} = dp.{p}_tapeCount[b];\n"
                   for p in taped)
    overflow = " || ".join(f"dp.{p}_tapeCount[b] > (uint32_t)dp.dp_rt[DP_RT_tape_capacity_{p}]"
                           for p in taped) or "false"
    trial_code, before, after, start, end = _trial_functions(low)
    return trial_code + f"""
static inline void dp_tape_mark(const DPState& dp, const int b, const int64_t k) {{
{mark}}}

static void dp_loss(const DPState& dp, const int b) {{
{_indent(common.loss_body(low))}}}

static void dp_backward_step(const DPState& dp, const int b, const int64_t n, const int dp_thread) {{
    const {low.scalar} t = n * {low.literal(spec.dt)};
    const {low.scalar} dt = {low.literal(spec.dt)};
    const int batch = b;
    const int num_batch = {spec.batch_size};
    (void)t; (void)dt; (void)batch; (void)num_batch;
{_indent(_backward_synapse_phase(low))}
{_indent(_backward_neuron_phase(low))}}}

static inline bool dp_overflowed(const DPState& dp, const int b) {{
    return {overflow};
}}

// Forward pass (with tape) and loss of whole trials; returns how many instances'
// tapes overflowed (their backward pass must not run: Python grows the tape and repeats).
extern "C" DP_EXPORT int64_t dp_forward(void* state, int32_t num_instances) {{
    const DPState& dp = *(const DPState*)state;
    int64_t overflowed = 0;
{before}    #pragma omp parallel for schedule(dynamic, 1) reduction(+:overflowed)
    for (int b = 0; b < num_instances; b++) {{
        dp_reset_instance(dp, b);
{start}        for (int64_t k = 0; k < {T}; k++) {{
            dp_tape_mark(dp, b, k);
            dp_step<true>(dp, b, k);
        }}
        dp_tape_mark(dp, b, {T});
        dp_loss(dp, b);
        overflowed += dp_overflowed(dp, b) ? 1 : 0;
    }}
    return overflowed;
}}

// Backward pass of the trials of the last dp_forward, accumulating gradients into one
// buffer per thread (the REDUCE_BATCH_SUM variables, zeroed by the caller).
extern "C" DP_EXPORT void dp_backward(void* state, int32_t num_instances) {{
    const DPState& dp = *(const DPState*)state;
    #pragma omp parallel
    {{
#ifdef _OPENMP
        const int dp_thread = omp_get_thread_num();
#else
        const int dp_thread = 0;
#endif
        // static: each thread's gradient buffer always sums the same instances in the
        // same order, so a run (and a resumed run) is reproducible bit for bit
        #pragma omp for schedule(static)
        for (int b = 0; b < num_instances; b++) {{
            if (dp_overflowed(dp, b)) continue;
            for (int64_t n = {T - 1}; n >= 0; n--) dp_backward_step(dp, b, n, dp_thread);
{end}        }}
    }}
    // trial-level groups: gradients of the whole batch at once (a synapse's sum depends
    // only on its own column, so this too is reproducible bit for bit)
{after}}}
"""


def render_cpu(spec: NetworkSpec) -> tuple[str, list]:
    """Return the C++ source of ``spec`` and its array layout."""
    low = Lowerer(spec, CpuOps())
    struct, layout = common.state_struct(spec)
    scalar = spec.precision.value
    training = _training_functions(low) if spec.training is not None else ""
    source = f"""{common.header(spec, "cpu")}
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#ifdef _OPENMP
#include <omp.h>
#endif
#define DP_EXPORT __attribute__((visibility("default")))

typedef {scalar} scalar;
{common.rt_enum(spec)}
{struct}
{common.delay_helpers("static")}
static inline void dp_fail(const DPState& dp, int64_t code, int64_t detail) {{
    dp.dp_rt[DP_RT_error] = code;
    dp.dp_rt[DP_RT_error_detail] = detail;
}}

static void dp_reset_instance(const DPState& dp, const int b) {{
{_indent(common.reset_instance_body(layout))}}}

// DP_TRIAL: the training forward pass, where trial-level groups (trial.py) deliver from
// <group>_trialStep; dp_run steps every group through its dendritic ring.
template <bool DP_TRIAL>
static void dp_step(const DPState& dp, const int b, const int64_t k) {{
    const scalar t = k * {low.literal(spec.dt)};
    const scalar dt = {low.literal(spec.dt)};
    const int batch = b;
    const int num_batch = {spec.batch_size};
    (void)t; (void)dt; (void)batch; (void)num_batch;
    // ---------------- synapse phase: spikes of step k-1 into the dendritic rings
{_indent(_synapse_phase(low))}
    // ---------------- neuron phase
{_indent(_neuron_phase(low))}}}
{training}
extern "C" {{
DP_EXPORT int64_t dp_num_arrays(void) {{ return {len(layout)}; }}
DP_EXPORT const char* dp_digest(void) {{ return "{spec.digest()}"; }}
DP_EXPORT int32_t dp_max_threads(void) {{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}}
DP_EXPORT int64_t dp_state_size(void) {{ return (int64_t)sizeof(DPState); }}
DP_EXPORT void dp_reset(void* state) {{
    const DPState& dp = *(const DPState*)state;
    for (int b = 0; b < {spec.batch_size}; b++) dp_reset_instance(dp, b);
    dp.dp_rt[DP_RT_timestep] = 0;
    dp.dp_rt[DP_RT_rec_start] = 0;
}}
DP_EXPORT int64_t dp_run(void* state, int64_t num_steps) {{
    const DPState& dp = *(const DPState*)state;
    const int64_t k0 = dp.dp_rt[DP_RT_timestep];
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < {spec.batch_size}; b++) {{
        for (int64_t k = k0; k < k0 + num_steps; k++) dp_step<false>(dp, b, k);
    }}
    dp.dp_rt[DP_RT_timestep] = k0 + num_steps;
    return dp.dp_rt[DP_RT_error];
}}
}}
"""
    return common.finalize_lines(source, SOURCE_NAME), layout
