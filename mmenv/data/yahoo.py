"""Market data: 1-minute bars from yfinance with an on-disk cache, CSV readers, validation and the
embedded synthetic high-beta market.

Every bar frame this module returns has the same shape: a tz-aware ``America/New_York``
``DatetimeIndex`` named ``datetime`` (the bar's *start* time, as Yahoo stamps it), sorted and
unique, and the float64 columns ``open, high, low, close, volume`` (prices in the quote currency,
volume in
shares). Nothing downstream needs to know where the bars came from.

Sources:

* :func:`load_bars` downloads from Yahoo Finance through yfinance (the ``data`` extra), in windows
  of at most 7 days for 1-minute bars, and caches complete days as CSV files, one per
  ticker / interval / day. ``offline=True`` reads only the cache.
* :func:`read_bars_csv` reads the CSV that ``yf.download(...).to_csv()`` writes (three header
  rows), a flat OHLCV CSV (``Datetime, Open, High, Low, Close, [Adj Close], Volume``) and the
  project's own cache files.
* :func:`synthetic_bars` generates NVDA-like bars from a documented, seeded model, so that
  everything in the project runs offline.

Every source goes through :func:`validate_bars`, which returns a :class:`BarReport` of what it
found and what it did; no row is dropped without being counted.

Cache format (why CSV and not parquet): pandas writes and reads CSV without any dependency beyond
pandas itself (parquet needs pyarrow, which is not a declared dependency of mmenv), the files are
human-readable and diffable, and float64 values round-trip exactly because pandas writes the
shortest repr. A cached day is ``<cache_dir>/<TICKER>/<interval>[_ext]/<YYYY-MM-DD>.csv`` with
the header ``datetime,open,high,low,close,volume`` and ISO-8601 timestamps with their UTC offset.
Files are written to a temporary file in the same directory and moved into place with
:func:`os.replace`, so a reader never sees half a file. Caches are never pickled.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "NEW_YORK",
    "BarReport",
    "BarValidationError",
    "DataError",
    "DataUnavailableError",
    "SyntheticTruth",
    "default_cache_dir",
    "load_bars",
    "read_bars_csv",
    "synthetic_bars",
    "validate_bars",
    "validate_ticker",
]

NEW_YORK = "America/New_York"
COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")

#: Regular US equity session, New York time.
SESSION_OPEN = pd.Timedelta(hours=9, minutes=30)
SESSION_CLOSE = pd.Timedelta(hours=16)
MINUTES_PER_SESSION = 390

#: Bar length of each supported Yahoo interval.
INTERVALS: dict[str, pd.Timedelta] = {
    "1m": pd.Timedelta(minutes=1),
    "2m": pd.Timedelta(minutes=2),
    "5m": pd.Timedelta(minutes=5),
    "15m": pd.Timedelta(minutes=15),
    "30m": pd.Timedelta(minutes=30),
    "60m": pd.Timedelta(minutes=60),
    "90m": pd.Timedelta(minutes=90),
    "1h": pd.Timedelta(hours=1),
    "1d": pd.Timedelta(days=1),
}
#: Most calendar days Yahoo serves per request, per interval (1m: 7 days; other intraday: 60 days).
MAX_WINDOW_DAYS: dict[str, int] = {"1m": 7, "1d": 3650}

_TICKER_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,19}$")
_REMEDY = (
    "Use cached bars (load_bars(..., offline=True) reads only the cache), a CSV you saved earlier "
    "(read_bars_csv), or the embedded synthetic market (synthetic_bars(), the project's default)."
)


class DataError(RuntimeError):
    """Base class of the errors of this module."""


class DataUnavailableError(DataError):
    """No bars could be obtained: network failure, unknown ticker, empty download or empty cache."""


class BarValidationError(DataError, ValueError):
    """The bars are unusable (nothing valid left, or too much of them invalid)."""


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BarReport:
    """What :func:`validate_bars` found in a bar frame and what it did about it.

    Counts of dropped rows add up: ``n_input == n_output + n_duplicates + n_nonfinite +
    n_nonpositive + n_high_below_low + n_negative_volume``. Rows are checked in that order and
    each dropped row is counted once, under the first rule it fails.

    Attributes:
        n_input: rows received.
        n_output: rows returned.
        n_unsorted: timestamps that were earlier than their predecessor (the frame was sorted).
        n_duplicates: rows dropped because their timestamp repeated (the last one is kept, as
            Yahoo revises the latest bar).
        n_nonfinite: rows dropped for a NaN or infinite price or volume.
        n_nonpositive: rows dropped for a price <= 0.
        n_high_below_low: rows dropped because high < low.
        n_negative_volume: rows dropped for volume < 0.
        n_open_close_outside: rows kept but repaired because open or close lay outside [low, high]
            (high and low were widened to include them).
        n_zero_volume: rows kept with volume == 0 (flagged, not an error).
        n_sessions: trading days present.
        n_overnight_gaps: gaps between the last bar of a day and the first bar of the next.
        n_intraday_gaps: gaps longer than one bar inside a day (halts or missing bars).
        n_missing_bars: bars missing inside those intraday gaps, in total.
        largest_gap_minutes: the longest intraday gap, in minutes (0 when none).
        half_days: days whose last regular bar ends more than 30 minutes before 16:00 (early
            closes such as the day after Thanksgiving), as ISO dates.
        late_opens: days whose first regular bar starts after 09:30, as ISO dates.
        actions: human-readable lines, one per thing done.
    """

    n_input: int
    n_output: int
    n_unsorted: int = 0
    n_duplicates: int = 0
    n_nonfinite: int = 0
    n_nonpositive: int = 0
    n_high_below_low: int = 0
    n_negative_volume: int = 0
    n_open_close_outside: int = 0
    n_zero_volume: int = 0
    n_sessions: int = 0
    n_overnight_gaps: int = 0
    n_intraday_gaps: int = 0
    n_missing_bars: int = 0
    largest_gap_minutes: float = 0.0
    half_days: tuple[str, ...] = ()
    late_opens: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    @property
    def n_dropped(self) -> int:
        """Rows removed, all rules together."""
        return (
            self.n_duplicates
            + self.n_nonfinite
            + self.n_nonpositive
            + self.n_high_below_low
            + self.n_negative_volume
        )

    @property
    def clean(self) -> bool:
        """True when nothing was dropped, sorted or repaired."""
        return self.n_dropped == 0 and self.n_unsorted == 0 and self.n_open_close_outside == 0

    def summary(self) -> str:
        """A few lines for a log or a report."""
        lines = [f"{self.n_input} bars in, {self.n_output} out, {self.n_sessions} sessions"]
        lines += list(self.actions)
        if self.n_zero_volume:
            lines.append(f"{self.n_zero_volume} zero-volume bars kept")
        if self.n_intraday_gaps:
            lines.append(
                f"{self.n_intraday_gaps} intraday gaps ({self.n_missing_bars} missing bars, "
                f"longest {self.largest_gap_minutes:g} min)"
            )
        if self.half_days:
            lines.append(f"half days: {', '.join(self.half_days)}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["half_days"] = list(self.half_days)
        out["late_opens"] = list(self.late_opens)
        out["actions"] = list(self.actions)
        return out


def _require_columns(bars: pd.DataFrame) -> None:
    if not isinstance(bars, pd.DataFrame):
        raise TypeError(f"bars must be a pandas DataFrame, got {type(bars).__name__}")
    missing = [c for c in COLUMNS if c not in bars.columns]
    if missing:
        raise ValueError(
            f"bars: missing column(s) {missing}; expected {list(COLUMNS)}, got {list(bars.columns)}"
        )
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise ValueError(
            f"bars.index must be a DatetimeIndex, got {type(bars.index).__name__}; "
            "read CSV files with read_bars_csv"
        )
    if bars.index.tz is None:
        raise ValueError(
            "bars.index is tz-naive; localize it first, e.g. "
            "bars.index = bars.index.tz_localize('America/New_York')"
        )


def validate_bars(
    bars: pd.DataFrame,
    interval: str = "1m",
    *,
    max_drop_fraction: float = 0.5,
) -> tuple[pd.DataFrame, BarReport]:
    """Check and clean a bar frame; say what was found and what was done.

    Rules, in order (a dropped row is counted under the first rule it fails):

    1. timestamps out of order: the frame is sorted (counted in ``n_unsorted``);
    2. duplicated timestamps: the last row of each timestamp is kept (``n_duplicates``);
    3. NaN or infinite open/high/low/close/volume: dropped (``n_nonfinite``);
    4. a price <= 0: dropped (``n_nonpositive``);
    5. high < low: dropped (``n_high_below_low``);
    6. volume < 0: dropped (``n_negative_volume``);
    7. open or close outside [low, high]: kept, high/low widened to include them
       (``n_open_close_outside``);
    8. zero volume: kept and counted (``n_zero_volume``);
    9. gaps (intraday intervals only): overnight gaps, intraday gaps longer than one bar (halts,
       missing bars), half days and late opens are counted and listed, never filled.

    Args:
        bars: frame with columns open, high, low, close, volume and a tz-aware DatetimeIndex
            (any time zone; converted to America/New_York). Extra columns are ignored.
        interval: the bar length, one of ``INTERVALS`` (used for the gap rules).
        max_drop_fraction: raise if more than this fraction of the rows had to be dropped.

    Returns:
        ``(clean, report)``: a new frame with exactly the columns of ``COLUMNS`` as float64, and
        the :class:`BarReport`.

    Raises:
        ValueError: missing columns, a non-datetime or tz-naive index, a bad ``interval`` or
            ``max_drop_fraction``.
        BarValidationError: no valid row left, or more than ``max_drop_fraction`` dropped.
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {sorted(INTERVALS)}, got {interval!r}")
    if not 0.0 <= max_drop_fraction <= 1.0:
        raise ValueError(f"max_drop_fraction must be in [0, 1], got {max_drop_fraction!r}")
    _require_columns(bars)
    n_input = len(bars)
    actions: list[str] = []
    df = pd.DataFrame(
        {c: pd.to_numeric(bars[c], errors="coerce").to_numpy(np.float64) for c in COLUMNS},
        index=bars.index.tz_convert(NEW_YORK),
    )
    df.index.name = "datetime"
    counts: dict[str, int] = {}

    ns = df.index.as_unit("ns").asi8
    n_unsorted = int(np.count_nonzero(np.diff(ns) < 0)) if n_input > 1 else 0
    if n_unsorted:
        df = df.sort_index(kind="stable")
        actions.append(f"sorted {n_unsorted} out-of-order timestamps")
    dup = df.index.duplicated(keep="last")
    counts["n_duplicates"] = int(dup.sum())
    if counts["n_duplicates"]:
        df = df[~dup]
        actions.append(f"dropped {counts['n_duplicates']} duplicated timestamps (kept the last)")

    values = df.to_numpy()
    prices = values[:, :4]
    rules = [
        ("n_nonfinite", ~np.isfinite(values).all(axis=1), "NaN/inf values"),
        ("n_nonpositive", (prices <= 0).any(axis=1), "non-positive prices"),
        ("n_high_below_low", values[:, 1] < values[:, 2], "high < low"),
        ("n_negative_volume", values[:, 4] < 0, "negative volume"),
    ]
    bad = np.zeros(len(df), dtype=bool)
    for name, mask, what in rules:
        new = mask & ~bad
        counts[name] = int(new.sum())
        if counts[name]:
            actions.append(f"dropped {counts[name]} rows with {what}")
        bad |= new
    df = df[~bad].copy()
    if len(df) == 0:
        raise BarValidationError(
            f"no usable bars: all {n_input} rows were invalid "
            f"({', '.join(f'{k}={v}' for k, v in counts.items() if v)}). {_REMEDY}"
        )
    dropped = sum(counts.values())
    if dropped > max_drop_fraction * n_input:
        raise BarValidationError(
            f"{dropped} of {n_input} bars are invalid (more than max_drop_fraction="
            f"{max_drop_fraction}): {', '.join(f'{k}={v}' for k, v in counts.items() if v)}. "
            f"The data are unusable as they stand. {_REMEDY}"
        )

    o, h, lo, c = (df[col].to_numpy() for col in PRICE_COLUMNS)
    outside = (np.maximum(o, c) > h) | (np.minimum(o, c) < lo)
    n_outside = int(outside.sum())
    if n_outside:
        df["high"] = np.maximum(h, np.maximum(o, c))
        df["low"] = np.minimum(lo, np.minimum(o, c))
        actions.append(f"widened high/low of {n_outside} bars whose open or close lay outside")
    n_zero = int((df["volume"].to_numpy() == 0).sum())

    gaps = _gap_stats(df.index, INTERVALS[interval]) if interval != "1d" else {}
    report = BarReport(
        n_input=n_input,
        n_output=len(df),
        n_unsorted=n_unsorted,
        n_open_close_outside=n_outside,
        n_zero_volume=n_zero,
        actions=tuple(actions),
        n_sessions=len(np.unique(df.index.normalize().as_unit("ns").asi8)),
        **counts,
        **gaps,
    )
    assert report.n_input == report.n_output + report.n_dropped
    return df, report


