"""``delayprop demo``: a small delayed network, simulated, summarised and plotted.

30 spike sources -> 50 LIF (SPARSE, dendritic delays 0..19 steps, plus recurrent SPARSE
connections) -> 10 LIF (DENSE, delays 0..7); four batch instances with different inputs;
200 steps of 1 ms, whole runs inside the generated C++.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from delayprop.graph import NetworkGraph, NeuronGroup, Projection

__all__ = ["demo_graph", "run_demo"]

logger = logging.getLogger(__name__)


def demo_graph(seed: int = 0) -> NetworkGraph:
    rng = np.random.default_rng(seed)
    pre, post = np.nonzero(rng.random((30, 50)) < 0.3)
    hh_pre, hh_post = np.nonzero((rng.random((50, 50)) < 0.1) & ~np.eye(50, dtype=bool))
    ho_pre, ho_post = (a.ravel() for a in np.meshgrid(np.arange(50), np.arange(10),
                                                      indexing="ij"))
    return NetworkGraph(
        (NeuronGroup("input", 30, "spike_source"),
         NeuronGroup("hidden", 50, "lif", tau_mem=20.0, v_thresh=1.0),
         NeuronGroup("output", 10, "lif", tau_mem=15.0, v_thresh=1.0)),
        (Projection("input_hidden", "input", "hidden", pre, post,
                    rng.normal(1.0, 0.3, len(pre)), rng.integers(0, 20, len(pre)), 20, 5.0),
         Projection("hidden_output", "hidden", "output", ho_pre, ho_post,
                    rng.normal(0.3, 0.4, 500), rng.integers(0, 8, 500), 8, 3.0),
         Projection("hidden_hidden", "hidden", "hidden", hh_pre, hh_post,
                    rng.normal(0.0, 0.3, len(hh_pre)), rng.integers(0, 5, len(hh_pre)), 5,
                    5.0)))


def run_demo(out_dir="results", batch: int = 4, steps: int = 200, seed: int = 0) -> dict:
    from delayprop.compile.graph_model import simulate_graph
    graph = demo_graph(seed)
    rng = np.random.default_rng(seed + 1)
    inputs = {"input": [np.nonzero(rng.random((150, 30)) < 0.01 * (b + 2)) for b in
                        range(batch)]}
    t0 = time.perf_counter()
    result = simulate_graph(graph, inputs, steps, precision="double")
    seconds = time.perf_counter() - t0
    summary = {"steps": steps, "batch": batch, "seconds_incl_build": round(seconds, 3)}
    for pop in ("hidden", "output"):
        counts = [len(s) for s, _ in result.spikes[pop]]
        summary[f"{pop}_spikes_per_instance"] = counts
    path = Path(out_dir) / "demo_raster.png"
    _raster(graph, inputs, result, path)
    summary["raster"] = str(path)
    return summary


def _raster(graph, inputs, result, path: Path) -> None:
    from matplotlib.figure import Figure
    batch = len(inputs["input"])
    fig = Figure(figsize=(10, 2.2 * batch), layout="constrained")
    axes = fig.subplots(batch, 1, sharex=True, squeeze=False)[:, 0]
    offset = {"input": 0, "hidden": 30, "output": 80}
    colours = {"input": "0.5", "hidden": "C0", "output": "C3"}
    for b, ax in enumerate(axes):
        steps, ids = inputs["input"][b]
        ax.scatter(steps, ids, s=3, c=colours["input"], label="input")
        for pop in ("hidden", "output"):
            steps, ids = result.spikes[pop][b]
            ax.scatter(steps, ids + offset[pop], s=3, c=colours[pop], label=pop)
        ax.set_ylabel(f"instance {b}\nneuron")
    axes[0].legend(loc="upper right", fontsize="small", markerscale=3)
    axes[-1].set_xlabel("step (1 ms)")
    fig.suptitle("delayprop demo: spike rasters (input 0-29, hidden 30-79, output 80-89)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
