"""Runtime: load a built library, own its arrays, run it.

Python owns every array as a numpy array (``view`` gives it without a copy). The generated
code receives a ``DPState``: one pointer per array in layout order, which is exactly a C
array of ``void*`` — built here with ctypes. On the CPU the pointers are the numpy buffers
themselves; on CUDA each array also has a device copy, moved explicitly with
:meth:`Runtime.push` and :meth:`Runtime.pull`. Which of the two holds is decided once, by
the memory strategy (:class:`HostMemory` or :class:`DeviceMemory`) picked for the backend.
"""
from __future__ import annotations

import ctypes
import logging
from pathlib import Path

import numpy as np

from delayprop.compile.handles import RT, ArrayHandles, ring_name
from delayprop.compile.layout import ArraySpec, RuntimeSizes, rt_fields
from delayprop.compile.network_spec import NetworkSpec
from delayprop.errors import DelaypropError

__all__ = ["Runtime", "HostMemory", "DeviceMemory"]

logger = logging.getLogger(__name__)

_ERRORS = {1: "a dendritic delay was out of range [0, max_dendritic_delay_timesteps - 1] "
              "in synapse group '{detail}'"}


class HostMemory:
    """CPU: the generated code works on the numpy buffers themselves; nothing moves."""

    def __init__(self, lib):
        self._lib = lib

    def bind(self, name: str, array: np.ndarray):
        """The pointer the generated code gets for ``array``."""
        return array.ctypes.data if array.size else None

    def copy_to_device(self, name: str, array: np.ndarray, offset: int = 0,
                       nbytes: int | None = None) -> None:
        """Bytes ``[offset, offset + nbytes)`` (default: to the end) of ``array``."""

    def copy_to_host(self, name: str, array: np.ndarray, offset: int = 0,
                     nbytes: int | None = None) -> None:
        """Bytes ``[offset, offset + nbytes)`` (default: to the end) of ``array``."""

    def check(self, model: str) -> None:
        """Raise if the last entry point failed on the device."""

    def close(self) -> None:
        """Free what :meth:`bind` allocated."""


class DeviceMemory(HostMemory):
    """CUDA: every array has a device copy that :meth:`bind` allocates and fills."""

    def __init__(self, lib):
        super().__init__(lib)
        self._device: dict[str, int] = {}
        lib.dp_cuda_malloc.restype = ctypes.c_void_p
        lib.dp_cuda_malloc.argtypes = [ctypes.c_size_t]
        lib.dp_cuda_free.argtypes = [ctypes.c_void_p]
        lib.dp_cuda_copy.restype = ctypes.c_int32
        lib.dp_cuda_copy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                     ctypes.c_int32]
        lib.dp_cuda_last_error.restype = ctypes.c_char_p
        # the first launch or kernel failure of an entry point (0: none)
        lib.dp_cuda_status.restype = ctypes.c_int32

    def bind(self, name: str, array: np.ndarray):
        old = self._device.pop(name, None)
        if old:
            self._lib.dp_cuda_free(ctypes.c_void_p(old))
        ptr = self._lib.dp_cuda_malloc(max(array.nbytes, 1))
        if not ptr:
            raise DelaypropError(f"CUDA allocation of {array.nbytes} bytes for '{name}' "
                                 f"failed: {self._error()}")
        self._device[name] = ptr
        self.copy_to_device(name, array)
        return ptr

    def copy_to_device(self, name, array, offset=0, nbytes=None) -> None:
        nbytes = array.nbytes - offset if nbytes is None else nbytes
        if nbytes:
            self._copy(self._device[name] + offset, array.ctypes.data + offset, nbytes, 1)

    def copy_to_host(self, name, array, offset=0, nbytes=None) -> None:
        nbytes = array.nbytes - offset if nbytes is None else nbytes
        if nbytes:
            self._copy(array.ctypes.data + offset, self._device[name] + offset, nbytes, 0)

    def _copy(self, dst, src, nbytes, to_device):
        if self._lib.dp_cuda_copy(ctypes.c_void_p(dst), ctypes.c_void_p(src), nbytes,
                                  to_device) != 0:
            raise DelaypropError(f"CUDA copy failed: {self._error()}")

    def _error(self) -> str:
        return self._lib.dp_cuda_last_error().decode()

    def check(self, model: str) -> None:
        # a failed kernel leaves the arrays undefined; say so before anything reads them
        # (dp_run/dp_forward record the failure, see backends/cuda.py)
        if self._lib.dp_cuda_status() != 0:
            raise DelaypropError(f"a CUDA kernel of model '{model}' failed: {self._error()}")

    def close(self) -> None:
        for ptr in self._device.values():
            self._lib.dp_cuda_free(ctypes.c_void_p(ptr))
        self._device.clear()


#: The memory strategy of each backend.
MEMORY = {"cpu": HostMemory, "cuda": DeviceMemory}


