"""Checkpoints: everything needed to continue training exactly where it stopped.

One ``.npz`` per checkpoint, written atomically (a temporary file, fsync, then a rename;
:mod:`delayprop.storage`), so a killed run or a full disk leaves the previous checkpoint
intact; a run directory keeps the one before as well (:mod:`delayprop.training.journal`).
It holds, per connection, the weights and real-valued delays in the compiled layout, the
synapse lists (sparse groups may have been rewired), every optimiser state (Adam's m, v, t),
the trainer's RNG state, the epoch and step counters, the metrics history and the compiler
configuration (JSON).

Resuming reproduces an uninterrupted run bit for bit on the same machine and thread count.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from delayprop import storage
from delayprop.compile import handles
from delayprop.errors import DamagedFileError, DataError
from delayprop.training.callbacks import Callback

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "checkpoint_arrays",
           "Checkpoint", "FORMAT"]

FORMAT = "delayprop.checkpoint/1"


def checkpoint_arrays(net) -> dict[str, np.ndarray]:
    """The state of a CompiledTrainingNetwork ``net`` as the arrays of a checkpoint."""
    arrays = {}
    for conn in net.network.connections:
        c = conn.name
        if c in getattr(net, "rewired", {}):
            continue                          # restored from its dense state (extra/)
        arrays[f"{c}/g"] = net.param(c, "g")
        if c in net.delays:
            arrays[f"{c}/d_real"] = net.delays[c]
        sg = net.model.synapse_populations[c]
        if sg.matrix_type.value == "SPARSE":
            arrays[f"{c}/pre"] = sg.get_sparse_pre_inds()
            arrays[f"{c}/post"] = sg.get_sparse_post_inds()
    for key, state in net.opt_state.items():
        for name, value in state.items():
            arrays[f"opt/{key}/{name}"] = np.asarray(value)
    extra = net.extra_state() if hasattr(net, "extra_state") else {}
    for key, value in extra.items():
        arrays[f"extra/{key}"] = np.asarray(value)
    meta = {"format": FORMAT, "epoch": net.epoch, "step": net.step,
            "total_steps": net.total_steps, "history": net.history,
            "rng": net.rng.bit_generator.state, "config": net.config()}
    if getattr(net, "rewired", None):
        meta["rewire_rng"] = net.rewire_rng.bit_generator.state
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def save_checkpoint(path, net) -> Path:
    """Write the state of a CompiledTrainingNetwork ``net`` to ``path`` (atomically)."""
    arrays = checkpoint_arrays(net)
    return storage.write_atomic(Path(path), lambda f: np.savez(f, **arrays))


def read_checkpoint(path) -> tuple[dict, dict[str, np.ndarray]]:
    """The metadata and arrays of the checkpoint ``path``, read in full.

    Raises DamagedFileError when the file is empty, truncated or not a checkpoint, so
    that nothing is restored from half a file."""
    data = storage.read_npz(path, "checkpoint")
    if "meta" not in data:
        raise DamagedFileError(f"{path} is not a readable delayprop checkpoint: an .npz "
                               f"without its metadata")
    try:
        meta = json.loads(str(data["meta"]))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except ValueError as err:
        raise DamagedFileError(f"checkpoint {path} is damaged: its metadata is unreadable "
                               f"({err})") from err
    if meta.get("format") != FORMAT:
        raise DamagedFileError(f"checkpoint {path} is not a delayprop checkpoint: format "
                               f"{meta.get('format')!r}, expected {FORMAT!r}")
    missing = [k for k in ("epoch", "step", "total_steps", "history", "rng") if k not in meta]
    if missing:
        raise DamagedFileError(f"checkpoint {path} is damaged: its metadata lacks {missing}")
    return meta, data


def load_checkpoint(path, net) -> dict:
    """Restore ``net`` (compiled from the same network and configuration) from ``path``.

    Returns the checkpoint's metadata. Raises DamagedFileError when the file is damaged
    (then ``net`` is untouched) and DataError when it does not fit the network.
    """
    path = Path(path)
    meta, data = read_checkpoint(path)
    for conn in net.network.connections:
        c = conn.name
        if c in getattr(net, "rewired", {}):
            continue
        if f"{c}/g" not in data:
            raise DataError(f"{path}: no weights for connection '{c}'; the checkpoint "
                            f"belongs to another network")
        if f"{c}/pre" in data:
            net.restore_connectivity(c, data[f"{c}/pre"], data[f"{c}/post"])
        g = net.param(c, "g")
        if data[f"{c}/g"].shape != g.shape:
            raise DataError(f"{path}: connection '{c}' has {data[f'{c}/g'].shape} "
                            f"weights, the network {g.shape}")
        g[...] = data[f"{c}/g"]
        net.runtime.push(handles.var_name(c, handles.WEIGHT))
        if c in net.delays:
            net.delays[c][...] = data[f"{c}/d_real"]
            net.upload_delays(c)
    for key, state in net.opt_state.items():
        for name in list(state):
            if f"opt/{key}/{name}" not in data:
                raise DataError(f"{path}: no optimiser state '{key}/{name}'; the checkpoint "
                                f"belongs to another configuration (delay learning?)")
            stored = data[f"opt/{key}/{name}"]
            state[name] = stored.copy() if stored.ndim else stored.item()
    extra = {k[len("extra/"):]: data[k] for k in data if k.startswith("extra/")}
    if extra and hasattr(net, "restore_extra_state"):
        net.restore_extra_state(extra)
    net.epoch, net.step = meta["epoch"], meta["step"]
    net.total_steps = meta["total_steps"]
    net.history = meta["history"]
    net.rng.bit_generator.state = meta["rng"]
    if "rewire_rng" in meta:
        net.rewire_rng.bit_generator.state = meta["rewire_rng"]
    return meta


class Checkpoint(Callback):
    """Save ``<directory>/checkpoint.npz`` every ``every`` epochs and at the end."""

    def __init__(self, directory, every: int = 1):
        self.directory = Path(directory)
        self.every = int(every)

    def on_epoch_end(self, net, epoch, metrics):
        if epoch % self.every == 0:
            save_checkpoint(self.directory / "checkpoint.npz", net)

    def on_train_end(self, net):
        save_checkpoint(self.directory / "checkpoint.npz", net)
