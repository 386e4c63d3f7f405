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


def _scale(df: pd.DataFrame, rows: slice, log_factor: float) -> pd.DataFrame:
    out = df.copy()
    cols = [out.columns.get_loc(c) for c in ("open", "high", "low", "close")]
    out.iloc[rows, cols] = out.iloc[rows, cols].to_numpy() * np.exp(log_factor)
    return out


@SETTINGS
@given(
    random_walk(),
    st.integers(1, 10),
    st.floats(0.0, 1.0),
    st.one_of(st.floats(0.3, 27.6), st.floats(-27.6, -0.3)),
)
def test_an_injected_run_that_comes_back_is_dropped_bar_for_bar(walk, m, where, log_factor):
    """A run of 1 to 10 bars shifted by a factor (0.74 to 1e12, either way: a level shift, three bars at 1e12)
    that ends with the price back at its level: exactly the run's bars are dropped."""
    df, _ = walk
    sig = float(np.std(np.diff(np.log(df["close"].to_numpy()))))
    if abs(log_factor) < 100 * sig:  # the shift must be a clear outlier for this walk's volatility
        log_factor = float(np.sign(log_factor)) * 100 * sig
    i = 1 + int(where * (len(df) - m - 2))  # at least one bar before and one after the run
    bad = _scale(df, slice(i, i + m), log_factor)
    out, rep = validate_bars(bad)
    assert rep.n_outliers == m, rep.actions
    assert not out.index.isin(df.index[i : i + m]).any()
    assert (rep.n_outlier_runs, rep.longest_outlier_run) == ((1, m) if m >= 2 else (0, 0))


@SETTINGS
@given(random_walk(), st.floats(0.0, 1.0), st.one_of(st.floats(0.3, 27.6), st.floats(-27.6, -0.3)))
def test_a_genuine_jump_that_lasts_is_kept(walk, where, log_factor):
    """A one-way jump of any size, anywhere in the session (first and last bars included), is not an
    outlier: every bar is kept."""
    df, _ = walk
    i = 1 + int(where * (len(df) - 2))
    jumped = _scale(df, slice(i, None), log_factor)
    jumped.iloc[i, jumped.columns.get_loc("open")] = df["close"].iloc[i - 1]  # the jump happens inside bar i
    jumped.iloc[i, jumped.columns.get_loc("low")] = jumped.iloc[i][["open", "close", "low"]].min()
    jumped.iloc[i, jumped.columns.get_loc("high")] = jumped.iloc[i][["open", "close", "high"]].max()
    out, rep = validate_bars(jumped)
    assert rep.n_outliers == 0 and len(out) == len(df), rep.actions


def test_runs_across_sessions_and_the_report_counts():
    """Three bars at 1e12 in the second of two sessions are dropped and counted in the report; a level that
    stays shifted to the end of the file is kept (it cannot be told from a jump)."""
    rng = np.random.default_rng(0)
    idx = _session(390).append(_session(390, start="2024-01-03 09:30"))
    close = 100.0 * np.exp(np.cumsum(1e-3 * rng.standard_normal(780)))
    df = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=idx)
    bad = df.copy()
    bad.iloc[500:503, :4] = 1e12
    out, rep = validate_bars(bad)
    assert rep.n_outliers == 3 and (rep.n_outlier_runs, rep.longest_outlier_run) == (1, 3)
    assert "1 runs of consecutive bars, the longest 3" in rep.summary()
    assert rep.as_dict()["n_outlier_runs"] == 1
    _, kept = validate_bars(_scale(df, slice(770, None), 3.0))
    assert kept.n_outliers == 0


def test_outlier_rule_in_blocks_of_sessions_equals_one_block(monkeypatch):
    """The isolated-print test runs on blocks of whole sessions: any block size gives the same result."""
    import mmenv.data.bars.validate as v

    rng = np.random.default_rng(1)
    idx = _session(390).append([_session(390, start=f"2024-01-0{d} 09:30") for d in (3, 4, 5)])
    close = 100.0 * np.exp(np.cumsum(1e-3 * rng.standard_normal(len(idx))))
    df = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=idx)
    for i, col in ((5, "high"), (400, "close"), (779, "low"), (1200, "open")):
        df.iloc[i, df.columns.get_loc(col)] *= 1e6 if col != "low" else 1e-6
    df.iloc[900:903, :4] = 1e12
    one = validate_bars(df)[1]
    for rows in (100, 390, 500, 800):
        monkeypatch.setattr(v, "OUTLIER_BLOCK_ROWS", rows)
        assert validate_bars(df)[1] == one
    assert one.n_outliers == 7 and one.n_outlier_runs == 1
