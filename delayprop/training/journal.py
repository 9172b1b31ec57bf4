"""A run directory as a journal: an epoch is there entirely or not at all.

At the end of each epoch :class:`RunJournal` commits the run: the checkpoint and the
metrics files (rebuilt from the history the checkpoint holds) are written to temporary
files and flushed to disk, then renamed in a fixed order::

    checkpoint.npz -> checkpoint.prev.npz,  new -> checkpoint.npz,  metrics.csv,  metrics.jsonl

so a metrics row exists only for an epoch whose checkpoint was committed, and one damaged
checkpoint never loses the run. :func:`resume` restores the newest readable checkpoint
(falling back to ``checkpoint.prev.npz``, with a warning) and rewrites the metrics from its
history, which drops rows of epochs after it.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path

import numpy as np

from delayprop import storage
from delayprop.errors import ConfigError, DamagedFileError, StorageError
from delayprop.training.callbacks import Callback
from delayprop.training.checkpoint import checkpoint_arrays, load_checkpoint, read_checkpoint

__all__ = ["RunJournal", "commit_epoch", "resume", "load_latest", "write_metrics",
           "recorded_epochs", "CHECKPOINT", "PREVIOUS"]

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.npz"
PREVIOUS = "checkpoint.prev.npz"


def _metrics_text(history: list[dict]) -> tuple[str, str]:
    """metrics.csv (scalars; columns in order of first appearance) and metrics.jsonl
    (per-epoch lists) of a history."""
    columns: dict[str, None] = {}
    for row in history:
        columns.update((k, None) for k, v in row.items() if not isinstance(v, (list, tuple)))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), restval="",
                            lineterminator="\r\n")
    if history:
        writer.writeheader()
    for row in history:
        writer.writerow({k: v for k, v in row.items() if k in columns})
    lines = []
    for row in history:
        lists = {k: v for k, v in row.items() if isinstance(v, (list, tuple))}
        if lists:
            lines.append(json.dumps({"epoch": row["epoch"], **lists}) + "\n")
    return text.getvalue(), "".join(lines)


def write_metrics(directory, history: list[dict]) -> None:
    """Rewrite metrics.csv and metrics.jsonl of ``directory`` from ``history``."""
    directory = Path(directory)
    table, lists = _metrics_text(history)
    tmp_csv = storage.temporary(directory / "metrics.csv", lambda f: f.write(table), False)
    tmp_jsonl = storage.temporary(directory / "metrics.jsonl", lambda f: f.write(lists), False)
    storage.commit(tmp_csv, directory / "metrics.csv")
    storage.commit(tmp_jsonl, directory / "metrics.jsonl")
    storage.fsync_directory(directory)


def commit_epoch(directory, net) -> None:
    """Commit ``net``'s state after an epoch to the run ``directory`` (see the module)."""
    directory = Path(directory)
    ckpt, prev = directory / CHECKPOINT, directory / PREVIOUS
    arrays = checkpoint_arrays(net)
    table, lists = _metrics_text(net.history)
    tmps = []
    try:
        tmps.append(storage.temporary(ckpt, lambda f: np.savez(f, **arrays)))
        tmps.append(storage.temporary(directory / "metrics.csv", lambda f: f.write(table),
                                      False))
        tmps.append(storage.temporary(directory / "metrics.jsonl", lambda f: f.write(lists),
                                      False))
    except BaseException as err:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        if isinstance(err, StorageError):
            kept = f"the run directory keeps epoch {net.epoch - 1}" if net.epoch > 1 else \
                "no epoch is saved yet"
            out = StorageError(f"{err}; epoch {net.epoch} is not saved, {kept}")
            out.errno, out.filename = err.errno, err.filename
            raise out from err
        raise
    with storage.guarded(ckpt):
        if ckpt.exists():
            os.replace(ckpt, prev)
    for tmp, target in zip(tmps, (ckpt, directory / "metrics.csv",
                                  directory / "metrics.jsonl")):
        storage.commit(tmp, target)
    storage.fsync_directory(directory)


def load_latest(directory, net) -> dict | None:
    """Restore ``net`` from the newest readable checkpoint of ``directory``: checkpoint.npz,
    else checkpoint.prev.npz (with a warning). None when there is neither; raises
    DamagedFileError when every one there is damaged."""
    directory = Path(directory)
    ckpt, prev = directory / CHECKPOINT, directory / PREVIOUS
    damage = None
    if ckpt.exists():
        try:
            return load_checkpoint(ckpt, net)
        except DamagedFileError as err:
            damage = err
    if not prev.exists():
        if damage is not None:
            raise DamagedFileError(f"{damage}; there is no previous checkpoint "
                                   f"({prev.name}) to fall back to") from damage
        return None
    try:
        epoch = read_checkpoint(prev)[0]["epoch"]
    except DamagedFileError as err:
        first = f"{damage}; " if damage else f"{ckpt} is missing; "
        raise DamagedFileError(f"{first}the previous one is damaged too: {err}") from err
    why = f"{damage}" if damage else f"{ckpt} is missing"
    logger.warning("%s; the previous one is %s (epoch %d): continuing from it", why, prev,
                   epoch)
    return load_checkpoint(prev, net)


def recorded_epochs(directory) -> int:
    """Rows in the run's metrics.csv (0 when there is none)."""
    path = Path(directory) / "metrics.csv"
    if not path.exists():
        return 0
    with storage.guarded(path, "read"), open(path, newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def resume(directory, net, write: bool = True) -> dict | None:
    """Continue the run in ``directory``: restore ``net`` from its newest readable
    checkpoint and (with ``write``: the process that writes the run) rewrite the metrics
    from the checkpoint's history (rows past its epoch go). None when the run has no
    epochs yet; a ConfigError when it has epochs but no checkpoint."""
    meta = load_latest(directory, net)
    if meta is None:
        rows = recorded_epochs(directory)
        if rows:
            raise ConfigError(f"cannot resume {directory}: metrics.csv records {rows} "
                              f"epoch(s) but there is no {CHECKPOINT} (nor {PREVIOUS}); "
                              f"start a new run with another --out")
        return None
    if write:
        write_metrics(directory, net.history)
    return meta


class RunJournal(Callback):
    """Commit the run to ``directory`` at the end of every epoch (:func:`commit_epoch`)."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def on_epoch_end(self, net, epoch, metrics):
        commit_epoch(self.directory, net)