def _gap_stats(index: pd.DatetimeIndex, step: pd.Timedelta) -> dict[str, Any]:
    """Overnight gaps, intraday gaps, half days and late opens of an intraday index (New York)."""
    if len(index) == 0:
        return {}
    day = index.normalize()
    day_ns = day.as_unit("ns").asi8
    new_day = np.r_[True, day_ns[1:] != day_ns[:-1]]
    diffs = np.diff(index.as_unit("ns").asi8)
    intraday = diffs[~new_day[1:]]
    step_ns = step.value
    gap = intraday > step_ns
    missing = (intraday[gap] // step_ns - 1).astype(np.int64)
    starts = np.flatnonzero(new_day)
    ends = np.r_[starts[1:] - 1, len(index) - 1]
    offset_first = index[starts] - day[starts]
    offset_last_end = index[ends] + step - day[ends]
    half = offset_last_end < SESSION_CLOSE - pd.Timedelta(minutes=30)
    late = offset_first > SESSION_OPEN
    # Only regular-session days can be half days or late opens.
    regular = (offset_first >= SESSION_OPEN - pd.Timedelta(hours=1)) & (
        offset_last_end <= SESSION_CLOSE + pd.Timedelta(hours=1)
    )
    fmt = "%Y-%m-%d"
    return {
        "n_overnight_gaps": int(len(starts) - 1),
        "n_intraday_gaps": int(gap.sum()),
        "n_missing_bars": int(missing.sum()),
        "largest_gap_minutes": float(intraday[gap].max() / 60e9) if gap.any() else 0.0,
        "half_days": tuple(day[starts][np.asarray(half & regular)].strftime(fmt)),
        "late_opens": tuple(day[starts][np.asarray(late & regular)].strftime(fmt)),
    }


def regular_hours(bars: pd.DataFrame) -> pd.DataFrame:
    """Keep the bars that start in the regular session, 09:30 <= t < 16:00 New York time."""
    idx = bars.index.tz_convert(NEW_YORK)
    offset = idx - idx.normalize()
    keep = (offset >= SESSION_OPEN) & (offset < SESSION_CLOSE)
    return bars[np.asarray(keep)]


# ----------------------------------------------------------------------------------------------
# Normalising what yfinance returns
# ----------------------------------------------------------------------------------------------


def _normalize_yf_frame(raw: pd.DataFrame, ticker: str | None = None) -> pd.DataFrame:
    """Turn a yfinance frame into the project's shape (columns + New York index), unvalidated.

    Accepts ``yf.download`` output (MultiIndex columns ``(Price, Ticker)``, or flat with
    ``multi_level_index=False``; ``Adj Close`` present when ``auto_adjust=False``) and
    ``Ticker.history`` output (flat, with ``Dividends`` and ``Stock Splits``), with a UTC index
    (yfinance 1.0-1.3) or a New York index (1.4+). ``Adj Close`` is ignored: with
    ``auto_adjust=True`` (the default we request) the OHLC are already adjusted.
    """
    df = raw
    if isinstance(df.columns, pd.MultiIndex):
        names = list(df.columns.names)
        level = names.index("Ticker") if "Ticker" in names else None
        if level is None:
            # Unnamed levels: the level whose values are OHLC names is the price level.
            for i in range(df.columns.nlevels):
                vals = {str(v).lower() for v in df.columns.get_level_values(i)}
                if "close" in vals:
                    level = 1 - i if df.columns.nlevels == 2 else None
                    break
        if level is None or df.columns.nlevels != 2:
            raise ValueError(f"unrecognised yfinance column layout: {list(df.columns)[:8]}")
        tickers = list(dict.fromkeys(df.columns.get_level_values(level)))
        if ticker is not None and ticker in tickers:
            pick = ticker
        elif len(tickers) == 1:
            pick = tickers[0]
        else:
            raise ValueError(f"frame holds several tickers {tickers}; pass ticker=")
        df = df.xs(pick, axis=1, level=level)
    rename = {}
    for col in df.columns:
        key = str(col).strip().lower().replace("_", " ")
        if key in COLUMNS:
            rename[col] = key
    df = df.rename(columns=rename)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"yfinance frame lacks column(s) {missing}; got {list(raw.columns)}")
    out = df.loc[:, list(COLUMNS)].astype(np.float64)
    out.columns = pd.Index(list(COLUMNS))
    idx = pd.DatetimeIndex(out.index)
    if idx.tz is None:
        # yfinance returns tz-naive indexes only with ignore_tz=True (daily default): exchange time.
        idx = idx.tz_localize(NEW_YORK)
    out.index = idx.tz_convert(NEW_YORK)
    out.index.name = "datetime"
    return out


