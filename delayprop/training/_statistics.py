"""What a compiled training network reports (part of CompiledTrainingNetwork): the
connections' values in synapse order, the network as a NetworkGraph, and the per-epoch
statistics of learned delays."""
from __future__ import annotations

import numpy as np

from delayprop.compile import handles

__all__ = ["Statistics"]


class Statistics:
    """Export and delay statistics; uses ``network``, ``model``, ``delays``,
    ``learned_delays`` and ``compiler`` of the network."""

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
