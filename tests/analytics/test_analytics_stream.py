"""The streaming backtest scores equal the full-record ones (mmenv.analytics.stream against mmenv.analytics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import TrendFollowingAgent
from mmenv.analytics import attribute, markout_curve, summarize_backtest
from mmenv.analytics.stream import StreamingSummary
from mmenv.backtest import BacktestConfig, QuoteRule, TickStream, backtest


def make_stream(n: int, seed: int, vol: float = 0.05) -> TickStream:
    rng = np.random.default_rng(seed)
    time = np.cumsum(rng.choice([0.0, 0.01, 0.02, 0.1], size=n))  # ties, and times on the grids
    mid = 100.0 + np.cumsum(rng.normal(0.0, vol, n))
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    price = mid + side * rng.exponential(0.05, n)
    size = np.where(rng.random(n) < 0.05, 0.0, rng.exponential(2.0, n) + 0.1)  # some zero-size trades
    return TickStream(time=time, price=price, side=side, size=size, mid=mid)


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) and math.isnan(x):
            assert isinstance(y, float) and math.isnan(y), k
        else:
            assert x == pytest.approx(y, rel=1e-9, abs=1e-9 * (1.0 + abs(y))), k


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(5, 900),
    cap=st.sampled_from([4, 7, 64, 1 << 16]),
    every=st.sampled_from([1, 3]),
    latency=st.sampled_from([0.0, 0.03]),
    episode=st.sampled_from([0.1, 0.37, 2.0, 100.0]),
    by=st.sampled_from(["time", "events"]),
    capital=st.sampled_from([None, 50.0]),
    fee=st.sampled_from([0.0, 0.003]),
)
def test_streaming_summary_equals_the_full_records(seed, n, cap, every, latency, episode, by, capital, fee):
    """Every metric of summarize_backtest, the markout curve and the attribution, whatever the buffer size
    (many small batches), the state sampling, the latency, the episode, the horizons' unit and the capital."""
    cfg = BacktestConfig(
        q_max=3.0,
        order_size=1.0,
        share=0.5,
        fee_per_unit=fee,
        record_every=every,
        latency=latency,
        horizon=episode,
        fill_capacity=cap,
        state_capacity=cap,
    )
    stream = make_stream(n, seed)
    rule = QuoteRule("as", 0.5, 10.0, 0.5)
    hz = (0.0, 0.05, 0.3) if by == "time" else (0, 1, 7)
    full = backtest(rule, stream, cfg)
    ref = summarize_backtest(full, hz, by=by, periods_per_year=1000.0, capital=capital)
    s = StreamingSummary(cfg, hz, by=by, periods_per_year=1000.0, capital=capital, max_points=3)
    res = backtest(rule, stream, cfg, sink=s)
    assert len(res.fills) == 0 and len(res.states) == 0  # nothing kept
    _same(s.summary(res), ref)
    curve = markout_curve(full.fills, full.states, hz, by)
    np.testing.assert_allclose(s.markout_curve(), curve, rtol=1e-9, atol=1e-12)
    # the figures' sample: states of the full record, first and last included, with the exact cumulative
    # attribution at each
    kept = s.states
    np.testing.assert_equal(kept[[0, -1]].tolist(), full.states[[0, -1]].tolist())
    assert len(kept) <= 2 * 3 + 1
    assert np.isin(kept["event"], full.states["event"]).all()
    a = attribute(full.fills, full.states)
    at = np.flatnonzero(np.isin(np.arange(len(a.cum_time)), _state_positions(full)))
    idx = at[np.searchsorted(full.states["event"], kept["event"])]
    sa = s.attribution()
    for f in ("cum_spread", "cum_inventory", "cum_fees"):
        np.testing.assert_allclose(getattr(sa, f), getattr(a, f)[idx], rtol=1e-9, atol=1e-9)
    assert "state" in s.sampling


def _state_positions(res) -> np.ndarray:
    """Positions of the states in the merged timeline of attribute (fills first within an event)."""
    ev = np.concatenate([res.fills["event"], res.states["event"]])
    kind = np.concatenate([np.zeros(len(res.fills), np.int8), np.ones(len(res.states), np.int8)])
    order = np.lexsort((kind, ev))
    pos = np.empty(ev.size, dtype=np.int64)
    pos[order] = np.arange(ev.size)
    return np.sort(pos[len(res.fills) :])


def test_reference_path_streams_the_same_batches():
    """A policy of the reference loop (trend) gives the same streamed scores as its full records."""
    cfg = BacktestConfig(q_max=3.0, order_size=1.0, share=0.5, horizon=0.5, fill_capacity=5, state_capacity=5)
    stream = make_stream(300, 3)
    full = backtest(TrendFollowingAgent(half_spread=0.05, beta=2.0, lam=0.2, s0=100.0), stream, cfg)
    s = StreamingSummary(cfg, (0.05,))
    backtest(TrendFollowingAgent(half_spread=0.05, beta=2.0, lam=0.2, s0=100.0), stream, cfg, sink=s)
    _same(s.summary(full), summarize_backtest(full, (0.05,)))
    assert s.stride == 1 and len(s.states) == len(full.states)


def test_streaming_summary_refuses_bad_arguments_and_reuse():
    cfg = BacktestConfig()
    with pytest.raises(ValueError, match="horizons"):
        StreamingSummary(cfg, (-1.0,))
    with pytest.raises(ValueError, match="episode"):
        StreamingSummary(cfg, episode=0.0)
    with pytest.raises(ValueError, match="max_points"):
        StreamingSummary(cfg, max_points=1)
    with pytest.raises(ValueError, match="no state"):
        StreamingSummary(cfg).summary(None)
    s = StreamingSummary(cfg, (0.1,))
    res = backtest(QuoteRule("naive", depth=0.05), make_stream(50, 1), cfg, sink=s)
    s.summary(res)
    with pytest.raises(RuntimeError, match="new one per run"):
        backtest(QuoteRule("naive", depth=0.05), make_stream(50, 1), cfg, sink=s)
