"""validate_export: exported-then-reloaded networks re-simulated in Brian2 against the original."""
import dataclasses

import numpy as np
import pytest

from exporthelpers import tiny
from delayprop.errors import ConfigError, DataError, ExportError
from delayprop.export import constrain, read_nir, read_pynn, validate_export, write_nir, write_pynn
from delayprop.export.validate import spike_agreement
from delayprop.graph import NetworkGraph, NeuronGroup, Projection


def test_unquantised_exports_reproduce_spikes_exactly(tmp_path, genn_net, genn_inputs, genn_data):
    write_pynn(genn_net, tmp_path / "pynn")
    write_nir(genn_net, tmp_path / "net.nir")
    for back in (read_pynn(tmp_path / "pynn"), read_nir(tmp_path / "net.nir")):
        rep = validate_export(genn_net, back, genn_inputs, 200)
        assert rep.identical and rep.max_abs_dv_readout < 1e-12
        # instance 0 is GeNN's own input: 180 hidden and 41 output spikes there (fixture)
        assert rep.populations["hidden"].spikes_original > len(genn_data["hidden_spike_step"])
        assert rep.prediction_agreement == 1.0


def test_graded_network_round_trip_through_nir(tmp_path):
    rng = np.random.default_rng(3)
    pops = [NeuronGroup("mel", 6, "graded_input"),
            NeuronGroup("hid", 8, "lif", tau_mem=20.0, v_thresh=1.0),
            NeuronGroup("output", 3, "li", tau_mem=20.0)]
    pre, post = np.nonzero(rng.random((6, 8)) < 0.6)
    h_pre, h_post = np.nonzero(np.ones((8, 3), bool))
    projs = [Projection("mh", "mel", "hid", pre, post, rng.normal(0.8, 0.4, len(pre)),
                        rng.integers(0, 10, len(pre)), 10, 5.0),
             Projection("ho", "hid", "output", h_pre, h_post, rng.normal(0, 1, 24),
                        rng.integers(0, 4, 24), 4, 5.0)]
    g = NetworkGraph(pops, projs)
    x = rng.random((2, 60, 6)) * (rng.random((2, 60, 6)) < 0.4)
    rep = validate_export(g, read_nir(write_nir(g, tmp_path / "g.nir")), {"mel": x}, 60,
                          labels=np.array([0, 2]))
    assert rep.identical and rep.populations["hid"].spikes_original > 0
    assert rep.accuracy_original == rep.accuracy_exported


def test_quantised_export_reports_agreement_and_accuracy(tmp_path, genn_net, genn_inputs):
    q = constrain(genn_net, "loihi2").graph
    back = read_nir(write_nir(q, tmp_path / "q.nir"))
    rep = validate_export(genn_net, back, genn_inputs, 200, labels=np.array([1, 7, 8]))
    hid = rep.populations["hidden"]
    assert not rep.identical and 0.5 < hid.agreement < 1.0
    assert hid.agreement == pytest.approx(2 * hid.matched / (hid.spikes_original + hid.spikes_exported))
    assert rep.accuracy_original is not None and "accuracy: original" in rep.summary()


def test_spike_agreement_by_hand():
    a = [(np.array([1, 2, 5]), np.array([0, 1, 0])), (np.array([3]), np.array([2]))]
    b = [(np.array([1, 2]), np.array([0, 0])), (np.array([3]), np.array([2]))]
    agr = spike_agreement("x", a, b)
    assert (agr.spikes_original, agr.spikes_exported, agr.matched) == (4, 3, 2)
    assert agr.agreement == pytest.approx(4 / 7) and not agr.identical
    assert spike_agreement("y", [(np.zeros(0, int),) * 2], [(np.zeros(0, int),) * 2]).agreement == 1.0


def test_readout_class_and_accuracy_by_hand():
    """Input 0 drives readout neuron 0, input 1 neuron 1; instance b spikes input b."""
    g = tiny([1.0, 1.0], [0, 1], [0, 0], pres=[0, 1], n_pre=2, out_kind="li")
    g = NetworkGraph([dataclasses.replace(g.populations[0]),
                      dataclasses.replace(g.populations[1], name="output")],
                     [dataclasses.replace(g.projections[0], target="output")])
    inputs = {"in": [([2], [0]), ([2], [1])]}
    rep = validate_export(g, g, inputs, 10, labels=np.array([0, 0]))
    assert rep.predicted_original.tolist() == [0, 1]
    assert rep.accuracy_original == rep.accuracy_exported == 0.5


def test_validation_errors(genn_net, genn_inputs):
    other = NetworkGraph(genn_net.populations[:2], genn_net.projections[:1])
    with pytest.raises(ExportError, match="populations .* differ"):
        validate_export(genn_net, other, genn_inputs, 200)
    with pytest.raises(ExportError, match="dt 0.5 ms differs"):
        validate_export(genn_net, dataclasses.replace(genn_net, dt=0.5), genn_inputs, 200)
    with pytest.raises(ConfigError, match="readout 'input' is not a lif/li population"):
        validate_export(genn_net, genn_net, genn_inputs, 200, readout="input")
    with pytest.raises(DataError, match="labels must be 3 integers"):
        validate_export(genn_net, genn_net, genn_inputs, 200, labels=np.array([1, 2]))
    with pytest.raises(DataError, match=r"labels must lie in \[0, 10\)"):
        validate_export(genn_net, genn_net, genn_inputs, 200, labels=np.array([1, 2, 10]))
    with pytest.raises(ConfigError, match="labels were given but readout=None"):
        validate_export(genn_net, genn_net, genn_inputs, 200, labels=np.array([1, 2, 3]),
                        readout=None)
