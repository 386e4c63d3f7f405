"""The tick and lot grids (mmenv.data.grid): inferred robustly, a few off-grid values counted and never
allowed to change the grid, float noise snapped exactly, a given step checked against the data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmenv.data.grid import MAX_LEVELS, check_grid, infer_grid, infer_lot, infer_tick, snap


def test_the_grid_almost_every_price_lies_on():
    rng = np.random.default_rng(0)
    prices = 61_000 + 0.1 * rng.integers(0, 20_000, 50_000)  # float noise of decimal tenths included
    assert infer_tick(prices) == 0.1
    # one quote off the grid (61234.55) does not change the tick, nor do 0.1% of them
    assert infer_tick(np.r_[prices, 61_234.55]) == 0.1
    g = infer_grid(np.r_[prices, np.full(49, 61_234.55)], "price")
    assert g.step == 0.1 and g.n_off == 49
    # above 0.1% off, the data's grid is the finer one
    assert infer_tick(np.r_[prices, np.full(60, 61_234.55)]) == pytest.approx(0.05)
    # the old rule (the smallest gap) gave 0.05 for one off-grid price
    assert np.diff(np.unique(np.round(np.r_[prices, 61_234.55], 9))).min() == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("values", "step"),
    [
        ([223.12, 223.13, 223.15, 223.2], 0.01),
        ([100.0, 100.5, 101.5, 103.0], 0.5),
        ([0.00001234, 0.00001236, 0.00001240], 2e-8),
        ([100.0, 102.0, 105.0], 1.0),  # gaps of 2 and 3 ticks: their gcd
        ([0.125, 0.375, 0.5], 0.125),  # an eighth
        ([0.1 + 0.2, 0.4, 0.7000000000000001], 0.1),
    ],
)
def test_steps(values, step):
    assert infer_tick(values) == pytest.approx(step, rel=1e-12)


def test_lot_and_its_interface():
    assert infer_lot([0.001, 0.006, 0.199, 2.507]) == 0.001
    assert infer_lot([1.0, 1.0, 1.0]) == 1.0  # one distinct size is its own lot
    assert infer_lot([100, 300, 37]) == 1.0
    with pytest.raises(ValueError, match="cannot infer the lot from 0 distinct size"):
        infer_lot([0.0, -1.0, math.nan])


def test_continuous_values_have_no_grid():
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="no decimal grid"):
        infer_grid(100 + rng.standard_normal(1000), "price")


def test_snap_is_exact_and_flags_off_grid_values():
    v = np.array([0.1 + 0.2, 223.12000000001, 61234.55, math.nan])
    s, off = snap(v, 0.1)
    assert s[0] == 0.3 and off.tolist() == [False, True, True, False]
    s, off = snap(np.array([2231200 / 1e4, 22312.000000000004 / 100]), 0.01)
    assert s.tolist() == [223.12, 223.12] and not off.any()


def test_a_given_step_is_checked_against_the_data():
    prices = 61_000 + 0.1 * np.arange(2000)
    g = infer_grid(prices, "price")
    assert check_grid(prices, 0.05, g, "price", "--tick") == 0  # finer: every price lies on it
    with pytest.raises(ValueError, match=r"--tick 1e-09 makes 2e\+11 price levels .* the data's grid is 0.1"):
        check_grid(prices, 1e-9, g, "price", "--tick")
    with pytest.raises(ValueError, match=r"--tick 1: 1,800 of 2,000 prices lie off its grid .* grid is 0.1"):
        check_grid(prices, 1.0, g, "price", "--tick")
    assert (prices.max() - prices.min()) / 1e-4 + 1 > MAX_LEVELS > (prices.max() - prices.min()) / 1e-3
