"""Tests of mmenv.data: yfinance shapes, CSV formats, the cache, validation and synthetic bars.

No test touches the network: yfinance is replaced by a fake module whose ``download`` returns
frames in the exact shapes yfinance 1.x returns (MultiIndex (Price, Ticker) columns, New York index
as in 1.4+ or UTC as in 1.0-1.3).
"""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pandas as pd
import pytest

from mmenv import data
from mmenv.data import (
    COLUMNS,
    BarValidationError,
    DataUnavailableError,
    cache,
    load_bars,
    read_bars_csv,
    readers,
    synthetic_bars,
    validate_bars,
    validate_ticker,
    yahoo,
)

NOW = pd.Timestamp("2024-02-01 12:00", tz="America/New_York")


# ------------------------------------------------------------------ yfinance-shaped frames
def yf_download_frame(
    bars: pd.DataFrame, ticker: str = "NVDA", tz: str = "America/New_York", adj: bool = False
) -> pd.DataFrame:
    """What ``yf.download(ticker, interval="1m")`` returns in yfinance 1.x."""
    cols = {
        "Close": bars["close"],
        "High": bars["high"],
        "Low": bars["low"],
        "Open": bars["open"],
        "Volume": bars["volume"].astype(np.int64),
    }
    if adj:  # auto_adjust=False
        cols = {"Adj Close": bars["close"] * 0.99, **cols}
    flat = pd.DataFrame(cols)
    flat.index = bars.index.tz_convert(tz)
    flat.index.name = "Datetime"
    out = pd.concat({ticker: flat}, axis=1, names=["Ticker", "Price"])
    out.columns = out.columns.swaplevel(0, 1)
    return out.sort_index(level=0, axis=1)


def yf_history_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """What ``yf.Ticker(t).history(interval="1m")`` returns: flat, plus Dividends/Stock Splits."""
    out = pd.DataFrame(
        {
            "Open": bars["open"],
            "High": bars["high"],
            "Low": bars["low"],
            "Close": bars["close"],
            "Volume": bars["volume"].astype(np.int64),
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        }
    )
    out.index = bars.index.copy()
    out.index.name = "Datetime"
    return out


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars(days=20, seed=3)  # 2024-01-02 .. 2024-01-29


class FakeYF:
    """A stand-in for the yfinance module; ``download`` serves ``source`` in yfinance's shape."""

    def __init__(self, source: pd.DataFrame, tz: str = "America/New_York") -> None:
        self.source = source
        self.tz = tz
        self.calls: list[dict] = []
        self.fail: Exception | None = None
        self.empty = False

    def download(self, tickers, start=None, end=None, interval="1d", **kwargs):
        self.calls.append({"tickers": tickers, "start": start, "end": end, "interval": interval})
        if self.fail is not None:
            raise self.fail
        if self.empty:
            return pd.DataFrame()
        s = pd.Timestamp(start, tz="America/New_York")
        e = pd.Timestamp(end, tz="America/New_York")
        sel = self.source[(self.source.index >= s) & (self.source.index < e)]
        if len(sel) == 0:
            return pd.DataFrame()
        return yf_download_frame(sel, tickers, self.tz)


@pytest.fixture(params=["America/New_York", "UTC"], ids=["yf>=1.4-NY", "yf1.0-1.3-UTC"])
def fake_yf(request, monkeypatch, bars):
    fake = FakeYF(bars, request.param)
    module = types.ModuleType("yfinance")
    module.download = fake.download
    monkeypatch.setitem(sys.modules, "yfinance", module)
    monkeypatch.setattr(yahoo, "_now_new_york", lambda: NOW)
    monkeypatch.setattr(yahoo, "RETRY_BACKOFF_S", 0.0)
    return fake


# ------------------------------------------------------------------ normalising yfinance frames
@pytest.mark.parametrize("tz", ["America/New_York", "UTC"])
@pytest.mark.parametrize("adj", [False, True])
def test_normalize_download_shape(bars, tz, adj):
    raw = yf_download_frame(bars, tz=tz, adj=adj)
    assert isinstance(raw.columns, pd.MultiIndex)
    assert list(raw.columns.names) == ["Price", "Ticker"]
    out = readers.normalize_yf_frame(raw, "NVDA")
    assert list(out.columns) == list(COLUMNS)
    assert str(out.index.tz) == "America/New_York"
    pd.testing.assert_frame_equal(out, bars, check_freq=False, check_index_type=False)


