{# The CPU backend's per-instance training helpers (tape marks, loss, overflow) on the  #}
{# device (rendered by backends/cuda.py into cuda_model.cu's {{training_device}}).       #}

static __device__ inline void dp_tape_mark(const DPState& dp, const int b, const int64_t k) {
    {{tape_mark}}
}

static __device__ void dp_loss(const DPState& dp, const int b) {
    {{loss_body}}
}

static __device__ inline bool dp_overflowed(const DPState& dp, const int b) {
    return {{overflowed}};
}

// instances of the last dp_forward whose tape overflowed
__device__ unsigned long long dp_overflow_count;
