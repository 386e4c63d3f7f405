"""Fault injection on the bar cache and the downloader: every cached day is checked when read.

No network: yfinance is the fake of ``test_data`` (frames in the exact shape yfinance returns).
"""

from __future__ import annotations

import shutil
import sys
import types
import warnings

import pandas as pd
import pytest

from mmenv.data import load_bars, synthetic_bars
from mmenv.data.bars import yahoo
from tests.data.test_data import NOW, FakeYF

DAYS = dict(start="2024-01-02", end="2024-01-06")  # Tue..Fri: four sessions


@pytest.fixture
def bars():
    return synthetic_bars(days=5, seed=3)  # 2024-01-02 .. 2024-01-08


@pytest.fixture
def fake(monkeypatch, bars):
    f = FakeYF(bars)
    module = types.ModuleType("yfinance")
    module.download = f.download
    monkeypatch.setitem(sys.modules, "yfinance", module)
    monkeypatch.setattr(yahoo, "_now_new_york", lambda: NOW)
    monkeypatch.setattr(yahoo, "RETRY_BACKOFF_S", 0.0)
    return f


def _day(tmp_path, day: str):
    return tmp_path / "NVDA" / "1m" / f"{day}.csv"


def _fill(fake, tmp_path):
    full = load_bars("NVDA", cache_dir=tmp_path, **DAYS)
    fake.calls.clear()
    return full


def _cut(path, lines: int = 120) -> None:
    text = path.read_text().splitlines(keepends=True)
    path.write_text("".join(text[:lines]))


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda p, tmp: _cut(p), "checksum differs from the one recorded"),
        (lambda p, tmp: (_cut(p), p.with_name(p.name + ".sha256").unlink()), "a truncated day"),
        (lambda p, tmp: p.write_text(""), "checksum differs"),
        (
            lambda p, tmp: (p.write_bytes(b"\x00\xff\xfe" * 50), p.with_name(p.name + ".sha256").unlink()),
            "binary",
        ),
        (lambda p, tmp: (p.write_text(""), p.with_name(p.name + ".sha256").unlink()), "the file is empty"),
        (
            lambda p, tmp: (
                shutil.copy(_day(tmp, "2024-01-03"), p),
                p.with_name(p.name + ".sha256").unlink(),
            ),
            "holds bars of 2024-01-03, not of 2024-01-04",
        ),
    ],
    ids=["cut", "cut-no-record", "emptied", "binary", "empty-no-record", "other-day"],
)
def test_bad_day_is_refetched_online_and_reported_offline(spoil, message, fake, tmp_path):
    full = _fill(fake, tmp_path)
    path = _day(tmp_path, "2024-01-04")
    spoil(path, tmp_path)
    with pytest.warns(UserWarning, match=message) as rec:
        again = load_bars("NVDA", cache_dir=tmp_path, **DAYS)
    assert str(path) in str(rec[0].message) and "fetching it again" in str(rec[0].message)
    assert [(c["start"], c["end"]) for c in fake.calls] == [("2024-01-04", "2024-01-05")]
    pd.testing.assert_frame_equal(again, full, check_freq=False, check_index_type=False)
    # the refetched day was written again, with its record: offline now reads it
    off = load_bars("NVDA", cache_dir=tmp_path, offline=True, **DAYS)
    pd.testing.assert_frame_equal(off, full, check_freq=False, check_index_type=False)
    spoil(path, tmp_path) if message != "holds bars of 2024-01-03, not of 2024-01-04" else _cut(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        off = load_bars("NVDA", cache_dir=tmp_path, offline=True, **DAYS)
    texts = [str(w.message) for w in caught]
    assert any(str(path) in t and "left out" in t for t in texts), texts
    assert len(off) == 3 * 390 and pd.Timestamp("2024-01-04").date() not in set(off.index.date)


def test_read_only_cache_falls_back_to_memory(fake, tmp_path, monkeypatch):
    def refuse(df, path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(yahoo, "write_csv_atomic", refuse)
    with pytest.warns(UserWarning, match="cannot write the bar cache .* used from memory only"):
        out = load_bars("NVDA", cache_dir=tmp_path, **DAYS)
    assert len(out) == 4 * 390
    assert not list(tmp_path.rglob("*.csv"))


def test_download_has_a_timeout_and_one_retry(fake, tmp_path, monkeypatch):
    seen = []
    real = fake.download

    def flaky(*a, **kw):
        seen.append(kw.get("timeout"))
        if len(seen) == 1:
            raise TimeoutError("read timed out")
        return real(*a, **kw)

    sys.modules["yfinance"].download = flaky
    out = load_bars("NVDA", cache_dir=tmp_path, **DAYS)
    assert len(out) == 4 * 390 and seen == [yahoo.DOWNLOAD_TIMEOUT_S] * 2
    seen.clear()

    def dead(*a, **kw):
        seen.append(kw.get("timeout"))
        raise TimeoutError("read timed out")

    sys.modules["yfinance"].download = dead
    with pytest.raises(yahoo.DataUnavailableError, match="failed twice"):
        load_bars("NVDA", cache_dir=tmp_path / "other", **DAYS)
    assert len(seen) == 2


def test_missing_weekday_online_is_reported(monkeypatch, bars, tmp_path):
    holiday = bars[bars.index.normalize() != pd.Timestamp("2024-01-04", tz="America/New_York")]
    fake = FakeYF(holiday)
    module = types.ModuleType("yfinance")
    module.download = fake.download
    monkeypatch.setitem(sys.modules, "yfinance", module)
    monkeypatch.setattr(yahoo, "_now_new_york", lambda: NOW)
    with pytest.warns(UserWarning, match=r"no 1m bars of NVDA for 1 weekday\(s\) \(first 2024-01-04\)"):
        out = load_bars("NVDA", cache_dir=tmp_path, **DAYS)
    assert len(out) == 3 * 390
