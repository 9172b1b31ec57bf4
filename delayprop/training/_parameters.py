"""Trained parameters of a compiled training network (part of CompiledTrainingNetwork).

Weights live in the arrays the compiled code reads (``g``) and are stepped in place.
Learned delays are real numbers kept here (``delays``, in the compiled layout); the code
reads them clamped to [0, D - 1] and rounded (``d``, see :meth:`Parameters.upload_delays`).
Each parameter has its optimiser state (``opt_state['<conn>.g' | '<conn>.d']``); rewired
connections are optimised as theta by their RewiredConnection instead.
"""
from __future__ import annotations

import numpy as np

from delayprop.compile import handles

__all__ = ["Parameters"]


class Parameters:
    """Weights, real-valued delays, gradients and optimiser steps.

    Uses ``compiler``, ``network``, ``model``, ``runtime``, ``learned_delays``,
    ``rewired`` and ``step`` / ``total_steps`` of the network; ``_backward`` comes from
    :class:`~delayprop.training._batches.BatchLoop`.
    """

    delays: dict[str, np.ndarray]
    opt_state: dict[str, dict]

    def _init_delays(self, initial: dict) -> None:
        # learned delays are real numbers; the compiled code reads them rounded (var d)
        self.delays = {}
        for conn in self.network.connections:
            if handles.DELAY in initial[conn.name]:
                self.delays[conn.name] = self.to_layout(conn.name,
                                                        initial[conn.name][handles.DELAY])

    def _init_optimisers(self, rewired: set) -> None:
        self.opt_state = {}
        for conn in self.network.connections:
            if conn.name in rewired:
                continue                       # optimised as theta by its RewiredConnection
            self.opt_state[f"{conn.name}.g"] = self.compiler.optimiser.init_state(
                self.param(conn.name, "g"))
            if conn.name in self.learned_delays:
                self.opt_state[f"{conn.name}.d"] = self.compiler.delay_optimiser.init_state(
                    self.param(conn.name, "d"))

    # ------------------------------------------------------------------ arrays
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

    # ------------------------------------------------------------------ learning
    def _gradients(self, n: int, counts, mean: bool = True,
                   count_mean=None) -> dict[str, np.ndarray]:
        """Backward pass of the last forward: gradients ``{'<conn>.g'|'<conn>.d': ...}`` in
        the layout of the parameter arrays, the mean over the ``n`` instances (or with
        ``mean=False`` their sum, to be summed over ranks; zeros when ``n`` is 0)."""
        rt = self.runtime
        if n:
            self._backward(n, counts, count_mean)
        grads = {}
        for conn in self.network.connections:
            parts = [(f"{conn.name}.g", rt.gradient(conn.name))]
            if conn.name in self.learned_delays:
                parts.append((f"{conn.name}.d", rt.delay_gradient(conn.name)))
            for key, per_thread in parts:
                total = per_thread.sum(axis=0) if n else np.zeros(per_thread.shape[1:])
                grads[key] = total / n if mean else total
        return grads

    def _apply(self, grads: dict[str, np.ndarray]) -> None:
        """One optimiser step on every parameter; delays clamped to [0, D - 1]."""
        # a blow-up is the guard's to report (it names the array, the batch and what to
        # change); numpy's own overflow warnings would only print above that message
        with np.errstate(over="ignore", invalid="ignore"):
            self._apply_steps(grads)
        self.step += 1

    def _apply_steps(self, grads: dict[str, np.ndarray]) -> None:
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
