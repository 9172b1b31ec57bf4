"""Backends: turn a NetworkSpec into a complete source file for one target."""
from __future__ import annotations

from delayprop.compile.network_spec import NetworkSpec
from delayprop.errors import ConfigError

__all__ = ["render", "source_name"]


def render(spec: NetworkSpec, backend: str):
    """Return ``(source, layout)`` of ``spec`` for ``backend`` ('cpu' or 'cuda')."""
    if backend == "cpu":
        from delayprop.compile.backends.cpu import render_cpu
        return render_cpu(spec)
    if backend == "cuda":
        from delayprop.compile.backends.cuda import render_cuda
        return render_cuda(spec)
    raise ConfigError(f"unknown backend {backend!r}; choose 'cpu' or 'cuda'")


def source_name(backend: str) -> str:
    return {"cpu": "delayprop_model.cpp", "cuda": "delayprop_model.cu"}[backend]
