"""CUDA backend: one .cu file; one kernel per phase and object, the host loops over steps.

The model code is the CPU backend's (the same :class:`Lowerer` blocks); what differs is
where the loops are. Batch instances are ``blockIdx.y`` of every launch; the host runs
the steps, launching in one stream, so each launch sees everything the previous one wrote.

Forward step k (``dp_run``, and ``dp_forward`` with the tape)::

    dp_syn_<group>     one thread per post index of a row (GeNN's "post-span"): for every
                       spike its source emitted in step k-1, the synapse at that column;
                       ring adds are atomicAdd (SPARSE rows of different spikes can meet
                       at one target) or plain adds (DENSE: the thread owns column id_post)
    dp_between         one thread per instance: spike counts of step k to 0; in training,
                       tapeStart[k] = tapeCount (the tape only grows in the neuron phase)
    dp_neu_<pop>       one thread per neuron: neuron_body, then spike_body in the same
                       thread (atomic append into the spike buffer and tape, atomicOr for
                       the recording bits)

Training, after the T forward steps: ``dp_finish`` (tapeStart[T], the loss block, count of
overflowed tapes, one thread per instance). Backward step n = T-1 ... 0 (``dp_backward``;
instances with an overflowed tape return at once)::

    dp_bsyn_<group>    one thread per post index, looping over the source's tape events of
                       step n: backward_synapse_body; REDUCE_BATCH_SUM vars are atomicAdd-ed
                       into the single gradient buffer (dp_max_threads() is 1), addToPre is
                       summed over a warp, then atomicAdd-ed into RevISyn[id_pre]
    dp_jump_<pop>      one thread per tape spike of step n: jump_body
    dp_bneu_<pop>      one thread per neuron: backward_neuron_body

``state`` (every entry point's argument) is a host array of device pointers in layout
order; it is copied into a ``DPState`` passed to the kernels by value. The host reads the
``dp_rt`` slots it needs (time, sparse row capacities) from the device once per call.
"""
from __future__ import annotations

from delayprop.compile.backends import _common as common
from delayprop.compile.layout import rt_fields
from delayprop.compile.lower import Lowerer, _default_ref, _indent, taped_populations
from delayprop.compile.spec import NetworkSpec, SynapseMatrixType
from delayprop.errors import CodeGenerationError

__all__ = ["CudaOps", "render_cuda", "SOURCE_NAME", "BLOCK"]

SOURCE_NAME = "delayprop_model.cu"

#: Threads per block of every kernel (a multiple of the warp size: the backward synapse
#: kernels reduce over whole warps).
BLOCK = 128


class CudaOps:
    """Threads of one launch share targets: adds, appends and bits are atomic."""

    def add(self, target: str, value: str) -> str:
        return f"atomicAdd(&({target}), {value});"

    def append(self, counter: str, index_var: str) -> str:
        return f"const uint32_t {index_var} = atomicAdd(&({counter}), 1u);"

    def set_bit(self, word: str, bit: str) -> str:
        return f"atomicOr(&({word}), 1u << ({bit}));"


class _ColumnOps(CudaOps):
    """Forward code of a DENSE group: the thread of column ``id_post`` is the only writer
    of that column of the ring, so its adds need no atomics (and are deterministic)."""

    def add(self, target: str, value: str) -> str:
        return f"{target} += {value};"


# ---------------------------------------------------------------------- device code
_DEVICE_HELPERS = """
// Ring position of addToPostDelay on the GPU: the CPU backend looks the row offset up in
// a per-step table (Lowerer.delay_prologue); here each thread computes it (a compare and
// a subtract), which needs neither shared memory nor a barrier. Delays >= D go to the
// spare slot D, exactly as the table's last entry does.
struct DPRing {
    uint32_t slot;     // k % D: the slot step k reads
    uint32_t D;        // max_dendritic_delay_timesteps
    uint32_t n;        // row length (target population size)
};
template <typename T> static __device__ inline uint32_t dp_ring_offset(const DPRing& r, T d) {
    const uint32_t dl = dp_delay_steps(d);
    if (dl >= r.D) return r.D * r.n;
    const uint32_t s = r.slot + dl;
    return (s < r.D ? s : s - r.D) * r.n;
}

template <typename T> static __device__ inline T dp_warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}
"""

