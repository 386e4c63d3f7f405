"""Yahoo Finance bars through yfinance (the ``data`` extra), with the on-disk cache of :mod:`mmenv.data.bars.cache`.

:func:`load_bars` downloads in windows of at most 7 days for 1-minute bars, caches complete days, never
caches today, and with ``offline=True`` reads only the cache.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from mmenv.data.bars.cache import (
    CacheFileError,
    day_dir,
    default_cache_dir,
    empty_bars,
    read_cache_day,
    write_csv_atomic,
)
from mmenv.data.bars.readers import normalize_yf_frame
from mmenv.data.bars.validate import (
    INTERVALS,
    NEW_YORK,
    PRICE_COLUMNS,
    REMEDY,
    DataUnavailableError,
    regular_hours,
    validate_bars,
)

#: Most calendar days Yahoo serves per request, per interval (1m: 7 days; other intraday: 60 days).
MAX_WINDOW_DAYS: dict[str, int] = {"1m": 7, "1d": 3650}

#: Seconds yfinance waits for each HTTP response before giving up (a stalled proxy never hangs a run).
DOWNLOAD_TIMEOUT_S = 20.0

#: Seconds before the one retry of a failed download.
RETRY_BACKOFF_S = 2.0

_TICKER_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,19}$")


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
        raise ImportError("load_bars needs yfinance: pip install 'mmenv[data]'. " + REMEDY) from exc
    capture = _LogCapture()
    logger = logging.getLogger("yfinance")
    logger.addHandler(capture)
    try:
        for attempt in (1, 2):  # one retry after RETRY_BACKOFF_S
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
                    timeout=DOWNLOAD_TIMEOUT_S,
                )
                break
            except Exception as exc:
                if attempt == 2:
                    raise DataUnavailableError(
                        f"downloading {ticker} {interval} bars {start.date()}..{end.date()} failed twice "
                        f"({type(exc).__name__}: {exc}; timeout {DOWNLOAD_TIMEOUT_S:g} s per request). "
                        f"Check the network connection. {REMEDY}"
                    ) from exc
                time.sleep(RETRY_BACKOFF_S)
    finally:
        logger.removeHandler(capture)
    if raw is None or len(raw) == 0:
        return empty_bars(), capture.messages
    bars = normalize_yf_frame(raw, ticker)
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
    folder = day_dir(root, sym, interval, extended)
    cached_frames: list[pd.DataFrame] = []
    missing: list[pd.Timestamp] = []
    for d in days:
        path = folder / f"{d.strftime('%Y-%m-%d')}.csv"
        if (use_cache or offline) and path.is_file():
            try:
                cached_frames.append(read_cache_day(path, d, interval, extended))
                continue
            except CacheFileError as exc:
                what = (
                    "this day is left out (run online to fetch it again)" if offline else "fetching it again"
                )
                warnings.warn(f"{exc}; {what}", stacklevel=2)
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
        writable = use_cache
        for w_start, w_end in _windows(missing, max_days):
            bars_w, msgs = _download(sym, w_start, w_end, interval, extended)
            messages += msgs
            if len(bars_w) == 0:
                continue
            fetched.append(bars_w)
            if writable:
                day_key = bars_w.index.normalize()
                for d in pd.date_range(w_start, w_end, freq="D", inclusive="left"):
                    if d >= today:
                        continue  # an incomplete day is never cached
                    day_bars = bars_w[np.asarray(day_key == d)]
                    try:
                        write_csv_atomic(day_bars, folder / f"{d.strftime('%Y-%m-%d')}.csv")
                    except OSError as exc:  # a read-only cache: keep the download in memory
                        warnings.warn(
                            f"cannot write the bar cache {folder} ({exc.strerror or exc}); the downloaded bars "
                            "are used from memory only",
                            stacklevel=2,
                        )
                        writable = False
                        break
        if not fetched and not cached_frames:
            why = "; ".join(dict.fromkeys(messages)) or "Yahoo returned no rows"
            raise DataUnavailableError(
                f"no {interval} bars for {sym!r} between {first.date()} and {last.date()} "
                f"(exclusive): {why}. The ticker may be unknown or delisted, the range may be a "
                "holiday or weekend, or older than Yahoo keeps (about 30 days for 1m bars), or "
                f"the network may be down. {REMEDY}"
            )
    frames = [f for f in cached_frames + fetched if len(f)]
    if not frames:
        where = f"the cache {folder}" if offline else "Yahoo or the cache"
        raise DataUnavailableError(
            f"no {interval} bars for {sym!r} between {first.date()} and {last.date()} "
            f"(exclusive) in {where}. Run load_bars once online to fill the cache. {REMEDY}"
        )
    if fetched:
        got = set(pd.concat(fetched).index.normalize())
        absent = [d for d in missing if d.weekday() < 5 and d < today and d not in got]
        if absent:
            warnings.warn(
                f"Yahoo returned no {interval} bars of {sym} for {len(absent)} weekday(s) (first "
                f"{absent[0].date()}): market holidays, or days older than Yahoo keeps; they are missing "
                "from the result",
                stacklevel=2,
            )
    bars = pd.concat(sorted(frames, key=lambda f: f.index[0]))  # cached and fetched days in day order
    bars = bars[(bars.index >= first) & (bars.index < last)]
    if regular_hours_only and interval != "1d":
        bars = regular_hours(bars)
    bars, report = validate_bars(bars, interval, max_drop_fraction=max_drop_fraction)
    if not report.clean:
        warnings.warn(f"{sym} {interval} bars: {'; '.join(report.actions)}", stacklevel=2)
    bars.attrs["validation"] = report.as_dict()
    return bars
