"""Tests of mmenv.data.ticks: tick synthesis respects its bars, the fill model's A and k, estimators."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmenv.data import synthetic_bars
from mmenv.data.ticks import (
    MINUTES_PER_YEAR,
    Ticks,
    annualize,
    ewma_vol,
    log_returns,
    rolling_std,
    synthesize_ticks,
)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars(days=5, seed=11)


@pytest.fixture(scope="module")
def ticks(bars) -> Ticks:
    return synthesize_ticks(bars, (10, 20), seed=5)


def assert_respects_bars(tk: Ticks, bars: pd.DataFrame, lo_n: int, hi_n: int) -> None:
    start = tk.bar_start
    first, last = start[:-1], start[1:] - 1
    counts = np.diff(start)
    assert counts.min() >= lo_n and counts.max() <= hi_n
    o, h, lo, c, v = (bars[col].to_numpy() for col in ["open", "high", "low", "close", "volume"])
    np.testing.assert_array_equal(tk.mid[first], o)
    np.testing.assert_array_equal(tk.mid[last], c)
    np.testing.assert_array_equal(np.maximum.reduceat(tk.mid, first), h)
    np.testing.assert_array_equal(np.minimum.reduceat(tk.mid, first), lo)
    assert (tk.mid >= lo[tk.bar]).all() and (tk.mid <= h[tk.bar]).all()
    np.testing.assert_allclose(np.add.reduceat(tk.size, first), v, rtol=1e-12, atol=1e-9)
    assert (tk.size >= 0).all()
    # times inside their bar, sorted
    bar_ns = bars.index.as_unit("ns").asi8
    assert (tk.time_ns >= bar_ns[tk.bar]).all()
    assert (tk.time_ns < bar_ns[tk.bar] + round(tk.bar_seconds * 1e9)).all()
    assert (np.diff(tk.time_ns) >= 0).all() and (np.diff(tk.clock) >= 0).all()
    # marks
    assert set(np.unique(tk.side)) <= {-1, 1}
    assert (tk.depth >= 0).all()
    np.testing.assert_allclose(tk.price, tk.mid + tk.side * tk.depth, rtol=0, atol=1e-12)


@st.composite
def bar_frames(draw):
    n = draw(st.integers(1, 30))
    rows = []
    for _ in range(n):
        low = draw(st.floats(1.0, 500.0))
        width = draw(st.floats(0.0, 5.0))
        high = low + width
        o = draw(st.floats(low, high)) if width > 0 else low
        c = draw(st.floats(low, high)) if width > 0 else low
        vol = draw(st.sampled_from([0.0, 1.0, 100.0, 1e6]))
        rows.append((o, high, low, c, vol))
    idx = pd.date_range("2024-03-01 09:30", periods=n, freq="min", tz="America/New_York")
    return pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"], index=idx)


@settings(max_examples=60, deadline=None)
@given(
    frame=bar_frames(),
    lo_n=st.integers(4, 12),
    extra=st.integers(0, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_ticks_always_respect_their_bar(frame, lo_n, extra, seed):
    tk = synthesize_ticks(frame, (lo_n, lo_n + extra), seed=seed)
    assert_respects_bars(tk, frame, lo_n, lo_n + extra)


def test_ticks_respect_synthetic_bars(bars, ticks):
    assert_respects_bars(ticks, bars, 10, 20)
    assert ticks.bar_seconds == 60.0 and ticks.A == 30 / 240 and ticks.k == 50.0
    assert ticks.duration == len(bars) * 60.0
    assert (ticks.half_spread == 0.005).all()


def test_deterministic_by_seed(bars):
    a = synthesize_ticks(bars, seed=1)
    b = synthesize_ticks(bars, seed=1)
    c = synthesize_ticks(bars, seed=2)
    for name in ("time_ns", "price", "side", "size", "mid", "depth"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert len(a) != len(c) or not np.array_equal(a.price, c.price)


def test_generator_seed_accepted(bars):
    a = synthesize_ticks(bars, seed=np.random.default_rng(4))
    b = synthesize_ticks(bars, seed=4)
    np.testing.assert_array_equal(a.price, b.price)


def test_fill_model_A_and_k_recovered():
    """MLE of the marked process: k_hat = N / sum(d), A_hat = N_side / T, within 4 standard errors."""
    b = synthetic_bars(days=10, seed=2)
    k = 80.0
    tk = synthesize_ticks(b, (10, 20), seed=3, k=k)
    n = len(tk)
    k_hat = n / tk.depth.sum()
    assert abs(k_hat - k) < 4 * k / math.sqrt(n)
    # per-side count: sum over bars of Binomial(n_i, 1/2), n_i uniform on 10..20:
    # Var = B * (E[n] / 4 + Var(n) / 4) with E[n] = 15, Var(n) = 10.
    n_bars = len(b)
    se_count = math.sqrt(n_bars * (15 / 4 + 10 / 4))
    for s in (1, -1):
        count = int((tk.side == s).sum())
        assert abs(count - tk.A * tk.duration) < 4 * se_count
    # exponential depths: the survival function at the quartiles matches exp(-k d)
    for q in (0.25, 0.5, 0.75):
        d = -math.log(1 - q) / k
        frac = float((tk.depth >= d).mean())
        assert abs(frac - (1 - q)) < 4 * math.sqrt(q * (1 - q) / n)


def test_to_frame(ticks):
    df = ticks.to_frame()
    assert len(df) == len(ticks)
    assert str(df.index.tz) == "America/New_York"
    assert df.index.is_monotonic_increasing
    assert list(df.columns) == ["clock", "bar", "price", "side", "size", "mid", "half_spread", "depth"]


def test_bar_seconds_inferred_and_given():
    b = synthetic_bars(days=1, seed=0).iloc[::5]  # 5-minute spacing
    tk = synthesize_ticks(b, seed=0)
    assert tk.bar_seconds == 300.0
    tk1 = synthesize_ticks(b.iloc[:1], seed=0)
    assert tk1.bar_seconds == 60.0
    tk2 = synthesize_ticks(b, seed=0, bar_seconds=120.0)
    assert tk2.clock.max() < len(b) * 120.0


@pytest.mark.parametrize("tpb", [(3, 10), (10, 5), (10,), "ab", (4.0, 5), (True, 5), None])
def test_bad_ticks_per_bar(bars, tpb):
    with pytest.raises(ValueError, match="ticks_per_bar"):
        synthesize_ticks(bars, tpb)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"k": 0.0}, "k must"),
        ({"k": np.nan}, "k must"),
        ({"half_spread": -0.01}, "half_spread"),
        ({"bar_seconds": 0.0}, "bar_seconds"),
    ],
)
def test_bad_parameters(bars, kw, match):
    with pytest.raises(ValueError, match=match):
        synthesize_ticks(bars, **kw)


def test_bad_bars(bars):
    b = bars.iloc[:10].copy()
    with pytest.raises(ValueError, match="empty"):
        synthesize_ticks(b.iloc[:0])
    with pytest.raises(ValueError, match="missing column"):
        synthesize_ticks(b.drop(columns="low"))
    with pytest.raises(TypeError):
        synthesize_ticks(b.to_numpy())
    for col, val, match in [
        ("high", 1.0, "inconsistent"),
        ("open", 1e6, "inconsistent"),
        ("volume", -1.0, "inconsistent"),
        ("close", np.nan, "NaN"),
        ("low", np.inf, "NaN"),
    ]:
        bad = b.copy()
        bad.iloc[3, bad.columns.get_loc(col)] = val
        with pytest.raises(ValueError, match=match):
            synthesize_ticks(bad)
    with pytest.raises(ValueError, match="increasing"):
        synthesize_ticks(b.iloc[::-1])
    with pytest.raises(ValueError, match="DatetimeIndex"):
        synthesize_ticks(b.reset_index(drop=True))


def test_ticks_validates_lengths():
    z = np.zeros(3)
    with pytest.raises(ValueError, match="price"):
        Ticks(z, z, z, np.zeros(2), z, z, z, z, z, A=1.0, k=1.0, bar_seconds=60.0)
    with pytest.raises(ValueError, match="A, k"):
        Ticks(z, z, z, z, z, z, z, z, z, A=0.0, k=1.0, bar_seconds=60.0)


# ------------------------------------------------------------------ returns and volatility
def test_log_returns():
    p = np.array([100.0, 101.0, 99.0, 99.0])
    r = log_returns(p)
    assert np.isnan(r[0])
    np.testing.assert_allclose(r[1:], np.log(p[1:] / p[:-1]))
    s = pd.Series(p, index=pd.date_range("2024-01-02", periods=4, freq="min"))
    rs = log_returns(s)
    assert isinstance(rs, pd.Series) and rs.index.equals(s.index)
    np.testing.assert_allclose(rs.to_numpy()[1:], r[1:])
    with pytest.raises(ValueError, match="> 0"):
        log_returns(np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="one-dimensional"):
        log_returns(np.ones((2, 2)))


def test_rolling_std_matches_definition():
    rng = np.random.default_rng(0)
    p = 100 + np.cumsum(rng.standard_normal(100))
    s = rolling_std(p, 20)
    assert np.isnan(s[:20]).all() and np.isfinite(s[20:]).all()
    dp = np.diff(p)
    for t in (20, 50, 99):
        np.testing.assert_allclose(s[t], np.std(dp[t - 20 : t], ddof=1), rtol=1e-10)
    ser = rolling_std(pd.Series(p), 20)
    assert isinstance(ser, pd.Series)
    with pytest.raises(ValueError, match="window"):
        rolling_std(p, 1)


def _ewma_reference(r, lam, init):
    s2 = np.mean(r[np.isfinite(r)][:init] ** 2)
    out = []
    for x in r:
        if np.isfinite(x):
            s2 = lam * s2 + (1 - lam) * x * x
        out.append(math.sqrt(s2))
    return np.array(out)


def test_ewma_vol_matches_recursion():
    rng = np.random.default_rng(1)
    r = rng.standard_normal(500) * 0.01
    np.testing.assert_allclose(ewma_vol(r, 0.94), _ewma_reference(r, 0.94, 20), rtol=1e-10)
    r[[0, 10, 11, 300]] = np.nan  # gaps keep the previous variance
    np.testing.assert_allclose(ewma_vol(r, 0.9, init_window=5), _ewma_reference(r, 0.9, 5))
    assert np.isnan(ewma_vol(np.full(5, np.nan))).all()
    ser = ewma_vol(pd.Series(r))
    assert isinstance(ser, pd.Series)
    with pytest.raises(ValueError, match="lam"):
        ewma_vol(r, 1.0)
    with pytest.raises(ValueError, match="init_window"):
        ewma_vol(r, init_window=0)


def test_annualize_and_vol_level():
    assert MINUTES_PER_YEAR == 98_280
    assert annualize(0.01, 252) == pytest.approx(0.01 * math.sqrt(252))
    with pytest.raises(ValueError, match="periods_per_year"):
        annualize(0.1, 0)
    b = synthetic_bars(days=40, seed=4)
    r = log_returns(b["close"].to_numpy())
    ann = annualize(np.nanstd(r))
    assert 0.3 < ann < 0.8  # NVDA-like: about 48% a year plus overnight gaps
