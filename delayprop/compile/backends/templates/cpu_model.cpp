{# The CPU backend's source file (rendered by backends/cpu.py): one C++ file, OpenMP   #}
{# across batch instances. The blocks are built from the model: header, rt_enum and    #}
{# state_struct by backends/_common.py, the phases by cpu.py from compile/lower.py.     #}
{{header}}

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#ifdef _OPENMP
#include <omp.h>
#endif
#define DP_EXPORT __attribute__((visibility("default")))

typedef {{scalar}} scalar;
{{rt_enum}}

{{state_struct}}


{{delay_helpers}}

static inline void dp_fail(const DPState& dp, int64_t code, int64_t detail) {
    dp.dp_rt[DP_RT_error] = code;
    dp.dp_rt[DP_RT_error_detail] = detail;
}

static void dp_reset_instance(const DPState& dp, const int b) {
    {{reset_instance}}
}

// DP_TRIAL: the training forward pass, where trial-level groups (trial.py) deliver from
// <group>_trialStep; dp_run steps every group through its dendritic ring.
template <bool DP_TRIAL>
static void dp_step(const DPState& dp, const int b, const int64_t k) {
    const scalar t = k * {{dt}};
    const scalar dt = {{dt}};
    const int batch = b;
    const int num_batch = {{batch_size}};
    (void)t; (void)dt; (void)batch; (void)num_batch;
    // ---------------- synapse phase: spikes of step k-1 into the dendritic rings
    {{synapse_phase}}

    // ---------------- neuron phase
    {{neuron_phase}}
}
{{training}}

extern "C" {
DP_EXPORT int64_t dp_num_arrays(void) { return {{num_arrays}}; }
DP_EXPORT const char* dp_digest(void) { return "{{digest}}"; }
DP_EXPORT int32_t dp_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
DP_EXPORT int64_t dp_state_size(void) { return (int64_t)sizeof(DPState); }
DP_EXPORT void dp_reset(void* state) {
    const DPState& dp = *(const DPState*)state;
    for (int b = 0; b < {{batch_size}}; b++) dp_reset_instance(dp, b);
    dp.dp_rt[DP_RT_timestep] = 0;
    dp.dp_rt[DP_RT_rec_start] = 0;
}
DP_EXPORT int64_t dp_run(void* state, int64_t num_steps) {
    const DPState& dp = *(const DPState*)state;
    const int64_t k0 = dp.dp_rt[DP_RT_timestep];
    // one instance: no parallel region (waking the team for every call of a step-by-step
    // simulation cost far more than the step)
    #pragma omp parallel for schedule(static) if({{batch_size}} > 1)
    for (int b = 0; b < {{batch_size}}; b++) {
        for (int64_t k = k0; k < k0 + num_steps; k++) dp_step<false>(dp, b, k);
    }
    dp.dp_rt[DP_RT_timestep] = k0 + num_steps;
    return dp.dp_rt[DP_RT_error];
}
}
