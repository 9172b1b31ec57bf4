"""Writers: export -> load back -> same connectivity; the PyNN script runs against pyNN.mock."""
import importlib.util
from dataclasses import replace as dataclasses_replace
import json

import nir
import numpy as np
import pytest

from exporthelpers import tiny
from delayprop.errors import DataError, ExportError
from delayprop.export import (PROFILES, quantise, read_nir, read_plain, read_pynn, write_nir,
                              write_plain, write_pynn)
from delayprop.export.pynn import steps_from_ms
from delayprop.export.targets import same_connectivity
from delayprop.graph import NetworkGraph, NeuronGroup, Projection


def synapse_set(graph, delay_to=lambda d: d):
    return sorted((p.name, int(i), int(j), float(w), float(delay_to(d)))
                  for p in graph.projections
                  for i, j, w, d in zip(p.pre, p.post, p.weight, p.delay))


def mixed_net():
    """in -> hid (lif, tau_syn 5) and hid -> hid (tau_syn 3): two synapse time constants;
    hid -> out (li); plus an empty projection and an empty population."""
    pops = [NeuronGroup("in", 3, "spike_source"),
            NeuronGroup("hid", 4, "lif", tau_mem=12.0, v_thresh=0.8, v_reset=-0.1, v_init=0.2),
            NeuronGroup("out", 2, "li", tau_mem=7.0), NeuronGroup("void", 0, "lif", tau_mem=5.0,
                                                                   v_thresh=1.0)]
    projs = [Projection("in_hid", "in", "hid", [0, 0, 1, 2], [0, 1, 1, 3], [0.5, -0.25, 0.0, 1.5],
                        [0, 3, 3, 1], 4, 5.0),
             Projection("hid_hid", "hid", "hid", [0, 1], [1, 2], [0.1, -0.2], [2, 0], 3, 3.0),
             Projection("hid_out", "hid", "out", [0, 3, 3], [0, 0, 1], [1.0, 2.0, -1.0],
                        [0, 0, 5], 6, 5.0),
             Projection("none", "in", "out", [], [], [], [], 1, 5.0),
             Projection("to_void", "hid", "void", [], [], [], [], 1, 5.0)]
    return NetworkGraph(pops, projs, dt=0.5)


