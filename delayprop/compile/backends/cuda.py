"""CUDA backend: one .cu file; one kernel per phase, the host loops over steps.

The model code is the CPU backend's (the same :class:`Lowerer` blocks); what differs is
where the loops are. Each group's (population's) code is a device function run on its own
range of ``blockIdx.x`` of its phase's kernel; batch instances are ``blockIdx.y``. The
launches go into one stream, so each phase sees everything the previous one wrote.

Forward step k (``dp_run``, and ``dp_forward`` with the tape)::

    dp_synapse_phase   dp_syn_<group>: one thread per column of a row (GeNN's "post-span")
                       for every spike of step k-1; ring adds are atomicAdd (SPARSE rows
                       can meet at one target) or plain (DENSE: a thread owns its column)
    dp_between         one thread per instance: spike counts of step k to 0; in training,
                       tapeStart[k] = tapeCount (the tape only grows in the neuron phase)
    dp_neuron_phase    dp_neu_<pop>: one thread per neuron: neuron_body, then spike_body
                       (atomic appends to spike buffer and tape, atomicOr for recording)

Training, after the T forward steps: ``dp_finish_trial`` (tapeStart[T], the loss block,
count of overflowed tapes; one thread per instance). Backward step n = T-1 ... 0
(``dp_backward``; instances with an overflowed tape return at once)::

    dp_backward_synapse_phase  dp_bsyn_<group>: one thread per column, looping over the
                       source's tape events of step n; REDUCE_BATCH_SUM vars atomicAdd-ed
                       into the one gradient buffer (dp_max_threads() is 1), addToPre
                       summed over a warp, then atomicAdd-ed into RevISyn[id_pre]
    dp_jump_phase      dp_jump_<pop>: one thread per tape spike of step n: jump_body
    dp_backward_neuron_phase  dp_bneu_<pop>: one thread per neuron: backward_neuron_body

``state`` (every entry point's argument) is a host array of device pointers in layout
order; it is copied into ``__constant__ DPState dp_state`` at each call, so kernel
arguments never hold addresses. Whole passes (a forward or backward pass of training, a
run from time 0) are captured once as CUDA graphs and replayed while their shape (number
of instances, steps, sparse row capacities) stays the same. The host reads the ``dp_rt``
slots it needs (time, sparse row capacities) from the device once per call.
"""
from __future__ import annotations

from delayprop.compile.backends import _common as common
from delayprop.compile.backends.template import render_template
from delayprop.compile.layout import rt_fields
from delayprop.compile.lower import Lowerer, _indent, taped_populations
from delayprop.compile.network_spec import NetworkSpec, SynapseMatrixType
from delayprop.compile.trial_code import TrialCode
from delayprop.errors import CodeGenerationError

__all__ = ["CudaOps", "render_cuda", "SOURCE_NAME", "BLOCK", "MAX_BATCH"]

SOURCE_NAME = "delayprop_model.cu"

#: Most batch instances a model can have (CUDA's limit on gridDim.y).
MAX_BATCH = 65535

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


def _kernel(name: str, args: str, body: str) -> str:
    """A kernel reading the state as ``dp``, as the lowered code expects."""
    return (f"__global__ void __launch_bounds__(DP_BLOCK) {name}({args}) {{\n"
            f"    const DPState& dp = dp_state;\n" + _indent(body) + "}\n")


def _member(name: str, step: str, body: str, trial: bool = False) -> str:
    """The code of one group or population in a phase, on blocks ``dp_block`` of x; with
    ``trial``, a template on DP_TRIAL (the training forward pass, see compile/trial.py)."""
    head = "template <bool DP_TRIAL>\n" if trial else ""
    return (f"{head}static __device__ __forceinline__ void {name}(const int64_t {step}, "
            f"const uint32_t dp_block) {{\n    const DPState& dp = dp_state;\n"
            + _indent(body) + "}\n")