def test_normalize_history_shape(bars):
    out = readers.normalize_yf_frame(yf_history_frame(bars))
    pd.testing.assert_frame_equal(out, bars, check_freq=False, check_index_type=False)


def test_normalize_picks_ticker_from_multi_ticker_frame(bars):
    a = yf_download_frame(bars.iloc[:10], "NVDA")
    b = yf_download_frame(bars.iloc[:10] * 2, "AMD")
    both = pd.concat([a, b], axis=1)
    out = readers.normalize_yf_frame(both, "AMD")
    np.testing.assert_array_equal(out["close"].to_numpy(), bars["close"].iloc[:10] * 2)
    with pytest.raises(ValueError, match="several tickers"):
        readers.normalize_yf_frame(both)


# ------------------------------------------------------------------ CSV formats
@pytest.mark.parametrize("tz", ["America/New_York", "UTC"])
def test_read_yf_download_csv_three_header_rows(tmp_path, bars, tz):
    path = tmp_path / "nvda.csv"
    yf_download_frame(bars.iloc[:500], tz=tz).to_csv(path)
    head = path.read_text().splitlines()[:3]
    assert head[0].startswith("Price,") and head[1].startswith("Ticker,")
    assert head[2].startswith("Datetime")
    out = read_bars_csv(path)
    pd.testing.assert_frame_equal(out, bars.iloc[:500], check_freq=False, check_index_type=False)
    assert out.attrs["validation"]["n_output"] == 500


def test_read_flat_history_csv(tmp_path, bars):
    path = tmp_path / "hist.csv"
    yf_history_frame(bars.iloc[:300]).to_csv(path)
    out = read_bars_csv(path)
    pd.testing.assert_frame_equal(out, bars.iloc[:300], check_freq=False, check_index_type=False)


def test_read_flat_csv_with_adj_close_and_naive_times(tmp_path, bars):
    sub = bars.iloc[:50]
    flat = pd.DataFrame(
        {
            "Datetime": sub.index.tz_localize(None).strftime("%Y-%m-%d %H:%M:%S"),
            "Open": sub["open"].to_numpy(),
            "High": sub["high"].to_numpy(),
            "Low": sub["low"].to_numpy(),
            "Close": sub["close"].to_numpy(),
            "Adj Close": sub["close"].to_numpy() * 0.5,
            "Volume": sub["volume"].to_numpy(),
        }
    )
    path = tmp_path / "flat.csv"
    flat.to_csv(path, index=False)
    out = read_bars_csv(path)  # naive times are New York by default
    pd.testing.assert_frame_equal(out, sub, check_freq=False, check_index_type=False)
    out_utc = read_bars_csv(path, tz="UTC")
    assert (out_utc.index == sub.index.tz_localize(None).tz_localize("UTC")).all()


def test_read_cache_format_roundtrip(tmp_path, bars):
    path = tmp_path / "day.csv"
    cache.write_csv_atomic(bars.iloc[:390], path)
    assert path.read_text().splitlines()[0] == "datetime,open,high,low,close,volume"
    out = read_bars_csv(path)
    pd.testing.assert_frame_equal(out, bars.iloc[:390], check_freq=False, check_index_type=False)


def test_read_csv_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_bars_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(ValueError, match="unrecognised header"):
        read_bars_csv(bad)
    bad.write_text("Datetime,Open,High,Low,Close,Volume\nnot-a-date,1,1,1,1,1\n")
    with pytest.raises(ValueError, match="parse"):
        read_bars_csv(bad)
    bad.write_text("Datetime,Open,High,Low,Volume\n2024-01-02 09:30:00,1,1,1,1\n")
    with pytest.raises(ValueError, match="close"):
        read_bars_csv(bad)


# ------------------------------------------------------------------ validation
def _small(n: int = 10) -> pd.DataFrame:
    idx = pd.date_range("2024-01-02 09:30", periods=n, freq="min", tz="America/New_York")
    o = 100.0 + np.arange(n)
    return pd.DataFrame(
        {"open": o, "high": o + 1.0, "low": o - 1.0, "close": o + 0.5, "volume": 100.0},
        index=idx,
    )


