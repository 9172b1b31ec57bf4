"""Spike recording with ``load(num_recording_timesteps=N)`` keeps every step, stepping
one at a time past N as well as in one run (the ring length reaches the code at load)."""
import numpy as np
import pytest

from delayprop.compile import Model
from delayprop.genn_models import SpikeSourceArray

SPIKES = (np.array([1.0, 3.0, 7.0, 12.0]), np.array([0, 1, 0, 1]))


@pytest.mark.parametrize("capacity", [None, 5, 20])
@pytest.mark.parametrize("stepping", [False, True], ids=["run", "step_time"])
def test_recording_keeps_every_step(capacity, stepping):
    m = Model("double", "rec_len", "cpu")
    src = m.add_neuron_population("src", 2, SpikeSourceArray)
    src.spike_recording_enabled = True
    m.build()
    m.load(num_recording_timesteps=capacity)
    src.set_spikes([SPIKES])
    m.reinitialise()
    if stepping:
        for _ in range(15):
            m.step_time()
    else:
        m.run(15)
    times, ids = src.spike_recording_data[0]
    np.testing.assert_array_equal(times, SPIKES[0])
    np.testing.assert_array_equal(ids, SPIKES[1])
    m.unload()
