"""delayprop: spiking networks with learnable synaptic delays and learnable sparse structure.

Models are written in the GeNN model language (C code strings), generated into C++ (CPU,
OpenMP across batch instances) or CUDA, compiled, cached and run with whole trials inside
compiled code. See docs/design.md in the repository ("Step order", "Delay mapping") for
the simulation semantics.
"""
__version__ = "0.1.0"
__all__ = ["__version__"]
