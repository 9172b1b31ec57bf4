"""Data benchmark (issue: data layer): RawHD preprocessing and cached-load times.

Figures, one JSON line each (with machine, versions, commit, peak RSS):

- ``rawhd_preprocess``: build the feature cache for all recordings of both splits into a
  fresh, empty cache folder (decode, resample if needed, log-mel, write the cache
  atomically), with the workers given (default: all usable cores). Target: <= 120 s for
  the 10,420 recordings on a 2-core machine.
- ``rawhd_cached_load``: load both splits from that cache, normalised, in this process
  (median of ``--repeat`` runs), and ``rawhd_cached_load_process``: the same in a fresh
  Python process, imports included. Target: <= 2 s.

Audio files may sit in the OS page cache from earlier runs; the figure then excludes disk
reads of the 180 MB of FLAC.

    python benchmarks/bench_data.py [--path DIR] [--workers N] [--repeat 3] [--out F.jsonl]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from delayprop.data import RawHD
from delayprop.data._hd_files import locate_hd_audio
from delayprop.errors import DataError

HERE = Path(__file__).resolve().parent
WORKPLACE_DATA = HERE.parent.parent / "shared" / "data"


def _machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((ln.split(":", 1)[1].strip() for ln in handle
                        if ln.startswith("model name")), cpu)
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                            capture_output=True, text=True).stdout.strip()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "python": platform.python_version(),
            "numpy": np.__version__, "librosa": version("librosa"),
            "soundfile": version("soundfile"), "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def _emit(record: dict, machine: dict, out: str | None) -> None:
    line = json.dumps({**record, "machine": machine})
    print(line, flush=True)
    if out:
        with open(out, "a") as handle:
            handle.write(line + "\n")


def _find_data(path: str | None) -> Path:
    for candidate in (path, os.environ.get("DELAYPROP_DATA"), WORKPLACE_DATA):
        if candidate:
            try:
                return locate_hd_audio(candidate)
            except DataError:
                if candidate == path:
                    raise
    raise DataError("benchmark needs the Heidelberg Digits audio: pass --path, set "
                    "DELAYPROP_DATA, or run `delayprop data fetch rawhd`")


def _load_both(folder: Path, cache: Path) -> int:
    return sum(len(RawHD(folder, s, cache_dir=cache)) for s in ("train", "test"))


def _fresh_process_load(folder: Path, cache: Path) -> tuple[float, float]:
    """Wall time of a new Python process loading both splits, and that process's peak RSS."""
    code = ("import resource; from delayprop.data import RawHD; "
            f"[RawHD({str(folder)!r}, s, cache_dir={str(cache)!r}) for s in ('train', 'test')]; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True)
    return time.perf_counter() - start, int(done.stdout.split()[-1]) / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", help="HD audio folder or its parent (default: "
                        "$DELAYPROP_DATA, else ../shared/data)")
    parser.add_argument("--workers", type=int, help="processes (default: usable cores)")
    parser.add_argument("--repeat", type=int, default=3, help="cached-load repetitions")
    parser.add_argument("--out", help="also append the JSON lines to this file")
    args = parser.parse_args(argv)
    folder = _find_data(args.path)
    machine = _machine()
    cache = Path(tempfile.mkdtemp(prefix="bench-rawhd-"))
    try:
        start = time.perf_counter()
        train = RawHD(folder, "train", cache_dir=cache, num_workers=args.workers,
                      progress=False)
        wall = time.perf_counter() - start
        workers_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        files = sum(1 for split in ("train", "test")
                    for line in open(folder / f"{split}_filenames.txt") if line.strip())
        _emit({"bench": "rawhd_preprocess",
               "seconds": round(train.info["preprocess_seconds"], 2),
               "wall_seconds_incl_normalise": round(wall, 2), "files": files,
               "workers": args.workers or machine["cores"], "target_seconds": 120,
               "cache_mib": round(Path(train.info["cache"]).stat().st_size / 2**20, 1),
               "peak_rss_mib": _peak_rss_mib(), "peak_rss_worker_mib": round(workers_rss, 1)},
              machine, args.out)
        del train
        times = []
        for _ in range(max(1, args.repeat)):
            start = time.perf_counter()
            samples = _load_both(folder, cache)
            times.append(time.perf_counter() - start)
        _emit({"bench": "rawhd_cached_load", "seconds": round(float(np.median(times)), 3),
               "runs": [round(t, 3) for t in times], "samples": samples, "target_seconds": 2,
               "peak_rss_mib": _peak_rss_mib()}, machine, args.out)
        fresh = [_fresh_process_load(folder, cache) for _ in range(max(1, args.repeat))]
        _emit({"bench": "rawhd_cached_load_process",
               "seconds": round(float(np.median([f[0] for f in fresh])), 3),
               "runs": [round(f[0], 3) for f in fresh], "samples": samples,
               "target_seconds": 2, "peak_rss_mib": round(max(f[1] for f in fresh), 1),
               "note": "new python process: start-up and imports included"},
              machine, args.out)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