_HOST_HELPERS = """
static char dp_error_text[1024] = "";
static int32_t dp_error_code = 0;

// Describes a failure for dp_cuda_last_error; with latch, it is also kept (the first one)
// until dp_cuda_status() is read: runtime.py raises it after each entry point. Copies and
// allocations do not latch: runtime.py raises their failures at once.
static bool dp_ok(cudaError_t e, const char* where, bool latch = true) {
    if (e == cudaSuccess) return true;
    if (!latch || !dp_error_code) {
        snprintf(dp_error_text, sizeof dp_error_text, "%s: %s (%s)", where,
                 cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (latch && !dp_error_code) dp_error_code = (int32_t)e;
    return false;
}

// Waits for the launches of an entry point; records any launch or kernel failure.
static void dp_finish_call(const char* where) {
    if (dp_ok(cudaGetLastError(), where)) dp_ok(cudaDeviceSynchronize(), where);
}

static inline unsigned int dp_blocks(int64_t n) { return (unsigned int)((n + DP_BLOCK - 1) / DP_BLOCK); }

// The dp_rt slots, read once per call (sparse row capacities size the synapse grids).
static bool dp_read_rt(const DPState& dp, int64_t* rt) {
    return dp_ok(cudaMemcpy(rt, dp.dp_rt, sizeof(int64_t) * DP_RT_COUNT,
                            cudaMemcpyDeviceToHost), "reading dp_rt");
}

static void dp_write_rt(const DPState& dp, int field, int64_t value) {
    dp_ok(cudaMemcpy(dp.dp_rt + field, &value, sizeof value, cudaMemcpyHostToDevice),
          "writing dp_rt");
}

extern "C" {
DP_EXPORT void* dp_cuda_malloc(size_t n) {
    void* p = nullptr;
    if (!dp_ok(cudaMalloc(&p, n), "cudaMalloc", false)) return nullptr;
    return p;
}
DP_EXPORT void dp_cuda_free(void* p) { dp_ok(cudaFree(p), "cudaFree", false); }
DP_EXPORT int32_t dp_cuda_copy(void* dst, void* src, size_t n, int32_t to_device) {
    const cudaError_t e = cudaMemcpy(dst, src, n, to_device ? cudaMemcpyHostToDevice
                                                           : cudaMemcpyDeviceToHost);
    return dp_ok(e, to_device ? "copy to device" : "copy from device", false) ? 0 : (int32_t)e;
}
DP_EXPORT const char* dp_cuda_last_error(void) { return dp_error_text; }
// 0, or the CUDA error code of the first failure since the last call (then cleared).
DP_EXPORT int32_t dp_cuda_status(void) {
    const int32_t code = dp_error_code;
    dp_error_code = 0;
    return code;
}
}
"""


def _kernel(name: str, args: str, body: str) -> str:
    return f"__global__ void __launch_bounds__(DP_BLOCK) {name}({args}) {{\n" \
        + _indent(body) + "}\n"


def _time_lines(low: Lowerer, step: str) -> list[str]:
    """GeNN's built-in names of the step (``t``, ``dt``, ``batch``), as the CPU's dp_step."""
    return [f"const scalar t = {step} * {low.literal(low.spec.dt)};",
            f"const scalar dt = {low.literal(low.spec.dt)};",
            "const int batch = b;", f"const int num_batch = {low.spec.batch_size};",
            "(void)t; (void)dt; (void)batch; (void)num_batch;"]


