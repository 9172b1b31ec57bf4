"""Plot one sample of a split: a spectrogram image (dense) or a spike raster (events)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from delayprop.data._split import Split
from delayprop.errors import ConfigError

__all__ = ["plot_sample"]


def plot_sample(split: Split, index: int, out: str | os.PathLike[str]) -> Path:
    """Save sample ``index`` of ``split`` as an image titled with its label.

    Parameters
    ----------
    split : Split
    index : int
        Sample index, ``-len(split) <= index < len(split)``.
    out : path-like
        Image file to write (format from the suffix, e.g. ``.png``, ``.pdf``).

    Returns
    -------
    Path
        ``out``.
    """
    from matplotlib.figure import Figure   # deferred: matplotlib is slow to import

    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or \
            not -len(split) <= index < len(split):
        raise ConfigError(f"{split.name}: index must be a whole number in "
                          f"[0, {len(split)}), got {index!r}")
    x, label = split[int(index)]
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    if split.is_events:
        ax.scatter(x["t"], x["x"], s=1, c="k", marker="|")
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("input channel")
        ax.set_ylim(-0.5, split.num_channels - 0.5)
    else:
        image = ax.imshow(np.asarray(x, dtype=np.float32).T, origin="lower", aspect="auto",
                          interpolation="nearest", cmap="magma")
        unit = f" ({split.dt:.2f} ms each)" if split.dt else ""
        ax.set_xlabel(f"step{unit}")
        ax.set_ylabel("mel channel" if split.name.startswith("rawhd") else "input channel")
        fig.colorbar(image, ax=ax, label="input value")
    sample = split.sample_ids[int(index)] if split.sample_ids else f"#{index}"
    ax.set_title(f"{split.name} [{int(index)}] {sample}\nlabel {label}: "
                 f"{split.class_names[label]}", fontsize=10)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
