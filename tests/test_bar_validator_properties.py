"""Property tests of :func:`mmenv.data.validate_bars`: what comes out is always clean and fully accounted for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmenv.data import BarValidationError, validate_bars

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

price = st.one_of(
    st.floats(50.0, 150.0),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -1.0, 1e12]),
)


def _session(n: int, start: str = "2024-01-02 09:30", step: str = "1min") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq=step, tz="America/New_York", name="datetime")


@st.composite
def messy_bars(draw):
    """A session of up to 120 one-minute bars with bad values, duplicates and shuffled rows mixed in."""
    n = draw(st.integers(3, 120))
    rows = draw(st.lists(st.tuples(price, price, price, price, st.floats(-5, 1e4)), min_size=n, max_size=n))
    idx = _session(n)
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"], index=idx)
    dups = draw(st.lists(st.integers(0, n - 1), max_size=5))
    if dups:
        df = pd.concat([df, df.iloc[dups]])
    order = draw(st.permutations(range(len(df))))
    return df.iloc[list(order)]


@SETTINGS
@given(messy_bars())
def test_output_is_clean_and_every_row_is_accounted_for(df):
    try:
        out, rep = validate_bars(df)
    except BarValidationError:
        return  # too much invalid: refused, nothing returned
    assert rep.n_input == len(df) == rep.n_output + rep.n_dropped
    assert len(out) == rep.n_output
    assert out.index.is_monotonic_increasing and out.index.is_unique
    v = out.to_numpy()
    assert np.isfinite(v).all() and (v[:, :4] > 0).all() and (v[:, 4] >= 0).all()
    assert (out["high"] >= np.maximum(out["open"], out["close"])).all()
    assert (out["low"] <= np.minimum(out["open"], out["close"])).all()


@st.composite
def random_walk(draw):
    n = draw(st.integers(60, 390))
    sigma = draw(st.floats(1e-4, 5e-3))  # per-minute log volatility
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(sigma * rng.standard_normal(n)))
    open_ = np.r_[100.0, close[:-1]]
    wick = np.abs(sigma * rng.standard_normal((n, 2))) * close[:, None]
    high = np.maximum(open_, close) + wick[:, 0]
    low = np.minimum(open_, close) - wick[:, 1]
    vol = rng.integers(0, 1000, n).astype(float)
    df = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": vol}, index=_session(n)
    )
    return df, rng


@SETTINGS
@given(random_walk(), st.sampled_from(["open", "high", "low", "close"]), st.floats(50.0, 1e12))
def test_an_isolated_bad_print_is_the_only_bar_dropped(walk, column, factor):
    df, rng = walk
    _, clean = validate_bars(df)
    assert clean.n_outliers == 0  # a Gaussian random walk has no outlier at 30 robust sigmas
    i = int(rng.integers(1, len(df) - 1))
    bad = df.copy()
    bad.iloc[i, bad.columns.get_loc(column)] *= factor if column != "low" else 1.0 / factor
    out, rep = validate_bars(bad)
    assert rep.n_dropped == 1
    assert df.index[i] not in out.index


@pytest.mark.parametrize("step", ["2min", "5min", "30min"])
def test_bars_of_another_interval_are_refused(step):
    n = 40
    df = pd.DataFrame(
        {"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0, "volume": 1.0},
        index=_session(n, step=step),
    )
    with pytest.raises(BarValidationError, match=f"{pd.Timedelta(step).total_seconds() / 60:g} min apart"):
        validate_bars(df, "1m")
    validate_bars(df, {"2min": "2m", "5min": "5m", "30min": "30m"}[step])  # the right interval passes