class Runtime(ArrayHandles):
    """Arrays and entry points of one loaded model (CPU or CUDA).

    The typed views training uses (:meth:`gradient`, :meth:`loss`, ...) come from
    :class:`~delayprop.compile.handles.ArrayHandles`.
    """

    def __init__(self, spec: NetworkSpec, layout: list[ArraySpec], library: Path,
                 sizes: RuntimeSizes, backend: str = "cpu"):
        self.spec = spec
        self.layout = {a.name: a for a in layout}
        self.order = [a.name for a in layout]
        self.backend = backend
        self.sizes = sizes
        self._lib = ctypes.CDLL(str(library))
        self._declare()
        self.memory = MEMORY[backend](self._lib)
        self.rt_index = {name: i for i, name in enumerate(rt_fields(spec))}
        sizes.num_threads = max(1, int(self._lib.dp_max_threads()))
        self.arrays: dict[str, np.ndarray] = {}
        for name in self.order:
            self.arrays[name] = self._allocate(self.layout[name])
        self._state = (ctypes.c_void_p * len(self.order))()
        self._index = {name: i for i, name in enumerate(self.order)}
        for name in self.order:
            self._bind(name)
        self.set_rt("num_threads", sizes.num_threads)
        for group, n in sizes.max_row_length.items():
            self.set_rt(f"max_row_length.{group}", n)
        for pop, n in sizes.tape_capacity.items():
            self.set_rt(f"tape_capacity.{pop}", n)

    # ------------------------------------------------------------------ set-up
    def _declare(self):
        lib = self._lib
        lib.dp_max_threads.restype = ctypes.c_int32
        lib.dp_num_arrays.restype = ctypes.c_int64
        lib.dp_run.restype = ctypes.c_int64
        lib.dp_run.argtypes = [ctypes.c_void_p, ctypes.c_int64]
        lib.dp_reset.argtypes = [ctypes.c_void_p]
        if hasattr(lib, "dp_forward"):
            lib.dp_forward.restype = ctypes.c_int64
            lib.dp_forward.argtypes = [ctypes.c_void_p, ctypes.c_int32]
            lib.dp_backward.restype = None
            lib.dp_backward.argtypes = [ctypes.c_void_p, ctypes.c_int32]

    def _allocate(self, a: ArraySpec) -> np.ndarray:
        return np.zeros(a.shape(self.sizes), dtype=a.dtype)

    def _bind(self, name: str) -> None:
        self._state[self._index[name]] = self.memory.bind(name, self.arrays[name])

    def resize(self, name: str, keep: bool = False) -> np.ndarray:
        """Reallocate ``name`` for the current :attr:`sizes` and rebind it."""
        old = self.arrays[name]
        new = self._allocate(self.layout[name])
        if keep:
            region = tuple(slice(0, min(a, b)) for a, b in zip(old.shape, new.shape))
            new[region] = old[region]
        self.arrays[name] = new
        self._bind(name)
        return new

    def replace(self, name: str, values: np.ndarray) -> None:
        """Bind a user array (e.g. an extra global parameter) as ``name``."""
        a = self.layout[name]
        self.arrays[name] = np.ascontiguousarray(values, dtype=a.dtype)
        self._bind(name)

    # ------------------------------------------------------------------ data movement
    def push(self, *names: str) -> None:
        """Copy host arrays to the device (no-op on the CPU)."""
        for name in names or self.order:
            self.memory.copy_to_device(name, self.arrays[name])

    def pull(self, *names: str) -> None:
        """Copy device arrays to the host (no-op on the CPU)."""
        for name in names or self.order:
            self.memory.copy_to_host(name, self.arrays[name])

    # ------------------------------------------------------------------ run-time ints
    def set_rt(self, field: str, value: int) -> None:
        self.arrays[RT][self.rt_index[field]] = value
        self.push(RT)

    def get_rt(self, field: str) -> int:
        self.pull(RT)
        return int(self.arrays[RT][self.rt_index[field]])

    # ------------------------------------------------------------------ entry points
    def reset(self) -> None:
        self._lib.dp_reset(self._state_ptr())
        self._check()

    def run(self, num_steps: int) -> None:
        self._lib.dp_run(self._state_ptr(), int(num_steps))
        self._check()

    def forward(self, num_instances: int) -> int:
        """Whole forward trials (taped) and the loss of ``num_instances`` instances.

        Returns the number of instances whose spike tape overflowed."""
        overflowed = self._lib.dp_forward(self._state_ptr(), int(num_instances))
        self._check()
        return int(overflowed)

    def backward(self, num_instances: int) -> None:
        """The backward pass of the last :meth:`forward`, accumulating gradients."""
        self._lib.dp_backward(self._state_ptr(), int(num_instances))
        self._check()

    def _state_ptr(self):
        return ctypes.cast(self._state, ctypes.c_void_p)

    def _check(self) -> None:
        self.memory.check(self.spec.name)
        for sg in self.spec.synapse_groups:         # the spare ring slot (see layout.py)
            self._check_spare_slot(sg)
        rt = self.arrays[RT]
        self.pull(RT)
        code = int(rt[self.rt_index["error"]])
        if code:
            detail = int(rt[self.rt_index["error_detail"]])
            rt[self.rt_index["error"]] = 0
            self.push(RT)
            group = self.spec.synapse_groups[detail].name if code == 1 else detail
            raise DelaypropError(_ERRORS.get(code, "error {code}").format(detail=group,
                                                                          code=code))

    def _check_spare_slot(self, sg) -> None:
        """Events with an out-of-range delay land in ring slot D: copy back only that slot
        of every instance (not the whole ring) and clear it if anything arrived there."""
        name = ring_name(sg.name)
        ring = self.arrays[name]                  # [batch, D + 1, N_post]
        D = sg.max_dendritic_delay_timesteps
        row = ring[0, D].nbytes if ring.size else 0
        regions = [(b * ring.strides[0] + D * ring.strides[1], row)
                   for b in range(ring.shape[0])] if row else []
        for offset, nbytes in regions:
            self.memory.copy_to_host(name, ring, offset, nbytes)
        if np.any(ring[:, D]):
            ring[:, D] = 0
            for offset, nbytes in regions:
                self.memory.copy_to_device(name, ring, offset, nbytes)
            raise DelaypropError(_ERRORS[1].format(detail=sg.name))

    def close(self) -> None:
        self.memory.close()
        self.arrays.clear()