def test_validate_clean(bars):
    out, rep = validate_bars(bars)
    assert rep.clean and rep.n_input == rep.n_output == len(bars)
    assert rep.n_sessions == 20 and rep.n_overnight_gaps == 19
    assert rep.n_intraday_gaps == 0 and rep.half_days == () and rep.late_opens == ()
    pd.testing.assert_frame_equal(out, bars, check_freq=False, check_index_type=False)


@pytest.mark.parametrize("days", [1, 2, 3])
def test_daily_bars_given_as_minute_bars_are_refused_even_one_bar_a_day(days):
    idx = pd.date_range("2024-01-02", periods=days, freq="D", tz="America/New_York")
    o = 100.0 + np.arange(days)
    df = pd.DataFrame({"open": o, "high": o + 1, "low": o - 1, "close": o, "volume": 1e6}, index=idx)
    with pytest.raises(BarValidationError, match=r"these are daily or coarser bars|a single bar cannot show"):
        validate_bars(df)
    validate_bars(df, check_spacing=False)  # the rule is the spacing's


def test_validate_unsorted():
    df = _small().iloc[[0, 2, 1, 3, 4, 5, 6, 7, 8, 9]]
    out, rep = validate_bars(df)
    assert rep.n_unsorted == 1 and out.index.is_monotonic_increasing and rep.n_output == 10


def test_validate_duplicates_keep_last():
    df = _small()
    dup = df.iloc[[3]].copy()
    dup["close"] = 103.7
    out, rep = validate_bars(pd.concat([df, dup]))
    assert rep.n_duplicates == 1 and rep.n_output == 10
    assert out["close"].iloc[3] == 103.7


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("col", list(COLUMNS))
def test_validate_nonfinite(value, col):
    df = _small()
    df.iloc[4, df.columns.get_loc(col)] = value
    out, rep = validate_bars(df)
    assert rep.n_nonfinite == 1 and rep.n_output == 9 and df.index[4] not in out.index


@pytest.mark.parametrize("col", ["open", "high", "low", "close"])
def test_validate_nonpositive(col):
    df = _small()
    df.iloc[2, df.columns.get_loc(col)] = 0.0 if col != "low" else -1.0
    if col == "high":  # keep high >= low so the row fails only the positivity rule
        df.iloc[2, df.columns.get_loc("low")] = -5.0
    _, rep = validate_bars(df)
    assert rep.n_nonpositive == 1 and rep.n_output == 9


def test_validate_high_below_low():
    df = _small()
    df.iloc[5, df.columns.get_loc("high")] = 50.0
    _, rep = validate_bars(df)
    assert rep.n_high_below_low == 1 and rep.n_output == 9


def test_validate_negative_volume():
    df = _small()
    df.iloc[1, df.columns.get_loc("volume")] = -3.0
    _, rep = validate_bars(df)
    assert rep.n_negative_volume == 1 and rep.n_output == 9


@pytest.mark.parametrize("col,value", [("open", 200.0), ("close", 1.0)])
def test_validate_open_close_outside_is_repaired(col, value):
    df = _small()
    df.iloc[6, df.columns.get_loc(col)] = value
    out, rep = validate_bars(df, outlier_z=None)  # the repair rule alone (an open of 200 is also an outlier)
    assert rep.n_open_close_outside == 1 and rep.n_output == 10
    row = out.iloc[6]
    assert row["low"] <= min(row["open"], row["close"])
    assert row["high"] >= max(row["open"], row["close"])


def test_validate_zero_volume_kept():
    df = _small()
    df.iloc[[1, 2], df.columns.get_loc("volume")] = 0.0
    _, rep = validate_bars(df)
    assert rep.n_zero_volume == 2 and rep.n_output == 10 and rep.clean


def test_validate_gaps_halts_half_days_late_opens(bars):
    day1 = bars.iloc[:390]
    halted = day1.drop(day1.index[100:115])  # a 15-minute halt
    half = bars.iloc[390:780].iloc[:210]  # closes at 13:00
    late = bars.iloc[780:1170].iloc[30:]  # opens at 10:00
    _, rep = validate_bars(pd.concat([halted, half, late]))
    assert rep.n_sessions == 3 and rep.n_overnight_gaps == 2
    assert rep.n_intraday_gaps == 1 and rep.n_missing_bars == 15
    assert rep.largest_gap_minutes == 16.0
    assert rep.half_days == ("2024-01-03",)
    assert rep.late_opens == ("2024-01-04",)
    assert "intraday gaps" in rep.summary()


