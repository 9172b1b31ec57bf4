{# Training entry points of the CPU backend (rendered by backends/cpu.py into           #}
{# cpu_model.cpp's {{training}}). trial_*: the trial-level input path (compile/trial.py), #}
{# empty without trial-level groups, already indented where they land.                   #}
{{trial_functions}}

static inline void dp_tape_mark(const DPState& dp, const int b, const int64_t k) {
    {{tape_mark}}
}

static void dp_loss(const DPState& dp, const int b) {
    {{loss_body}}
}

static void dp_backward_step(const DPState& dp, const int b, const int64_t n, const int dp_thread) {
    const {{scalar}} t = n * {{dt}};
    const {{scalar}} dt = {{dt}};
    const int batch = b;
    const int num_batch = {{batch_size}};
    (void)t; (void)dt; (void)batch; (void)num_batch;
    {{backward_synapse_phase}}

    {{backward_neuron_phase}}
}

static inline bool dp_overflowed(const DPState& dp, const int b) {
    return {{overflowed}};
}

// Forward pass (with tape) and loss of whole trials; returns how many instances'
// tapes overflowed (their backward pass must not run: Python grows the tape and repeats).
extern "C" DP_EXPORT int64_t dp_forward(void* state, int32_t num_instances) {
    const DPState& dp = *(const DPState*)state;
    int64_t overflowed = 0;
{{trial_before}}
    #pragma omp parallel for schedule(dynamic, 1) reduction(+:overflowed) if(num_instances > 1)
    for (int b = 0; b < num_instances; b++) {
        dp_reset_instance(dp, b);
{{trial_start}}
        for (int64_t k = 0; k < {{num_steps}}; k++) {
            dp_tape_mark(dp, b, k);
            dp_step<true>(dp, b, k);
        }
        dp_tape_mark(dp, b, {{num_steps}});
        dp_loss(dp, b);
        overflowed += dp_overflowed(dp, b) ? 1 : 0;
    }
    return overflowed;
}

// Backward pass of the trials of the last dp_forward, accumulating gradients into one
// buffer per thread (the REDUCE_BATCH_SUM variables, zeroed by the caller).
extern "C" DP_EXPORT void dp_backward(void* state, int32_t num_instances) {
    const DPState& dp = *(const DPState*)state;
    #pragma omp parallel if(num_instances > 1)
    {
#ifdef _OPENMP
        const int dp_thread = omp_get_thread_num();
#else
        const int dp_thread = 0;
#endif
        // static: each thread's gradient buffer always sums the same instances in the
        // same order, so a run (and a resumed run) is reproducible bit for bit
        #pragma omp for schedule(static)
        for (int b = 0; b < num_instances; b++) {
            if (dp_overflowed(dp, b)) continue;
            for (int64_t n = {{last_step}}; n >= 0; n--) dp_backward_step(dp, b, n, dp_thread);
{{trial_end}}
        }
    }
    // trial-level groups: gradients of the whole batch at once (a synapse's sum depends
    // only on its own column, so this too is reproducible bit for bit)
{{trial_after}}
}
