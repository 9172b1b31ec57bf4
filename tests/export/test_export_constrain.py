"""constrain(): quantisation (hand-worked exponents, brute-force optimality), pruning, refusal."""
import dataclasses

import numpy as np
import pytest

from exporthelpers import tiny
from delayprop.errors import ConfigError, ExportError
from delayprop.export import PROFILES, constrain, quantise
from delayprop.export.quantise import choose_exponent


def brute_force_exponent(w, lo, hi):
    """The exponent with the smallest max rounding error among those that do not overflow."""
    best = None
    for e in range(-60, 20):
        m = np.rint(w / 2.0 ** e)
        if m.min() < lo or m.max() > hi:
            continue
        err = np.abs(m * 2.0 ** e - w).max()
        if best is None or err < best[1]:
            best = (e, err)
    return best[0]


@pytest.mark.parametrize("seed", range(5))
def test_exponent_minimises_error_like_a_brute_force_search(seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 10.0 ** rng.uniform(-4, 2), 50)
    assert choose_exponent(w, -128, 127) == brute_force_exponent(w, -128, 127)
    assert choose_exponent(np.abs(w), 0, 65535) == brute_force_exponent(np.abs(w), 0, 65535)
    assert choose_exponent(np.array([-1.0]), -128, 127) == -7       # -128 * 2^-7 fits exactly


def test_negative_weight_in_an_unsigned_group_is_an_export_error():
    with pytest.raises(ExportError, match=r"weight of -0.5 in a group of unsigned magnitudes "
                                          r"\(stored range \[0, 255\]\)") as err:
        choose_exponent(np.array([1.0, -0.5]), 0, 255)
    assert isinstance(err.value, ValueError)                # still a ValueError for callers


def test_spinnaker_shift_per_population_and_receptor_by_hand():
    g = tiny([3.0, 1e-6, 0.5, -0.25], [0, 0, 1, 1], [0, 0, 0, 0], pres=[0, 1, 2, 0])
    q = quantise(g, PROFILES["spinnaker"])
    groups = {gr.name: gr for gr in q.groups}
    # excitatory: 3 / 65535 -> 2^-14 (3 * 2^14 = 49152 <= 65535 < 98304)
    # inhibitory: 0.25 / 65535 -> 2^-17 (0.25 * 2^17 = 32768; 2^-18 would need 65536)
    assert groups["out/excitatory"].exponent == -14 and groups["out/inhibitory"].exponent == -17
    assert groups["out/excitatory"].zeroed == 1            # 1e-6 < 2^-15
    w = q.graph.projections[0].weight
    assert w.tolist() == [3.0, 0.0, 0.5, -0.25]
    assert q.mantissa["p"].tolist() == [49152, 0, 8192, 32768]


def test_loihi_exponent_per_projection_by_hand():
    g = tiny([1.0, -0.3, 0.01], [0, 1, 1], [0, 0, 0])
    q = quantise(g, PROFILES["loihi2"])
    (gr,) = q.groups
    assert gr.exponent == -6                                 # 1.0 * 2^6 = 64; 2^-7 -> 128
    assert q.mantissa["p"].tolist() == [64, -19, 1]          # rint(-19.2), rint(0.64)
    assert q.graph.projections[0].weight.tolist() == [1.0, -19 / 64, 1 / 64]
    assert gr.max_abs_error == pytest.approx(0.36 / 64)       # 0.01 -> 1/64


def fan_graph():
    # neuron 0 gets 5 inputs (|w| 0.5 0.1 0.3 0.2 0.4), neuron 1 gets 2
    return tiny([0.5, -0.1, 0.3, 0.2, -0.4, 0.05, 0.06], [0, 0, 0, 0, 0, 1, 1], [0] * 7,
                pres=[0, 1, 2, 3, 4, 0, 1], n_pre=5)


def test_prune_fan_in_drops_smallest_magnitudes():
    prof = dataclasses.replace(PROFILES["loihi2"], max_fan_in=3, weight_bits=None)
    c = constrain(fan_graph(), prof, fan_in="prune")
    p = c.graph.projections[0]
    kept = sorted(zip(p.post.tolist(), p.weight.tolist()))
    assert kept == [(0, -0.4), (0, 0.3), (0, 0.5), (1, 0.05), (1, 0.06)]
    assert c.report.pruned_fan_in == {"out": 2} and c.report.max_fan_in_after == {"out": 3}
    assert c.report.synapses_before == 7 and c.report.synapses_after == 5


def test_refuse_fan_in_lists_offenders():
    prof = dataclasses.replace(PROFILES["loihi2"], max_fan_in=3)
    with pytest.raises(ExportError, match=r"(?s)fan_in='refuse'.*neuron 0: 5 \(over by 2\)"):
        constrain(fan_graph(), prof)


def test_prune_rows_and_fully_pruned_group():
    prof = dataclasses.replace(PROFILES["spinnaker"], max_row_length=2)
    g = tiny([0.1, 0.4, 0.2, 0.3], [0, 1, 2, 3], [0] * 4, n_post=4)
    c = constrain(g, prof, rows="prune")
    assert sorted(c.graph.projections[0].weight.tolist()) == pytest.approx([0.3, 0.4], abs=2 ** -17)
    assert c.report.pruned_rows == {"p": 2}
    with pytest.raises(ExportError, match=r"(?s)rows='refuse'.*pre 0 -> core 0 \(exc\): 4"):
        constrain(g, prof)
    none = constrain(g, dataclasses.replace(prof, max_fan_in=0), fan_in="prune")
    assert none.graph.projections[0].num_synapses == 0 and none.report.synapses_after == 0
    assert none.report.scale_groups == [] and "0 small weight" in none.report.summary()


def test_unfixable_violations_are_refused():
    with pytest.raises(ExportError, match=r"(?s)'spinnaker'.*17 \(over by 1\).*never clipped"):
        constrain(tiny([1.0], [0], [16]), "spinnaker")
    with pytest.raises(ExportError, match="graded input"):
        constrain(tiny([1.0], [0], [0], kind_in="graded_input"), "spinnaker")
    with pytest.raises(ConfigError, match="fan_in must be one of"):
        constrain(tiny([1.0], [0], [0]), "spinnaker", fan_in="drop")
    with pytest.raises(ConfigError, match="without num_steps"):
        constrain(tiny([1.0], [0], [0]), "spinnaker", inputs={"in": [([], [])]})


def test_constrain_with_data_reports_accuracy_before_and_after(genn_net, genn_inputs):
    labels = np.array([1, 7, 8])
    c = constrain(genn_net, "loihi2", inputs=genn_inputs, num_steps=200, labels=labels)
    v = c.report.validation
    assert v.batch_size == 3 and set(v.populations) == {"hidden", "output"}
    assert 0.5 < v.populations["hidden"].agreement <= 1.0
    assert v.accuracy_original is not None and v.accuracy_exported is not None
    assert c.report.delay_ticks == (0, 19) and "accuracy: original" in c.report.summary()