def test_validate_counts_add_up():
    df = _small(20)
    df.iloc[0, 0] = np.nan  # nonfinite
    df.iloc[1, 1] = 0.5  # high < low (low = 100)
    df.iloc[2, 4] = -1.0  # negative volume
    df.iloc[3, 0] = np.nan  # nonfinite and nonpositive: counted once, as nonfinite
    df.iloc[3, 2] = -1.0
    _, rep = validate_bars(pd.concat([df, df.iloc[[10]]]))
    assert rep.n_input == 21
    assert (rep.n_nonfinite, rep.n_high_below_low, rep.n_negative_volume) == (2, 1, 1)
    assert rep.n_duplicates == 1
    assert rep.n_input == rep.n_output + rep.n_dropped
    assert rep.as_dict()["n_output"] == 16


def test_validate_unusable_raises():
    df = _small()
    df["close"] = np.nan
    with pytest.raises(BarValidationError, match="no usable bars"):
        validate_bars(df)
    df = _small()
    df.iloc[:6, 0] = np.nan
    with pytest.raises(BarValidationError, match="max_drop_fraction"):
        validate_bars(df)
    _, rep = validate_bars(df, max_drop_fraction=0.7)
    assert rep.n_output == 4


def test_validate_bad_inputs():
    df = _small()
    with pytest.raises(ValueError, match="missing column"):
        validate_bars(df.drop(columns="volume"))
    with pytest.raises(ValueError, match="tz-naive"):
        validate_bars(df.tz_localize(None))
    with pytest.raises(ValueError, match="DatetimeIndex"):
        validate_bars(df.reset_index(drop=True))
    with pytest.raises(ValueError, match="interval"):
        validate_bars(df, interval="7m")
    with pytest.raises(ValueError, match="max_drop_fraction"):
        validate_bars(df, max_drop_fraction=1.5)
    with pytest.raises(TypeError):
        validate_bars(df.to_numpy())


# ------------------------------------------------------------------ tickers
@pytest.mark.parametrize("ok", ["NVDA", "nvda", "BRK-B", "^GSPC", "EURUSD=X", "BTC-USD", "RY.TO"])
def test_validate_ticker_ok(ok):
    assert validate_ticker(ok) == ok.upper()


@pytest.mark.parametrize(
    "bad", ["", "../etc", "A/B", "..", ".NVDA", "NV DA", "A\\B", "X" * 21, "NV..DA", None, 5]
)
def test_validate_ticker_bad(bad, tmp_path):
    with pytest.raises(ValueError, match="ticker"):
        validate_ticker(bad)
    with pytest.raises(ValueError, match="ticker"):
        load_bars(bad, cache_dir=tmp_path, offline=True)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ load_bars with a fake yfinance
def test_load_bars_windows_stitch_and_cache(fake_yf, bars, tmp_path):
    out = load_bars("nvda", start="2024-01-02", end="2024-01-30", cache_dir=tmp_path)
    pd.testing.assert_frame_equal(out, bars, check_freq=False, check_index_type=False)
    # 28 calendar days in windows of at most 7 days
    assert len(fake_yf.calls) == 4
    for call in fake_yf.calls:
        span = pd.Timestamp(call["end"]) - pd.Timestamp(call["start"])
        assert pd.Timedelta(days=1) <= span <= pd.Timedelta(days=7)
        assert call["interval"] == "1m" and call["tickers"] == "NVDA"
    files = sorted((tmp_path / "NVDA" / "1m").glob("*.csv"))
    assert len(files) == 28  # one per day, weekends included (empty)
    assert not list((tmp_path / "NVDA" / "1m").glob(".*tmp"))
    weekend = pd.read_csv(tmp_path / "NVDA" / "1m" / "2024-01-06.csv")
    assert len(weekend) == 0 and list(weekend.columns) == ["datetime", *COLUMNS]

    # the second call is served from the cache, online or offline
    fake_yf.calls.clear()
    again = load_bars("NVDA", start="2024-01-02", end="2024-01-30", cache_dir=tmp_path)
    assert fake_yf.calls == []
    pd.testing.assert_frame_equal(again, bars, check_freq=False, check_index_type=False)
    off = load_bars("NVDA", start="2024-01-08", end="2024-01-13", cache_dir=tmp_path, offline=True)
    expect = bars[(bars.index >= "2024-01-08") & (bars.index < "2024-01-13")]
    pd.testing.assert_frame_equal(off, expect, check_freq=False, check_index_type=False)


