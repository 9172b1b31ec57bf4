"""Feeding data sets into the input populations of a compiled training network."""
from __future__ import annotations

import numpy as np

from delayprop.compile import spike_source_arrays
from delayprop.errors import ConfigError, DataError
from delayprop.training.neurons import GradedInput, SpikeInput

__all__ = ["InputFeeder", "as_labels"]


class InputFeeder:
    """One input population and its data set; ``set_batch(indices)`` loads a batch.

    Graded data is ``[samples, steps, channels]``; spike data is a sequence of
    ``(times_ms, ids)`` pairs or of structured arrays with fields ``t`` (ms) and ``x``
    (channel), or a dense ``[samples, steps, channels]`` array of 0/1 (spike in a step).
    """

    def __init__(self, model, pop, data, num_steps: int, dt: float):
        self.model, self.pop = model, pop
        self.name = pop.name
        if isinstance(pop.neuron, GradedInput):
            data = np.ascontiguousarray(data, dtype=model.precision.dtype)
            expected = (num_steps, pop.size)
            if data.ndim != 3 or data.shape[1:] != expected:
                raise DataError(f"input '{pop.name}': expected graded data of shape "
                                f"[samples, {num_steps}, {pop.size}], got {data.shape}")
            if not np.all(np.isfinite(data)):
                raise DataError(f"input '{pop.name}': data contains NaN or infinite values")
            self.graded, self.data = True, data
            self.num_samples = len(data)
            self.augment = None          # set by train(): (augmentation, rng)
        elif isinstance(pop.neuron, SpikeInput):
            self.graded = False
            events = _spike_events(data, pop, num_steps, dt)
            self.num_samples = len(events)
            # every sample's spikes in one array, set once; a batch only picks rows of
            # (start, end)
            try:
                self.start, self.end, times = spike_source_arrays(
                    events, pop.size, model.dt, f"input '{pop.name}'")
            except ConfigError as err:
                raise DataError(str(err).replace("instance", "sample")) from None
            # in the model's precision, so binding it again is free (no conversion)
            self.times = np.ascontiguousarray(times, dtype=model.precision.dtype)
        else:
            raise DataError(f"population '{pop.name}' is not an input population")

    def set_batch(self, indices: np.ndarray, whole=None) -> None:
        """Load the samples ``indices``. ``whole`` = (indices of the global batch, first
        row of this rank's shard) in data-parallel training: the augmentation is drawn for
        the whole global batch, so every rank draws what one process would, and this
        shard's rows are kept."""
        target = self.model.neuron_populations[self.name]
        if self.graded:
            if self.augment is not None and whole is not None:
                everything, first = whole
                batch = self._augmented(self.data[everything])[first:first + len(indices)]
            else:
                batch = self.data[indices] if not _contiguous(indices) else \
                    self.data[indices[0]:indices[-1] + 1]
                if self.augment is not None:
                    batch = self._augmented(batch)
            target.extra_global_params["values"].set_init_values(batch.ravel())
        else:
            # Another data set (e.g. the validation set) may have bound its own spike times
            # since this one's last batch: (re)bind ours before using indices into them.
            egp = target.extra_global_params["spikeTimes"]
            if target.egp_value("spikeTimes") is not self.times:
                egp.set_init_values(self.times)
            start = np.zeros((self.model.batch_size, self.pop.size), np.uint32)
            end = np.zeros_like(start)
            start[:len(indices)] = self.start[indices]
            end[:len(indices)] = self.end[indices]
            target.set_initial("startSpike", start)
            target.set_initial("endSpike", end)


    def draw_without_loading(self, indices: np.ndarray) -> None:
        """Draw the augmentation of the global batch ``indices`` without loading any of it:
        a rank with no share of a batch keeps its random stream level with the others."""
        if self.graded and self.augment is not None:
            self._augmented(self.data[indices])

    def _augmented(self, batch: np.ndarray) -> np.ndarray:
        augmentation, rng = self.augment
        expected = batch.shape
        batch = np.ascontiguousarray(augmentation(batch, rng), dtype=batch.dtype)
        if batch.shape != expected:
            raise DataError(f"input '{self.name}': the augmentation returned shape "
                            f"{batch.shape}, expected {expected}")
        return batch


def _contiguous(indices: np.ndarray) -> bool:
    return len(indices) > 0 and indices[-1] - indices[0] + 1 == len(indices) and \
        np.all(np.diff(indices) == 1)


def _spike_events(data, pop, num_steps, dt) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(data, np.ndarray) and data.ndim == 3:
        if data.shape[2] != pop.size:
            raise DataError(f"input '{pop.name}': dense spike data has {data.shape[2]} "
                            f"channels, the population has {pop.size}")
        out = []
        for sample in data:
            steps, ids = np.nonzero(sample)
            out.append((steps * dt, ids.astype(np.int64)))
        return out
    out = []
    for i, sample in enumerate(data):
        if isinstance(sample, np.ndarray) and sample.dtype.names:
            times, ids = sample["t"], sample["x"]
        else:
            try:
                times, ids = sample
            except (TypeError, ValueError):
                raise DataError(f"input '{pop.name}', sample {i}: expected (times_ms, ids) "
                                f"or a structured array with fields t and x") from None
        times = np.asarray(times, dtype=np.float64)
        ids = np.asarray(ids, dtype=np.int64)
        keep = times < num_steps * dt         # spikes after the trial cannot matter
        out.append((times[keep], ids[keep]))
    return out


def as_labels(y, num_samples: int, num_classes: int, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (num_samples,):
        raise DataError(f"{what}: expected {num_samples} labels, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.mod(y, 1) == 0):
            raise DataError(f"{what}: labels must be whole numbers")
    y = y.astype(np.int32)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"{what}: labels must lie in [0, {num_classes}) (one per readout "
                        f"neuron), got [{y.min()}, {y.max()}]")
    return y
