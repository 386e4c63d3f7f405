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

Modules: :mod:`~mmenv.data.bars.validate` (frame shape, errors, validation), :mod:`~mmenv.data.bars.readers` (CSV
formats), :mod:`~mmenv.data.bars.cache` (the disk cache), :mod:`~mmenv.data.bars.yahoo` (the downloader),
:mod:`~mmenv.data.bars.synthetic` (synthetic bars).
"""

from __future__ import annotations

from mmenv.data.bars.cache import default_cache_dir
from mmenv.data.bars.readers import read_bars_csv
from mmenv.data.bars.synthetic import SyntheticTruth, synthetic_bars
from mmenv.data.bars.validate import (
    COLUMNS,
    INTERVALS,
    MINUTES_PER_SESSION,
    NEW_YORK,
    PRICE_COLUMNS,
    SESSION_CLOSE,
    SESSION_OPEN,
    BarReport,
    BarValidationError,
    DataError,
    DataUnavailableError,
    regular_hours,
    validate_bars,
)
from mmenv.data.bars.yahoo import MAX_WINDOW_DAYS, load_bars, validate_ticker

__all__ = [
    "COLUMNS",
    "INTERVALS",
    "MAX_WINDOW_DAYS",
    "MINUTES_PER_SESSION",
    "NEW_YORK",
    "PRICE_COLUMNS",
    "SESSION_CLOSE",
    "SESSION_OPEN",
    "BarReport",
    "BarValidationError",
    "DataError",
    "DataUnavailableError",
    "SyntheticTruth",
    "default_cache_dir",
    "load_bars",
    "read_bars_csv",
    "regular_hours",
    "synthetic_bars",
    "validate_bars",
    "validate_ticker",
]