def _ref_pointers(low: Lowerer, sg) -> list[str]:
    """Per-instance pointers to the source/target variables the weight update reads."""
    lines = []
    for refs, bound, pop_name in ((sg.wu_model.pre_neuron_var_refs, sg.pre_var_refs, sg.source),
                                  (sg.wu_model.post_neuron_var_refs, sg.post_var_refs,
                                   sg.target)):
        pop = low.spec.population(pop_name)
        binding = dict(bound)
        for ref, _ in refs:
            var = pop.model.var(binding.get(ref) or _default_ref(ref, pop))
            ctype = low.scalar if var.type == "scalar" else var.type
            line = (f"const {ctype}* const {pop.name}_{var.name} = dp.{pop.name}_{var.name} "
                    f"+ (size_t)b * {pop.size};")
            if line not in lines:
                lines.append(line)
    return lines


def _column(low: Lowerer, sg) -> tuple[str, str, str]:
    """For the thread of column ``dp_j`` of a row: ``(dp_j is past every row, binding of
    id_syn/id_post for the event's id_pre, dp_j is inside the row of id_pre)``."""
    g = sg.name
    n_pre, n_post = low.spec.population(sg.source).size, low.spec.population(sg.target).size
    itype = "int32_t" if n_pre * n_post < 2 ** 31 else "int64_t"
    if sg.matrix_type is SynapseMatrixType.SPARSE:
        bind = (f"const {itype} id_syn = ({itype})id_pre * ({itype}){g}_maxRow + ({itype})dp_j;\n"
                f"const uint32_t id_post = {g}_ind[id_syn];\n")
        return f"dp_j >= {g}_maxRow", bind, f"dp_j < {g}_rowLength[id_pre]"
    bind = (f"const uint32_t id_post = dp_j;\n"
            f"const {itype} id_syn = ({itype})id_pre * {n_post} + ({itype})id_post;\n")
    return f"dp_j >= {n_post}u", bind, "true"


def _synapse_kernel(low: Lowerer, sg) -> str:
    """Forward synapse kernel of one group for step ``k`` (spikes of step k-1)."""
    spec = low.spec
    src, tgt = spec.population(sg.source), spec.population(sg.target)
    dense = sg.matrix_type is SynapseMatrixType.DENSE
    wl = Lowerer(spec, _ColumnOps()) if dense else low
    D = sg.max_dendritic_delay_timesteps
    lines = ["const int b = blockIdx.y;",
             "const uint32_t dp_j = blockIdx.x * blockDim.x + threadIdx.x;"]
    lines += _time_lines(low, "k") + low.group_pointers(sg)
    outside, bind, guard = _column(low, sg)
    lines.append(f"if ({outside}) return;")
    lines += [f"const uint32_t dp_wslot = (uint32_t)(k % {D});",
              f"const DPRing dp_slotOff = {{dp_wslot, {D}u, {tgt.size}u}};",
              f"const uint32_t* const dp_spk = dp.{src.name}_spk + (size_t)b * {max(src.size, 1)};",
              f"const uint32_t dp_spkCnt = dp.{src.name}_spkCnt[b];"]
    lines += _ref_pointers(low, sg)
    loop = ("for (uint32_t dp_i = 0; dp_i < dp_spkCnt; dp_i++) {\n"
            "    const uint32_t id_pre = dp_spk[dp_i];\n"
            f"    if (!({guard})) continue;\n"
            + _indent(bind + wl.synapse_body(sg)) + "}\n")
    return (f"// synapse group '{sg.name}' ({sg.wu_model.name}), {sg.matrix_type.value}\n"
            + _kernel(f"dp_syn_{sg.name}", "const DPState dp, const int64_t k",
                      "\n".join(lines) + "\n" + loop))


def _neuron_kernel(low: Lowerer, pop) -> str:
    """Forward neuron kernel of one population for step ``k``: update, then emit."""
    lines = ["const int b = blockIdx.y;",
             "const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;",
             f"if (id >= {pop.size}u) return;"]
    lines += _time_lines(low, "k") + common.neuron_phase_prologue(low, pop)
    lines.append(f"const uint32_t num_neurons = {pop.size};")
    body = low.neuron_body(pop) + (low.spike_body(pop) if pop.model.spikes else "")
    return (f"// population '{pop.name}' ({pop.model.name})\n"
            + _kernel(f"dp_neu_{pop.name}", "const DPState dp, const int64_t k",
                      "\n".join(lines) + "\n" + body))


