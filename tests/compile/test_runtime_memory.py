"""The device memory strategy, run without a GPU: the CPU library works on separate
"device" buffers (host memory behind a fake CUDA API), so every value it reads or
writes has to go through DeviceMemory's pushes and pulls, as on CUDA."""
import ctypes

import numpy as np
import pytest

from delayprop.compile import Model, init_postsynaptic, init_weight_update, runtime
from delayprop.errors import DelaypropError
from delayprop.genn_models import (ExpCurr, LeakyIntegrator, SpikeSourceArray,
                                   StaticPulseDendriticDelay)


class FakeCuda:
    """dp_cuda_* on host buffers; records every copy as (to_device, array bytes)."""

    def __init__(self):
        self.buffers, self.copies = {}, []

        def malloc(n):
            buf = ctypes.create_string_buffer(int(n))
            self.buffers[ctypes.addressof(buf)] = buf
            return ctypes.addressof(buf)

        def free(ptr):
            self.buffers.pop(ptr.value, None)

        def copy(dst, src, n, to_device):
            ctypes.memmove(dst, src, n)
            self.copies.append((int(to_device), int(n)))
            return 0

        self.dp_cuda_malloc, self.dp_cuda_free, self.dp_cuda_copy = malloc, free, copy
        self.dp_cuda_last_error = lambda: b""
        self.dp_cuda_status = lambda: 0


@pytest.fixture
def simulate_device(monkeypatch):
    """Call it to make the CPU backend use DeviceMemory on fake device buffers; returns
    the list of FakeCuda instances (one per loaded model)."""
    fakes = []

    class SimulatedDevice(runtime.DeviceMemory):
        def __init__(self, lib):
            fakes.append(FakeCuda())
            super().__init__(fakes[-1])

    def start():
        monkeypatch.setitem(runtime.MEMORY, "cpu", SimulatedDevice)
        return fakes
    return start


def model(name, delays, batch=2, D=4):
    m = Model("double", name, batch_size=batch)
    src = m.add_neuron_population("src", 2, SpikeSourceArray)
    tgt = m.add_neuron_population("tgt", 3, LeakyIntegrator, {"tau_mem": 10.0})
    sg = m.add_synapse_population("s", "SPARSE", src, tgt, init_weight_update(
        StaticPulseDendriticDelay, vars={"g": [1.0, 2.0], "d": delays}),
        init_postsynaptic(ExpCurr, {"tau": 5.0}), D)
    sg.set_sparse_connections([0, 1], [0, 2])
    m.build()
    m.load()
    src.set_spikes([([0.0, 1.0], [0, 1]), ([0.0], [1])][:batch])
    m.reinitialise()
    return m, tgt


def trace(m, tgt, steps, pull):
    out = []
    for _ in range(steps):
        m.step_time()
        if pull:
            tgt.vars["V"].pull_from_device()
        out.append(tgt.vars["V"].view.copy())
    return np.array(out)


def test_device_memory_gives_the_cpu_results(simulate_device):
    m, tgt = model("mem_same", [1, 3])
    assert type(m.runtime.memory) is runtime.HostMemory
    expected = trace(m, tgt, 8, pull=False)
    m.unload()
    fakes = simulate_device()
    m, tgt = model("mem_same", [1, 3])
    assert isinstance(m.runtime.memory, runtime.DeviceMemory) and len(fakes) == 1
    stale = tgt.vars["V"].view.copy()
    got = trace(m, tgt, 8, pull=True)
    np.testing.assert_array_equal(got, expected)
    assert np.any(expected) and not np.any(stale)
    m.unload()
    assert not fakes[0].buffers                           # every device buffer freed


def test_spare_slot_check_copies_one_slot_per_instance(simulate_device):
    fake = simulate_device()
    m, tgt = model("mem_spare", [1, 3], batch=2, D=4)
    fake = fake[-1]
    ring = m.runtime.arrays["s_den"]                      # [batch, D + 1, N_post]
    assert ring.shape == (2, 5, 3)
    fake.copies.clear()
    m.step_time()
    slot = ring[0, 4].nbytes
    from_device = [n for to_device, n in fake.copies if not to_device]
    assert from_device.count(slot) == 2                   # one spare slot per instance
    assert ring.nbytes not in from_device                 # never the whole ring
    m.unload()


def test_out_of_range_delay_on_the_device_is_reported_and_cleared(simulate_device):
    simulate_device()
    m, tgt = model("mem_bad", [1, 4], batch=2, D=4)       # d = 4 = D: out of range
    with pytest.raises(DelaypropError, match=r"out of range .*'s'"):
        m.run(3)
    m.runtime.pull("s_den")
    assert not np.any(m.runtime.arrays["s_den"][:, 4])    # spare slot cleared on the device
    m.run(3)                                              # and not reported again
    m.unload()