# ----------------------------------------------------------------------------------------------
# CSV reading and the cache
# ----------------------------------------------------------------------------------------------


def read_bars_csv(
    path: str | os.PathLike[str],
    *,
    tz: str = NEW_YORK,
    ticker: str | None = None,
    interval: str = "1m",
    validate: bool = True,
) -> pd.DataFrame:
    """Read bars from a CSV file in any of the three formats the project meets.

    Formats (detected from the header):

    * ``yf.download(...).to_csv()``: three header rows (``Price,Close,High,...``,
      ``Ticker,NVDA,...``, ``Datetime,,,...``), as written for MultiIndex columns;
    * a flat OHLCV file: ``Datetime|Date, Open, High, Low, Close, [Adj Close], Volume`` (any case,
      extra columns such as Dividends ignored), e.g. ``Ticker.history(...).to_csv()``;
    * the project's cache format: ``datetime,open,high,low,close,volume``.

    Args:
        path: the CSV file.
        tz: time zone of timestamps written without a UTC offset (ignored for aware ones).
        ticker: which ticker to take from a multi-ticker yf.download file.
        interval: bar interval, for the validation's gap rules.
        validate: run :func:`validate_bars` (the report is in ``df.attrs["validation"]``).

    Returns:
        The bar frame (New York index, float64 OHLCV columns).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the header matches none of the formats, or timestamps do not parse.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"bars CSV not found: {path}")
    with path.open("r", encoding="utf-8") as fh:
        head = [fh.readline() for _ in range(3)]
    first = [c.strip().lower() for c in head[0].split(",")]
    second = [c.strip().lower() for c in head[1].split(",")] if head[1] else []
    if first and first[0] == "price" and second and second[0] == "ticker":
        raw = pd.read_csv(path, header=[0, 1], index_col=0, skiprows=[2])
        raw.columns = raw.columns.set_names(["Price", "Ticker"])
    elif first and first[0] in ("datetime", "date", "timestamp", "time"):
        raw = pd.read_csv(path, index_col=0)
    else:
        raise ValueError(
            f"{path}: unrecognised header {head[0].strip()!r}; expected the yf.download CSV "
            "(Price/Ticker/Datetime header rows), a flat Datetime,Open,High,Low,Close,Volume "
            "file, or the cache format datetime,open,high,low,close,volume"
        )
    raw.index = _parse_times(raw.index, tz, path)
    bars = _normalize_yf_frame(raw, ticker)
    if validate:
        bars, report = validate_bars(bars, interval)
        bars.attrs["validation"] = report.as_dict()
    return bars


def _parse_times(index: pd.Index, tz: str, where: object) -> pd.DatetimeIndex:
    text = pd.Index(index).astype(str)
    try:
        parsed = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: timestamps do not parse as ISO-8601: {exc}") from exc
    has_offset = text.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True)
    if not has_offset.any():
        naive = pd.to_datetime(text, format="ISO8601")
        return pd.DatetimeIndex(naive).tz_localize(tz)
    if not has_offset.all():
        raise ValueError(f"{where}: some timestamps carry a UTC offset and some do not")
    return pd.DatetimeIndex(parsed)


def validate_ticker(ticker: str) -> str:
    """Return the upper-cased ticker if it is a plausible Yahoo symbol, else raise ValueError.

    Allowed: 1-20 characters among A-Z, 0-9 and ``. - = ^`` (``BRK-B``, ``^GSPC``, ``EURUSD=X``),
    not starting with ``.``, ``-`` or ``=``. This runs before the ticker becomes part of a cache
    path, so ``..``, ``/`` and the like can never escape the cache directory.
    """
    if not isinstance(ticker, str):
        raise ValueError(f"ticker must be a string, got {type(ticker).__name__}: {ticker!r}")
    sym = ticker.strip().upper()
    if not _TICKER_RE.fullmatch(sym) or ".." in sym:
        raise ValueError(
            f"ticker {ticker!r} is not a valid Yahoo symbol (1-20 of A-Z 0-9 . - = ^, "
            "e.g. 'NVDA', 'BRK-B', '^GSPC')"
        )
    return sym


def default_cache_dir() -> Path:
    """The default cache root.

    ``$MMENV_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/mmenv/bars`` (``~/.cache/mmenv/bars``).
    """
    env = os.environ.get("MMENV_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mmenv" / "bars"


def _day_dir(cache_dir: Path, ticker: str, interval: str, extended: bool) -> Path:
    return cache_dir / ticker / (interval + ("_ext" if extended else ""))


def _write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` in the cache format to ``path`` atomically (temp file + fsync + os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            out = df.loc[:, list(COLUMNS)].copy()
            out.index = out.index.tz_convert(NEW_YORK)
            out.index.name = "datetime"
            out.to_csv(fh, date_format="%Y-%m-%d %H:%M:%S%z")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_cache_day(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, index_col=0)
    if len(raw) == 0:
        return _empty_bars()
    raw.index = _parse_times(raw.index, NEW_YORK, path)
    return _normalize_yf_frame(raw)


def _empty_bars() -> pd.DataFrame:
    idx = pd.DatetimeIndex([], tz=NEW_YORK, name="datetime")
    return pd.DataFrame({c: np.array([], dtype=np.float64) for c in COLUMNS}, index=idx)


# ----------------------------------------------------------------------------------------------
# load_bars
# ----------------------------------------------------------------------------------------------


def _now_new_york() -> pd.Timestamp:
    """Current time in New York (a function so tests can pin it)."""
    return pd.Timestamp.now(tz=NEW_YORK)


_PERIOD_RE = re.compile(r"^(\d+)(d|wk|mo|y)$")
_PERIOD_DAYS = {"d": 1, "wk": 7, "mo": 30, "y": 365}


def _resolve_range(
    start: object, end: object, period: str | None, now: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The half-open range of New York calendar days ``[first, last_exclusive)`` to load."""

    def as_day(x: object, name: str) -> pd.Timestamp:
        try:
            ts = pd.Timestamp(x)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name} must be a date or timestamp, got {x!r}") from exc
        ts = ts.tz_localize(NEW_YORK) if ts.tzinfo is None else ts.tz_convert(NEW_YORK)
        return ts.normalize()

    today = now.normalize()
    if period is not None and (start is not None or end is not None):
        raise ValueError("give either period or start/end, not both")
    if period is not None:
        m = _PERIOD_RE.fullmatch(str(period))
        if not m or int(m.group(1)) <= 0:
            raise ValueError(f"period must look like '5d', '2wk', '1mo' or '1y', got {period!r}")
        days = int(m.group(1)) * _PERIOD_DAYS[m.group(2)]
        last = today + pd.Timedelta(days=1)
        return last - pd.Timedelta(days=days), last
    last = as_day(end, "end") if end is not None else today + pd.Timedelta(days=1)
    first = as_day(start, "start") if start is not None else last - pd.Timedelta(days=7)
    if first >= last:
        raise ValueError(f"start ({first.date()}) must be before end ({last.date()})")
    return first, last


