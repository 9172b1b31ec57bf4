{# The CUDA backend's source file (rendered by backends/cuda.py): one kernel per phase, #}
{# the host loops over steps. The blocks are built from the model: header, rt_enum and   #}
{# state_struct by backends/_common.py, kernels and launches by cuda.py.                 #}
{{header}}

#include <cuda_runtime.h>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#define DP_EXPORT __attribute__((visibility("default")))
#define DP_BLOCK {{block}}
#define DP_RESET_BLOCKS {{reset_blocks}}
#define DP_KEY_SIZE {{key_size}}

typedef {{scalar}} scalar;
{{rt_enum}}
#define DP_RT_COUNT {{rt_count}}
{{state_struct}}


{{delay_helpers}}

// The state (one pointer per array) lives in constant memory, set at each entry point, so
// that kernel arguments, and the CUDA graphs of whole passes, never depend on addresses.
__constant__ DPState dp_state;

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

// One kernel per phase runs every group (or population) of the phase: member i takes the
// blocks [end[i-1], end[i]) of blockIdx.x (sparse row capacities size them at run time).
template <int N> struct DPEnds { uint32_t end[N]; };
{{training_device}}

// ---------------------------------------------------------------- trial start
{{reset_kernel}}

// ---------------------------------------------------------------- forward step
{{forward_device}}

// ---------------------------------------------------------------- backward step
{{backward_device}}

{{trial_device}}

// ---------------------------------------------------------------- host side

static char dp_error_text[1024] = "";
static int32_t dp_error_code = 0;
static cudaStream_t dp_stream = nullptr;

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

static inline unsigned int dp_blocks(int64_t n) { return (unsigned int)((n + DP_BLOCK - 1) / DP_BLOCK); }

// Start of an entry point: the runtime's copies (default stream) have landed, the state
// is in constant memory, and rt holds the dp_rt slots (row capacities size the grids).
static bool dp_begin(void* state, int64_t* rt) {
    if (!dp_ok(cudaDeviceSynchronize(), "before launching")) return false;
    if (!dp_stream && !dp_ok(cudaStreamCreateWithFlags(&dp_stream, cudaStreamNonBlocking),
                             "creating a stream")) return false;
    if (!dp_ok(cudaMemcpyToSymbolAsync(dp_state, state, sizeof(DPState), 0,
                                       cudaMemcpyHostToDevice, dp_stream), "setting the state"))
        return false;
    return dp_ok(cudaMemcpyAsync(rt, ((const DPState*)state)->dp_rt, sizeof(int64_t) * DP_RT_COUNT,
                                 cudaMemcpyDeviceToHost, dp_stream), "reading dp_rt")
        && dp_ok(cudaStreamSynchronize(dp_stream), "reading dp_rt");
}

// End of an entry point: waits for its launches; records any launch or kernel failure.
static void dp_finish_call(const char* where) {
    if (dp_ok(cudaGetLastError(), where)) dp_ok(cudaDeviceSynchronize(), where);
}

static void dp_write_rt(void* state, int field, int64_t value) {
    dp_ok(cudaMemcpy(((const DPState*)state)->dp_rt + field, &value, sizeof value,
                     cudaMemcpyHostToDevice), "writing dp_rt");
}

// A whole pass as one CUDA graph, captured again only when what shapes its launches
// (the key: instances, steps, sparse row capacities) changes.
struct DPGraph { cudaGraphExec_t exec; int64_t key[DP_KEY_SIZE]; };
template <typename F> static void dp_graph(DPGraph& g, const int64_t* key, F&& launches) {
    if (!g.exec || memcmp(g.key, key, sizeof g.key) != 0) {
        if (g.exec) cudaGraphExecDestroy(g.exec);
        g.exec = nullptr;
        cudaGraph_t graph = nullptr;
        if (!dp_ok(cudaStreamBeginCapture(dp_stream, cudaStreamCaptureModeThreadLocal),
                   "capturing a graph")) return;
        launches();
        bool ok = dp_ok(cudaStreamEndCapture(dp_stream, &graph), "capturing a graph");
        ok = ok && dp_ok(cudaGraphInstantiate(&g.exec, graph, 0), "instantiating a graph");
        if (graph) cudaGraphDestroy(graph);
        if (!ok) { g.exec = nullptr; return; }
        memcpy(g.key, key, sizeof g.key);
    }
    dp_ok(cudaGraphLaunch(g.exec, dp_stream), "launching a graph");
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

{{key_function}}

{{forward_host}}

{{backward_host}}

{{training_host}}

static DPGraph dp_run_graph;

extern "C" {
DP_EXPORT int64_t dp_num_arrays(void) { return {{num_arrays}}; }
DP_EXPORT const char* dp_digest(void) { return "{{digest}}"; }
// One gradient buffer: REDUCE_BATCH_SUM variables are [1, ...], summed with atomicAdd.
DP_EXPORT int32_t dp_max_threads(void) { return 1; }
DP_EXPORT int64_t dp_state_size(void) { return (int64_t)sizeof(DPState); }
DP_EXPORT void dp_reset(void* state) {
    int64_t rt[DP_RT_COUNT];
    if (!dp_begin(state, rt)) return;
    dp_reset_instances<<<dim3({{reset_blocks}}, {{batch_size}}), DP_BLOCK, 0, dp_stream>>>();
    dp_finish_call("dp_reset");
    dp_write_rt(state, DP_RT_timestep, 0);
    dp_write_rt(state, DP_RT_rec_start, 0);
}
// Steps every instance num_steps times from dp_rt[timestep]; returns 0, or -1 after a
// CUDA failure (see dp_cuda_status). A run from time 0 (a trial) goes through a cached
// CUDA graph; stepping on from later times launches the kernels one by one.
DP_EXPORT int64_t dp_run(void* state, int64_t num_steps) {
    int64_t rt[DP_RT_COUNT], key[DP_KEY_SIZE];
    if (!dp_begin(state, rt)) return -1;
    const int64_t k0 = rt[DP_RT_timestep];
    auto steps = [&] { for (int64_t k = k0; k < k0 + num_steps; k++) dp_step(rt, k, {{batch_size}}, false); };
    if (k0 == 0 && num_steps > 1) dp_graph(dp_run_graph, dp_key(key, rt, {{batch_size}}, num_steps), steps);
    else steps();
    dp_finish_call("dp_run");
    dp_write_rt(state, DP_RT_timestep, k0 + num_steps);
    return dp_error_code ? -1 : 0;
}
}