def test_load_bars_fetches_only_missing_days(fake_yf, tmp_path):
    load_bars("NVDA", start="2024-01-08", end="2024-01-10", cache_dir=tmp_path)
    fake_yf.calls.clear()
    load_bars("NVDA", start="2024-01-08", end="2024-01-12", cache_dir=tmp_path)
    assert [(c["start"], c["end"]) for c in fake_yf.calls] == [("2024-01-10", "2024-01-12")]


def test_load_bars_does_not_cache_today(monkeypatch, bars, tmp_path):
    fake = FakeYF(bars)
    module = types.ModuleType("yfinance")
    module.download = fake.download
    monkeypatch.setitem(sys.modules, "yfinance", module)
    monkeypatch.setattr(
        yahoo, "_now_new_york", lambda: pd.Timestamp("2024-01-10 12:00", tz="America/New_York")
    )
    out = load_bars("NVDA", period="3d", cache_dir=tmp_path)
    assert out.index[-1].date().isoformat() == "2024-01-10"
    names = sorted(p.name for p in (tmp_path / "NVDA" / "1m").glob("*.csv"))
    assert names == ["2024-01-08.csv", "2024-01-09.csv"]


def test_load_bars_regular_hours_only(monkeypatch, bars, tmp_path):
    pre = bars.iloc[:5].copy()
    pre.index = pre.index - pd.Timedelta(hours=1)  # 08:30-08:34: pre-market
    fake = FakeYF(pd.concat([pre, bars]).sort_index())
    module = types.ModuleType("yfinance")
    module.download = fake.download
    monkeypatch.setitem(sys.modules, "yfinance", module)
    monkeypatch.setattr(yahoo, "_now_new_york", lambda: NOW)
    out = load_bars("NVDA", start="2024-01-02", end="2024-01-03", cache_dir=tmp_path)
    assert len(out) == 390 and out.index[0].strftime("%H:%M") == "09:30"
    ext = load_bars(
        "NVDA",
        start="2024-01-02",
        end="2024-01-03",
        cache_dir=tmp_path,
        regular_hours_only=False,
    )
    assert len(ext) == 395
    assert (tmp_path / "NVDA" / "1m_ext" / "2024-01-02.csv").is_file()


def test_load_bars_network_failure(fake_yf, tmp_path):
    fake_yf.fail = ConnectionError("no route to host")
    with pytest.raises(DataUnavailableError, match="network") as info:
        load_bars("NVDA", start="2024-01-02", end="2024-01-05", cache_dir=tmp_path)
    assert "offline=True" in str(info.value) and "synthetic_bars" in str(info.value)
    assert not (tmp_path / "NVDA").exists() or not list((tmp_path / "NVDA").rglob("*.csv"))


def test_load_bars_empty_download_unknown_ticker(fake_yf, tmp_path):
    fake_yf.empty = True
    with pytest.raises(DataUnavailableError, match="unknown") as info:
        load_bars("ZZZZQ", start="2024-01-02", end="2024-01-05", cache_dir=tmp_path)
    assert "synthetic_bars" in str(info.value)
    assert not list(tmp_path.rglob("*.csv"))  # a failed download never poisons the cache


def test_load_bars_offline_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(yahoo, "_now_new_york", lambda: NOW)
    monkeypatch.setitem(sys.modules, "yfinance", None)  # importing it would fail
    with pytest.raises(DataUnavailableError, match="cache"):
        load_bars("NVDA", start="2024-01-02", end="2024-01-05", cache_dir=tmp_path, offline=True)