def _windows(days: list[pd.Timestamp], max_days: int) -> Iterator[tuple[pd.Timestamp, pd.Timestamp]]:
    """Split sorted days into runs of consecutive days of at most ``max_days``: [start, end)."""
    one = pd.Timedelta(days=1)
    run_start = prev = None
    for d in days:
        if run_start is not None and (d - prev != one or (d - run_start).days >= max_days):
            yield run_start, prev + one
            run_start = None
        if run_start is None:
            run_start = d
        prev = d
    if run_start is not None:
        yield run_start, prev + one


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _download(
    ticker: str, start: pd.Timestamp, end: pd.Timestamp, interval: str, prepost: bool
) -> tuple[pd.DataFrame, list[str]]:
    """One ``yf.download`` call, normalised; errors explain what to do."""
    try:
        import yfinance as yf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("load_bars needs yfinance: pip install 'mmenv[data]'. " + _REMEDY) from exc
    capture = _LogCapture()
    logger = logging.getLogger("yfinance")
    logger.addHandler(capture)
    try:
        raw = yf.download(
            ticker,
            start=start.strftime("%Y-%m-%d"),
            end=end.strftime("%Y-%m-%d"),
            interval=interval,
            prepost=prepost,
            auto_adjust=True,
            progress=False,
            threads=False,
            ignore_tz=False,
        )
    except Exception as exc:
        raise DataUnavailableError(
            f"downloading {ticker} {interval} bars {start.date()}..{end.date()} failed "
            f"({type(exc).__name__}: {exc}). Check the network connection. {_REMEDY}"
        ) from exc
    finally:
        logger.removeHandler(capture)
    if raw is None or len(raw) == 0:
        return _empty_bars(), capture.messages
    bars = _normalize_yf_frame(raw, ticker)
    bars = bars[~bars[list(PRICE_COLUMNS)].isna().all(axis=1)]
    return bars, capture.messages


