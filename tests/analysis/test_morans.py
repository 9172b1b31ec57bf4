"""Moran's I (Queen's case) against hand-worked values, a textbook loop and esda.

Notation: N cells, z = x - mean, W = number of ordered neighbour pairs,
I = (N / W) * sum_{ordered pairs} z_k z_l / sum z^2. For an R x C grid the unordered
Queen's-case pairs are R(C-1) horizontal + (R-1)C vertical + 2(R-1)(C-1) diagonal.
"""
import itertools
import warnings

import numpy as np
import pytest

from delayprop.analysis import max_morans_i, morans_i
from delayprop.errors import ConfigError, DataError


def _textbook_morans_i(x):
    """Moran's I from an explicit N x N Queen's-case weight matrix (independent of the
    vectorised implementation)."""
    rows, cols = x.shape
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    w = np.zeros((len(cells), len(cells)))
    for k, (r, c) in enumerate(cells):
        for m, (s, t) in enumerate(cells):
            if k != m and abs(r - s) <= 1 and abs(c - t) <= 1:
                w[k, m] = 1.0
    z = x.ravel() - x.mean()
    return len(cells) / w.sum() * (z @ w @ z) / (z @ z)


def test_checkerboard_4x4_by_hand():
    # x = (-1)^(r+c), mean 0, sum z^2 = 16.
    # Unordered pairs: 12 horizontal (product -1), 12 vertical (-1), 9 + 9 diagonal (+1):
    # sum = -12 - 12 + 18 = -6; ordered: -12. W = 2 * (12 + 12 + 18) = 84.
    # I = 16 / 84 * (-12 / 16) = -1/7. (Rook's case would give -1: diagonals matter.)
    x = np.array([[(-1) ** (r + c) for c in range(4)] for r in range(4)], float)
    assert morans_i(x) == pytest.approx(-1 / 7, abs=1e-12)


def test_alternating_rows_4x4_by_hand():
    # x = (-1)^r: horizontal pairs +1 (12), vertical -1 (12), diagonals -1 (18).
    # Unordered sum = 12 - 12 - 18 = -18; ordered -36. I = 16 / 84 * (-36 / 16) = -3/7.
    x = np.array([[(-1) ** r for _ in range(4)] for r in range(4)], float)
    assert morans_i(x) == pytest.approx(-3 / 7, abs=1e-12)
    # Alternating columns are the same by symmetry.
    assert morans_i(x.T) == pytest.approx(-3 / 7, abs=1e-12)


def test_column_ramp_3x3_by_hand():
    # x[r, c] = c: z = c - 1 in {-1, 0, 1}, sum z^2 = 3 * 2 = 6.
    # Horizontal and diagonal pairs always involve the middle column (z = 0): 0.
    # Vertical pairs: z^2 per pair, 2 pairs per column: 2 * (1 + 0 + 1) = 4.
    # Ordered sum 8; W = 2 * (6 + 6 + 8) = 40; I = 9 / 40 * 8 / 6 = 0.3.
    x = np.tile(np.arange(3.0), (3, 1))
    assert morans_i(x) == pytest.approx(0.3, abs=1e-12)


def test_diagonal_ramp_3x3_by_hand():
    # x[r, c] = r + c, z = r + c - 2, sum z^2 = 12.
    # Horizontal pairs: (-2)(-1) + (1)(2) = 4 (others 0); vertical likewise 4;
    # "\" diagonals: (-1)(1) + (-1)(1) = -2; "/" diagonals: (-1)(-1) + (1)(1) = 2.
    # Unordered 8, ordered 16. I = 9 / 40 * 16 / 12 = 0.3.
    x = np.add.outer(np.arange(3.0), np.arange(3.0))
    assert morans_i(x) == pytest.approx(0.3, abs=1e-12)


def test_smooth_ramp_is_strongly_positive():
    # A long ramp: neighbours almost equal, so I approaches 1 from below.
    x = np.tile(np.linspace(0, 1, 60), (20, 1))
    value = morans_i(x)
    assert value == pytest.approx(_textbook_morans_i(x), abs=1e-12)
    assert 0.9 < value < 1.0