def test_load_bars_offline_partial_cache_warns(fake_yf, tmp_path, bars):
    load_bars("NVDA", start="2024-01-02", end="2024-01-04", cache_dir=tmp_path)
    with pytest.warns(UserWarning, match="not in the cache"):
        out = load_bars("NVDA", start="2024-01-02", end="2024-01-06", cache_dir=tmp_path, offline=True)
    assert len(out) == 2 * 390


def test_load_bars_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="interval"):
        load_bars("NVDA", interval="3m", cache_dir=tmp_path, offline=True)
    with pytest.raises(ValueError, match="period"):
        load_bars("NVDA", period="5 days", cache_dir=tmp_path, offline=True)
    with pytest.raises(ValueError, match="not both"):
        load_bars("NVDA", period="5d", start="2024-01-01", cache_dir=tmp_path, offline=True)
    with pytest.raises(ValueError, match="before end"):
        load_bars("NVDA", start="2024-01-05", end="2024-01-02", cache_dir=tmp_path, offline=True)


def test_cache_write_is_atomic(tmp_path, bars, monkeypatch):
    path = tmp_path / "NVDA" / "1m" / "2024-01-02.csv"
    cache.write_csv_atomic(bars.iloc[:390], path)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        cache.write_csv_atomic(bars.iloc[390:780], path)
    assert path.read_bytes() == before  # the old file is intact
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["2024-01-02.csv", "2024-01-02.csv.sha256"]  # no temp file left
    assert cache.read_cache_day(path).equals(cache.read_cache_day(path))  # the record still matches


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MMENV_CACHE_DIR", str(tmp_path / "c"))
    assert data.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MMENV_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.default_cache_dir() == tmp_path / "mmenv" / "bars"


# ------------------------------------------------------------------ synthetic bars
def test_synthetic_shape_and_determinism():
    a = synthetic_bars(days=3, seed=7)
    b = synthetic_bars(days=3, seed=7)
    c = synthetic_bars(days=3, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert len(a) == 3 * 390 and list(a.columns) == list(COLUMNS)
    assert str(a.index.tz) == "America/New_York"
    assert a.index[0] == pd.Timestamp("2024-01-02 09:30", tz="America/New_York")
    assert a.index[389].strftime("%H:%M") == "15:59"
    assert all(a[c].dtype == np.float64 for c in COLUMNS)
    _, rep = validate_bars(a)
    assert rep.clean and rep.n_intraday_gaps == 0
    cents = a[["open", "high", "low", "close"]].to_numpy() * 100
    np.testing.assert_allclose(cents, np.round(cents), atol=1e-6)  # on the one-cent grid


def test_synthetic_stylised_facts():
    b, truth = synthetic_bars(days=60, seed=1, return_truth=True)
    assert b["open"].iloc[0] == 130.0
    x = b["volume"].to_numpy().reshape(60, 390)
    assert x[:, :30].mean() > 1.5 * x[:, 150:240].mean()  # U-shaped volume
    assert x[:, -30:].mean() > 1.5 * x[:, 150:240].mean()
    s = truth.minute_sigma.reshape(60, 390)
    assert s[:, :30].mean() > 1.2 * s[:, 150:240].mean()  # U-shaped volatility
    lr = np.log(b["close"].to_numpy() / b["open"].to_numpy()).reshape(60, 390).sum(axis=1)
    assert 0.015 < lr.std() < 0.05  # ~3% daily moves
    gaps = np.log(b["open"].to_numpy()[390::390] / b["close"].to_numpy()[389:-1:390])
    assert np.abs(gaps).max() > 0.001  # overnight gaps exist
    assert len(truth.daily_variance) == 60 and truth.substeps == 20


@pytest.mark.parametrize(
    "kw",
    [
        {"days": 0},
        {"days": 1.5},
        {"s0": -1.0},
        {"daily_vol": -0.1},
        {"garch_alpha": 0.5, "garch_beta": 0.6},
        {"logvol_phi": 1.0},
        {"substeps": 0},
        {"tick_size": 0.0},
        {"shares_per_day": np.nan},
    ],
)
def test_synthetic_bad_parameters(kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name.split("_")[0]):
        synthetic_bars(**kw)


def test_import_does_not_import_yfinance():
    code = "import sys, mmenv.data, mmenv.data.ticks, mmenv.markets.tick_market; print('yfinance' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
