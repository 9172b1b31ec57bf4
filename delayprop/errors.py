"""Exception hierarchy.

Every error delayprop raises on purpose derives from :class:`DelaypropError` and, where one
fits, from the matching builtin, so ``except ValueError`` keeps working for callers who do
not know delayprop. Messages say what went wrong, where, what was received against what was
expected, and how to fix it.
"""

__all__ = [
    "DelaypropError", "ModelDefinitionError", "CodeGenerationError", "BuildError",
    "ConfigError", "DataError", "TapeOverflowError", "StateError", "ExportError",
    "FiniteDifferenceError", "SimulationError", "UnknownNameError", "StorageError",
    "DamagedFileError", "NonFiniteError", "SweepError",
]


class DelaypropError(Exception):
    """Base class of every error raised by delayprop on purpose."""


class ModelDefinitionError(DelaypropError, ValueError):
    """A model definition (params, vars, code strings) is invalid."""


class CodeGenerationError(DelaypropError, ValueError):
    """A network cannot be turned into code (inconsistent populations, groups, sizes)."""


class BuildError(DelaypropError, RuntimeError):
    """The system compiler failed on generated code; the message maps errors to model lines."""


class ConfigError(DelaypropError, ValueError):
    """A configuration value or option is out of range or inconsistent."""


class DataError(DelaypropError, ValueError):
    """Input data is missing, malformed or inconsistent."""


class TapeOverflowError(DelaypropError, RuntimeError):
    """The spike tape of the forward pass is too small for the spikes a population emitted."""


class StateError(DelaypropError, RuntimeError):
    """An object was used in the wrong lifecycle state (e.g. run before load)."""


class ExportError(DelaypropError, ValueError):
    """A network cannot be exported to the requested target."""


class FiniteDifferenceError(ConfigError):
    """A finite difference would straddle a discontinuity (a spike appears or vanishes).

    Raised by :func:`delayprop.reference.exact.finite_difference` (and importable from
    there)."""


class SimulationError(DelaypropError, RuntimeError):
    """A reference simulator returned results that do not match what was asked of it."""


class UnknownNameError(DelaypropError, KeyError):
    """A population, variable or other item was looked up by a name that does not exist.

    A :class:`KeyError` too, so ``except KeyError`` around a look-up keeps working."""

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument (quoted); show the message as is
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class StorageError(DelaypropError, OSError):
    """Reading or writing a file failed (disk full, read-only file system, not a directory,
    permission); the message names the path and the cause. An :class:`OSError` too, with
    ``errno`` and ``filename`` set."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else super().__str__()


class DamagedFileError(DataError):
    """A file delayprop wrote (checkpoint, network graph) is empty, truncated or holds
    something else."""


class NonFiniteError(DelaypropError, FloatingPointError):
    """Training produced a NaN or infinite value (loss, gradient, weight, delay or
    optimiser state); the message names the epoch, batch and array."""


class SweepError(DelaypropError, RuntimeError):
    """Runs of a sweep failed while the others finished; the message names each run's
    directory, its last error and its log."""