def load_bars(
    ticker: str = "NVDA",
    interval: str = "1m",
    start: object = None,
    end: object = None,
    period: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool = False,
    *,
    regular_hours_only: bool = True,
    use_cache: bool = True,
    max_drop_fraction: float = 0.5,
) -> pd.DataFrame:
    """Load bars of ``ticker`` from Yahoo Finance (via yfinance) or from the on-disk cache.

    Days are New York calendar days; ``start`` is inclusive and ``end`` exclusive (yfinance's
    convention). With neither ``start``/``end`` nor ``period``, the last 7 days up to today are
    loaded. Days already cached are read from disk; the others are downloaded in windows of at
    most 7 calendar days for 1-minute bars (Yahoo's per-request limit; it serves 1-minute bars
    for about the last 30 days only), stitched, and each complete day (before today) is written
    to the cache, including empty ones (weekends, holidays) when their window returned data.

    Args:
        ticker: Yahoo symbol, validated by :func:`validate_ticker`.
        interval: one of ``INTERVALS`` (``"1m"`` by default).
        start: first day (date, string or timestamp; naive means New York).
        end: day after the last one.
        period: instead of start/end: ``"5d"``, ``"2wk"``, ``"1mo"`` (30 days), ``"1y"``.
        cache_dir: cache root; ``None`` means :func:`default_cache_dir`.
        offline: read only the cache, never the network.
        regular_hours_only: keep only 09:30-16:00 bars (and download without pre/post market).
        use_cache: read and write the cache (ignored, i.e. True, when ``offline``).
        max_drop_fraction: passed to :func:`validate_bars`.

    Returns:
        Validated bars (New York index, float64 open, high, low, close, volume); the
        :class:`BarReport` is in ``df.attrs["validation"]`` (as a dict).

    Raises:
        ValueError: a bad ticker, interval or date range.
        DataUnavailableError: nothing cached (offline), a network failure, an unknown ticker or
            an empty download; the message says what to do instead.
        BarValidationError: the bars are unusable.
    """
    sym = validate_ticker(ticker)
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {sorted(INTERVALS)}, got {interval!r}")
    now = _now_new_york()
    first, last = _resolve_range(start, end, period, now)
    today = now.normalize()
    days = list(pd.date_range(first, last, freq="D", inclusive="left"))
    extended = not regular_hours_only
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = _day_dir(root, sym, interval, extended)
    cached_frames: list[pd.DataFrame] = []
    missing: list[pd.Timestamp] = []
    for d in days:
        path = folder / f"{d.strftime('%Y-%m-%d')}.csv"
        if (use_cache or offline) and path.is_file():
            cached_frames.append(_read_cache_day(path))
        else:
            missing.append(d)

    fetched: list[pd.DataFrame] = []
    if offline:
        weekdays = [d for d in missing if d.weekday() < 5 and d < today]
        if weekdays and cached_frames:
            warnings.warn(
                f"offline: {len(weekdays)} weekday(s) of {sym} {interval} are not in the cache "
                f"{folder} (first {weekdays[0].date()}); they are missing from the result",
                stacklevel=2,
            )
    elif missing:
        max_days = MAX_WINDOW_DAYS.get(interval, 60)
        messages: list[str] = []
        for w_start, w_end in _windows(missing, max_days):
            bars_w, msgs = _download(sym, w_start, w_end, interval, extended)
            messages += msgs
            if len(bars_w) == 0:
                continue
            fetched.append(bars_w)
            if use_cache:
                day_key = bars_w.index.normalize()
                for d in pd.date_range(w_start, w_end, freq="D", inclusive="left"):
                    if d >= today:
                        continue  # an incomplete day is never cached
                    day_bars = bars_w[np.asarray(day_key == d)]
                    _write_csv_atomic(day_bars, folder / f"{d.strftime('%Y-%m-%d')}.csv")
        if not fetched and not cached_frames:
            why = "; ".join(dict.fromkeys(messages)) or "Yahoo returned no rows"
            raise DataUnavailableError(
                f"no {interval} bars for {sym!r} between {first.date()} and {last.date()} "
                f"(exclusive): {why}. The ticker may be unknown or delisted, the range may be a "
                "holiday or weekend, or older than Yahoo keeps (about 30 days for 1m bars), or "
                f"the network may be down. {_REMEDY}"
            )
    frames = [f for f in cached_frames + fetched if len(f)]
    if not frames:
        where = f"the cache {folder}" if offline else "Yahoo or the cache"
        raise DataUnavailableError(
            f"no {interval} bars for {sym!r} between {first.date()} and {last.date()} "
            f"(exclusive) in {where}. Run load_bars once online to fill the cache. {_REMEDY}"
        )
    bars = pd.concat(frames)
    bars = bars[(bars.index >= first) & (bars.index < last)]
    if regular_hours_only and interval != "1d":
        bars = regular_hours(bars)
    bars, report = validate_bars(bars, interval, max_drop_fraction=max_drop_fraction)
    if not report.clean:
        warnings.warn(f"{sym} {interval} bars: {'; '.join(report.actions)}", stacklevel=2)
    bars.attrs["validation"] = report.as_dict()
    return bars


