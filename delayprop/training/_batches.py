"""The batch loop of a compiled training network (part of CompiledTrainingNetwork).

One batch: inputs and labels in -> forward pass of every instance inside compiled code
(taped; a tape that overflowed grows and the pass runs again) -> spike counts of the
hidden populations -> on request the backward pass (regulariser drive set from the
counts, gradient buffers zeroed, gradients summed per thread).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from delayprop.compile import handles
from delayprop.compile.layout import ArrayRole
from delayprop.errors import ConfigError, DataError, TapeOverflowError
from delayprop.training._feed import InputFeeder, as_labels

__all__ = ["BatchLoop", "BatchResult"]

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    loss: np.ndarray            # per instance
    correct: np.ndarray         # per instance, bool
    spikes: float               # hidden spikes summed over instances and neurons
    num_hidden: int
    totals: np.ndarray | None = None   # [loss, correct, spikes] summed over the batch
    size: int = 0                       # instances of the (global) batch


class BatchLoop:
    """Inputs, labels, forward and backward passes of one batch, and tape growth.

    Uses ``compiler``, ``network``, ``model``, ``runtime``, ``readout``, ``hidden``,
    ``rng`` and ``rewired`` of the network; ``_gradients`` and ``_apply`` come from
    :class:`~delayprop.training._parameters.Parameters`.
    """

    # ------------------------------------------------------------------ data
    def _feeders(self, x: dict) -> tuple[list[InputFeeder], int]:
        if not isinstance(x, dict) or not x:
            raise ConfigError("inputs must be a dict {input population: data}")
        inputs = [p for p in self.network.populations if p.neuron.is_input]
        missing = [p.name for p in inputs if p not in x]
        if missing:
            raise DataError(f"no data for input population(s) {missing}")
        feeders = [InputFeeder(self.model, p, x[p], self.compiler.example_timesteps,
                               self.compiler.dt) for p in inputs]
        sizes = {f.num_samples for f in feeders}
        if len(sizes) != 1:
            raise DataError(f"input populations have different sample counts {sorted(sizes)}")
        return feeders, sizes.pop()

    def _labels(self, y: dict | None, n: int) -> np.ndarray:
        if y is None:
            return np.full(n, -1, np.int32)
        if not isinstance(y, dict) or self.readout not in y:
            raise DataError(f"labels must be a dict {{readout population "
                            f"'{self.readout.name}': labels}}")
        return as_labels(y[self.readout], n, self.readout.size, "labels")

    def _set_augmentation(self, feeders, augment: dict) -> None:
        by_name = {f.name: f for f in feeders}
        for pop, augmentation in augment.items():
            feeder = by_name.get(getattr(pop, "name", None))
            if feeder is None:
                raise ConfigError(f"augment: {pop!r} is not an input population of this "
                                  f"network")
            if not feeder.graded:
                raise ConfigError(f"augment: input '{feeder.name}' takes spikes; "
                                  f"augmentations apply to graded inputs only")
            if not callable(augmentation):
                raise ConfigError(f"augment: {augmentation!r} for '{feeder.name}' is not "
                                  f"callable")
            feeder.augment = (augmentation, self.rng)

    # ------------------------------------------------------------------ one batch
    def _run_batch(self, feeders, labels, indices, train: bool,
                   shard: bool = True) -> BatchResult:
        """Forward pass of one batch; with ``train``, gradients and one optimiser step.

        With ``shard`` the batch is global: this rank simulates its shard
        (:mod:`delayprop.training.parallel`), and gradients and metrics are summed over
        the ranks (``loss``/``correct`` of the result are then this rank's instances,
        ``totals`` the sums over the whole batch)."""
        comm = self.comm if shard else None
        total = len(indices)
        lo, hi = comm.shard_range(total) if comm else (0, total)
        local = indices[lo:hi]
        n = len(local)
        self._shard = (lo, total)
        # augmentation is drawn for the global batch, as in one process; a rank keeps its rows
        whole = (indices, lo) if comm and comm.size > 1 else None
        if not n and whole is not None:
            for f in feeders:
                f.draw_without_loading(indices)
        counts = self._forward(feeders, labels, local, dropout=train, whole=whole) if n else \
            [np.zeros((0, self.model.neuron_populations[p].size)) for p in self.hidden]
        rt = self.runtime
        z = rt.readout_sum(self.readout.name)[:n]
        loss = rt.loss()[:n].astype(np.float64).copy()
        correct = np.argmax(z, axis=1) == labels[local]
        spikes = float(sum(c.sum() for c in counts))
        sums = {"metrics": np.array([loss.sum(), correct.sum(), spikes])}
        if train:
            count_mean = None
            if self.compiler.reg_lambda:            # the drive needs the global batch mean
                count_mean = [m / total for m in self._sum(
                    {str(i): c.sum(axis=0) for i, c in enumerate(counts)}).values()]
            sums.update(self._gradients(n, counts, mean=False, count_mean=count_mean))
            probes = {}
            for name, rewired in self.rewired.items():   # RigL: gradients of absent synapses
                if rewired.wants_probe(*self._batch_position):
                    probes[f"probe.{name}"] = rewired.probe_sum(n)
            sums.update(probes)
        sums = self._sum(sums) if comm else sums
        if train:
            for name, rewired in self.rewired.items():
                probe = sums.pop(f"probe.{name}", None)
                rewired.observe(None if probe is None else probe / total)
            metrics = sums.pop("metrics")
            self._apply({k: v / total for k, v in sums.items()})
            sums["metrics"] = metrics
        return BatchResult(loss, correct, spikes,
                           sum(self.model.neuron_populations[p].size for p in self.hidden),
                           totals=sums["metrics"], size=total)

    def _sum(self, arrays: dict) -> dict:
        return self.comm.sum(arrays)

    def _forward(self, feeders, labels, indices, dropout: bool = False,
                 whole=None) -> list[np.ndarray]:
        """Load a batch and run its forward pass; return hidden spike counts per instance.
        ``dropout``: drop hidden spikes as the compiler says (training), else keep all;
        ``whole``: this rank's shard within a global batch (``InputFeeder.set_batch``)."""
        rt = self.runtime
        n = len(indices)
        if self.compiler.dropout:
            self._set_dropout(n, dropout)
        for f in feeders:
            f.set_batch(indices, whole=whole)
        rt.labels()[:n] = labels[indices]
        rt.push(handles.LABELS)
        while rt.forward(n):
            self._grow_tapes(n)
        rt.pull(handles.LOSS,
                *(handles.var_name(p, handles.SPIKE_COUNT) for p in self.hidden),
                handles.var_name(self.readout.name, handles.READOUT_SUM))
        return [rt.spike_count(p)[:n] for p in self.hidden]

    def _set_dropout(self, n: int, active: bool) -> None:
        """The factor ``x`` of every hidden spike of this batch (``DropScale``): 0 (dropped)
        or 1/(1-p); all 1 when not ``active``. Drawn from (seed, epoch, batch), so a resumed
        run draws what an uninterrupted one would. Kept in ``self.dropout_scale``."""
        c = self.compiler
        B, T = self.model.batch_size, c.example_timesteps
        if not active and getattr(self, "_dropout_bound", None) == "ones":
            return                                 # evaluation after evaluation
        self._dropout_bound = "active" if active else "ones"
        self.dropout_scale = {}
        for pop in self.hidden:
            size = self.model.neuron_populations[pop].size
            shape = (B, T, size) if c.dropout_mode == "event" else (B, size)
            scale = np.ones(shape)
            if active:
                rng = np.random.default_rng([c.seed, 0xD209, self.epoch,
                                             self._batch_position[0],
                                             self.hidden.index(pop)])
                lo, total = getattr(self, "_shard", (0, n))
                keep = rng.random((total,) + shape[1:])[lo:lo + n] >= c.dropout
                scale[:n] = keep / (1.0 - c.dropout)
            self.dropout_scale[pop] = scale[:n]
            self.runtime.replace(handles.egp_name(pop, "DropScale"), scale.reshape(-1))

    def _grow_tapes(self, n: int) -> None:
        rt = self.runtime
        for pop, cap in list(rt.sizes.tape_capacity.items()):
            rt.pull(handles.tape_count_name(pop))
            count = rt.tape_count(pop)[:n]
            needed = int(count.max())
            if needed <= cap:
                continue
            worst = int(np.argmax(count))
            if self.compiler.max_spikes is not None:
                raise TapeOverflowError(
                    f"population '{pop}' emitted {needed} spikes in batch instance {worst}; "
                    f"the tape holds {cap} — set max_spikes >= {needed} (or leave it unset "
                    f"so that the tape grows)")
            new = int(needed * 1.25) + 64
            logger.info("tape of '%s' grows from %d to %d events", pop, cap, new)
            rt.sizes.tape_capacity[pop] = new
            rt.set_rt(f"tape_capacity.{pop}", new)
            for name in rt.tape_arrays(pop):
                rt.resize(name)

    def _backward(self, n: int, counts, count_mean=None) -> None:
        """Backward pass of the last forward: the regulariser drive of every hidden
        population from its spike ``counts``, then gradients summed per thread into the
        (zeroed) gradient buffers, pulled to the host."""
        rt = self.runtime
        c = self.compiler
        for pop, count in zip(self.hidden, counts):
            drive = np.zeros(count.shape[1], rt.var(pop, "V").dtype)
            if c.reg_lambda:
                # over the whole (global) batch, not per instance
                mean = count.mean(axis=0) if count_mean is None else \
                    count_mean[self.hidden.index(pop)]
                drive[...] = c.reg_lambda * np.maximum(mean - c.reg_nu_upper, 0.0)
            rt.replace(handles.egp_name(pop, handles.REG_DRIVE), drive)
        buffers = rt.names(None, ArrayRole.ADJOINT_WUVAR)
        for name in buffers:
            rt.arrays[name][...] = 0
            rt.push(name)
        rt.backward(n)
        rt.pull(*buffers)