def _phase(kernel: str, step: str, members: list[tuple[str, str]],
           trial: bool = False) -> tuple[str, str]:
    """``(kernel, host launch)`` of a phase; ``members`` are ``(device function, number of
    blocks as a host expression)``, each run on its own range of ``blockIdx.x``. With
    ``trial`` the kernel and its members are templates on DP_TRIAL, launched by the host's
    ``dp_trial``."""
    if not members:
        return "", ""
    n = len(members)
    tmpl = "<DP_TRIAL>" if trial else ""
    calls, host = ["const uint32_t dp_x = blockIdx.x;"], []
    for i, (fn, blocks) in enumerate(members):
        offset = f" - dp_ends.end[{i - 1}]" if i else ""
        calls.append(f"if (dp_x < dp_ends.end[{i}]) {{ {fn}{tmpl}({step}, dp_x{offset}); "
                     f"return; }}")
        host.append(f"x += dp_blocks({blocks}); e.end[{i}] = x;")
    code = _kernel(kernel, f"const int64_t {step}, const DPEnds<{n}> dp_ends",
                   "\n".join(calls) + "\n")
    grid = f"<<<dim3(x, nb), DP_BLOCK, 0, dp_stream>>>({step}, e)"
    if trial:
        code = "template <bool DP_TRIAL>\n" + code
        go = (f"if (dp_trial) {kernel}<true>{grid};\n        else {kernel}<false>{grid};")
    else:
        go = f"{kernel}{grid};"
    launch = (f"{{   // {kernel}\n    DPEnds<{n}> e;\n    uint32_t x = 0;\n"
              + _indent("\n".join(host)) + "\n"
              f"    if (x) {{\n        {go}\n    }}\n}}\n")
    return code, launch


def _time_lines(low: Lowerer, step: str) -> list[str]:
    """GeNN's built-in names of the step (``t``, ``dt``, ``batch``), as the CPU's dp_step."""
    return [f"const scalar t = {step} * {low.literal(low.spec.dt)};",
            f"const scalar dt = {low.literal(low.spec.dt)};",
            "const int batch = b;", f"const int num_batch = {low.spec.batch_size};",
            "(void)t; (void)dt; (void)batch; (void)num_batch;"]


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


def _span(low: Lowerer, sg) -> str:
    """Host expression: threads per instance of a group's synapse code (one per column)."""
    if sg.matrix_type is SynapseMatrixType.SPARSE:
        return f"rt[DP_RT_max_row_length_{sg.name}]"
    return str(low.spec.population(sg.target).size)


def _synapse_member(low: Lowerer, sg) -> tuple[str, str]:
    """Forward code of one group in step ``k`` (spikes of step k-1), and its blocks."""
    spec = low.spec
    src, tgt = spec.population(sg.source), spec.population(sg.target)
    dense = sg.matrix_type is SynapseMatrixType.DENSE
    wl = Lowerer(spec, _ColumnOps()) if dense else low
    D = sg.max_dendritic_delay_timesteps
    lines = ["const int b = blockIdx.y;",
             "const uint32_t dp_j = dp_block * blockDim.x + threadIdx.x;"]
    lines += _time_lines(low, "k") + low.group_pointers(sg)
    outside, bind, guard = _column(low, sg)
    lines.append(f"if ({outside}) return;")
    lines += [f"const uint32_t dp_wslot = (uint32_t)(k % {D});",
              f"const DPRing dp_slotOff = {{dp_wslot, {D}u, {tgt.size}u}};",
              low.layout.pointer(f"{src.name}_spk", local="dp_spk", const=True,
                                 restrict=False),
              f"const uint32_t dp_spkCnt = dp.{src.name}_spkCnt[b];"]
    lines += low.ref_pointers(sg)
    loop = ("for (uint32_t dp_i = 0; dp_i < dp_spkCnt; dp_i++) {\n"
            "    const uint32_t id_pre = dp_spk[dp_i];\n"
            f"    if (!({guard})) continue;\n"
            + _indent(bind + wl.synapse_body(sg)) + "}\n")
    # a trial-level group delivers from <group>_trialStep in the training forward pass
    blocks = f"(dp_trial ? 0 : {_span(low, sg)})" if low.is_trial(sg) else _span(low, sg)
    return (f"// synapse group '{sg.name}' ({sg.wu_model.name}), {sg.matrix_type.value}\n"
            + _member(f"dp_syn_{sg.name}", "k", "\n".join(lines) + "\n" + loop)), blocks


def _neuron_member(low: Lowerer, pop) -> tuple[str, str]:
    """Forward code of one population in step ``k``: update, then emit; and its blocks."""
    lines = ["const int b = blockIdx.y;",
             "const uint32_t id = dp_block * blockDim.x + threadIdx.x;",
             f"if (id >= {pop.size}u) return;"]
    lines += _time_lines(low, "k") + common.neuron_phase_prologue(low, pop)
    lines.append(f"const uint32_t num_neurons = {pop.size};")
    body = low.neuron_body(pop) + (low.spike_body(pop) if pop.model.spikes else "")
    return ((f"// population '{pop.name}' ({pop.model.name})\n"
            + _member(f"dp_neu_{pop.name}", "k", "\n".join(lines) + "\n" + body, trial=True)),
            str(pop.size))


