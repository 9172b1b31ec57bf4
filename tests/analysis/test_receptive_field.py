"""Receptive fields on hand-built networks with known answers, dense and graph forms."""
import numpy as np
import pytest

from delayprop.analysis import receptive_field, receptive_fields_from_graph
from delayprop.errors import ConfigError, DataError
from delayprop.graph import NetworkGraph, NeuronGroup, Projection

# Tiny network: 2 inputs, 2 hidden, 1 output; D_ih = 3, D_ho = 2 -> 4 columns.
#   input 0 -> hidden 0: w = +0.7, d = 1      hidden 0 -> output: w = +0.5, d = 0
#   input 1 -> hidden 0: w = -0.3, d = 0      hidden 1 -> output: w = -1.5, d = 1
#   input 0 -> hidden 1: w = -2.0, d = 2
# Hidden 0's panel: +1 at (0, 1), -1 at (1, 0); times 0.5, no shift.
# Hidden 1's panel: -1 at (0, 2); times -1.5 = +1.5, shifted by 1 -> (0, 3).
W_IH = np.array([[0.7, -2.0], [-0.3, 0.0]])
D_IH = np.array([[1, 2], [0, 0]])
W_HO = np.array([[0.5], [-1.5]])
D_HO = np.array([[0], [1]])
EXPECTED = np.array([[0.0, 0.5, 0.0, 1.5],
                     [-0.5, 0.0, 0.0, 0.0]])


def test_hand_built_network():
    rf = receptive_field(W_IH, D_IH, W_HO, D_HO, 0, max_delay_ih=3, max_delay_ho=2)
    np.testing.assert_array_equal(rf, EXPECTED)


def test_default_width_is_largest_delay_plus_one():
    # Largest delays 2 and 1 -> D_ih = 3, D_ho = 2: the same 4 columns.
    np.testing.assert_array_equal(receptive_field(W_IH, D_IH, W_HO, D_HO, 0), EXPECTED)
    # A wider ring only pads zeros on the right.
    wide = receptive_field(W_IH, D_IH, W_HO, D_HO, 0, max_delay_ih=5, max_delay_ho=3)
    assert wide.shape == (2, 7)
    np.testing.assert_array_equal(wide[:, :4], EXPECTED)
    assert not wide[:, 4:].any()


def test_only_the_sign_of_input_weights_counts_and_paths_add_up():
    # Two hidden neurons reach the same cell (input 0, t = 2): 1 * 0.25 + 1 * 0.5;
    # magnitudes of input weights (3.0, 0.01) do not matter.
    w_ih = np.array([[3.0, 0.01]])
    d_ih = np.array([[2, 1]])
    w_ho = np.array([[0.25, 1.0], [0.5, -1.0]])
    d_ho = np.array([[0, 0], [1, 3]])
    rf = receptive_field(w_ih, d_ih, w_ho, d_ho, None)
    assert rf.shape == (2, 1, 3 + 4 - 1)
    np.testing.assert_allclose(rf[0], [[0, 0, 0.75, 0, 0, 0]])
    # Output 1: hidden 0 gives +1 at t = 2, hidden 1 gives -1 at t = 1 + 3 = 4.
    np.testing.assert_allclose(rf[1], [[0, 0, 1.0, 0, -1.0, 0]])


def test_mask_removes_synapses_and_none_means_zero_delay():
    mask = np.array([[True, False], [True, True]])   # drop input 0 -> hidden 1
    rf = receptive_field(W_IH, D_IH, W_HO, None, 0, mask_ih=mask)
    # d_ho = 0 for all; only hidden 0 contributes: +0.5 at (0, 1), -0.5 at (1, 0).
    np.testing.assert_array_equal(rf, [[0.0, 0.5], [-0.5, 0.0]])


def test_float_delays_that_are_whole_are_accepted():
    rf = receptive_field(W_IH, D_IH.astype(float), W_HO, D_HO.astype(float), 0)
    np.testing.assert_array_equal(rf, EXPECTED)


