"""A compiled training network: train, evaluate, predict, save and restore.

One batch: load inputs and labels -> forward pass of every instance inside compiled code
(taped) -> spike-count statistics for the regulariser -> backward pass (gradients summed
per thread) -> mean over instances -> optimiser step on weights (and delays, clamped to
[0, D-1]) in place on the arrays the compiled code reads.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from delayprop.compile import handles
from delayprop.compile.layout import ArrayRole
from delayprop.errors import ConfigError, DataError, TapeOverflowError
from delayprop.training._feed import InputFeeder, as_labels
from delayprop.training.callbacks import Callback, CallbackList
from delayprop.training.neurons import LeakyIntegrateFire

__all__ = ["CompiledTrainingNetwork", "BatchResult"]

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    loss: np.ndarray            # per instance
    correct: np.ndarray         # per instance, bool
    spikes: float               # hidden spikes summed over instances and neurons
    num_hidden: int


class CompiledTrainingNetwork:
    def __init__(self, compiler, network, model, readout, learned, initial, rng):
        self.compiler, self.network, self.model = compiler, network, model
        self.readout = readout
        self.learned_delays = [c.name for c in learned]
        self.initial = initial
        self.rng = rng
        self.runtime = model.runtime
        self.epoch = 0
        self.step = 0                # optimiser steps taken
        self.total_steps = None      # set by train() for schedules
        self.history: list[dict] = []
        self.hidden = [p.name for p in network.populations
                       if isinstance(p.neuron, LeakyIntegrateFire)]
        # learned delays are real numbers; the compiled code reads them rounded (var d)
        self.delays: dict[str, np.ndarray] = {}
        for conn in network.connections:
            if "d" in initial[conn.name]:
                self.delays[conn.name] = self.to_layout(conn.name, initial[conn.name]["d"])
        self.opt_state: dict[str, dict] = {}
        rewiring = {c.name: rw for c, rw in compiler.rewiring.items()}
        for conn in network.connections:
            if conn.name in rewiring:
                continue                       # optimised as theta by its RewiredConnection
            self.opt_state[f"{conn.name}.g"] = self.compiler.optimiser.init_state(
                self.param(conn.name, "g"))
            if conn.name in self.learned_delays:
                self.opt_state[f"{conn.name}.d"] = self.compiler.delay_optimiser.init_state(
                    self.param(conn.name, "d"))
        from delayprop.training.rewiring import RewiredConnection
        self.rewire_rng = np.random.default_rng(compiler.seed + 2)
        self.rewired = {c.name: RewiredConnection(self, c, rewiring[c.name], initial[c.name],
                                                  self.rewire_rng)
                        for c in network.connections if c.name in rewiring}
        self._batch_position = (0, 1)

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

    def restore_connectivity(self, conn: str, pre, post) -> None:
        """Replace a SPARSE connection's synapse lists (weights, delays and optimiser
        state are reallocated for the new layout; callers then fill them)."""
        sg = self.model.synapse_populations[conn]
        values = {handles.WEIGHT: 0.0}
        if conn in self.delays:
            values[handles.DELAY] = 0
        sg.set_connectivity(pre, post, **values)
        if conn in self.delays:
            self.delays[conn] = np.zeros(self.runtime.delays(conn).shape)
        for key in (f"{conn}.g", f"{conn}.d"):
            if key in self.opt_state:
                optimiser = self.compiler.optimiser if key.endswith(".g") \
                    else self.compiler.delay_optimiser
                self.opt_state[key] = optimiser.init_state(self.param(conn, key[-1]))

    # ------------------------------------------------------------------ parameters
    def param(self, conn: str, var: str) -> np.ndarray:
        """The trained array of ``var`` of connection ``conn``: 'g' is the live weight
        array the compiled code reads (no copy); 'd' the real-valued delays (steps)."""
        if var == handles.DELAY:
            return self.delays[conn]
        return self.runtime.var(conn, var)

    def to_layout(self, conn: str, values: np.ndarray) -> np.ndarray:
        """Values in the order the synapses were created -> the compiled array layout
        (float64, a new array)."""
        sg = self.model.synapse_populations[conn]
        return sg.from_user_order(handles.DELAY, values, np.float64, f"connection '{conn}'")

    def upload_delays(self, conn: str) -> None:
        """Clamp the real delays to [0, D - 1] and round them (never truncate) into the
        compiled code's integer delays."""
        top = self.model.synapse_populations[conn].max_dendritic_delay_timesteps - 1
        np.clip(self.delays[conn], 0, top, out=self.delays[conn])
        self.runtime.delays(conn)[...] = np.rint(self.delays[conn])
        self.runtime.push(handles.var_name(conn, handles.DELAY))

    def connection_values(self, conn: str) -> dict[str, np.ndarray]:
        """(pre, post, weight[, delay]) of a connection, in synapse order."""
        sg = self.model.synapse_populations[conn]
        if sg.matrix_type.value == "DENSE":
            n_pre, n_post = sg.source.size, sg.target.size
            pre, post = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
            out = {"pre": pre.ravel(), "post": post.ravel()}
        else:
            out = {"pre": sg.get_sparse_pre_inds(), "post": sg.get_sparse_post_inds()}
        out["weight"] = sg.vars[handles.WEIGHT].values.astype(np.float64)
        if conn in self.delays:
            out["delay"] = sg.to_user_order(handles.DELAY, self.delays[conn]).copy()
        return out

    def to_graph(self):
        """The network as it is now, as a simulator-independent NetworkGraph (delays
        rounded to whole steps, as the forward pass uses them)."""
        from delayprop.graph import NetworkGraph, NeuronGroup, Projection
        from delayprop.training.neurons import GradedInput, LeakyIntegrate, SpikeInput
        groups = []
        for p in self.network.populations:
            n = p.neuron
            if isinstance(n, SpikeInput):
                groups.append(NeuronGroup(p.name, p.size, "spike_source"))
            elif isinstance(n, GradedInput):
                groups.append(NeuronGroup(p.name, p.size, "graded_input"))
            elif isinstance(n, LeakyIntegrate):
                groups.append(NeuronGroup(p.name, p.size, "li", tau_mem=n.tau_mem))
            else:
                groups.append(NeuronGroup(p.name, p.size, "lif", tau_mem=n.tau_mem,
                                          v_thresh=n.v_thresh, v_reset=n.v_reset))
        projections = []
        for c in self.network.connections:
            v = self.connection_values(c.name)
            delay = np.rint(v["delay"]).astype(np.int64) if "delay" in v else \
                np.zeros(len(v["pre"]), np.int64)
            projections.append(Projection(c.name, c.source.name, c.target.name, v["pre"],
                                          v["post"], v["weight"], delay, c.max_delay_steps,
                                          c.synapse.tau))
        return NetworkGraph(groups, projections, dt=self.compiler.dt)

    # ------------------------------------------------------------------ one batch
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

    def _run_batch(self, feeders, labels, indices, train: bool) -> BatchResult:
        """Forward pass of one batch; with ``train``, gradients and one optimiser step."""
        n = len(indices)
        counts = self._forward(feeders, labels, indices)
        if train:
            grads = self._gradients(n, counts)
            for rewired in self.rewired.values():        # RigL: gradients of absent synapses
                rewired.observe(n, *self._batch_position)
            self._apply(grads)
        rt = self.runtime
        z = rt.readout_sum(self.readout.name)[:n]
        return BatchResult(rt.loss()[:n].astype(np.float64).copy(),
                           np.argmax(z, axis=1) == labels[indices],
                           float(sum(c.sum() for c in counts)),
                           sum(self.model.neuron_populations[p].size for p in self.hidden))

    def _forward(self, feeders, labels, indices) -> list[np.ndarray]:
        """Load a batch and run its forward pass; return hidden spike counts per instance."""
        rt = self.runtime
        n = len(indices)
        for f in feeders:
            f.set_batch(indices)
        rt.labels()[:n] = labels[indices]
        rt.push(handles.LABELS)
        while rt.forward(n):
            self._grow_tapes(n)
        rt.pull(handles.LOSS,
                *(handles.var_name(p, handles.SPIKE_COUNT) for p in self.hidden),
                handles.var_name(self.readout.name, handles.READOUT_SUM))
        return [rt.spike_count(p)[:n] for p in self.hidden]

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

    def _gradients(self, n: int, counts) -> dict[str, np.ndarray]:
        """Backward pass of the last forward: mean gradients ``{'<conn>.g'|'<conn>.d': ...}``
        in the layout of the parameter arrays."""
        rt = self.runtime
        c = self.compiler
        for pop, count in zip(self.hidden, counts):
            drive = np.zeros(count.shape[1], rt.var(pop, "V").dtype)
            if c.reg_lambda:
                mean = count.mean(axis=0)       # over the whole batch, not per instance
                drive[...] = c.reg_lambda * np.maximum(mean - c.reg_nu_upper, 0.0)
            rt.replace(handles.egp_name(pop, handles.REG_DRIVE), drive)
        buffers = rt.names(None, ArrayRole.ADJOINT_WUVAR)
        for name in buffers:
            rt.arrays[name][...] = 0
            rt.push(name)
        rt.backward(n)
        rt.pull(*buffers)
        grads = {}
        for conn in self.network.connections:
            grads[f"{conn.name}.g"] = rt.gradient(conn.name).sum(axis=0) / n
            if conn.name in self.learned_delays:
                grads[f"{conn.name}.d"] = rt.delay_gradient(conn.name).sum(axis=0) / n
        return grads

    def _apply(self, grads: dict[str, np.ndarray]) -> None:
        """One optimiser step on every parameter; delays clamped to [0, D - 1]."""
        rt = self.runtime
        progress = self.step / self.total_steps if self.total_steps else 0.0
        for rewired in self.rewired.values():
            rewired.step(grads, progress)
        for conn in self.network.connections:
            if conn.name in self.rewired:
                continue
            g = self.param(conn.name, "g")
            self.compiler.optimiser.step(g, grads[f"{conn.name}.g"],
                                         self.opt_state[f"{conn.name}.g"], progress)
            rt.push(handles.var_name(conn.name, handles.WEIGHT))
            if conn.name in self.learned_delays:
                d = self.param(conn.name, "d")
                self.compiler.delay_optimiser.step(d, grads[f"{conn.name}.d"],
                                                   self.opt_state[f"{conn.name}.d"], progress)
                self.upload_delays(conn.name)
        self.step += 1

    # ------------------------------------------------------------------ public API
    def train(self, x: dict, y: dict, num_epochs: int, *, shuffle: bool = True,
              validation_x: dict | None = None, validation_y: dict | None = None,
              callbacks: list[Callback] | None = None,
              augment: dict | None = None) -> list[dict]:
        """Train for ``num_epochs`` more epochs; return the per-epoch metrics.

        ``x`` maps each input population to its data, ``y`` the readout to labels. The
        last, partial batch of an epoch is trained too. ``augment`` maps graded input
        populations to an augmentation (:mod:`delayprop.training.augment`) applied to
        each training batch.
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
        batches = -(-n // self.model.batch_size)
        end_epoch = self.epoch + int(num_epochs)
        if self.total_steps is None or self.total_steps < end_epoch * batches:
            self.total_steps = end_epoch * batches
        cbs = CallbackList(callbacks or [])
        cbs.on_train_begin(self, end_epoch)
        while self.epoch < end_epoch:
            cbs.on_epoch_begin(self, self.epoch, batches)
            t0 = time.perf_counter()
            order = self.rng.permutation(n) if shuffle else np.arange(n)
            losses, correct, spikes = [], [], 0.0
            for b in range(batches):
                idx = order[b * self.model.batch_size:(b + 1) * self.model.batch_size]
                self._batch_position = (b, batches)
                res = self._run_batch(feeders, labels, idx, train=True)
                for rewired in self.rewired.values():
                    if rewired.due(b, batches, epoch_end=False):
                        rewired.rewire()
                losses.append(res.loss)
                correct.append(res.correct)
                spikes += res.spikes
                cbs.on_batch_end(self, b, {"loss": float(res.loss.mean()),
                                           "accuracy": float(res.correct.mean())})
            metrics = {"epoch": self.epoch + 1, "loss": float(np.concatenate(losses).mean()),
                       "accuracy": float(np.concatenate(correct).mean()),
                       "spikes_per_neuron": spikes / n / max(res.num_hidden, 1),
                       "seconds": time.perf_counter() - t0}
            for rewired in self.rewired.values():
                if rewired.due(batches - 1, batches, epoch_end=True):
                    rewired.rewire()
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

    def evaluate(self, x: dict, y: dict) -> dict:
        """Mean loss and accuracy on a data set (no learning)."""
        feeders, n = self._feeders(x)
        labels = self._labels(y, n)
        losses, correct = [], []
        for start in range(0, n, self.model.batch_size):
            idx = np.arange(start, min(start + self.model.batch_size, n))
            res = self._run_batch(feeders, labels, idx, train=False)
            losses.append(res.loss)
            correct.append(res.correct)
        if not losses:
            raise DataError("the evaluation set is empty")
        return {"loss": float(np.concatenate(losses).mean()),
                "accuracy": float(np.concatenate(correct).mean()), "samples": n}

    def predict(self, x: dict) -> np.ndarray:
        """Readout values z [samples, classes] (argmax = predicted class)."""
        feeders, n = self._feeders(x)
        labels = np.full(n, -1, np.int32)
        out = []
        for start in range(0, n, self.model.batch_size):
            idx = np.arange(start, min(start + self.model.batch_size, n))
            self._run_batch(feeders, labels, idx, train=False)
            out.append(self.runtime.readout_sum(self.readout.name)[:len(idx)].copy())
        return np.concatenate(out)

    def gradients(self, x: dict, y: dict) -> dict[str, np.ndarray]:
        """dL/dw and, for learned delays, dL/dd (per step of delay) of the mean loss over
        the first batch of ``x``, without changing any parameter. Keys
        ``'<connection>.weight'`` / ``'<connection>.delay'``, values in synapse order."""
        feeders, n = self._feeders(x)
        labels = self._labels(y, n)
        idx = np.arange(min(n, self.model.batch_size))
        counts = self._forward(feeders, labels, idx)
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

    def _delay_stats(self) -> dict:
        out = {}
        for conn in self.network.connections:
            if conn.name not in self.learned_delays:
                continue
            d = np.rint(self.connection_values(conn.name)["delay"])
            top = conn.max_delay_steps - 1
            out[f"{conn.name}_delay_mean"] = float(d.mean()) if d.size else 0.0
            out[f"{conn.name}_delay_at_0"] = float((d <= 0).mean()) if d.size else 0.0
            out[f"{conn.name}_delay_at_max"] = float((d >= top).mean()) if d.size else 0.0
            out[f"{conn.name}_delay_hist"] = np.bincount(
                d.astype(int), minlength=conn.max_delay_steps).tolist()
        return out

    def close(self) -> None:
        self.model.unload()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
