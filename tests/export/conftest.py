"""Networks shared by the export tests: the GeNN fixture network and small hand-made ones."""
from pathlib import Path

import numpy as np
import pytest

from delayprop.graph import NetworkGraph, NeuronGroup, Projection

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "genn_forward.npz"


@pytest.fixture(scope="session")
def genn_data():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="session")
def genn_net(genn_data) -> NetworkGraph:
    """The GeNN oracle's 30 -> 50 (recurrent) -> 10 network (all LIF, delays up to 19)."""
    d = genn_data

    def lif(name):
        return NeuronGroup(name, int(d[f"n_{name}"]), "lif", tau_mem=float(d[f"{name}_tau_mem"]),
                           v_thresh=float(d[f"{name}_v_thresh"]),
                           v_reset=float(d[f"{name}_v_reset"]))

    def sparse(tag, src, tgt):
        return Projection(tag, src, tgt, d[f"{tag}_pre"], d[f"{tag}_post"], d[f"{tag}_g"],
                          d[f"{tag}_d"], int(d[f"{tag}_max_delay"]), float(d[f"{tag}_tau_syn"]))

    pre, post = np.nonzero(np.ones_like(d["ho_g"], dtype=bool))
    dense = Projection("ho", "hidden", "output", pre, post, d["ho_g"][pre, post],
                       d["ho_d"][pre, post], int(d["ho_max_delay"]), float(d["ho_tau_syn"]))
    pops = [NeuronGroup("input", int(d["n_input"]), "spike_source"), lif("hidden"), lif("output")]
    return NetworkGraph(pops, [sparse("ih", "input", "hidden"), dense,
                               sparse("hh", "hidden", "hidden")])


@pytest.fixture(scope="session")
def genn_inputs(genn_data):
    """GeNN's input plus two jittered copies (batch 3)."""
    d = genn_data
    rng = np.random.default_rng(7)
    out = [(d["input_spike_step"].astype(int), d["input_spike_id"].astype(int))]
    for _ in range(2):
        s = np.clip(d["input_spike_step"] + rng.integers(-3, 4, len(d["input_spike_step"])), 0, 199)
        key = np.unique(s * 30 + d["input_spike_id"])
        out.append((key // 30, key % 30))
    return {"input": out}


from exporthelpers import tiny  # noqa: E402,F401  (older imports)
