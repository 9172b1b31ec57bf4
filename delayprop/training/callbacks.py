"""Callbacks: subclass :class:`Callback` and override the hooks you need.

A method named ``on_*`` that is not one of the hooks below is an error when the callback
is registered, so a misspelt hook never silently does nothing.
"""
from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path

from delayprop.errors import ConfigError

__all__ = ["Callback", "CallbackList", "ProgressBar", "CSVLogger", "SilenceWarning", "HOOKS"]

HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")


class Callback:
    def on_train_begin(self, net, end_epoch: int) -> None: ...

    def on_epoch_begin(self, net, epoch: int, num_batches: int) -> None: ...

    def on_batch_end(self, net, batch: int, metrics: dict) -> None: ...

    def on_epoch_end(self, net, epoch: int, metrics: dict) -> None: ...

    def on_train_end(self, net) -> None: ...


class CallbackList:
    def __init__(self, callbacks):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(f"callbacks must subclass delayprop.training.Callback, got "
                                  f"{type(cb).__name__}")
            unknown = [m for m in dir(cb) if m.startswith("on_") and m not in HOOKS]
            if unknown:
                raise ConfigError(f"callback {type(cb).__name__} defines {unknown}, which are "
                                  f"not hooks; hooks are {list(HOOKS)}")

    def __getattr__(self, hook):
        if hook not in HOOKS:
            raise AttributeError(hook)

        def call(*args):
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return call


class SilenceWarning(Callback):
    """Warn once when no hidden neuron spiked in a whole epoch: EventProp's gradients of
    the weights into a silent layer are all zero, so the network cannot start learning."""

    def __init__(self):
        self._warned = False

    def on_epoch_end(self, net, epoch, metrics):
        if not self._warned and metrics.get("spikes_per_neuron", 1.0) == 0.0:
            self._warned = True
            logging.getLogger("delayprop.training").warning(
                "no hidden neuron spiked in epoch %d: the weights into the hidden layer get "
                "no gradient, so the network cannot learn; start from larger input weights "
                "(--weight-sd, or weight_mean) or a lower threshold", epoch)


class ProgressBar(Callback):
    """A tqdm bar per epoch with loss, accuracy and spikes per neuron; silent when the
    output is not a terminal or ``disable=True``."""

    def __init__(self, disable: bool | None = None):
        self.disable = disable
        self._bar = None

    def on_epoch_begin(self, net, epoch, num_batches):
        from tqdm.auto import tqdm
        disable = self.disable if self.disable is not None else not sys.stderr.isatty()
        self._bar = tqdm(total=num_batches, desc=f"epoch {epoch + 1}", unit="batch",
                         disable=disable, leave=True)
        self._loss = self._acc = 0.0
        self._n = 0

    def on_batch_end(self, net, batch, metrics):
        self._n += 1
        self._loss += metrics["loss"]
        self._acc += metrics["accuracy"]
        self._bar.set_postfix(loss=f"{self._loss / self._n:.3f}",
                              acc=f"{self._acc / self._n:.3f}")
        self._bar.update(1)

    def on_epoch_end(self, net, epoch, metrics):
        post = {"loss": f"{metrics['loss']:.3f}", "acc": f"{metrics['accuracy']:.3f}",
                "spk/n": f"{metrics['spikes_per_neuron']:.2f}"}
        if "val_accuracy" in metrics:
            post["val_acc"] = f"{metrics['val_accuracy']:.3f}"
        self._bar.set_postfix(post)
        self._bar.close()


class CSVLogger(Callback):
    """Appends one row of scalar metrics per epoch to ``path`` (lists go to a .jsonl
    file beside it)."""

    def __init__(self, path):
        self.path = Path(path)

    def on_epoch_end(self, net, epoch, metrics):
        scalars = {k: v for k, v in metrics.items() if not isinstance(v, (list, tuple))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(scalars))
            if new:
                writer.writeheader()
            writer.writerow(scalars)
        lists = {k: v for k, v in metrics.items() if isinstance(v, (list, tuple))}
        if lists:
            with open(self.path.with_suffix(".jsonl"), "a") as f:
                f.write(json.dumps({"epoch": metrics["epoch"], **lists}) + "\n")
