"""Mann-Whitney U comparison: hand-counted U, exact p-values, and scipy directly."""
import numpy as np
import pytest
import scipy.stats

from delayprop.analysis import compare_morans
from delayprop.errors import ConfigError, DataError


def test_complete_separation_by_hand():
    # Every a exceeds every b: U_a = 3 * 3 = 9. Exact null: 1 of C(6, 3) = 20 rank
    # arrangements reaches U = 9, so one-sided p = 1/20 and two-sided p = 2/20.
    r = compare_morans([0.3, 0.4, 0.5], [0.0, 0.1, 0.2], label_a="trained",
                       label_b="untrained")
    assert r.statistic == 9.0
    assert r.pvalue == pytest.approx(0.1, abs=1e-12)
    assert (r.n_a, r.n_b) == (3, 3)
    assert r.mean_a == pytest.approx(0.4) and r.mean_b == pytest.approx(0.1)
    assert r.median_a == pytest.approx(0.4) and r.median_b == pytest.approx(0.1)
    assert (r.label_a, r.label_b) == ("trained", "untrained")
    greater = compare_morans([0.3, 0.4, 0.5], [0.0, 0.1, 0.2], alternative="greater")
    assert greater.pvalue == pytest.approx(0.05, abs=1e-12)


def test_ties_count_one_half():
    # Pairs (a, b): (1, 2) <, (1, 3) <, (2, 2) tie -> 1/2, (2, 3) <. U_a = 0.5.
    assert compare_morans([1.0, 2.0], [2.0, 3.0]).statistic == 0.5


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_matches_scipy_on_paper_sized_groups(alternative):
    rng = np.random.default_rng(0)
    trained = rng.normal(0.06, 0.02, size=60)
    untrained = rng.normal(0.03, 0.02, size=60)
    r = compare_morans(trained, untrained, alternative=alternative)
    ref = scipy.stats.mannwhitneyu(trained, untrained, alternative=alternative)
    assert r.statistic == ref.statistic
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert r.statistic + compare_morans(untrained, trained).statistic == 60 * 60


def test_to_dict_is_json_ready():
    import json
    d = compare_morans([1.0, 2.0, 3.0], [0.5]).to_dict()
    assert json.loads(json.dumps(d))["statistic"] == 3.0


def test_bad_alternative():
    with pytest.raises(ConfigError, match=r"alternative must be one of .* got 'bigger'"):
        compare_morans([1.0], [2.0], alternative="bigger")


def test_empty_group():
    with pytest.raises(DataError, match="group 'untrained' is empty"):
        compare_morans([1.0], [], label_b="untrained")


def test_nan_in_group():
    with pytest.raises(DataError, match="group 'a' holds 1 non-finite values"):
        compare_morans([1.0, np.nan], [2.0])
