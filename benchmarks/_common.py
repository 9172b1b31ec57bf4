"""Helpers shared by the benchmarks: machine info, peak RSS, JSON-lines output."""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workload  # noqa: E402  (vendored generator next to this file)

WORKLOAD_DIGEST = "b0830fa7631e6321"


def load_workload(num_train=1024, num_test=256, seed=0) -> dict:
    data = workload.make_workload(num_train, num_test, seed)
    if (num_train, num_test, seed) == (1024, 256, 0):
        got = workload.digest(data)
        if got != WORKLOAD_DIGEST:
            raise RuntimeError(f"benchmark workload digest {got} != {WORKLOAD_DIGEST}")
    return data


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB).

    From /proc/self/status (VmHWM), which starts afresh at exec; getrusage's ru_maxrss
    keeps the value of the process that started this one (e.g. `delayprop bench`)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"host_cpu": cpu or platform.processor(), "cores": os.cpu_count(),
            "python": platform.python_version(), "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def emit(record: dict, out=None) -> dict:
    record = {**record, **machine()}
    line = json.dumps(record)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")
    return record


def best_of(fn, repeats: int = 3) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (s)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]