@pytest.mark.parametrize("value", [0.0, 0.1, -7.3, 1e6])
def test_constant_map_is_zero_without_warnings(value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert morans_i(np.full((5, 7), value)) == 0.0
        assert max_morans_i(np.full((5, 7), value), n_permutations=50) == 0.0


def test_stack_matches_single_maps():
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(2, 3, 6, 5))
    values = morans_i(maps)
    assert values.shape == (2, 3)
    for idx in np.ndindex(2, 3):
        assert values[idx] == pytest.approx(_textbook_morans_i(maps[idx]), abs=1e-12)


@pytest.mark.parametrize("shape", [(1, 6), (6, 1), (2, 2), (7, 4), (5, 9)])
def test_random_maps_match_textbook_loop(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(size=shape)
    assert morans_i(x) == pytest.approx(_textbook_morans_i(x), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_random_maps_match_esda(seed):
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(2, 12, size=2)
    x = rng.normal(size=(rows, cols)) + np.linspace(0, seed, cols)
    w = libpysal.weights.lat2W(int(rows), int(cols), rook=False)   # row-major ids
    expected = esda.Moran(x.ravel(), w, transformation="B", permutations=0).I
    assert morans_i(x) == pytest.approx(expected, abs=1e-12)


def test_bad_maps_are_rejected():
    with pytest.raises(ConfigError, match=r"must be 2-D .* got shape \(4,\)"):
        morans_i(np.arange(4.0))
    with pytest.raises(ConfigError, match="at least 2 cells"):
        morans_i(np.ones((1, 1)))
    with pytest.raises(DataError, match="1 non-finite values"):
        morans_i(np.array([[1.0, np.nan], [0.0, 2.0]]))


# --- maximum over row permutations -------------------------------------------------------

def test_zero_permutations_is_the_map_as_is():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 10))
    assert max_morans_i(x, n_permutations=0) == pytest.approx(morans_i(x), abs=1e-12)


def test_maximum_is_at_least_the_unpermuted_value():
    rng = np.random.default_rng(2)
    maps = rng.normal(size=(6, 10, 12))
    best = max_morans_i(maps, n_permutations=200, seed=5)
    assert np.all(best >= morans_i(maps) - 1e-12)
    assert np.any(best > morans_i(maps) + 1e-3)      # random maps: some order does better


def test_reproducible_by_seed_and_seed_matters():
    rng = np.random.default_rng(4)
    maps = rng.normal(size=(5, 12, 9))
    a = max_morans_i(maps, n_permutations=30, seed=11)
    b = max_morans_i(maps, n_permutations=30, seed=11)
    c = max_morans_i(maps, n_permutations=30, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_equals_brute_force_over_all_row_orders():
    # 4 rows have 24 orders; 3,000 random draws miss one with probability < 24 e^-125.
    rng = np.random.default_rng(5)
    for x in rng.normal(size=(3, 4, 6)):
        brute = max(_textbook_morans_i(x[list(order)])
                    for order in itertools.permutations(range(4)))
        assert max_morans_i(x, n_permutations=3000, seed=0) == pytest.approx(brute, abs=1e-12)


def test_returned_permutation_attains_the_maximum():
    rng = np.random.default_rng(6)
    maps = rng.normal(size=(3, 9, 7))
    best, orders = max_morans_i(maps, n_permutations=100, seed=1, return_permutation=True)
    assert orders.shape == (3, 9)
    for x, value, order in zip(maps, best, orders):
        assert sorted(order) == list(range(9))
        assert _textbook_morans_i(x[order]) == pytest.approx(value, abs=1e-12)


def test_stack_and_single_map_agree():
    rng = np.random.default_rng(7)
    maps = rng.normal(size=(4, 10, 8))
    stacked = max_morans_i(maps, n_permutations=64, seed=9)
    singles = [max_morans_i(x, n_permutations=64, seed=9) for x in maps]
    np.testing.assert_allclose(stacked, singles, atol=1e-12)


def test_twenty_maps_two_thousand_permutations_take_seconds():
    import time
    maps = np.random.default_rng(8).normal(size=(20, 40, 86))
    start = time.perf_counter()
    max_morans_i(maps, n_permutations=2000, seed=0)
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_bad_permutation_count(bad):
    with pytest.raises(ConfigError, match="n_permutations must be a whole number >= 0"):
        max_morans_i(np.eye(3), n_permutations=bad)