def _between_kernel(spec: NetworkSpec) -> str:
    """Between the synapse and the neuron phase of step ``k``: spike counts to 0 (the
    synapse phase has read them); in training, the tape marks of step k."""
    lines = ["const int b = blockIdx.x * blockDim.x + threadIdx.x;", "if (b >= nb) return;"]
    lines += [f"dp.{p.name}_spkCnt[b] = 0;" for p in spec.populations if p.model.spikes]
    if spec.training is not None:
        lines.append("dp_tape_mark(dp, b, k);")
    return _kernel("dp_between", "const int64_t k, const int nb", "\n".join(lines) + "\n")


def _reset_kernel(spec: NetworkSpec, layout) -> tuple[str, int]:
    """``dp_reset_instance`` of the CPU backend as a kernel: instance ``blockIdx.y``,
    every array's elements spread over the threads of ``blockIdx.x``."""
    body = common.reset_instance_body(layout, first="dp_i0", stride="dp_stride")
    largest = common.reset_row_elements(layout)
    blocks = max(1, min(-(-largest // BLOCK), 256))
    head = ("const int b = blockIdx.y;\n"
            "const size_t dp_i0 = (size_t)blockIdx.x * blockDim.x + threadIdx.x;\n"
            "const size_t dp_stride = (size_t)gridDim.x * blockDim.x;\n")
    return _kernel("dp_reset_instances", "", head + body), blocks


def _forward_code(low: Lowerer) -> tuple[str, str]:
    """``(device code, host dp_step)`` of one forward step of instances 0..nb-1."""
    spec = low.spec
    syn = [_synapse_member(low, sg) for sg in spec.synapse_groups]
    neu = [_neuron_member(low, pop) for pop in spec.populations]
    syn_kernel, syn_launch = _phase("dp_synapse_phase", "k", [
        (f"dp_syn_{sg.name}", blocks) for sg, (_, blocks) in zip(spec.synapse_groups, syn)])
    neu_kernel, neu_launch = _phase("dp_neuron_phase", "k", [
        (f"dp_neu_{pop.name}", blocks) for pop, (_, blocks) in zip(spec.populations, neu)],
        trial=True)
    device = ("".join(code for code, _ in syn + neu) + syn_kernel + neu_kernel
              + _between_kernel(spec))
    host = ("// dp_trial: the training forward pass (trial-level groups, compile/trial.py)\n"
            "static void dp_step(const int64_t* rt, const int64_t k, const int nb, "
            "const bool dp_trial) {\n    (void)dp_trial;\n"
            + _indent(syn_launch + "dp_between<<<dp_blocks(nb), DP_BLOCK, 0, dp_stream>>>"
                      "(k, nb);\n" + neu_launch) + "}\n")
    return device, host


# ---------------------------------------------------------------------- training
def _backward_synapse_member(low: Lowerer, sg) -> str:
    """Backward code of one group in backward step ``n``."""
    spec = low.spec
    src, tgt = spec.population(sg.source), spec.population(sg.target)
    lines = ["const int b = blockIdx.y;", "if (dp_overflowed(dp, b)) return;",
             "const uint32_t dp_j = dp_block * blockDim.x + threadIdx.x;"]
    lines += _time_lines(low, "n")
    lines += low.group_pointers(sg, thread="0") + low.tape_pointers(src)
    lines += low.adjoint_ring_pointers(tgt)
    if src.adjoint is not None:
        lines.append(low.layout.pointer(f"{src.name}_RevISyn", restrict=False))
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
            + _member(f"dp_bsyn_{sg.name}", "n", "\n".join(lines) + "\n" + loop))


def _jump_member(low: Lowerer, pop) -> str:
    """Adjoint jumps of one population's tape spikes of backward step ``n`` (at most one
    spike per neuron and step: as many threads as neurons)."""
    p = pop.name
    lines = ["const int b = blockIdx.y;", "if (dp_overflowed(dp, b)) return;"]
    lines += _time_lines(low, "n") + low.population_pointers(pop, adjoint=True)
    lines += [f"const uint32_t num_neurons = {pop.size};",
              f"const uint32_t dp_e = {p}_tapeStart[n] + dp_block * blockDim.x + threadIdx.x;",
              f"if (dp_e >= {p}_tapeStart[n + 1]) return;",
              f"const uint32_t id = {p}_tapeId[dp_e];"]
    return (f"// adjoint jumps of population '{p}' ({pop.adjoint.name})\n"
            + _member(f"dp_jump_{p}", "n", "\n".join(lines) + "\n" + low.jump_body(pop)))


def _backward_neuron_member(low: Lowerer, pop) -> str:
    """Adjoint dynamics of one population in backward step ``n``."""
    lines = ["const int b = blockIdx.y;", "if (dp_overflowed(dp, b)) return;",
             "const uint32_t id = dp_block * blockDim.x + threadIdx.x;",
             f"if (id >= {pop.size}u) return;"]
    lines += _time_lines(low, "n") + low.population_pointers(pop, adjoint=True)
    lines.append(f"const uint32_t num_neurons = {pop.size};")
    return (f"// adjoint of population '{pop.name}' ({pop.adjoint.name})\n"
            + _member(f"dp_bneu_{pop.name}", "n",
                      "\n".join(lines) + "\n" + low.backward_neuron_body(pop)))


def _training_device(low: Lowerer) -> str:
    """The CPU backend's per-instance helpers (tape marks, loss, overflow) on the device."""
    return render_template("cuda_training_device.cu", tape_mark=common.tape_mark_body(low),
                           loss_body=common.loss_body(low),
                           overflowed=common.overflow_test(low.spec))


def _backward_code(low: Lowerer) -> tuple[str, str]:
    """``(device code, host dp_backward_step)``; the device code starts with the kernel
    ending a forward trial (last tape mark, loss, overflow count)."""
    spec = low.spec
    groups = [sg for sg in spec.synapse_groups
              if sg.adjoint is not None and not low.is_trial(sg)]   # trial-level: after
    adjoint = [p for p in spec.populations if p.adjoint is not None]
    jumps = [p for p in adjoint if _has_jump(spec, p)]
    code = [_backward_synapse_member(low, sg) for sg in groups]
    code += [_jump_member(low, p) for p in jumps] + [_backward_neuron_member(low, p)
                                                      for p in adjoint]
    phases = [_phase("dp_backward_synapse_phase", "n",
                     [(f"dp_bsyn_{sg.name}", _span(low, sg)) for sg in groups]),
              _phase("dp_jump_phase", "n", [(f"dp_jump_{p.name}", str(p.size)) for p in jumps]),
              _phase("dp_backward_neuron_phase", "n",
                     [(f"dp_bneu_{p.name}", str(p.size)) for p in adjoint])]
    finish = _kernel("dp_finish_trial", "const int nb",
                     "const int b = blockIdx.x * blockDim.x + threadIdx.x;\n"
                     "if (b >= nb) return;\n"
                     f"dp_tape_mark(dp, b, {spec.training.num_steps});\n"
                     "dp_loss(dp, b);\n"
                     "if (dp_overflowed(dp, b)) atomicAdd(&dp_overflow_count, 1ull);\n")
    device = ("// End of a forward trial: the last tape mark, the loss block, overflow count.\n"
              + finish + "".join(code) + "".join(kernel for kernel, _ in phases))
    host = ("static void dp_backward_step(const int64_t* rt, const int64_t n, const int nb) {\n"
            + _indent("".join(launch for _, launch in phases)) + "}\n")
    return device, host


def _has_jump(spec: NetworkSpec, pop) -> bool:
    return pop.name in taped_populations(spec) and bool(pop.adjoint.jump_code.strip())


def _trial_code(low: Lowerer) -> tuple[str, str, str]:
    """The trial-level path (compile/trial.py) as kernels: ``(device code, launches
    before the forward steps, launches after the backward steps)``. Each group's column
    order is built by one thread (serial counting sorts, as on the CPU)."""
    code = TrialCode(low)
    if not code.groups:
        return "", "", ""
    spec, T = low.spec, code.T
    device, before, after = [], [], []

    def kernel(name, head, prologue, body):
        device.append(_kernel(name, "", "\n".join(head + prologue) + "\n" + body))

    for sg in code.groups:
        g = sg.name
        D = sg.max_dendritic_delay_timesteps
        spare = f"{g}_den[{low.layout[g + '_den'].row_index(f'{D}u', '0')}] = 1;"
        kernel(f"dp_trial_order_{g}", ["if (blockIdx.x || threadIdx.x) return;"], [],
               code.order_body(sg, spare))
        before.append(f"dp_trial_order_{g}<<<1, 1, 0, dp_stream>>>();")
    for p in code.sources:
        n = spec.population(p).size
        prologue, body = code.record_neuron(p)
        kernel(f"dp_trial_record_{p}", ["const int b = blockIdx.y;",
                                        "const uint32_t id = blockIdx.x * blockDim.x + threadIdx.x;",
                                        f"if (id >= {n}u) return;"], prologue, body)
        before.append(f"dp_trial_record_{p}<<<dim3(dp_blocks({n}), nb), DP_BLOCK, 0, "
                      f"dp_stream>>>();")
    for sg in code.groups:
        g = sg.name
        n_post = spec.population(sg.target).size
        prologue, body = code.currents_gather(sg)
        kernel(f"dp_trial_currents_{g}",
               ["const int b = blockIdx.y;",
                "const uint32_t dp_i = blockIdx.x * blockDim.x + threadIdx.x;",
                f"if (dp_i >= {n_post * T}u) return;",
                f"const uint32_t id_post = dp_i / {T}u;",
                f"const int64_t k = dp_i % {T}u;"], prologue, body)
        before.append(f"dp_trial_currents_{g}<<<dim3(dp_blocks({n_post * T}), nb), DP_BLOCK, "
                      f"0, dp_stream>>>();")
        if sg.adjoint is None:
            continue
        n_pre = spec.population(sg.source).size
        capacity = (f"{n_pre} * rt[DP_RT_max_row_length_{g}]"
                    if sg.matrix_type is SynapseMatrixType.SPARSE else str(n_pre * n_post))
        prologue, body = code.gradients_column_entry(sg)
        kernel(f"dp_trial_gradients_{g}",
               ["const int b = blockIdx.y;",
                "const uint32_t dp_c = blockIdx.x * blockDim.x + threadIdx.x;"],
               prologue + [f"if (dp_c >= {g}_colStart[{n_post}]) return;",
                           f"const uint32_t id_post = dp.{g}_colPost[dp_c];"], body)
        after.append(f"dp_trial_gradients_{g}<<<dim3(dp_blocks({capacity}), nb), DP_BLOCK, 0, "
                     f"dp_stream>>>();")
    return ("// ---------------- trial-level input groups (compile/trial.py)\n" + "".join(device),
            "".join(f"        {c}\n" for c in before), "".join(f"        {c}\n" for c in after))


def _training_host(spec: NetworkSpec, trial_before: str, trial_after: str) -> str:
    """``dp_forward`` and ``dp_backward``: whole training passes as cached CUDA graphs."""
    T = spec.training.num_steps
    return render_template("cuda_training_host.cu", num_steps=T, last_step=T - 1,
                           trial_before=trial_before, trial_after=trial_after)


# ---------------------------------------------------------------------- the file
def _key_function(spec: NetworkSpec) -> str:
    """``dp_key``: what shapes a pass's launches, the key of its cached graph."""
    rows = [f"    key[{2 + i}] = rt[DP_RT_max_row_length_{sg.name}];\n"
            for i, sg in enumerate(g for g in spec.synapse_groups
                                   if g.matrix_type is SynapseMatrixType.SPARSE)]
    return ("static const int64_t* dp_key(int64_t* key, const int64_t* rt, int64_t a, "
            "int64_t b) {\n    key[0] = a;\n    key[1] = b;\n" + "".join(rows)
            + "    return key;\n}\n")


def render_cuda(spec: NetworkSpec) -> tuple[str, list]:
    """Return the CUDA source of ``spec`` (templates/cuda_model.cu) and its array layout."""
    if spec.batch_size > MAX_BATCH:
        raise CodeGenerationError(
            f"model '{spec.name}': batch_size {spec.batch_size} exceeds the CUDA backend's "
            f"limit of {MAX_BATCH} instances (they are gridDim.y of every launch); use a "
            f"smaller batch or backend='cpu'")
    low = Lowerer(spec, CudaOps())
    struct, layout = common.state_struct(spec)
    reset, reset_blocks = _reset_kernel(spec, layout)
    forward_device, forward_host = _forward_code(low)
    training = spec.training is not None
    backward_device, backward_host = _backward_code(low) if training else ("", "")
    trial_device, trial_before, trial_after = _trial_code(low) if training else ("", "", "")
    n_sparse = sum(g.matrix_type is SynapseMatrixType.SPARSE for g in spec.synapse_groups)
    source = render_template(
        "cuda_model.cu", header=common.header(spec, "cuda"), block=BLOCK,
        reset_blocks=reset_blocks, key_size=2 + n_sparse, scalar=spec.precision.value,
        rt_enum=common.rt_enum(spec), rt_count=len(rt_fields(spec)), state_struct=struct,
        delay_helpers=common.delay_helpers("static __device__"),
        training_device=_training_device(low) if training else "", reset_kernel=reset,
        forward_device=forward_device, backward_device=backward_device,
        trial_device=trial_device, key_function=_key_function(spec),
        forward_host=forward_host, backward_host=backward_host,
        training_host=_training_host(spec, trial_before, trial_after) if training else "",
        num_arrays=len(layout), digest=spec.digest(), batch_size=spec.batch_size)
    return common.finalize_lines(source, SOURCE_NAME), layout
