"""Data-parallel training over MPI: who holds which samples, and the one sum per step.

A global batch of ``B`` samples is split into contiguous shards, one per rank (sizes as
even as possible; a rank may hold none of a short last batch). Every rank compiles its
network for ``ceil(B / ranks)`` instances, simulates its shard, and then the ranks sum,
in ONE ``Allreduce`` per optimiser step, everything the step needs: weight and delay
gradients, RigL's gradients of absent synapses and the batch's loss, accuracy and spike
counts. Every rank then takes the same step from the same sums, so the parameters, the
optimiser state and the random streams (same seed on every rank) stay identical without
ever being sent. Rewiring is checked: after each rewiring the ranks compare a hash of the
connectivity (:meth:`Communicator.check_same`), and a difference is an error.

The default :class:`SingleProcess` does nothing; :func:`world` gives an MPI
communicator when the process was started by ``mpirun``/``mpiexec``/``srun`` with more
than one rank (mpi4py is imported only then).
"""
from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from delayprop.errors import ConfigError, DelaypropError

__all__ = ["Communicator", "SingleProcess", "MPICommunicator", "world", "launched_ranks",
           "RankDivergenceError"]


class RankDivergenceError(DelaypropError, RuntimeError):
    """Ranks of a data-parallel run hold different state where they must agree."""


class Communicator:
    """What training needs from its ranks (see the module). Subclasses implement
    :meth:`_allreduce`, :meth:`_allgather` and :meth:`barrier`."""

    rank: int = 0
    size: int = 1

    def __init__(self):
        self.reductions = 0          # Allreduce calls (one per optimiser step)
        self.bytes_reduced = 0       # bytes each rank sent in them
        self.reduce_seconds = 0.0    # wall time in them (waiting for the slowest rank too)

    # ------------------------------------------------------------------ shards
    def shard_range(self, total: int) -> tuple[int, int]:
        """[lo, hi) of this rank's shard of ``total`` samples (contiguous, sizes differ
        by at most one, lower ranks take the extra ones)."""
        base, extra = divmod(int(total), self.size)
        lo = self.rank * base + min(self.rank, extra)
        return lo, lo + base + (self.rank < extra)

    def capacity(self, batch_size: int) -> int:
        """Instances each rank compiles for a global batch of ``batch_size``."""
        return -(-int(batch_size) // self.size)

    # ------------------------------------------------------------------ collectives
    def sum(self, arrays: dict) -> dict:
        """Element-wise sum over ranks of every array of ``arrays``, in one reduction
        (summed in float64, returned in each array's own dtype, so that a float run steps
        as it would in one process); one process returns ``arrays`` as they are."""
        if self.size == 1:
            return dict(arrays)
        keys = list(arrays)
        flat = [np.asarray(arrays[k], np.float64).ravel() for k in keys]
        t0 = time.perf_counter()
        buffer = self._allreduce(np.concatenate(flat) if flat else np.zeros(0))
        self.reduce_seconds += time.perf_counter() - t0
        self.reductions += 1
        self.bytes_reduced += buffer.nbytes
        out, start = {}, 0
        for key, part in zip(keys, flat):
            value = np.asarray(arrays[key])
            out[key] = buffer[start:start + part.size].reshape(value.shape).astype(
                value.dtype if value.dtype.kind == "f" else np.float64)
            start += part.size
        return out

    def check_same(self, what: str, *arrays) -> None:
        """Raise RankDivergenceError when ``arrays`` differ between ranks (a hash of
        their bytes is gathered, not the arrays)."""
        if self.size == 1:
            return
        h = hashlib.blake2b(digest_size=16)
        for a in arrays:
            a = np.ascontiguousarray(a)
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(a.tobytes())
        digests = self._allgather(h.hexdigest())
        if len(set(digests)) > 1:
            differ = [r for r, d in enumerate(digests) if d != digests[0]]
            raise RankDivergenceError(
                f"{what} differs between ranks (ranks {differ} against rank 0): the ranks "
                f"no longer train the same network; run with one seed, one data set and "
                f"one delayprop version on every rank")

    def allgather(self, value) -> list:
        """``value`` of every rank, in rank order (small Python objects: flags, names)."""
        return self._allgather(value)

    def _allreduce(self, buffer: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _allgather(self, value) -> list:
        raise NotImplementedError

    def barrier(self) -> None:
        pass

    @property
    def is_root(self) -> bool:
        """Rank 0: the one that writes files."""
        return self.rank == 0

    def __repr__(self):
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class SingleProcess(Communicator):
    """One process: every shard is the whole batch and every sum is the value itself."""

    def _allgather(self, value) -> list:
        return [value]


class MPICommunicator(Communicator):
    """Ranks of an MPI communicator (mpi4py's ``MPI.COMM_WORLD`` by default)."""

    def __init__(self, comm=None):
        super().__init__()
        if comm is None:
            comm = _mpi().COMM_WORLD
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()

    def _allreduce(self, buffer: np.ndarray) -> np.ndarray:
        out = np.empty_like(buffer)
        self.comm.Allreduce(buffer, out, op=_mpi().SUM)
        return out

    def _allgather(self, value) -> list:
        return self.comm.allgather(value)

    def barrier(self) -> None:
        self.comm.Barrier()


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ConfigError(f"this process was started with {launched_ranks()} MPI ranks but "
                          f"mpi4py cannot be imported ({err}); install it with "
                          f"pip install 'delayprop[mpi]' (README, 'On a cluster')") from err
    return MPI


#: environment variables by which launchers announce the number of ranks
#: (MPICH/Hydra and Intel MPI, Open MPI, Slurm's srun)
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS")


def launched_ranks() -> int:
    """Ranks this process was launched with, as its launcher says (1 when none did)."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            if name == "SLURM_NTASKS" and "SLURM_STEP_ID" not in os.environ:
                continue            # a batch script itself, not a task that srun started
            return int(value)
    return 1


_WORLD: Communicator | None = None


def world() -> Communicator:
    """The communicator of this process: MPI's world when launched with several ranks,
    else :class:`SingleProcess` (mpi4py is not imported then)."""
    global _WORLD
    if _WORLD is None:
        _WORLD = MPICommunicator() if launched_ranks() > 1 else SingleProcess()
    return _WORLD
