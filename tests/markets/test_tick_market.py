"""Tests of mmenv.markets.tick_market.TickMarket against a brute-force replay of the tick stream."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import mmenv  # noqa: F401  (registers the env)
from mmenv.config import MarketParams
from mmenv.data import synthetic_bars
from mmenv.data.ticks import synthesize_ticks
from mmenv.markets import Market
from mmenv.markets.tick_market import TickMarket


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars(days=3, seed=21)


@pytest.fixture(scope="module")
def ticks(bars):
    return synthesize_ticks(bars, (10, 20), seed=1)


def make(ticks, n=64, dt_s=18.0, steps=50):
    return TickMarket(ticks, n, dt=dt_s / 3600.0, n_steps=steps)


def brute_force_step(ticks, t, mid):
    """Reach and new mid of one interval (t, t + dt], one path, by a plain loop."""
    sel = [i for i in range(len(ticks)) if t[0] < ticks.clock[i] <= t[1]]
    buys = [ticks.price[i] for i in sel if ticks.side[i] == 1]
    sells = [ticks.price[i] for i in sel if ticks.side[i] == -1]
    reach_ask = max(buys) - mid if buys else -np.inf
    reach_bid = mid - min(sells) if sells else -np.inf
    before = [i for i in range(len(ticks)) if ticks.clock[i] <= t[1]]
    return reach_bid, reach_ask, ticks.mid[before[-1]]


def test_is_a_market(ticks):
    m = make(ticks)
    assert isinstance(m, Market)
    assert m.A == pytest.approx(ticks.A * 3600) and m.k == ticks.k
    assert m.n_steps == 50 and m.dt == pytest.approx(0.005)


def test_advance_matches_brute_force(ticks):
    m = make(ticks, n=8, dt_s=7.0, steps=20)
    rng = np.random.default_rng(3)
    m.reset(rng)
    t = m.t.copy()
    np.testing.assert_array_equal(m.mid, ticks.mid[m.start_index])
    np.testing.assert_array_equal(m.s0, m.mid)
    for _ in range(20):
        mids = m.mid.copy()
        rb, ra = m.advance(rng)
        for p in range(m.num_paths):
            eb, ea, emid = brute_force_step(ticks, (t[p], t[p] + 7.0), mids[p])
            assert rb[p] == eb and ra[p] == ea and m.mid[p] == emid
        t = t + 7.0
    assert (m.sigma > 0).all()


def test_no_trades_gives_minus_inf(ticks):
    m = make(ticks, n=200, dt_s=0.5, steps=10)  # 0.5 s: most intervals see no trade
    m.reset(np.random.default_rng(0))
    before = m.mid.copy()
    rb, ra = m.advance(None)
    empty = m._last == m.start_index
    assert empty.any()
    assert np.isneginf(rb[empty]).all() and np.isneginf(ra[empty]).all()
    np.testing.assert_array_equal(m.mid[empty], before[empty])


def test_reset_deterministic_and_within_stream(ticks):
    a, b = make(ticks, n=500), make(ticks, n=500)
    a.reset(np.random.default_rng(9))
    b.reset(np.random.default_rng(9))
    np.testing.assert_array_equal(a.start_index, b.start_index)
    assert (ticks.clock[a.start_index] + a.episode_seconds <= ticks.clock[-1]).all()
    assert len(np.unique(a.start_index)) > 400  # spread over the stream
    out_a = [a.advance(None) for _ in range(a.n_steps)]
    out_b = [b.advance(None) for _ in range(b.n_steps)]
    for (x1, y1), (x2, y2) in zip(out_a, out_b, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_masked_reset_only_touches_masked_paths(ticks):
    m = make(ticks, n=10)
    rng = np.random.default_rng(1)
    m.reset(rng)
    for _ in range(5):
        m.advance(rng)
    mid, t, s0 = m.mid.copy(), m.t.copy(), m.s0.copy()
    mask = np.zeros(10, dtype=bool)
    mask[[2, 7]] = True
    m.reset(rng, mask)
    np.testing.assert_array_equal(m.mid[~mask], mid[~mask])
    np.testing.assert_array_equal(m.t[~mask], t[~mask])
    np.testing.assert_array_equal(m.s0[~mask], s0[~mask])
    np.testing.assert_array_equal(m.mid[mask], ticks.mid[m.start_index[mask]])
    m.reset(rng, np.zeros(10, dtype=bool))  # nothing to do
    with pytest.raises(ValueError, match="mask"):
        m.reset(rng, np.ones(3, dtype=bool))


def test_runs_past_end_of_stream(ticks):
    m = make(ticks, n=4, dt_s=600.0, steps=2)
    m.reset(np.random.default_rng(0))
    for _ in range(400):  # far past the stream's end: empty intervals, mid stays
        rb, ra = m.advance(None)
    assert np.isneginf(rb).all() and np.isneginf(ra).all()
    np.testing.assert_array_equal(m.mid, ticks.mid[-1])


def test_sigma_is_causal(bars):
    tk1 = synthesize_ticks(bars, seed=2)
    changed = bars.copy()
    changed.iloc[600:, :4] *= 1.5  # change the future after bar 600
    tk2 = synthesize_ticks(changed, seed=2)
    s1 = TickMarket._bar_sigma(tk1, 0.94)
    s2 = TickMarket._bar_sigma(tk2, 0.94)
    np.testing.assert_array_equal(s1[:601], s2[:601])
    assert not np.array_equal(s1[601:], s2[601:])


def test_sigma_level_matches_truth():
    b, truth = synthetic_bars(days=10, seed=5, return_truth=True)
    m = TickMarket.from_bars(b, 1, dt_seconds=60.0, episode_seconds=600.0, time_unit_seconds=1.0)
    s = TickMarket._bar_sigma(m.ticks, 0.94)  # price / sqrt(s)
    true = truth.minute_sigma * b["open"].to_numpy() / np.sqrt(60.0)
    ratio = np.median(s[100:]) / np.median(true[100:])
    assert 0.8 < ratio < 1.25


def test_from_bars_and_from_params(bars):
    m = TickMarket.from_bars(bars, 3, dt_seconds=10.0, episode_seconds=600.0, seed=4)
    assert m.n_steps == 60 and m.dt == pytest.approx(10 / 3600)
    with pytest.raises(ValueError, match="whole number"):
        TickMarket.from_bars(bars, dt_seconds=7.0, episode_seconds=100.0)
    p = MarketParams(T=0.5, dt=0.01)
    m2 = TickMarket.from_params(p, 5, bars=bars, tick_seed=4)
    assert m2.n_steps == 50 and m2.dt_seconds == pytest.approx(36.0)
    m3 = TickMarket.from_params(p, 2, synthetic_days=2)
    assert len(m3.ticks) > 2 * 390 * 10
    with pytest.raises(ValueError, match="unknown"):
        TickMarket.from_params(p, 2, bars=bars, colour="red")
    with pytest.raises(ValueError, match="not both"):
        TickMarket.from_params(p, 2, bars=bars, ticks=m.ticks)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"num_paths": 0}, "num_paths"),
        ({"dt": 0.0}, "dt"),
        ({"n_steps": 0}, "n_steps"),
        ({"time_unit_seconds": -1.0}, "time_unit_seconds"),
        ({"sigma_lam": 1.0}, "sigma_lam"),
        ({"n_steps": 10**6}, "less than one episode"),
    ],
)
def test_bad_arguments(ticks, kw, match):
    args = {"num_paths": 2, "dt": 0.005, "n_steps": 10} | kw
    with pytest.raises(ValueError, match=match):
        TickMarket(ticks, **args)
    with pytest.raises(TypeError):
        TickMarket(object(), 1, dt=0.1, n_steps=1)


def test_pickle_roundtrip(ticks):
    m = make(ticks, n=3)
    m.reset(np.random.default_rng(0))
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m.advance(None)[1], m2.advance(None)[1])


def test_env_runs_on_ticks(bars):
    kw = {"market": "ticks", "bars": bars, "T": 0.05, "dt": 0.005}
    env1 = gym.make("mmenv/MarketMaking-v0", **kw)
    env2 = gym.make("mmenv/MarketMaking-v0", **kw)
    o1, _ = env1.reset(seed=3)
    o2, _ = env2.reset(seed=3)
    np.testing.assert_array_equal(o1, o2)
    done, steps = False, 0
    while not done:
        a = np.array([0.0, 0.0], dtype=np.float32)
        r1 = env1.step(a)
        r2 = env2.step(a)
        np.testing.assert_array_equal(r1[0], r2[0])
        assert r1[1] == r2[1]
        done = r1[2]
        steps += 1
    assert steps == 10
