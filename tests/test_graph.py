import numpy as np
import pytest

from delayprop.errors import ConfigError
from delayprop.graph import NetworkGraph, NeuronGroup, Projection


def _proj(**kw):
    args = dict(name="ih", source="in", target="hid", pre=[0, 1], post=[1, 0],
                weight=[0.5, -0.2], delay=[0, 3], max_delay=4, tau_syn=5.0)
    args.update(kw)
    return Projection(**args)


def _pops():
    return (NeuronGroup("in", 2, "spike_source"),
            NeuronGroup("hid", 2, "lif", tau_mem=20.0, v_thresh=1.0))


def test_valid_graph_round_trips_arrays():
    g = NetworkGraph(_pops(), (_proj(),), dt=1.0)
    assert g.population("hid").kind == "lif"
    assert g.incoming("hid")[0].num_synapses == 2
    assert g.outgoing("in")[0].delay.dtype == np.int64


def test_delay_out_of_range_is_rejected():
    with pytest.raises(ConfigError, match=r"delays must lie in \[0, 3\], got \[0, 4\]"):
        _proj(delay=[0, 4])


def test_index_out_of_range_names_population():
    with pytest.raises(ConfigError, match="target index out of range"):
        NetworkGraph(_pops(), (_proj(post=[0, 2]),))


def test_unknown_population_lists_known():
    with pytest.raises(ConfigError, match="'nope' is not a population"):
        NetworkGraph(_pops(), (_proj(source="nope"),))


def test_input_cannot_be_target():
    with pytest.raises(ConfigError, match="input population"):
        NetworkGraph(_pops(), (_proj(source="hid", target="in"),))


def test_lif_needs_tau():
    with pytest.raises(ConfigError, match="tau_mem must be > 0"):
        NeuronGroup("h", 3, "lif", v_thresh=1.0)


def test_save_load_round_trip(tmp_path):
    g = NetworkGraph(_pops(), (_proj(),), dt=0.5)
    path = tmp_path / "g.npz"
    from delayprop.graph import load_graph, save_graph
    save_graph(path, g)
    back = load_graph(path)
    assert back.dt == 0.5 and back.populations == g.populations
    p, q = g.projections[0], back.projections[0]
    for key in ("pre", "post", "weight", "delay"):
        np.testing.assert_array_equal(getattr(p, key), getattr(q, key))
    assert (q.max_delay, q.tau_syn, q.source, q.target) == (4, 5.0, "in", "hid")
    assert list(tmp_path.iterdir()) == [path]          # no temporary left behind


def test_load_graph_rejects_other_npz(tmp_path):
    from delayprop.errors import DataError
    from delayprop.graph import load_graph
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(DataError, match="cannot read network graph"):
        load_graph(tmp_path / "x.npz")
