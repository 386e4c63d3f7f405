"""Tests of the tick backtester: reference loop == compiled loop, hard limit, accounting, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmenv.backtest.reference as bt_reference
from agents import AvellanedaStoikovAgent, NaiveAgent, SymmetricAgent, TrendFollowingAgent
from agents.base import QuoteState
from mmenv.backtest import (
    BacktestConfig,
    QuoteRule,
    TickStream,
    backtest,
    backtest_model,
    run_fast,
    run_reference,
)
from mmenv.config import MarketParams
from mmenv.sim.quote_rules import rule_depths


def make_stream(n: int = 400, seed: int = 0, k: float = 20.0, vol: float = 0.02) -> TickStream:
    """A small random stream: one event every ~1/100 time unit (ties allowed), reach Exponential(k)."""
    rng = np.random.default_rng(seed)
    time = np.cumsum(rng.choice([0.0, 0.01, 0.02], size=n))
    mid = 100.0 + np.cumsum(rng.normal(0.0, vol, n))
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    price = mid + side * rng.exponential(1.0 / k, n)
    size = rng.exponential(2.0, n) + 0.1
    return TickStream(time=time, price=price, side=side, size=size, mid=mid)


def assert_same(a, b) -> None:
    assert a.n_events == b.n_events and a.n_decisions == b.n_decisions and a.n_quoted == b.n_quoted
    for rec in ("fills", "states"):
        x, y = getattr(a, rec), getattr(b, rec)
        assert x.dtype == y.dtype and len(x) == len(y), rec
        for f in x.dtype.names:
            np.testing.assert_array_equal(np.asarray(x[f]), np.asarray(y[f]), err_msg=f"{rec}.{f}")


configs = st.builds(
    BacktestConfig,
    q_max=st.sampled_from([1.0, 2.0, 5.0, math.inf]),
    order_size=st.sampled_from([0.5, 1.0]),
    share=st.sampled_from([0.2, 1.0]),
    fee_per_unit=st.sampled_from([0.0, 0.001, -0.002]),
    fee_rate=st.sampled_from([0.0, 1e-4]),
    q0=st.sampled_from([0.0, 0.5, -1.0]),
    decision_interval=st.sampled_from([0.0, 0.015, 0.1]),
    latency=st.sampled_from([0.0, 0.01, 0.05]),
    horizon=st.sampled_from([0.5, 1.0, 3.0]),
    sigma=st.sampled_from([0.0, 0.3, 1.0]),
    reprice_on_quotes=st.booleans(),
    record_every=st.sampled_from([1, 3]),
    fill_capacity=st.sampled_from([4, 64]),
    state_capacity=st.sampled_from([4, 1024]),
    chunk_size=st.sampled_from([7, 100, 1 << 20]),
)
rules = st.one_of(
    st.builds(
        QuoteRule,
        kind=st.just("as"),
        gamma=st.sampled_from([0.0, 0.1, 2.0]),
        k=st.sampled_from([5.0, 20.0]),
        sigma=st.sampled_from([None, 0.5]),
        time_term=st.booleans(),
    ),
    st.builds(
        QuoteRule,
        kind=st.just("symmetric"),
        gamma=st.sampled_from([0.01, 1.0]),
        k=st.just(20.0),
        time_term=st.booleans(),
    ),
    st.builds(QuoteRule, kind=st.just("naive"), depth=st.sampled_from([0.01, 0.05, 0.2])),
)


@settings(max_examples=40, deadline=None)
@given(rule=rules, cfg=configs, seed=st.integers(0, 10_000))
def test_reference_equals_fast_path(rule, cfg, seed):
    """Bit-for-bit identical records from the Python reference (agents) and the numba path (QuoteRule)."""
    stream = make_stream(300, seed)
    assert_same(run_fast(rule, stream, cfg), run_reference(rule.to_policy(), stream, cfg))


@settings(max_examples=40, deadline=None)
@given(rule=rules, cfg=configs, seed=st.integers(0, 10_000))
def test_limit_holds_and_every_fill_balances(rule, cfg, seed):
    """|q| <= q_max always; on every event, dq = sum of signed fill sizes and dcash = -sum(side price size + fee)."""
    cfg = BacktestConfig(**{**cfg.__dict__, "record_every": 1})
    res = run_fast(rule, make_stream(300, seed, vol=0.05), cfg)
    q = np.asarray(res.states["inventory"])
    assert np.all(np.abs(q) <= cfg.q_max + 1e-9)
    assert np.all(np.abs(res.fills["inventory"]) <= cfg.q_max + 1e-9)
    assert np.all(res.fills["size"] <= cfg.order_size)
    # States hold every event: event e is row e + 1.
    assert np.array_equal(res.states["event"], np.arange(-1, res.n_events))
    st_ = res.states
    dq = np.zeros(res.n_events)
    dcash = np.zeros(res.n_events)
    f = res.fills
    np.add.at(dq, f["event"], f["side"] * f["size"])
    np.add.at(dcash, f["event"], -f["side"] * f["price"] * f["size"] - f["fee"])
    np.testing.assert_allclose(np.diff(st_["inventory"]), dq, atol=1e-12)
    np.testing.assert_allclose(np.diff(st_["cash"]), dcash, atol=1e-9)
    # Fills at our quote: a bid fill at a seller-initiated trade at or below the bid, never against the other side.
    np.testing.assert_allclose(
        f["fee"], cfg.fee_per_unit * f["size"] + cfg.fee_rate * f["size"] * f["price"], atol=1e-12
    )


@pytest.mark.parametrize(
    ("on_quotes", "events", "sides", "prices", "sizes"),
    [
        # Quotes made on the quote update of event i are live for trade i itself (event 0 included).
        (True, [0, 1, 3], [-1, -1, 1], [100.1, 100.1, 99.9], [1.0, 0.3, 1.0]),
        # Reprice on trades only: quotes live from event 1 on (event 0 meets no quote).
        (False, [1, 3], [-1, 1], [100.1, 99.9], [0.3, 1.0]),
    ],
)
def test_fills_follow_the_price_rule(on_quotes, events, sides, prices, sizes):
    """A buyer-initiated trade at p fills our ask iff p >= ask; a seller at p fills our bid iff p <= bid."""
    time = np.arange(6) * 1.0
    mid = np.full(6, 100.0)
    # Naive quotes at depth 0.1: bid 99.9, ask 100.1.
    price = np.array([100.5, 100.1, 100.09, 99.9, 99.91, 100.0])
    side = np.array([1, 1, 1, -1, -1, -1], dtype=np.int8)
    size = np.array([1.0, 0.3, 5.0, 5.0, 5.0, 5.0])
    s = TickStream(time=time, price=price, side=side, size=size, mid=mid)
    cfg = BacktestConfig(
        q_max=10.0, order_size=1.0, share=1.0, fee_per_unit=0.01, reprice_on_quotes=on_quotes
    )
    for res in (run_fast(QuoteRule("naive", depth=0.1), s, cfg), run_reference(NaiveAgent(0.1), s, cfg)):
        f = res.fills
        assert list(f["event"]) == events  # 100.09 < ask; 99.91 > bid
        assert list(f["side"]) == sides
        np.testing.assert_allclose(f["price"], prices)
        np.testing.assert_allclose(f["size"], sizes)  # min(order_size, share * trade size)
        q = float(np.sum(f["side"] * f["size"]))
        assert res.states["inventory"][-1] == pytest.approx(q)
        cash = float(np.sum(-f["side"] * f["price"] * f["size"])) - 0.01 * float(np.sum(f["size"]))
        assert res.states["cash"][-1] == pytest.approx(cash)
        assert res.n_quoted == (6 if on_quotes else 5)


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_zero_latency_quotes_are_never_stale(path):
    """On quote updates with latency 0, each fill is at the quoted depth from the fill's own mid (spread > 0).

    On the same stream, repricing on trades only leaves the quotes one trade stale: fills at a loss to the mid.
    """
    s = make_stream(2000, 11, k=20.0, vol=0.2)  # the mid moves ~4x the mean reach between trades
    depth = 0.03
    rule = QuoteRule("naive", depth=depth)
    policy = rule if path == "fast" else NaiveAgent(depth)
    run = run_fast if path == "fast" else run_reference
    res = run(policy, s, BacktestConfig(q_max=math.inf, order_size=1.0))
    f = res.fills
    assert len(f) > 100
    np.testing.assert_allclose(f["side"] * (f["mid"] - f["price"]), depth, rtol=0, atol=1e-12)
    stale = run(policy, s, BacktestConfig(q_max=math.inf, order_size=1.0, reprice_on_quotes=False)).fills
    spread = stale["side"] * (stale["mid"] - stale["price"]) * stale["size"]
    assert spread.sum() < 0 and (spread < 0).mean() > 0.5


@settings(max_examples=25, deadline=None)
@given(cfg=configs, j=st.integers(0, 199), seed=st.integers(0, 10_000))
def test_no_look_ahead(cfg, j, seed):
    """Changing trade j (price, side, size) changes nothing the backtest did up to and including the quotes
    it matched trade j against: those quotes are decided without the trade."""
    rule = QuoteRule("as", gamma=0.5, k=20.0, sigma=0.5)
    cfg = BacktestConfig(**{**cfg.__dict__, "record_every": 1})
    a = make_stream(200, seed)
    rng = np.random.default_rng(seed + 1)
    price, side, size = a.price.copy(), a.side.copy(), a.size.copy()
    side[j] = -side[j]
    price[j] = a.mid[j] + side[j] * rng.exponential(0.2)
    size[j] = size[j] * 7.0 + 1.0
    b = TickStream(time=a.time, price=price, side=side, size=size, mid=a.mid)
    ra, rb = run_fast(rule, a, cfg), run_fast(rule, b, cfg)
    sa, sb = ra.states, rb.states
    k = j + 2  # state rows of events -1 .. j
    for f in ("bid", "ask"):
        np.testing.assert_array_equal(sa[f][:k], sb[f][:k])
    for f in ("inventory", "cash"):
        np.testing.assert_array_equal(sa[f][: k - 1], sb[f][: k - 1])
    np.testing.assert_array_equal(ra.fills[ra.fills["event"] < j], rb.fills[rb.fills["event"] < j])


def test_latency_delays_the_quotes():
    """A decision on the quote update at t_i goes live at t_i + L: trades before meet the older (stale) quotes."""
    n = 8
    time = np.arange(n) * 1.0
    mid = 100.0 + np.arange(n)  # the mid rises by 1 per event
    s = TickStream(time=time, price=mid + 5.0, side=np.ones(n, np.int8), size=np.ones(n), mid=mid)
    for lat, lag in ((0.0, 0), (1.0, 1), (1.5, 2), (2.0, 2)):
        cfg = BacktestConfig(q_max=100.0, order_size=1.0, latency=lat)
        for res in (run_fast(QuoteRule("naive", depth=0.1), s, cfg), run_reference(NaiveAgent(0.1), s, cfg)):
            ask = res.states["ask"][1:]  # row e + 1: the quotes live against trade e
            assert np.isnan(ask[:lag]).all()
            np.testing.assert_allclose(ask[lag:], mid[: n - lag] + 0.1)  # decided at m_{e - lag}
            assert list(res.fills["event"]) == list(range(lag, n))


def test_hard_limit_withdraws_the_side():
    """At q + size > q_max the bid is withdrawn (NaN in the state record), whatever the policy quotes."""
    n = 50
    s = TickStream(
        time=np.arange(n) * 1.0,
        price=np.full(n, 99.0),
        side=-np.ones(n, np.int8),
        size=np.ones(n),
        mid=np.full(n, 100.0),
    )
    res = run_fast(QuoteRule("naive", depth=0.5), s, BacktestConfig(q_max=3.0, order_size=1.0))
    assert len(res.fills) == 3 and res.states["inventory"].max() == 3.0
    assert np.isnan(res.states["bid"][-1]) and np.isfinite(res.states["ask"][-1])


def test_latency_and_decision_interval():
    s = make_stream(500, 3)
    cfg = BacktestConfig(q_max=5.0, order_size=1.0, decision_interval=0.1, latency=0.05)
    res = run_fast(QuoteRule("naive", depth=0.01), s, cfg)
    t0 = s.time[0]
    assert res.fills["time"].min() >= t0 + 0.05
    assert res.n_decisions <= math.floor((s.time[-1] - t0) / 0.1) + 1
    assert res.n_decisions >= 0.5 * (s.time[-1] - t0) / 0.1
    assert_same(res, run_reference(NaiveAgent(0.01), s, cfg))


def test_chunks_and_spill_give_the_same_records(tmp_path):
    s = make_stream(1000, 5)
    cfg = BacktestConfig(q_max=5.0, order_size=1.0, fill_capacity=8, state_capacity=16)
    rule = QuoteRule("as", gamma=0.1, k=20.0, sigma=0.5)
    whole = run_fast(rule, s, cfg)
    chunks = (s.slice(i, min(1000, i + 137)) for i in range(0, 1000, 137))
    assert_same(whole, run_fast(rule, chunks, cfg))
    spilled = run_fast(rule, s, cfg, spill_dir=tmp_path)
    assert_same(whole, spilled)
    assert (tmp_path / "as_fills.bin").stat().st_size == len(whole.fills) * whole.fills.dtype.itemsize


def test_backtest_dispatch():
    s = make_stream(200, 1)
    cfg = BacktestConfig(q_max=5.0, order_size=1.0)
    assert_same(
        backtest(AvellanedaStoikovAgent(gamma=0.1, k=20.0), s, cfg),
        run_fast(QuoteRule("as", 0.1, 20.0), s, cfg),
    )
    assert_same(
        backtest(SymmetricAgent(gamma=0.1, k=20.0), s, cfg, path="reference"),
        run_fast(QuoteRule("symmetric", 0.1, 20.0), s, cfg),
    )
    trend = backtest(TrendFollowingAgent(half_spread=0.05, beta=1.0), s, cfg)
    assert trend.strategy == "trend" and trend.n_events == 200
    assert backtest(TrendFollowingAgent(), s, cfg, path="fast").n_events == 200  # its compiled form

    class MyTrend(TrendFollowingAgent):  # a changed quote: no compiled form, the reference path only
        def quote(self, state):
            return super().quote(state)

    with pytest.raises(ValueError, match="path='fast'"):
        backtest(MyTrend(), s, cfg, path="fast")


def test_reference_calls_the_core_rule(monkeypatch):
    """The reference loop settles through mmenv.sim.fills.match_and_settle (its py_func), not a copy."""
    calls = []
    real = bt_reference.match_and_settle

    class Spy:
        def py_func(self, *a):
            calls.append(a)
            return real.py_func(*a)

    monkeypatch.setattr(bt_reference, "match_and_settle", Spy())
    run_reference(NaiveAgent(0.05), make_stream(50, 2), BacktestConfig(q_max=5.0, order_size=1.0))
    assert len(calls) == 50


def test_rule_kernel_uses_the_engine_formulas():
    rng = np.random.default_rng(0)
    q, tau, mid = rng.normal(0, 3, 200), rng.random(200), 100 + rng.normal(0, 1, 200)
    sig = np.full(200, 0.7)
    agent = AvellanedaStoikovAgent(gamma=0.3, k=4.0)
    db, da = agent.quote(QuoteState(q=q, tau=tau, mid=mid, sigma=sig, s0=np.full(200, 100.0)))
    rp = QuoteRule("as", 0.3, 4.0).packed()
    for i in range(200):
        assert rule_depths(0, rp, q[i], tau[i], mid[i], 0.7) == (db[i], da[i])


# ------------------------------------------------------------------------------------------ bad input
def _bad(field: str, idx: int, value) -> TickStream:
    s = make_stream(300, 9)
    arrs = {f: getattr(s, f).copy() for f in ("time", "price", "side", "size", "mid")}
    arrs[field][idx] = value
    return TickStream(**arrs)


@pytest.mark.parametrize("runner", ["fast", "reference"])
@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("time", -1.0, "ticks out of order at event 123"),
        ("time", np.nan, "tick time is NaN at event 123"),
        ("price", np.nan, "price and mid must be finite at event 123"),
        ("mid", np.inf, "price and mid must be finite at event 123"),
        ("side", 0, "side must be \\+1 or -1 at event 123"),
        ("size", -1.0, "size must be finite and >= 0 at event 123"),
        ("size", np.nan, "size must be finite and >= 0 at event 123"),
    ],
)
def test_bad_ticks_name_the_event(runner, field, value, match):
    s = _bad(field, 123, value)
    cfg = BacktestConfig(q_max=5.0, order_size=1.0, chunk_size=50)  # the error is in the third chunk
    with pytest.raises(ValueError, match=match):
        if runner == "fast":
            run_fast(QuoteRule("naive", depth=0.05), s, cfg)
        else:
            run_reference(NaiveAgent(0.05), s, cfg)


def test_bad_side_rejected_at_construction():
    with pytest.raises(ValueError, match="side must be \\+1 or -1, got 2 at event 4"):
        TickStream(
            time=np.arange(6.0), price=np.ones(6), side=[1, 1, -1, 1, 2, 1], size=np.ones(6), mid=np.ones(6)
        )
    with pytest.raises(ValueError, match=r"TickStream\.mid has length 5"):
        TickStream(time=np.arange(6.0), price=np.ones(6), side=np.ones(6), size=np.ones(6), mid=np.ones(5))


class _Faulty(NaiveAgent):
    """Quotes NaN or crossed at the 7th decision."""

    def __init__(self, mode: str) -> None:
        super().__init__(0.05)
        self.mode, self.n = mode, 0

    def quote(self, state):
        db, da = super().quote(state)
        self.n += 1
        if self.n == 7:
            return (np.full(1, np.nan), da) if self.mode == "nan" else (np.full(1, -0.2), da)
        return db, da


def test_bad_policy_output_names_the_event():
    s = make_stream(100, 4)
    cfg = BacktestConfig(q_max=5.0, order_size=1.0)
    with pytest.raises(ValueError, match="NaN quote at event 6"):
        run_reference(_Faulty("nan"), s, cfg)
    with pytest.raises(ValueError, match="crossed quotes at event 6"):
        run_reference(_Faulty("crossed"), s, cfg)
    with pytest.raises(ValueError, match="crossed quotes at event 0"):
        run_fast(QuoteRule("naive", depth=0.0), s, cfg)  # bid == ask
    res = run_reference(_Faulty("nan"), s, BacktestConfig(q_max=5.0, order_size=1.0, allow_withdraw=True))
    # The 7th decision, on the quote update of event 6, withdraws the bid live against trade 6 (row 7).
    assert np.isnan(res.states["bid"][7]) and np.isfinite(res.states["bid"][[6, 8]]).all()
    assert res.n_events == 100
    cfg = BacktestConfig(q_max=5.0, order_size=1.0, allow_withdraw=True, reprice_on_quotes=False)
    res = run_reference(_Faulty("nan"), s, cfg)  # decided after trade 6: live against trade 7 (row 8)
    assert np.isnan(res.states["bid"][8]) and np.isfinite(res.states["bid"][[7, 9]]).all()


def test_empty_stream_and_bad_config():
    with pytest.raises(ValueError, match="no events"):
        run_fast(QuoteRule("naive", depth=0.1), make_stream(0, 0), BacktestConfig())
    with pytest.raises(ValueError, match=r"share must lie in \(0, 1\], got 1\.5"):
        BacktestConfig(share=1.5)
    with pytest.raises(ValueError, match="order_size must be <= q_max"):
        BacktestConfig(q_max=1.0, order_size=2.0)
    with pytest.raises(ValueError, match="record_every must be an integer >= 1, got 0"):
        BacktestConfig(record_every=0)
    with pytest.raises(ValueError, match="reprice_on_quotes must be a bool, got 'yes'"):
        BacktestConfig(reprice_on_quotes="yes")
    with pytest.raises(ValueError, match="kind must be one of"):
        QuoteRule("glft")


def test_runs_on_synthesized_ticks():
    from mmenv.data import synthetic_bars
    from mmenv.data.ticks import synthesize_ticks

    ticks = synthesize_ticks(synthetic_bars(1, 0).iloc[:60], seed=1)
    s = TickStream.from_ticks(ticks, time_unit_seconds=3600.0)
    cfg = BacktestConfig(q_max=1000.0, order_size=100.0, share=0.5, sigma=1.5)
    rule = QuoteRule("as", gamma=0.001, k=ticks.k)
    res = run_fast(rule, s, cfg)
    assert res.n_events == len(ticks) and len(res.fills) > 0
    assert_same(res, run_reference(rule.to_policy(), s, cfg))


def test_model_market_backtest():
    params = MarketParams(q_max=3.0)
    agent = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    a = backtest_model(agent, params, num_paths=4, seed=7)
    b = backtest_model(agent, params, num_paths=4, seed=7)
    assert len(a) == 4
    for x, y in zip(a, b, strict=True):
        assert_same(x, y)
        assert np.abs(x.states["inventory"]).max() <= 3.0
        assert len(x.states) == params.n_steps + 1
    with pytest.raises(ValueError, match="NaN quote at event 0"):
        backtest_model(_NanModel(), params, num_paths=2)


class _NanModel(NaiveAgent):
    def quote(self, state):
        return np.full(state.q.shape, np.nan), np.full(state.q.shape, 0.5)


@pytest.mark.parametrize("runner", ["fast", "reference"])
def test_zero_size_trade_is_legal_and_fills_nothing(runner):
    """A trade of a zero-volume bar (size 0) moves the mid and fills nothing; the run goes on."""
    cfg = BacktestConfig(q_max=5.0, order_size=1.0, chunk_size=50)

    def go(stream):
        if runner == "fast":
            return run_fast(QuoteRule("naive", depth=0.05), stream, cfg)
        return run_reference(NaiveAgent(0.05), stream, cfg)

    filled = sorted(set(go(_bad("size", 0, 1.0)).fills["event"].tolist()))
    ev = filled[len(filled) // 2]  # an event that fills with its size
    res = go(_bad("size", ev, 0.0))
    assert ev not in set(res.fills["event"].tolist())
    assert res.n_events == len(_bad("size", ev, 0.0))
