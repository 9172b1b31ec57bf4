"""Figures of training runs (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["plot_learning_curve", "plot_learning_curves"]


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