def _between_kernel(spec: NetworkSpec) -> str:
    """Between the synapse and the neuron phase of step ``k``: spike counts to 0 (the
    synapse kernels have read them); in training, the tape marks of step k."""
    lines = ["const int b = blockIdx.x * blockDim.x + threadIdx.x;", "if (b >= nb) return;"]
    lines += [f"dp.{p.name}_spkCnt[b] = 0;" for p in spec.populations if p.model.spikes]
    if spec.training is not None:
        lines.append("dp_tape_mark(dp, b, k);")
    return _kernel("dp_between", "const DPState dp, const int64_t k, const int nb",
                   "\n".join(lines) + "\n")


def _reset_kernel(spec: NetworkSpec, layout) -> tuple[str, int]:
    """``dp_reset_instance`` of the CPU backend as a kernel: instance ``blockIdx.y``,
    every array's elements spread over the threads of ``blockIdx.x``."""
    sizes = common.instance_sizes(spec, layout)
    body = common.reset_instance_body(spec, layout, sizes)
    serial, parallel = "for (size_t i = 0; i < ", "for (size_t i = dp_i0; i < "
    if body.count(serial) != body.count("for ("):
        raise CodeGenerationError("internal: _common.reset_instance_body no longer writes "
                                  "one serial loop per array; update cuda._reset_kernel")
    body = body.replace(serial, parallel).replace("; i++)", "; i += dp_stride)")
    largest = max(sizes.values(), default=1)
    blocks = max(1, min(-(-largest // BLOCK), 256))
    head = ("const int b = blockIdx.y;\n"
            "const size_t dp_i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;\n"
            "const size_t dp_stride = (size_t)gridDim.x * blockDim.x;\n")
    return _kernel("dp_reset_instances", "const DPState dp", head + body), blocks


def _step_function(spec: NetworkSpec) -> str:
    """Host code of one forward step of instances 0..nb-1 (launches only)."""
    lines = []
    for sg in spec.synapse_groups:
        if sg.matrix_type is SynapseMatrixType.SPARSE:
            span = f"rt[DP_RT_max_row_length_{sg.name}]"
        else:
            span = str(spec.population(sg.target).size)
        lines.append(f"if (const unsigned int x = dp_blocks({span})) "
                     f"dp_syn_{sg.name}<<<dim3(x, nb), DP_BLOCK>>>(dp, k);")
    lines.append("dp_between<<<dp_blocks(nb), DP_BLOCK>>>(dp, k, nb);")
    for pop in spec.populations:
        if pop.size:
            lines.append(f"dp_neu_{pop.name}<<<dim3({-(-pop.size // BLOCK)}, nb), DP_BLOCK>>>"
                         f"(dp, k);")
    return ("static void dp_step(const DPState& dp, const int64_t* rt, const int64_t k, "
            "const int nb) {\n" + _indent("\n".join(lines)) + "\n}\n")


# ---------------------------------------------------------------------- training
def _backward_synapse_kernel(low: Lowerer, sg) -> str:
    """Backward synapse kernel of one group for backward step ``n``."""
    spec = low.spec
    src, tgt = spec.population(sg.source), spec.population(sg.target)
    lines = ["const int b = blockIdx.y;", "if (dp_overflowed(dp, b)) return;",
             "const uint32_t dp_j = blockIdx.x * blockDim.x + threadIdx.x;"]
    lines += _time_lines(low, "n")
    lines += low.group_pointers(sg, thread="0") + low.tape_pointers(src)
    lines += [ln for ln in low.population_pointers(tgt, adjoint=True) if "_ring_" in ln]
    if src.adjoint is not None:
        lines.append(f"{low.scalar}* const {src.name}_RevISyn = "
                     f"dp.{src.name}_RevISyn + (size_t)b * {src.size};")
    lines += low.backward_synapse_prologue(sg)
    outside, bind, guard = _column(low, sg)
    # no early return: whole warps must reach the addToPre reduction below
    lines.append(f"const bool dp_live = !({outside});")
    if src.adjoint is not None:
        collect = (f"dp_rev = dp_warp_sum(dp_rev);\n"
                   f"if ((threadIdx.x & 31u) == 0 && dp_rev != 0) "
                   f"{low.ops.add(f'{src.name}_RevISyn[id_pre]', 'dp_rev')}\n")
    else:
        collect = "(void)dp_rev;\n"
    loop = (f"for (uint32_t dp_e = {src.name}_tapeStart[n]; dp_e < {src.name}_tapeStart[n + 1]; dp_e++) {{\n"
            f"    const uint32_t id_pre = {src.name}_tapeId[dp_e];\n"
            f"    {low.scalar} dp_rev = 0;\n"
            f"    if (dp_live && ({guard})) {{\n"
            + _indent(bind + low.backward_synapse_body(sg), 8) + "    }\n"
            + _indent(collect) + "}\n")
    return (f"// adjoint of synapse group '{sg.name}' ({sg.adjoint.name})\n"
            + _kernel(f"dp_bsyn_{sg.name}", "const DPState dp, const int64_t n",
                      "\n".join(lines) + "\n" + loop))


def _jump_kernel(low: Lowerer, pop) -> str:
    """Adjoint jumps of one population's tape spikes of backward step ``n``."""
    p = pop.name
    lines = ["const int b = blockIdx.y;", "if (dp_overflowed(dp, b)) return;"]
    lines += _time_lines(low, "n") + low.population_pointers(pop, adjoint=True)
    lines += [f"const uint32_t num_neurons = {pop.size};",
              f"const uint32_t dp_e = {p}_tapeStart[n] + blockIdx.x * blockDim.x + threadIdx.x;",
              f"if (dp_e >= {p}_tapeStart[n + 1]) return;",
              f"const uint32_t id = {p}_tapeId[dp_e];"]
    return (f"// adjoint jumps of population '{p}' ({pop.adjoint.name})\n"
            + _kernel(f"dp_jump_{p}", "const DPState dp, const int64_t n",
                      "\n".join(lines) + "\n" + low.jump_body(pop)))


def _backward_neuron_kernel(low: Lowerer, pop) -> str:
    """Adjoint dynamics of one population in backward step ``n``."""
    lines = ["const int b = blockIdx.y;", "if (dp_overflowed(dp, b)) return;",
             "const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;",
             f"if (id >= {pop.size}u) return;"]
    lines += _time_lines(low, "n") + low.population_pointers(pop, adjoint=True)
    lines.append(f"const uint32_t num_neurons = {pop.size};")
    return (f"// adjoint of population '{pop.name}' ({pop.adjoint.name})\n"
            + _kernel(f"dp_bneu_{pop.name}", "const DPState dp, const int64_t n",
                      "\n".join(lines) + "\n" + low.backward_neuron_body(pop)))


def _has_jump(spec: NetworkSpec, pop) -> bool:
    return pop.name in taped_populations(spec) and bool(pop.adjoint.jump_code.strip())


def _training_device_code(low: Lowerer) -> str:
    """The CPU backend's per-instance helpers (tape marks, loss, overflow) on the device,
    and the kernels of the end of a forward trial and of the backward pass."""
    spec = low.spec
    T = spec.training.num_steps
    taped = taped_populations(spec)
    mark = "".join(f"    dp.{p}_tapeStart[(size_t)b * {T + 1} + k] = dp.{p}_tapeCount[b];\n"
                   for p in taped)
    overflow = " || ".join(f"dp.{p}_tapeCount[b] > (uint32_t)dp.dp_rt[DP_RT_tape_capacity_{p}]"
                           for p in taped) or "false"
    kernels = [_backward_synapse_kernel(low, sg) for sg in spec.synapse_groups
               if sg.adjoint is not None]
    for pop in spec.populations:
        if pop.adjoint is None:
            continue
        if _has_jump(spec, pop):
            kernels.append(_jump_kernel(low, pop))
        kernels.append(_backward_neuron_kernel(low, pop))
    finish = ("const int b = blockIdx.x * blockDim.x + threadIdx.x;\n"
              "if (b >= nb) return;\n"
              f"dp_tape_mark(dp, b, {T});\n"
              "dp_loss(dp, b);\n"
              "if (dp_overflowed(dp, b)) atomicAdd(&dp_overflow_count, 1ull);\n")
    return f"""
static __device__ inline void dp_tape_mark(const DPState& dp, const int b, const int64_t k) {{
{mark}}}

static __device__ void dp_loss(const DPState& dp, const int b) {{
{_indent(common.loss_body(low))}}}

static __device__ inline bool dp_overflowed(const DPState& dp, const int b) {{
    return {overflow};
}}

// instances of the last dp_forward whose tape overflowed
__device__ unsigned long long dp_overflow_count;

// End of a forward trial: the last tape mark, the loss block, overflow count.
{_kernel("dp_finish_trial", "const DPState dp, const int nb", finish)}
{"".join(kernels)}"""


def _training_host_code(low: Lowerer) -> str:
    spec = low.spec
    T = spec.training.num_steps
    steps = []
    for sg in spec.synapse_groups:
        if sg.adjoint is None:
            continue
        span = (f"rt[DP_RT_max_row_length_{sg.name}]"
                if sg.matrix_type is SynapseMatrixType.SPARSE
                else str(spec.population(sg.target).size))
        steps.append(f"if (const unsigned int x = dp_blocks({span})) "
                     f"dp_bsyn_{sg.name}<<<dim3(x, nb), DP_BLOCK>>>(dp, n);")
    for pop in spec.populations:
        if pop.adjoint is None or not pop.size:
            continue
        grid = f"dim3({-(-pop.size // BLOCK)}, nb)"
        if _has_jump(spec, pop):      # at most one spike per neuron and step
            steps.append(f"dp_jump_{pop.name}<<<{grid}, DP_BLOCK>>>(dp, n);")
        steps.append(f"dp_bneu_{pop.name}<<<{grid}, DP_BLOCK>>>(dp, n);")
    return f"""
static void dp_backward_step(const DPState& dp, const int64_t* rt, const int64_t n, const int nb) {{
{_indent(chr(10).join(steps))}
}}

extern "C" {{
// Forward pass (with tape) and loss of whole trials of instances 0..num_instances-1;
// returns how many instances' tapes overflowed (their backward pass must not run: Python
// grows the tape and repeats), or -1 after a CUDA failure (see dp_cuda_status).
DP_EXPORT int64_t dp_forward(void* state, int32_t num_instances) {{
    const DPState dp = *(const DPState*)state;
    const int nb = num_instances;
    int64_t rt[DP_RT_COUNT];
    if (nb <= 0 || !dp_read_rt(dp, rt)) return 0;
    dp_reset_instances<<<dim3(DP_RESET_BLOCKS, nb), DP_BLOCK>>>(dp);
    for (int64_t k = 0; k < {T}; k++) dp_step(dp, rt, k, nb);
    const unsigned long long zero = 0;
    unsigned long long overflowed = 0;
    dp_ok(cudaMemcpyToSymbol(dp_overflow_count, &zero, sizeof zero), "dp_forward");
    dp_finish_trial<<<dp_blocks(nb), DP_BLOCK>>>(dp, nb);
    dp_finish_call("dp_forward");
    if (!dp_ok(cudaMemcpyFromSymbol(&overflowed, dp_overflow_count, sizeof overflowed),
               "dp_forward")) return -1;
    return (int64_t)overflowed;
}}

// Backward pass of the trials of the last dp_forward, accumulating gradients into the
// one gradient buffer (REDUCE_BATCH_SUM variables, zeroed by the caller).
DP_EXPORT void dp_backward(void* state, int32_t num_instances) {{
    const DPState dp = *(const DPState*)state;
    const int nb = num_instances;
    int64_t rt[DP_RT_COUNT];
    if (nb <= 0 || !dp_read_rt(dp, rt)) return;
    for (int64_t n = {T - 1}; n >= 0; n--) dp_backward_step(dp, rt, n, nb);
    dp_finish_call("dp_backward");
}}
}}
"""


# ---------------------------------------------------------------------- the file
def _entry_points(spec: NetworkSpec, layout, reset_blocks: int) -> str:
    """The CPU library's entry points (see cpu.py), as host code launching kernels."""
    return f"""
extern "C" {{
DP_EXPORT int64_t dp_num_arrays(void) {{ return {len(layout)}; }}
DP_EXPORT const char* dp_digest(void) {{ return "{spec.digest()}"; }}
// One gradient buffer: REDUCE_BATCH_SUM variables are [1, ...], summed with atomicAdd.
DP_EXPORT int32_t dp_max_threads(void) {{ return 1; }}
DP_EXPORT int64_t dp_state_size(void) {{ return (int64_t)sizeof(DPState); }}
DP_EXPORT void dp_reset(void* state) {{
    const DPState dp = *(const DPState*)state;
    dp_reset_instances<<<dim3({reset_blocks}, {spec.batch_size}), DP_BLOCK>>>(dp);
    dp_finish_call("dp_reset");
    dp_write_rt(dp, DP_RT_timestep, 0);
    dp_write_rt(dp, DP_RT_rec_start, 0);
}}
// Steps every instance num_steps times from dp_rt[timestep]; returns 0, or -1 after a
// CUDA failure (see dp_cuda_status).
DP_EXPORT int64_t dp_run(void* state, int64_t num_steps) {{
    const DPState dp = *(const DPState*)state;
    int64_t rt[DP_RT_COUNT];
    if (!dp_read_rt(dp, rt)) return -1;
    const int64_t k0 = rt[DP_RT_timestep];
    for (int64_t k = k0; k < k0 + num_steps; k++) dp_step(dp, rt, k, {spec.batch_size});
    dp_finish_call("dp_run");
    dp_write_rt(dp, DP_RT_timestep, k0 + num_steps);
    return dp_error_code ? -1 : 0;
}}
}}
"""


def render_cuda(spec: NetworkSpec) -> tuple[str, list]:
    """Return the CUDA source of ``spec`` and its array layout."""
    low = Lowerer(spec, CudaOps())
    struct, layout = common.state_struct(spec)
    reset, reset_blocks = _reset_kernel(spec, layout)
    kernels = [_synapse_kernel(low, sg) for sg in spec.synapse_groups]
    kernels += [_neuron_kernel(low, pop) for pop in spec.populations]
    training_device = _training_device_code(low) if spec.training is not None else ""
    training_host = _training_host_code(low) if spec.training is not None else ""
    source = f"""{common.header(spec, "cuda")}
#include <cuda_runtime.h>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#define DP_EXPORT __attribute__((visibility("default")))
#define DP_BLOCK {BLOCK}
#define DP_RESET_BLOCKS {reset_blocks}

typedef {spec.precision.value} scalar;
{common.rt_enum(spec)}#define DP_RT_COUNT {len(rt_fields(spec))}
{struct}
{common.delay_helpers("static __device__")}{_DEVICE_HELPERS}
{training_device}
// ---------------------------------------------------------------- trial start
{reset}
// ---------------------------------------------------------------- forward kernels
{"".join(kernels)}
{_between_kernel(spec)}
// ---------------------------------------------------------------- host side
{_HOST_HELPERS}
{_step_function(spec)}{training_host}{_entry_points(spec, layout, reset_blocks)}"""
    return common.finalize_lines(source, SOURCE_NAME), layout