def load_script(path):
    spec = importlib.util.spec_from_file_location("exported_network", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pynn_lists_round_trip_and_follow_pynn_conventions(tmp_path, genn_net):
    write_pynn(genn_net, tmp_path)
    assert same_connectivity(genn_net, read_pynn(tmp_path)) == []
    exc = np.loadtxt(tmp_path / "connections" / "ho_excitatory.txt", ndmin=2)
    inh = np.loadtxt(tmp_path / "connections" / "ho_inhibitory.txt", ndmin=2)
    ho = genn_net.projections[1]
    assert len(exc) + len(inh) == ho.num_synapses and (exc[:, 2] >= 0).all() and (inh[:, 2] < 0).all()
    # delay column = (d + 1) * dt ms
    d = dict(((int(i), int(j)), dd) for i, j, dd in zip(ho.pre, ho.post, ho.delay))
    assert all(row[3] == d[int(row[0]), int(row[1])] + 1 for row in np.vstack([exc, inh]))


def test_pynn_script_builds_the_network_in_pynn_mock(tmp_path, genn_net):
    import pyNN.mock as sim
    script = write_pynn(genn_net, tmp_path, simulator="mock", num_steps=20)
    net = load_script(script)
    spikes = {"input_steps": np.array([3, 5, 4]), "input_ids": np.array([0, 0, 2])}
    pops, projs = net.build(sim, spikes)
    assert pops["hidden"].get("tau_m") == 20.0 and pops["output"].get("tau_m") == 15.0
    assert pops["hidden"].get("v_thresh") == 1.0 and pops["hidden"].get("tau_syn_E") == 5.0
    assert pops["output"].get("tau_syn_I") == 3.0 and pops["hidden"].get("cm") == 20.0
    times = pops["input"].get("spike_times")
    assert list(times[0].value) == [3.0, 5.0] and list(times[2].value) == [4.0]
    got = sorted((name.split("/")[0], int(i), int(j), float(w), float(dl))
                 for name, prj in projs.items()
                 for i, j, w, dl in prj.get(["weight", "delay"], format="list"))
    assert got == synapse_set(genn_net, lambda d: (d + 1) * genn_net.dt)
    assert {prj.receptor_type for name, prj in projs.items() if name.endswith("inhibitory")} \
        == {"inhibitory"}
    net.main(["--simulator", "mock", "--steps", "5", "--out", str(tmp_path / "res")])
    assert (tmp_path / "res" / "hidden.pkl").is_file()


def test_pynn_empty_groups_li_readout_and_dt(tmp_path):
    import pyNN.mock as sim
    g = mixed_net()
    g = NetworkGraph(g.populations, [p for p in g.projections if p.name != "hid_hid"], dt=0.5)
    net = load_script(write_pynn(g, tmp_path, simulator="mock"))
    pops, projs = net.build(sim)
    assert "void" not in pops and pops["out"].get("v_thresh") == net.NEVER == 30000.0
    assert pops["hid"].initial_values["v"].base_value == 0.2
    assert not any(k.startswith("none") for k in projs)
    back = read_pynn(tmp_path)
    assert same_connectivity(g, back) == [] and back.projections[2].num_synapses == 0
    rows = np.loadtxt(tmp_path / "connections" / "hid_out_excitatory.txt", ndmin=2)
    assert rows[:, 3].tolist() == [0.5, 0.5]                   # (0 + 1) * 0.5 ms


def test_pynn_refusals(tmp_path):
    with pytest.raises(ExportError, match="'in' is a graded_input; PyNN has no valued events"):
        write_pynn(tiny([1.0], [0], [0], kind_in="graded_input"), tmp_path)
    with pytest.raises(ExportError, match=r"'hid' receives projections with tau_syn \[3.0, 5.0\]"):
        write_pynn(mixed_net(), tmp_path)
    with pytest.raises(DataError, match="no readable PyNN export manifest"):
        read_pynn(tmp_path / "nothing")


def test_nir_graph_has_one_linear_and_delay_per_distinct_delay(tmp_path, genn_net):
    path = write_nir(genn_net, tmp_path / "net.nir")
    g = nir.read(path)                                           # NIR's own loader
    ih = genn_net.projections[0]
    for d in np.unique(ih.delay):
        lin, dly = g.nodes[f"w:ih:d{d}"], g.nodes[f"delay:ih:d{d}"]
        sel = ih.delay == d
        assert np.count_nonzero(lin.weight) == np.count_nonzero(ih.weight[sel])
        np.testing.assert_array_equal(lin.weight[ih.post[sel], ih.pre[sel]], ih.weight[sel])
        np.testing.assert_allclose(dly.delay, (d + 1) * 1e-3, rtol=1e-15)
        assert (f"w:ih:d{d}", f"delay:ih:d{d}") in g.edges
        assert (f"delay:ih:d{d}", "pop:hidden") in g.edges
    assert isinstance(g.nodes["pop:hidden"], nir.CubaLIF)
    np.testing.assert_allclose(g.nodes["pop:hidden"].w_in, g.nodes["pop:hidden"].tau_syn)
    assert sum(k.startswith("w:ih:") for k in g.nodes) == len(np.unique(ih.delay))
    assert same_connectivity(genn_net, read_nir(path)) == []


def test_nir_mixed_time_constants_li_and_empty_groups(tmp_path):
    g = mixed_net()
    path = write_nir(g, tmp_path / "m.nir")
    h = nir.read(path)
    assert isinstance(h.nodes["syn:hid_hid"], nir.LI) and isinstance(h.nodes["pop:hid"], nir.LIF)
    out = h.nodes["pop:out"]                          # li: a CubaLIF that never fires
    assert isinstance(out, nir.CubaLIF) and np.isinf(out.v_threshold).all()
    back = read_nir(path)
    assert same_connectivity(g, back) == [] and back.dt == 0.5
    # the zero weight in in_hid survives as a synapse (from the Linear's metadata)
    assert 0.0 in back.projections[0].weight.tolist()


def test_nir_refusals_and_foreign_files(tmp_path):
    dup = tiny([1.0, 2.0], [0, 0], [1, 1])
    with pytest.raises(ExportError, match=r"same \(pre, post, delay\)"):
        write_nir(dup, tmp_path / "d.nir")
    foreign = nir.NIRGraph(nodes={"i": nir.Input(input_type={"input": np.array([2])}),
                                  "o": nir.Output(output_type={"output": np.array([2])})},
                           edges=[("i", "o")])
    nir.write(tmp_path / "f.nir", foreign)
    with pytest.raises(DataError, match="not written by delayprop"):
        read_nir(tmp_path / "f.nir")
    (tmp_path / "junk.nir").write_text("no")
    with pytest.raises(DataError, match="cannot read NIR graph"):
        read_nir(tmp_path / "junk.nir")


def test_plain_round_trip_with_ticks_and_fixed_point(tmp_path, genn_net):
    q = quantise(genn_net, PROFILES["loihi2"])
    write_plain(q.graph, tmp_path, profile=PROFILES["loihi2"], quantised=q)
    assert same_connectivity(q.graph, read_plain(tmp_path)) == []
    with np.load(tmp_path / "connectivity.npz") as f:
        np.testing.assert_array_equal(f["ih/delay_ticks"], genn_net.projections[0].delay)
        np.testing.assert_array_equal(f["ih/mantissa"] * 2.0 ** f["ih/exponent"], f["ih/weight"])
        assert f["ih/mantissa"].max() <= 127 and f["ih/mantissa"].min() >= -128
    meta = json.loads((tmp_path / "connectivity.json").read_text())
    assert meta["projections"][0]["exponents"] == [-6]
    write_plain(mixed_net(), tmp_path / "m")
    assert same_connectivity(mixed_net(), read_plain(tmp_path / "m")) == []
    with pytest.raises(DataError, match="cannot read connectivity"):
        read_plain(tmp_path / "none")


def test_delays_from_ms_round_never_truncate():
    assert steps_from_ms([2.9999999999, 1.0], 1.0).tolist() == [2, 0]
    assert steps_from_ms([0.3], 0.1, offset=0).tolist() == [3]   # 0.3 / 0.1 = 2.9999999999999996
    with pytest.raises(DataError, match="not a whole number of 1.0 ms ticks"):
        steps_from_ms([2.5], 1.0, where="x")


def test_fully_pruned_network_exports_and_loads_back(tmp_path, genn_net):
    from delayprop.export import constrain
    prof = dataclasses_replace(PROFILES["loihi2"], max_fan_in=0)
    empty = constrain(genn_net, prof, fan_in="prune").graph
    assert sum(p.num_synapses for p in empty.projections) == 0
    assert same_connectivity(empty, read_nir(write_nir(empty, tmp_path / "e.nir"))) == []
    write_pynn(empty, tmp_path / "pynn")
    assert same_connectivity(empty, read_pynn(tmp_path / "pynn")) == []
    write_plain(empty, tmp_path / "plain")
    assert same_connectivity(empty, read_plain(tmp_path / "plain")) == []
