"""Compile generated source into a shared library, through the build cache.

The cache key covers everything that changes the binary: the source, the compiler's path
and version, the flags, the CPU it targets (``-march=native``) and delayprop's version.
A compiler error raises :class:`BuildError` with the first errors mapped back to the user's
model, field and line (the generated code carries ``#line`` markers) and the log's path.
"""
from __future__ import annotations

import functools
import logging
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

from delayprop import __version__
from delayprop.compile.cache import cache_key, cache_root, cached_build
from delayprop.errors import BuildError

__all__ = ["find_cxx", "find_nvcc", "cpu_flags", "cuda_flags", "build_shared_library",
           "map_compiler_errors"]

logger = logging.getLogger(__name__)

LIBRARY = "model.so"


def find_cxx() -> str:
    """The C++ compiler: ``$CXX``, else g++, else c++ (BuildError if none)."""
    for candidate in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise BuildError("no C++ compiler found: install g++ (e.g. 'apt-get install g++') or set "
                     "the CXX environment variable to a compiler's path")


def find_nvcc() -> str | None:
    """Path of nvcc (``$NVCC``, PATH, /usr/local/cuda/bin), or None."""
    for candidate in (os.environ.get("NVCC"), "nvcc", "/usr/local/cuda/bin/nvcc"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@functools.lru_cache(maxsize=None)
def _compiler_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.lru_cache(maxsize=None)
def _cpu_identity() -> str:
    """What ``-march=native`` depends on: the CPU model and its feature flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        model = re.search(r"model name\s*:\s*(.*)", text)
        flags = re.search(r"flags\s*:\s*(.*)", text)
        return f"{model.group(1) if model else ''}|{flags.group(1) if flags else ''}"
    except OSError:
        return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    # -ffp-contract=off: no fused multiply-add, so double-precision results match GeNN's
    # reference (built without FMA contraction) bit for bit. -fno-trapping-math only gives
    # up floating-point exception flags (results are unchanged), which lets GCC
    # if-convert threshold/reset code and vectorise neuron loops.
    extra = os.environ.get("DELAYPROP_CXXFLAGS", "").split()
    return ["-O3", "-march=native", "-ffp-contract=off", "-fno-trapping-math", "-fopenmp",
            "-fPIC", "-shared", "-std=c++17", "-fvisibility=hidden", "-w"] + extra


def cuda_flags(arch: str) -> list[str]:
    return ["-O3", "-std=c++17", f"-arch={arch}", "-shared", "-Xcompiler",
            "-fPIC,-fopenmp,-fvisibility=hidden", "-fmad=false", "-w"]


_ERROR_RE = re.compile(r"^(?P<file>[^:\n]+?)(?::|\()(?P<line>\d+)(?::(?P<col>\d+))?\)?:?\s*"
                       r"(?:fatal )?error:?\s*(?P<msg>.*)$", re.MULTILINE)


def map_compiler_errors(log: str, generated_name: str, limit: int = 5) -> list[str]:
    """The first ``limit`` errors of a compiler log, pointing at model code where they are.

    User code strings are compiled under virtual file names ``<object>/<Model>.<field>``
    (see lower.py), so ``hidden/LIF.sim_code:2:5: error: ...`` becomes
    ``[LIF.sim_code (population or group 'hidden'), line 2] ...``.
    """
    out = []
    for m in _ERROR_RE.finditer(log):
        where, line, msg = m.group("file"), m.group("line"), m.group("msg").strip()
        if "/" in where and "." in where.rsplit("/", 1)[1] and not where.endswith(
                (".cpp", ".cu", ".h", ".hpp")):
            owner, field = where.rsplit("/", 1)
            owner = owner.rsplit("/", 1)[-1]
            out.append(f"[{field} ('{owner}'), line {line}] {msg}")
        else:
            out.append(f"[generated {Path(where).name}, line {line}] {msg}")
        if len(out) >= limit:
            break
    return out


def build_shared_library(source: str, source_name: str, backend: str = "cpu") -> Path:
    """Compile ``source`` (C++ for ``cpu``, CUDA for ``cuda``); return the library's path."""
    if backend == "cpu":
        compiler = find_cxx()
        flags = cpu_flags()
        target = _cpu_identity()
    elif backend == "cuda":
        compiler = find_nvcc()
        if compiler is None:
            raise BuildError("the CUDA backend needs nvcc: install the CUDA toolkit or set "
                             "NVCC to its path, or use backend='cpu'")
        arch = os.environ.get("DELAYPROP_CUDA_ARCH") or _default_cuda_arch()
        flags = cuda_flags(arch)
        target = arch
    else:
        raise BuildError(f"unknown backend {backend!r}; choose 'cpu' or 'cuda'")
    key = cache_key(source, compiler, _compiler_version(compiler), " ".join(flags), target,
                    __version__, backend)

    def build(tmp: Path) -> dict:
        (tmp / source_name).write_text(source)
        cmd = [compiler, *flags, "-o", str(tmp / LIBRARY), str(tmp / source_name)]
        logger.info("compiling %s with %s", source_name, Path(compiler).name)
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        (tmp / "build.log").write_text(" ".join(cmd) + "\n" + proc.stdout + proc.stderr)
        if proc.returncode != 0:
            log_path = _keep_failed(tmp, key)
            errors = map_compiler_errors(proc.stderr, source_name) or \
                proc.stderr.strip().splitlines()[-5:]
            raise BuildError("compilation failed:\n  " + "\n  ".join(errors)
                             + f"\nfull log: {log_path}")
        return {"compiler": compiler, "version": _compiler_version(compiler),
                "flags": flags, "backend": backend, "delayprop": __version__}

    return cached_build(key, build) / LIBRARY


def _keep_failed(tmp: Path, key: str) -> Path:
    failed = cache_root() / "failed" / key
    shutil.rmtree(failed, ignore_errors=True)
    shutil.copytree(tmp, failed)
    return failed / "build.log"


@functools.lru_cache(maxsize=None)
def _default_cuda_arch() -> str:
    """``native`` when a GPU is visible (nvidia-smi answers), else a common target."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=compute_cap", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
            cap = out.stdout.strip().splitlines()[0].strip() if out.returncode == 0 else ""
            if re.fullmatch(r"\d+\.\d+", cap):
                return "sm_" + cap.replace(".", "")
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
    return "sm_80"
