"""Bar CSV readers: the three formats the project meets (yfinance's ``to_csv``, flat OHLCV, the cache's).

Also turns a yfinance frame into the project's shape (:func:`_normalize_yf_frame`), shared with the
downloader.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from mmenv.data.validate import (
    COLUMNS,
    NEW_YORK,
    validate_bars,
)


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
