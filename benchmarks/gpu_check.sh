#!/usr/bin/env bash
# One-shot check of the CUDA backend on a GPU machine (a copy of this repository, maybe no
# network): prints the GPU, runs the CUDA tests (compile and run checks), then the forward
# and training benchmarks on CUDA and, for a same-machine baseline, on the CPU.
#
#   bash benchmarks/gpu_check.sh            # results under $OUT (default ./gpu_check_out)
#
# Writes $OUT/gpu_check.txt (everything printed) and $OUT/bench.jsonl (one JSON line per
# benchmark). Every stage runs under `timeout`, and the whole script stops starting new
# stages after $GPU_CHECK_BUDGET seconds (default 360), so it cannot hang. Exit status: that
# of the tests (0 = all passed).
set -u
START=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET:-360}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$REPO/gpu_check_out}
mkdir -p "$OUT"
LOG=$OUT/gpu_check.txt
JSONL=$OUT/bench.jsonl
: >"$LOG"
cd "$REPO" || exit 2
PY=$(command -v python3 || command -v python)
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export PATH=$PATH:/usr/local/cuda/bin
export DELAYPROP_CACHE=${DELAYPROP_CACHE:-$(mktemp -d /tmp/delayprop-cache.XXXXXX)}

say() { echo "$*" | tee -a "$LOG"; }

# stage NAME LIMIT_S CMD...: runs CMD with at most LIMIT_S seconds (less if the budget is
# nearly spent), output to the terminal and the log; returns CMD's status (124: timed out)
stage() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET - ($(date +%s) - START)))
    if ((left < 20)); then
        say "=== $name: SKIPPED (budget of ${BUDGET}s spent)"
        return 125
    fi
    ((limit > left)) && limit=$left
    say "=== $name (limit ${limit}s)"
    local t0=$(date +%s)
    timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    say "=== $name: exit $rc after $(($(date +%s) - t0))s"
    return "$rc"
}

stage "nvidia-smi" 30 nvidia-smi
stage "toolchain" 30 bash -c "command -v nvcc && nvcc --version | tail -2; \
    command -v g++ && g++ --version | head -1; $PY --version"

# Make delayprop importable without the network: the repository on PYTHONPATH, and a
# stand-in for platformdirs (only its user_cache_dir is used, and DELAYPROP_CACHE is set).
if ! "$PY" -c "import delayprop.compile, delayprop.training" >/dev/null 2>&1; then
    export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
    if ! "$PY" -c "import platformdirs" >/dev/null 2>&1; then
        SHIM=$(mktemp -d /tmp/dp-shim.XXXXXX)
        cat >"$SHIM/platformdirs.py" <<'EOF'
"""Stand-in for platformdirs on machines without it (gpu_check.sh)."""
import os


def user_cache_dir(appname=None, *args, **kwargs):
    return os.path.join(os.path.expanduser("~"), ".cache", appname or "")
EOF
        export PYTHONPATH=$PYTHONPATH:$SHIM
    fi
fi
if ! "$PY" -c "import delayprop.compile, delayprop.training" 2>&1 | tee -a "$LOG"; then
    say "delayprop cannot be imported; giving up"
    exit 3
fi

# 1. the CUDA tests: compile checks and GPU runs (the `gpu` marker is not 'slow')
stage "pytest tests/compile/test_cuda.py" 240 \
    "$PY" -m pytest -q -rs -p no:cacheprovider -m "gpu or not slow" tests/compile/test_cuda.py
TESTS=$?

# 2. benchmarks, CUDA first; the CPU figures are the same-machine baseline
stage "bench_train cuda" 120 "$PY" benchmarks/bench_train.py --backend cuda --epochs 3 \
    --batches 32 256 --out "$JSONL"
stage "bench_forward cuda" 90 "$PY" benchmarks/bench_forward.py --backend cuda --repeats 2 \
    --out "$JSONL"
stage "bench_train cpu" 90 "$PY" benchmarks/bench_train.py --backend cpu --epochs 3 \
    --batches 32 256 --out "$JSONL"
stage "bench_forward cpu" 60 "$PY" benchmarks/bench_forward.py --backend cpu --repeats 2 \
    --out "$JSONL"

say "=== done in $(($(date +%s) - START))s; tests exit $TESTS; results in $OUT"
exit "$TESTS"