# ----------------------------------------------------------------------------------------------
# The embedded synthetic market
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticTruth:
    """The latent quantities behind :func:`synthetic_bars`, for studies where the truth is known.

    Attributes:
        minute_sigma: (n_bars,) standard deviation of each bar's log return (per bar, no
            annualisation): sqrt(h_d / 390) * u(x) * exp(v_t - s_v^2).
        daily_variance: (n_days,) GARCH variance h_d of each day's intraday log return.
        substeps: sub-steps per bar used to draw the intrabar path (high and low come from it).
        intrabar_realized_variance: (n_bars,) sum of squared log sub-step returns of each bar.
    """

    minute_sigma: np.ndarray
    daily_variance: np.ndarray
    substeps: int
    intrabar_realized_variance: np.ndarray


def _u_shape(x: np.ndarray, depth: float) -> np.ndarray:
    """1 + depth * (2x - 1)^2 on x in [0, 1], normalised to mean one."""
    u = 1.0 + depth * (2.0 * x - 1.0) ** 2
    return u / u.mean()


def synthetic_bars(
    days: int = 20,
    seed: int = 0,
    *,
    start: str = "2024-01-02",
    s0: float = 130.0,
    daily_vol: float = 0.03,
    overnight_vol: float = 0.012,
    garch_alpha: float = 0.08,
    garch_beta: float = 0.90,
    intraday_vol_u: float = 1.2,
    volume_u: float = 2.5,
    logvol_phi: float = 0.98,
    logvol_std: float = 0.3,
    shares_per_day: float = 250e6,
    substeps: int = 20,
    tick_size: float = 0.01,
    return_truth: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, SyntheticTruth]:
    """NVDA-like 1-minute regular-hours bars from a seeded model (a model, not data).

    The model (defaults calibrated by eye to NVDA in 2024: ~$130, ~3% daily moves, i.e. ~48%
    annualised, ~250 M shares a day):

    * Sessions: ``days`` consecutive weekdays from ``start`` (holidays are not skipped), 390 bars
      each, 09:30-15:59 New York time (bar start times).
    * Day-level GARCH(1,1) (Bollerslev 1986) on the day's open-to-close log return r_d:
      ``h_d = w + alpha * r_{d-1}^2 + beta * h_{d-1}``, ``w = daily_vol^2 (1 - alpha - beta)``,
      ``h_0 = daily_vol^2``.
    * Intraday: bar t at session fraction x has log-return standard deviation
      ``sqrt(h_d / 390) * u(x) * exp(v_t - s_v^2)`` with the U shape
      ``u(x)^2 ∝ 1 + intraday_vol_u (2x - 1)^2`` (mean one) and an AR(1) log-volatility
      ``v_t = logvol_phi v_{t-1} + e_t`` of stationary std ``s_v = logvol_std`` (volatility
      clustering within and across days; the ``- s_v^2`` keeps the mean variance unchanged).
    * Each bar is a Gaussian random walk of ``substeps`` steps in log price; open = previous
      close (or the overnight-gapped price at the session start), close = the walk's end,
      high/low = its max/min; prices are rounded to ``tick_size``.
    * Overnight: the log price jumps by N(0, overnight_vol^2) between sessions.
    * Volume: ``shares_per_day * L_d / 390 * U(x) * (0.5 + |z_t|/ (2 E|z|)) * G_t`` shares with
      a day level ``L_d = sqrt(h_d)/daily_vol * LogNormal(0, 0.3)``, the U shape
      ``U(x) ∝ 1 + volume_u (2x - 1)^2``, ``z_t`` the bar's standardised return (volume rises
      with |return|) and ``G_t ~ Gamma(4, 1/4)``; rounded to whole shares.

    Args:
        days: number of sessions (> 0).
        seed: seed of the ``np.random.Generator`` (same seed, same bars, bit for bit).
        start: first session date (moved to the next weekday if it is a weekend).
        s0: first open price (> 0).
        daily_vol: long-run standard deviation of the open-to-close log return (>= 0).
        overnight_vol: standard deviation of the overnight log gap (>= 0).
        garch_alpha, garch_beta: GARCH(1,1) coefficients (>= 0, alpha + beta < 1).
        intraday_vol_u: depth of the intraday U shape of variance (>= 0).
        volume_u: depth of the intraday U shape of volume (>= 0).
        logvol_phi: per-bar AR(1) coefficient of the log volatility, in [0, 1).
        logvol_std: stationary standard deviation of the log volatility (>= 0).
        shares_per_day: mean daily volume (> 0).
        substeps: sub-steps per bar for the intrabar path (>= 1).
        tick_size: price rounding (> 0; 0.01 for US stocks above $1).
        return_truth: also return a :class:`SyntheticTruth`.

    Returns:
        Bars in the shape of :func:`load_bars` (New York index, float64 OHLCV), or
        ``(bars, truth)`` with ``return_truth=True``.
    """
    _check_positive_int("days", days)
    _check_positive_int("substeps", substeps)
    for name, val in (("s0", s0), ("shares_per_day", shares_per_day), ("tick_size", tick_size)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be > 0, got {val!r}")
    for name, val in (
        ("daily_vol", daily_vol),
        ("overnight_vol", overnight_vol),
        ("garch_alpha", garch_alpha),
        ("garch_beta", garch_beta),
        ("intraday_vol_u", intraday_vol_u),
        ("volume_u", volume_u),
        ("logvol_std", logvol_std),
    ):
        if not (np.isfinite(val) and val >= 0):
            raise ValueError(f"{name} must be >= 0, got {val!r}")
    if garch_alpha + garch_beta >= 1:
        raise ValueError(f"garch_alpha + garch_beta must be < 1, got {garch_alpha} + {garch_beta}")
    if not 0 <= logvol_phi < 1:
        raise ValueError(f"logvol_phi must be in [0, 1), got {logvol_phi!r}")

    rng = np.random.default_rng(seed)
    m = MINUTES_PER_SESSION
    sessions = pd.bdate_range(pd.Timestamp(start), periods=days)
    n = days * m
    x = (np.arange(m) + 0.5) / m
    vol_shape = np.sqrt(_u_shape(x, intraday_vol_u))
    vol_u = _u_shape(x, volume_u)

    # AR(1) log volatility, stationary start, vectorised with scipy's linear filter.
    from scipy.signal import lfilter

    innov = rng.standard_normal(n) * logvol_std * np.sqrt(1.0 - logvol_phi**2)
    v0 = rng.standard_normal() * logvol_std
    v = lfilter([1.0], [1.0, -logvol_phi], innov, zi=[logvol_phi * v0])[0]
    clustering = np.exp(v - logvol_std**2).reshape(days, m)

    z = rng.standard_normal((days, m, substeps))
    gaps = rng.standard_normal(days) * overnight_vol
    w = daily_vol**2 * (1.0 - garch_alpha - garch_beta)
    h = np.empty(days)
    h_d = daily_vol**2
    sigma_bar = np.empty((days, m))
    for d in range(days):  # a loop over days (not bars): GARCH needs the previous day's return
        h[d] = h_d
        sigma_bar[d] = np.sqrt(h_d / m) * vol_shape * clustering[d]
        r_d = float((z[d].sum(axis=1) * sigma_bar[d] / np.sqrt(substeps)).sum())
        h_d = w + garch_alpha * r_d**2 + garch_beta * h_d

    steps = z * (sigma_bar / np.sqrt(substeps))[:, :, None]
    bar_ret = steps.sum(axis=2)
    # Log price at each bar open: cumulative sum of bar returns and overnight gaps.
    day_ret = bar_ret.sum(axis=1)
    day_open = np.log(s0) + np.concatenate([[0.0], np.cumsum(day_ret[:-1] + gaps[1:])])
    open_log = day_open[:, None] + np.concatenate(
        [np.zeros((days, 1)), np.cumsum(bar_ret[:, :-1], axis=1)], axis=1
    )
    path = open_log[:, :, None] + np.cumsum(steps, axis=2)
    hi_log = np.maximum(open_log, path.max(axis=2))
    lo_log = np.minimum(open_log, path.min(axis=2))

    def to_price(a: np.ndarray) -> np.ndarray:
        return np.round(np.exp(a.ravel()) / tick_size) * tick_size

    zstd = bar_ret / sigma_bar
    level = np.sqrt(h) / max(daily_vol, 1e-12) * rng.lognormal(0.0, 0.3, days)
    if daily_vol == 0:
        level = rng.lognormal(0.0, 0.3, days)
    activity = 0.5 + np.abs(zstd) / (2.0 * np.sqrt(2.0 / np.pi))
    noise = rng.gamma(4.0, 0.25, (days, m))
    volume = np.round(shares_per_day / m * level[:, None] * vol_u[None, :] * activity * noise)

    offsets = SESSION_OPEN + pd.to_timedelta(np.arange(m), unit="min")
    index = pd.DatetimeIndex((sessions.values[:, None] + offsets.values[None, :]).ravel()).tz_localize(
        NEW_YORK
    )
    index.name = "datetime"
    bars = pd.DataFrame(
        {
            "open": to_price(open_log),
            "high": to_price(hi_log),
            "low": to_price(lo_log),
            "close": to_price(path[:, :, -1]),
            "volume": volume.ravel().astype(np.float64),
        },
        index=index,
    )
    if not return_truth:
        return bars
    truth = SyntheticTruth(
        minute_sigma=sigma_bar.ravel(),
        daily_variance=h,
        substeps=substeps,
        intrabar_realized_variance=(steps**2).sum(axis=2).ravel(),
    )
    return bars, truth


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
