"""Figures of training runs (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["plot_learning_curve", "plot_learning_curves", "confusion_matrix", "plot_confusion"]


def plot_learning_curves(runs: dict[str, list[dict]], path, title: str = "") -> Path:
    """Loss and accuracy per epoch of several runs side by side (``{label: history}``)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    for i, (label, history) in enumerate(runs.items()):
        colour = f"C{i}"
        epochs = [h["epoch"] for h in history]
        name = f"{label} " if label else ""
        ax_loss.plot(epochs, [h["loss"] for h in history], color=colour, label=f"{name}train")
        ax_acc.plot(epochs, [h["accuracy"] for h in history], color=colour,
                    label=f"{name}train")
        if history and "val_loss" in history[0]:
            ax_loss.plot(epochs, [h["val_loss"] for h in history], color=colour, ls="--",
                         label=f"{name}test")
            ax_acc.plot(epochs, [h["val_accuracy"] for h in history], color=colour, ls="--",
                        label=f"{name}test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
    if len(runs) > 1:            # beside the axes: several runs' labels would hide curves
        ax_acc.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
        fig.set_size_inches(14, 4.5)
    else:
        ax_acc.legend(fontsize="small")
    ax_acc.grid(alpha=0.3)
    ax_loss.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def plot_learning_curve(history: list[dict], path, title: str = "") -> Path:
    """Loss and accuracy per epoch (train solid, test dashed) of one run."""
    return plot_learning_curves({"": history} if history else {}, path, title)


def confusion_matrix(labels, predicted, num_classes: int):
    """counts[true, predicted] of integer class labels."""
    import numpy as np
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (np.asarray(labels), np.asarray(predicted)), 1)
    return counts


def plot_confusion(counts, class_names, path, title: str = "") -> Path:
    """The confusion matrix as an image: each row (true class) normalised to its count,
    the count written in each cell that has any."""
    import numpy as np
    from matplotlib.figure import Figure
    counts = np.asarray(counts)
    n = len(counts)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(4.5, 0.32 * n + 2)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="share of the true class", shrink=0.8)
    for i, j in zip(*np.nonzero(counts)):
        ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=6,
                color="white" if share[i, j] > 0.5 else "black")
    names = [str(c) for c in class_names] if class_names is not None else \
        [str(i) for i in range(n)]
    ax.set_xticks(range(n), names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.set(xlabel="predicted class", ylabel="true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title((f"{title}: " if title else "") + f"accuracy {100 * accuracy:.1f} % "
                 f"({counts.sum()} samples)", fontsize="medium")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
