"""Small graphs for the export tests (a module of its own: every test folder has a
conftest, so `from conftest import ...` is ambiguous)."""
import numpy as np

from delayprop.graph import NetworkGraph, NeuronGroup, Projection


def tiny(weights, posts, delays, pres=None, n_pre=3, n_post=2, kind_in="spike_source",
         out_kind="lif", tau_syn=5.0, max_delay=None):
    """in (n_pre) -> out (n_post), one projection 'p'."""
    n = len(weights)
    pres = np.zeros(n, int) if pres is None else pres
    out_kw = dict(tau_mem=10.0, v_thresh=1.0) if out_kind == "lif" else dict(tau_mem=10.0)
    pops = [NeuronGroup("in", n_pre, kind_in), NeuronGroup("out", n_post, out_kind, **out_kw)]
    proj = Projection("p", "in", "out", pres, posts, weights, delays,
                      max_delay or (max(delays, default=0) + 1), tau_syn)
    return NetworkGraph(pops, [proj])
