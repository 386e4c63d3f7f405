"""Tests of mmenv.analytics: the summaries, the P&L attribution (exact), markouts and risk metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import AvellanedaStoikovAgent, SymmetricAgent
from mmenv.analytics import (
    attribute,
    attribute_rollout,
    drawdown,
    episode_pnl,
    episode_pnls,
    markout_curve,
    markouts,
    max_drawdown,
    mid_at,
    risk_metrics,
    rollout_records,
    sharpe_ratio,
    summarize,
    summarize_backtest,
)
from mmenv.backtest import BacktestConfig, QuoteRule, TickStream, backtest_model, run_fast
from mmenv.config import MarketParams
from mmenv.records import FILL_DTYPE, STATE_DTYPE


def make_stream(n: int, seed: int, vol: float = 0.05) -> TickStream:
    rng = np.random.default_rng(seed)
    time = np.cumsum(rng.choice([0.0, 0.01, 0.02], size=n))
    mid = 100.0 + np.cumsum(rng.normal(0.0, vol, n))
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    price = mid + side * rng.exponential(0.05, n)
    return TickStream(time=time, price=price, side=side, size=rng.exponential(2.0, n) + 0.1, mid=mid)


# ---------------------------------------------------------------------------------- first-version API
def test_summary_functions_keep_their_contract():
    eq = np.array([[0.0, 2.0, 1.0, 3.0], [0.0, -1.0, -2.0, 1.0]])
    assert np.array_equal(episode_pnl(eq), [3.0, 1.0])
    assert np.array_equal(drawdown(eq), [1.0, 2.0])
    inv = np.zeros((2, 4))
    z = np.zeros((2, 3))
    out = summarize(eq, inv, z, z, z - 1.0, z + 1.0)
    assert out["mean_pnl"] == 2.0 and out["std_pnl"] == pytest.approx(math.sqrt(2.0))
    assert out["max_drawdown"] == 1.5 and out["mean_spread"] == 2.0


# --------------------------------------------------------------------------------------- attribution
def _hand_records():
    """Buy 1 at 99.9 (mid 100), mid -> 101, sell 1 at 101.2 (mid 101), mid -> 100.5; fees 0.01 each."""
    fills = np.array(
        [(0, 0.0, 1, 99.9, 1.0, 100.0, 0.01, 1.0), (2, 2.0, -1, 101.2, 1.0, 101.0, 0.01, 0.0)],
        dtype=FILL_DTYPE,
    )
    cash = [0.0, -99.91, -99.91, 1.28, 1.28]
    q = [0.0, 1.0, 1.0, 0.0, 0.0]
    mid = [100.0, 100.0, 101.0, 101.0, 100.5]
    states = np.zeros(5, dtype=STATE_DTYPE)
    states["event"] = [-1, 0, 1, 2, 3]
    states["time"] = [0.0, 0.0, 1.0, 2.0, 3.0]
    states["mid"], states["inventory"], states["cash"] = mid, q, cash
    states["equity"] = np.array(cash) + np.array(q) * np.array(mid)
    return fills, states


def test_attribution_by_hand():
    fills, states = _hand_records()
    a = attribute(fills, states, horizons=(0.0, 1.0, 2.0))
    assert a.total == pytest.approx(1.28)
    assert a.spread == pytest.approx(0.1 + 0.2)
    assert a.inventory == pytest.approx(1.0)  # held 1 unit while the mid rose 100 -> 101
    assert a.fees == pytest.approx(0.02)
    assert abs(a.residual) < 1e-12
    # Markouts: the buy at mid 100 is worth +1 after 1 time unit; the sell at 101 is worth +0.5 after 1.
    assert a.adverse_selection[0.0] == pytest.approx(0.0)
    assert a.adverse_selection[1.0] == pytest.approx(1.0 + 0.5)
    np.testing.assert_allclose(markouts(fills, states, (1.0,)), [[1.0], [0.5]])
    np.testing.assert_allclose(markouts(fills, states, (1,), by="events"), [[1.0], [0.5]])
    np.testing.assert_allclose(markout_curve(fills, states, (0.0, 1.0)), [0.0, 0.75])
    assert a.cum_spread[-1] == pytest.approx(a.spread) and a.cum_inventory[-1] == pytest.approx(a.inventory)


def test_mid_at_clamps_and_rejects_bad_horizons():
    _, states = _hand_records()
    np.testing.assert_array_equal(mid_at(states, np.array([-5.0, 0.5, 99.0])), [100.0, 100.0, 100.5])
    fills, _ = _hand_records()
    with pytest.raises(ValueError, match="horizons must be finite and >= 0"):
        markouts(fills, states, (-1.0,))
    with pytest.raises(ValueError, match="lacks field"):
        attribute(np.zeros(2), states)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rule=st.sampled_from([QuoteRule("as", 0.5, 10.0, 0.5), QuoteRule("naive", depth=0.02)]),
    fee=st.sampled_from([0.0, 0.003, -0.002]),
    fee_rate=st.sampled_from([0.0, 2e-4]),
    every=st.sampled_from([1, 2, 17]),
    latency=st.sampled_from([0.0, 0.03]),
)
def test_attribution_adds_up_on_backtests(seed, rule, fee, fee_rate, every, latency):
    """spread + inventory - fees = final - initial equity, to 1e-9, whatever the state sampling."""
    cfg = BacktestConfig(
        q_max=4.0,
        order_size=1.0,
        share=0.5,
        fee_per_unit=fee,
        fee_rate=fee_rate,
        record_every=every,
        latency=latency,
    )
    res = run_fast(rule, make_stream(400, seed), cfg)
    a = attribute(res.fills, res.states, (0.0, 0.05))
    assert abs(a.total - (a.spread + a.inventory - a.fees)) <= 1e-9 * max(1.0, abs(a.total))
    assert a.n_fills == len(res.fills)
    assert a.total == pytest.approx(res.pnl, abs=1e-12)
    if every == 1:  # 0 events later: the mid at the fill itself (at time 0 later, ties may have moved it)
        assert np.all(markouts(res.fills, res.states, (0,), by="events") == 0.0)


def test_attribution_of_model_backtests_adds_up():
    for res in backtest_model(
        AvellanedaStoikovAgent(gamma=0.1, k=1.5), MarketParams(fee_per_unit=0.01), num_paths=3
    ):
        a = attribute(res.fills, res.states, (0.005,))
        assert abs(a.residual) <= 1e-9 and a.fees == pytest.approx(0.01 * a.n_fills)


def test_rollout_attribution_matches_records_and_adds_up():
    """Env rollouts: the vectorised per-path attribution, the record-based one and the equity agree."""
    from mmenv.envs.rollout import rollout

    ro = rollout(SymmetricAgent(gamma=0.1, k=1.5), 5, seed=3, fee_per_unit=0.005, q_max=5.0)
    out = attribute_rollout(ro, horizons_steps=(1, 10))
    np.testing.assert_allclose(out["spread"] + out["inventory"] - out["fees"], out["total"], atol=1e-9)
    assert np.all(out["fees"] > 0)
    for p in range(5):
        fills, states = rollout_records(ro, p)
        a = attribute(fills, states, (ro.dt, 10 * ro.dt))
        assert abs(a.residual) <= 1e-9
        assert a.total == pytest.approx(out["total"][p], abs=1e-9)
        assert a.spread == pytest.approx(out["spread"][p], abs=1e-9)
        assert a.inventory == pytest.approx(out["inventory"][p], abs=1e-9)
        assert a.adverse_selection[ro.dt] == pytest.approx(out["adverse_1"][p], abs=1e-9)
        assert a.adverse_selection[10 * ro.dt] == pytest.approx(out["adverse_10"][p], abs=1e-9)
    with pytest.raises(ValueError, match="path must lie in"):
        rollout_records(ro, 5)


# -------------------------------------------------------------------------------------- risk metrics
def test_sharpe_ratio_sampling_and_annualisation():
    t = np.arange(0.0, 10.01, 0.5)
    eq = t + np.sin(7 * t)  # increments on a grid of 1: 1 + sin(7(t+1)) - sin(7t)
    grid = np.arange(0.0, 10.5, 1.0)
    inc = np.diff(grid + np.sin(7 * grid))
    expected = inc.mean() / inc.std(ddof=1)
    assert sharpe_ratio(t, eq, 1.0) == pytest.approx(expected)
    assert sharpe_ratio(t, eq, 1.0, periods_per_year=252.0) == pytest.approx(expected * math.sqrt(252.0))
    assert sharpe_ratio(t, eq, 2.0) != pytest.approx(expected)  # the interval changes the number
    assert math.isnan(sharpe_ratio(t, np.ones_like(t), 1.0))
    with pytest.raises(ValueError, match="interval must be > 0"):
        sharpe_ratio(t, eq, 0.0)


def test_max_drawdown_abs_and_relative():
    eq = np.array([0.0, 10.0, 4.0, 12.0, 9.0])
    assert max_drawdown(eq) == (6.0, 0.5)  # 6 / range 12
    mdd, rel = max_drawdown(eq, capital=100.0)
    assert mdd == 6.0 and rel == pytest.approx(6.0 / 110.0)
    with pytest.raises(ValueError, match="capital must be > 0"):
        max_drawdown(eq, capital=0.0)


def test_risk_metrics_and_summary_of_a_backtest():
    n = 3000
    s = make_stream(n, 11)
    cfg = BacktestConfig(q_max=2.0, order_size=1.0, share=1.0, horizon=5.0)
    res = run_fast(QuoteRule("naive", depth=0.01), s, cfg)
    r = risk_metrics(res, interval=1.0, periods_per_year=1000.0)
    assert 0.0 < r["time_at_limit"] <= 1.0  # tight quotes, small limit: at the limit some of the time
    assert r["fill_ratio"] == pytest.approx(len(res.fills) / res.n_quoted) and 0 < r["fill_ratio"] <= 1
    assert r["turnover_units"] == pytest.approx(np.sum(res.fills["size"]))
    assert r["inventory_var"] >= 0 and r["max_abs_q"] <= 2.0
    assert r["sharpe_annualised"] == pytest.approx(r["sharpe"] * math.sqrt(1000.0))
    out = summarize_backtest(res, horizons=(0.05, 0.5))
    for key in (
        "mean_pnl",
        "std_pnl",
        "sharpe",
        "max_drawdown",
        "inventory_std",
        "spread_pnl",
        "inventory_pnl",
        "adverse_selection_pnl",
        "fees",
        "n_fills",
    ):
        assert key in out
    assert out["adverse_selection_pnl"] == out["markout_0.05"]
    pn = episode_pnls(res.states, 5.0)
    assert out["n_episodes"] == pn.size and out["mean_pnl"] == pytest.approx(pn.mean())
    assert abs(out["attribution_residual"]) < 1e-9
