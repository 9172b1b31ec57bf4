"""A compiled training network: train, evaluate, predict, save and restore.

One batch: load inputs and labels -> forward pass of every instance inside compiled code
(taped) -> spike-count statistics for the regulariser -> backward pass (gradients summed
per thread) -> mean over instances -> optimiser step on weights (and delays, clamped to
[0, D-1]) in place on the arrays the compiled code reads.

The class is put together by concern: the batch loop and tape growth
(:mod:`delayprop.training._batches`), parameters, gradients and optimiser state
(:mod:`delayprop.training._parameters`), export and delay statistics
(:mod:`delayprop.training._statistics`); this module holds the epochs (with the
rewiring schedule), evaluation, prediction and checkpoint state.
"""
from __future__ import annotations

import time

import numpy as np

from delayprop.compile import handles
from delayprop.errors import ConfigError, DataError, NonFiniteError
from delayprop.training._batches import BatchLoop, BatchResult
from delayprop.training._parameters import Parameters
from delayprop.training._statistics import Statistics
from delayprop.training.callbacks import Callback, CallbackList
from delayprop.training.guard import FiniteGuard
from delayprop.training.neurons import LeakyIntegrateFire

__all__ = ["CompiledTrainingNetwork", "BatchResult"]


class CompiledTrainingNetwork(BatchLoop, Parameters, Statistics):
    def __init__(self, compiler, network, model, readout, learned, initial, rng):
        self.compiler, self.network, self.model = compiler, network, model
        self.readout = readout
        self.learned_delays = [c.name for c in learned]
        self.initial = initial
        self.rng = rng
        self.runtime = model.runtime
        self.comm = compiler.ranks()      # the ranks sharing each batch (training.parallel)
        self.batch_size = compiler.batch_size   # the global batch
        self.epoch = 0
        self.step = 0                # optimiser steps taken
        self.total_steps = None      # set by train() for schedules
        self.history: list[dict] = []
        self.hidden = [p.name for p in network.populations
                       if isinstance(p.neuron, LeakyIntegrateFire)]
        self._init_delays(initial)
        rewiring = {c.name: rw for c, rw in compiler.rewiring.items()}
        self._init_optimisers(set(rewiring))
        from delayprop.training.rewiring import RewiredConnection
        self.rewire_rng = np.random.default_rng(compiler.seed + 2)
        self.rewired = {c.name: RewiredConnection(self, c, rewiring[c.name], initial[c.name],
                                                  self.rewire_rng)
                        for c in network.connections if c.name in rewiring}
        self._batch_position = (0, 1)
        self._shard = (0, 0)          # (first row, size) of this rank's part of the batch

    # ------------------------------------------------------------------ description
    def config(self) -> dict:
        """The compiler settings and the network's shape, JSON-able (saved in checkpoints)."""
        c = self.compiler
        return {
            "example_timesteps": c.example_timesteps, "batch_size": c.batch_size,
            "dt": c.dt, "precision": c.precision, "backend": c.backend, "seed": c.seed,
            "reg_lambda": c.reg_lambda, "reg_nu_upper": c.reg_nu_upper,
            "optimiser": repr(c.optimiser), "delay_optimiser": repr(c.delay_optimiser),
            "learned_delays": self.learned_delays,
            **({"dropout": c.dropout, "dropout_mode": c.dropout_mode} if c.dropout else {}),
            "populations": [{"name": p.name, "size": p.size, "neuron": repr(p.neuron)}
                            for p in self.network.populations],
            "connections": [{"name": k.name, "source": k.source.name, "target": k.target.name,
                             "connectivity": type(k.connectivity).__name__,
                             "tau_syn": k.synapse.tau, "max_delay_steps": k.max_delay_steps}
                            for k in self.network.connections]}

    def extra_state(self) -> dict:
        """State beyond weights and optimisers (rewired connections), for checkpoints."""
        return {f"rewire.{name}.{key}": value for name, rw in self.rewired.items()
                for key, value in rw.state().items()}

    def restore_extra_state(self, state: dict) -> None:
        for name, rw in self.rewired.items():
            prefix = f"rewire.{name}."
            rw.restore({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    # ------------------------------------------------------------------ public API
    def train(self, x: dict, y: dict, num_epochs: int, *, shuffle: bool = True,
              validation_x: dict | None = None, validation_y: dict | None = None,
              callbacks: list[Callback] | None = None,
              augment: dict | None = None, on_nan: str = "stop") -> list[dict]:
        """Train for ``num_epochs`` more epochs; return the per-epoch metrics.

        ``x`` maps each input population to its data, ``y`` the readout to labels. The
        last, partial batch of an epoch is trained too. ``augment`` maps graded input
        populations to an augmentation (:mod:`delayprop.training.augment`) applied to
        each training batch. After every batch the loss, gradients, parameters and
        optimiser state are checked for NaN/inf (:mod:`delayprop.training.guard`):
        ``on_nan='stop'`` raises NonFiniteError, ``'skip-batch'`` drops the batch and counts
        it in the metrics (``skipped_batches``).
        """
        if int(num_epochs) != num_epochs or num_epochs < 0:
            raise ConfigError(f"num_epochs must be a whole number >= 0, got {num_epochs!r}")
        feeders, n = self._feeders(x)
        self._set_augmentation(feeders, augment or {})
        labels = self._labels(y, n)
        if n == 0:
            raise DataError("the training set is empty")
        val = None
        if validation_x is not None:
            val = (validation_x, validation_y)
        batches = -(-n // self.batch_size)
        end_epoch = self.epoch + int(num_epochs)
        if self.total_steps is None or self.total_steps < end_epoch * batches:
            self.total_steps = end_epoch * batches
        cbs = CallbackList(callbacks or [])
        guard = FiniteGuard(on_nan)
        cbs.on_train_begin(self, end_epoch)
        while self.epoch < end_epoch:
            cbs.on_epoch_begin(self, self.epoch, batches)
            t0 = time.perf_counter()
            order = self.rng.permutation(n) if shuffle else np.arange(n)
            sums = np.zeros(3)                        # loss, correct, spikes
            seen = 0
            guard.skipped = 0
            for b in range(batches):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                self._batch_position = (b, batches)
                guard.before_batch(self)
                res = self._run_batch(feeders, labels, idx, train=True)
                # the loss summed over all ranks: every rank decides alike
                if not guard.after_batch(self, res.totals[:1], self.epoch + 1, b + 1,
                                         batches):
                    continue
                for rewired in self.rewired.values():
                    if rewired.due(b, batches, epoch_end=False):
                        self._rewire(rewired)
                sums += res.totals
                seen += res.size
                cbs.on_batch_end(self, b, {"loss": float(res.totals[0] / res.size),
                                           "accuracy": float(res.totals[1] / res.size)})
            if not seen:
                raise NonFiniteError(f"every batch of epoch {self.epoch + 1} was NaN or "
                                     f"infinite and dropped; lower the learning rate (--lr)")
            metrics = {"epoch": self.epoch + 1, "loss": float(sums[0] / seen),
                       "accuracy": float(sums[1] / seen),
                       "spikes_per_neuron": sums[2] / n / max(res.num_hidden, 1),
                       "seconds": time.perf_counter() - t0}
            if guard.skip:
                metrics["skipped_batches"] = guard.skipped
            for rewired in self.rewired.values():
                if rewired.due(batches - 1, batches, epoch_end=True):
                    self._rewire(rewired)
                metrics.update(rewired.metrics())
            metrics.update(self._delay_stats())
            if val is not None:
                ev = self.evaluate(*val)
                metrics.update({"val_loss": ev["loss"], "val_accuracy": ev["accuracy"]})
            self.epoch += 1
            self.history.append(metrics)
            cbs.on_epoch_end(self, self.epoch, metrics)
        cbs.on_train_end(self)
        return self.history

    def _rewire(self, rewired) -> None:
        """Rewire on every rank alike, then check that the ranks agree."""
        rewired.rewire(self.step / self.total_steps if self.total_steps else 0.0)
        self.comm.check_same(f"the connectivity of '{rewired.name}' after rewiring "
                             f"(epoch {self.epoch + 1})", rewired.active)

    def evaluate(self, x: dict, y: dict) -> dict:
        """Mean loss and accuracy on a data set (no learning; the ranks share it)."""
        feeders, n = self._feeders(x)
        labels = self._labels(y, n)
        if n == 0:
            raise DataError("the evaluation set is empty")
        sums = np.zeros(3)
        for start in range(0, n, self.batch_size):
            idx = np.arange(start, min(start + self.batch_size, n))
            sums += self._run_batch(feeders, labels, idx, train=False).totals
        return {"loss": float(sums[0] / n), "accuracy": float(sums[1] / n), "samples": n}

    def predict(self, x: dict) -> np.ndarray:
        """Readout values z [samples, classes] (argmax = predicted class)."""
        feeders, n = self._feeders(x)
        labels = np.full(n, -1, np.int32)
        out = []
        for start in range(0, n, self.model.batch_size):
            idx = np.arange(start, min(start + self.model.batch_size, n))
            self._run_batch(feeders, labels, idx, train=False, shard=False)
            out.append(self.runtime.readout_sum(self.readout.name)[:len(idx)].copy())
        return np.concatenate(out)

    def gradients(self, x: dict, y: dict) -> dict[str, np.ndarray]:
        """dL/dw and, for learned delays, dL/dd (per step of delay) of the mean loss over
        the first batch of ``x``, without changing any parameter (with the compiler's
        dropout, as in training: the factors drawn are in ``dropout_scale``). Keys
        ``'<connection>.weight'`` / ``'<connection>.delay'``, values in synapse order."""
        feeders, n = self._feeders(x)
        labels = self._labels(y, n)
        idx = np.arange(min(n, self.model.batch_size))
        self._shard = (0, len(idx))
        counts = self._forward(feeders, labels, idx, dropout=True)
        grads = self._gradients(len(idx), counts)
        out = {}
        for conn in self.network.connections:
            sg = self.model.synapse_populations[conn.name]
            out[f"{conn.name}.weight"] = sg.to_user_order(handles.WEIGHT,
                                                          grads[f"{conn.name}.g"])
            if f"{conn.name}.d" in grads:
                out[f"{conn.name}.delay"] = sg.to_user_order(handles.DELAY,
                                                             grads[f"{conn.name}.d"])
        return out

    def close(self) -> None:
        self.model.unload()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