def test_random_network_matches_direct_loop():
    rng = np.random.default_rng(0)
    c, h, o, d1, d2 = 5, 7, 3, 6, 4
    w_ih = rng.normal(size=(c, h)) * (rng.random((c, h)) < 0.5)
    d_ih = rng.integers(0, d1, size=(c, h))
    w_ho = rng.normal(size=(h, o))
    d_ho = rng.integers(0, d2, size=(h, o))
    expected = np.zeros((o, c, d1 + d2 - 1))
    for i, j, k in np.ndindex(c, h, o):
        if w_ih[i, j] != 0:
            expected[k, i, d_ih[i, j] + d_ho[j, k]] += np.sign(w_ih[i, j]) * w_ho[j, k]
    got = receptive_field(w_ih, d_ih, w_ho, d_ho, None, max_delay_ih=d1, max_delay_ho=d2)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    np.testing.assert_allclose(receptive_field(w_ih, d_ih, w_ho, d_ho, 2, max_delay_ih=d1,
                                               max_delay_ho=d2), expected[2], atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(d_ih=np.array([[1.5, 2], [0, 0]])), r"delays must be whole steps, got 1.5"),
    (dict(d_ih=np.array([[-1, 2], [0, 0]])), r"delays must be >= 0 steps, got -1"),
    (dict(d_ih=np.array([[np.nan, 2], [0, 0]])), "must be finite"),
    (dict(d_ih=np.zeros((3, 2))), r"delays have shape \(3, 2\), weights \(2, 2\)"),
    (dict(w_ih=np.ones(4), d_ih=np.ones(4)), r"must be a 2-D \[pre, post\] array"),
    (dict(w_ho=np.ones((3, 1)), d_ho=None), "w_ho has 3 rows but w_ih has 2 columns"),
    (dict(w_ho=np.array([[np.inf], [1.0]])), "weights of existing synapses must be finite"),
    (dict(output=1), r"output must be an index in \[0, 1\), got 1"),
    (dict(max_delay_ih=2), r"max_delay must be a whole number >= 3 .* got 2"),
])
def test_bad_dense_inputs(kwargs, match):
    args = dict(w_ih=W_IH, d_ih=D_IH, w_ho=W_HO, d_ho=D_HO, output=0)
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        receptive_field(**args)


def test_masked_synapses_may_hold_any_delay():
    d_ih = D_IH.astype(float)
    d_ih[1, 1] = np.nan                       # absent synapse (weight 0): ignored
    np.testing.assert_array_equal(receptive_field(W_IH, d_ih, W_HO, D_HO, 0), EXPECTED)


# --- from a NetworkGraph ------------------------------------------------------------------

def _graph(w_ih=W_IH, w_ho=W_HO, names=("input", "hidden", "output")):
    inp, hid, out = names
    pops = (NeuronGroup(inp, 2, "graded_input"),
            NeuronGroup(hid, 2, "lif", tau_mem=20.0, v_thresh=1.0),
            NeuronGroup(out, 1, "li", tau_mem=20.0))
    pre, post = np.nonzero(w_ih != 0)
    ih = Projection("ih", inp, hid, pre, post, w_ih[pre, post], D_IH[pre, post],
                    max_delay=3, tau_syn=5.0)
    pre2, post2 = np.nonzero(np.ones_like(w_ho, dtype=bool))
    ho = Projection("ho", hid, out, pre2, post2, w_ho[pre2, post2], D_HO[pre2, post2],
                    max_delay=2, tau_syn=5.0)
    return NetworkGraph(pops, (ih, ho))


def test_graph_matches_hand_built_answer():
    rf = receptive_fields_from_graph(_graph())
    assert rf.shape == (1, 2, 4)
    np.testing.assert_array_equal(rf[0], EXPECTED)


def test_graph_pools_projections_and_ignores_others():
    g = _graph()
    extra = Projection("ih2", "input", "hidden", [1], [1], [4.0], [2], max_delay=5,
                       tau_syn=5.0)                     # +1 at (1, 2), times -1.5, shift 1
    recurrent = Projection("hh", "hidden", "hidden", [0], [1], [9.0], [0], max_delay=1,
                           tau_syn=5.0)
    g = NetworkGraph(g.populations, g.projections + (extra, recurrent))
    rf = receptive_fields_from_graph(g)
    assert rf.shape == (1, 2, 5 + 2 - 1)                 # the larger ring, D_ih = 5
    expected = np.zeros((2, 6))
    expected[:, :4] = EXPECTED
    expected[1, 3] += -1.5
    np.testing.assert_array_equal(rf[0], expected)


def test_graph_with_other_population_names():
    g = _graph(names=("mel", "lif", "readout"))
    np.testing.assert_array_equal(
        receptive_fields_from_graph(g, input="mel", hidden="lif", output="readout")[0],
        EXPECTED)


def test_graph_missing_population():
    with pytest.raises(DataError, match=r"no hidden population 'hid'; its populations are"):
        receptive_fields_from_graph(_graph(), hidden="hid")


def test_graph_missing_projection():
    g = _graph()
    g = NetworkGraph(g.populations, g.projections[:1])
    with pytest.raises(DataError, match=r"no projection from 'hidden' to 'output'; it has "
                                        r"\['input->hidden'\]"):
        receptive_fields_from_graph(g)


def test_graph_without_synapses():
    with pytest.raises(DataError, match="'hidden' to 'output' hold no synapses"):
        receptive_fields_from_graph(_graph(w_ho=np.zeros((2, 1))))
