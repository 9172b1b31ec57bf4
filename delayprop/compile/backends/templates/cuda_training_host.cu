{# Training entry points of the CUDA backend (rendered by backends/cuda.py into          #}
{# cuda_model.cu's {{training_host}}). trial_before / trial_after: launches of the        #}
{# trial-level input path (compile/trial.py), empty without trial-level groups.          #}

static DPGraph dp_forward_graph, dp_backward_graph;

extern "C" {
// Forward pass (with tape) and loss of whole trials of instances 0..num_instances-1;
// returns how many instances' tapes overflowed (their backward pass must not run: Python
// grows the tape and repeats), or -1 after a CUDA failure (see dp_cuda_status).
DP_EXPORT int64_t dp_forward(void* state, int32_t num_instances) {
    const int nb = num_instances;
    int64_t rt[DP_RT_COUNT], key[DP_KEY_SIZE];
    if (nb <= 0 || !dp_begin(state, rt)) return 0;
    void* overflow_count = nullptr;
    dp_ok(cudaGetSymbolAddress(&overflow_count, dp_overflow_count), "dp_forward");
    dp_ok(cudaMemsetAsync(overflow_count, 0, sizeof(unsigned long long), dp_stream), "dp_forward");
    dp_graph(dp_forward_graph, dp_key(key, rt, nb, 0), [&] {
        dp_reset_instances<<<dim3(DP_RESET_BLOCKS, nb), DP_BLOCK, 0, dp_stream>>>();
{{trial_before}}
        for (int64_t k = 0; k < {{num_steps}}; k++) dp_step(rt, k, nb, true);
        dp_finish_trial<<<dp_blocks(nb), DP_BLOCK, 0, dp_stream>>>(nb);
    });
    dp_finish_call("dp_forward");
    unsigned long long overflowed = 0;
    if (!dp_ok(cudaMemcpyFromSymbol(&overflowed, dp_overflow_count, sizeof overflowed),
               "dp_forward")) return -1;
    return (int64_t)overflowed;
}

// Backward pass of the trials of the last dp_forward, accumulating gradients into the
// one gradient buffer (REDUCE_BATCH_SUM variables, zeroed by the caller).
DP_EXPORT void dp_backward(void* state, int32_t num_instances) {
    const int nb = num_instances;
    int64_t rt[DP_RT_COUNT], key[DP_KEY_SIZE];
    if (nb <= 0 || !dp_begin(state, rt)) return;
    dp_graph(dp_backward_graph, dp_key(key, rt, nb, 0), [&] {
        for (int64_t n = {{last_step}}; n >= 0; n--) dp_backward_step(rt, n, nb);
{{trial_after}}

    });
    dp_finish_call("dp_backward");
}
}
