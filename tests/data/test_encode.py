import numpy as np
import pytest

from delayprop.data import sigma_delta_spikes
from delayprop.errors import DataError


def test_sigma_delta_counts_and_timing():
    x = np.zeros((1, 10, 3))
    x[0, :, 0] = 1.0                      # a spike every step
    x[0, :, 1] = 0.5                      # every second step: steps 1, 3, 5, 7, 9
    x[0, 4, 2] = 0.7                      # never reaches 1
    (times, ids), = sigma_delta_spikes(x, dt=2.0)
    assert (ids == 0).sum() == 10 and (ids == 2).sum() == 0
    np.testing.assert_array_equal(times[ids == 1], [2.0, 6.0, 10.0, 14.0, 18.0])
    assert np.all(np.diff(times) >= 0)


def test_sigma_delta_rejects_values_above_threshold():
    with pytest.raises(DataError, match=r"needs values in \[0, 1.0\]"):
        sigma_delta_spikes(np.full((1, 2, 2), 1.5))
