"""Bar CSV readers: the three formats the project meets (yfinance's ``to_csv``, flat OHLCV, the cache's).

Also turns a yfinance frame into the project's shape (:func:`normalize_yf_frame`), shared with the
downloader.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pandas as pd

from mmenv.data.bars.validate import (
    COLUMNS,
    NEW_YORK,
    OUTLIER_Z,
    BarValidationError,
    validate_bars,
)
from mmenv.data.files import not_utf8


def normalize_yf_frame(raw: pd.DataFrame, ticker: str | None = None) -> pd.DataFrame:
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


#: Rows per chunk when reading a flat CSV (memory stays proportional to one chunk plus the float arrays).
CHUNK_ROWS = 200_000

_TIME_NAMES = ("datetime", "date", "timestamp", "time")


def _head(path: Path, n: int = 3) -> list[str]:
    """The first ``n`` lines of ``path`` (UTF-8, a byte-order mark removed)."""
    try:
        with path.open("r", encoding="utf-8-sig") as fh:
            return [fh.readline() for _ in range(n)]
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def _separator(header: str) -> str:
    """',' unless the header line holds ';' (or a tab) and no comma."""
    if "," in header:
        return ","
    for sep in (";", "\t"):
        if sep in header:
            return sep
    return ","


def _numeric(col: pd.Series, path: Path, name: str, row0: int) -> np.ndarray:
    """A CSV column as float64; text that is not a number raises ValueError naming file, row and column.

    Empty cells (a truncated line) become NaN, dropped and counted by :func:`validate_bars`.
    """
    if col.dtype.kind in "fiu":
        return col.to_numpy(np.float64)
    values = pd.to_numeric(col, errors="coerce")
    text = col.astype("string").str.strip()
    bad = values.isna().to_numpy() & col.notna().to_numpy() & (text != "").fillna(False).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        hint = " (a decimal comma? write numbers with a decimal point)" if "," in str(col.iloc[i]) else ""
        raise ValueError(
            f"{path}: data row {row0 + i + 1}, column {name!r}: {col.iloc[i]!r} is not a number{hint}"
        )
    return values.to_numpy(np.float64)


def read_bars_csv(
    path: str | os.PathLike[str],
    *,
    tz: str = NEW_YORK,
    ticker: str | None = None,
    interval: str = "1m",
    validate: bool = True,
    outlier_z: float | None = OUTLIER_Z,
) -> pd.DataFrame:
    """Read bars from a CSV file in any of the three formats the project meets.

    Formats (detected from the header):

    * ``yf.download(...).to_csv()``: three header rows (``Price,Close,High,...``,
      ``Ticker,NVDA,...``, ``Datetime,,,...``), as written for MultiIndex columns;
    * a flat OHLCV file: ``Datetime|Date, Open, High, Low, Close, [Adj Close], Volume`` (any case,
      extra columns such as Dividends ignored), e.g. ``Ticker.history(...).to_csv()``;
    * the project's cache format: ``datetime,open,high,low,close,volume``.

    UTF-8 with or without a byte-order mark; ``,`` or ``;`` (or tab) separators. Flat files are read
    in chunks of :data:`CHUNK_ROWS` rows, so memory stays proportional to the bars, not the text.
    Every error names the file, and the data row and column where there is one: text that is not
    UTF-8, text in a number column, a timestamp that does not parse, a naive timestamp that does not
    exist or is ambiguous at a daylight-saving change of ``tz``.

    Args:
        path: the CSV file.
        tz: time zone of timestamps written without a UTC offset (ignored for aware ones).
        ticker: which ticker to take from a multi-ticker yf.download file.
        interval: bar interval, for the validation's gap and spacing rules.
        validate: run :func:`validate_bars` (the report is in ``df.attrs["validation"]``).
        outlier_z: the outlier threshold of :func:`validate_bars`.

    Returns:
        The bar frame (New York index, float64 OHLCV columns).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the header matches none of the formats, a cell or timestamp does not parse, or
            the file is not UTF-8 (the message gives the file, row and column).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "bars CSV not found", str(path))
    head = _head(path)
    if not head[0].strip():
        raise ValueError(
            f"{path}: the file is empty; expected a header line such as Datetime,Open,High,Low,Close,Volume"
        )
    sep = _separator(head[0])
    first = [c.strip().lower() for c in head[0].split(sep)]
    second = [c.strip().lower() for c in head[1].split(sep)] if head[1] else []
    if first and first[0] == "price" and second and second[0] == "ticker":
        raw = _read(path, sep, header=[0, 1], index_col=0, skiprows=[2])
        raw.columns = raw.columns.set_names(["Price", "Ticker"])
        raw.index = parse_times(raw.index, tz, path)
        bars = normalize_yf_frame(raw, ticker)
    elif first and first[0] in _TIME_NAMES:
        bars = _read_flat(path, sep, tz, first)
    else:
        raise ValueError(
            f"{path}: unrecognised header {head[0].strip()!r}; expected the yf.download CSV "
            "(Price/Ticker/Datetime header rows), a flat Datetime,Open,High,Low,Close,Volume "
            "file, or the cache format datetime,open,high,low,close,volume"
        )
    if validate:
        try:
            bars, report = validate_bars(bars, interval, outlier_z=outlier_z)
        except BarValidationError as exc:
            raise BarValidationError(f"{path}: {exc}") from None
        bars.attrs["validation"] = report.as_dict()
    return bars


def _read(path: Path, sep: str, **kw):
    """``pd.read_csv`` whose errors name the file."""
    try:
        return pd.read_csv(path, sep=sep, encoding="utf-8-sig", **kw)
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: {' '.join(str(exc).split())}; check that line") from None


def _read_flat(path: Path, sep: str, tz: str, header: list[str]) -> pd.DataFrame:
    """A flat OHLCV file, chunk by chunk: float64 columns and the timestamps as int64 nanoseconds."""
    names = {h.replace("_", " "): i for i, h in enumerate(header)}
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; the header is {', '.join(header)} (expected "
            "Datetime,Open,High,Low,Close,Volume in any case)"
        )
    cols: dict[str, list[np.ndarray]] = {c: [] for c in COLUMNS}
    times: list[np.ndarray] = []
    aware: bool | None = None
    row0 = 0
    reader = _read(path, sep, index_col=0, chunksize=CHUNK_ROWS)
    while True:
        try:
            chunk = next(reader)
        except StopIteration:
            break
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        except pd.errors.ParserError as exc:
            raise ValueError(f"{path}: {' '.join(str(exc).split())}; check that line") from None
        lower = {str(c).strip().lower().replace("_", " "): c for c in chunk.columns}
        for c in COLUMNS:
            cols[c].append(_numeric(chunk[lower[c]], path, c, row0))
        idx, chunk_aware = _parse_times_rows(chunk.index, tz, path, row0, header[0])
        if aware is not None and chunk_aware != aware:
            raise ValueError(
                f"{path}: from data row {row0 + 1} on, timestamps "
                f"{'carry' if chunk_aware else 'lack'} a UTC offset and earlier ones do not; write all with one"
            )
        aware = chunk_aware
        times.append(idx)
        row0 += len(chunk)
    if row0 == 0:
        raise ValueError(f"{path}: the file has a header but no data rows")
    index = pd.DatetimeIndex(np.concatenate(times), tz="UTC").tz_convert(NEW_YORK)
    index.name = "datetime"
    del times
    out = np.empty((row0, len(COLUMNS)))  # one block, filled column by column (the chunks freed as we go)
    for j, c in enumerate(COLUMNS):
        out[:, j] = np.concatenate(cols.pop(c))
    return pd.DataFrame(out, index=index, columns=list(COLUMNS), copy=False)


def _parse_times_rows(
    index: pd.Index, tz: str, path: Path, row0: int, column: str
) -> tuple[np.ndarray, bool]:
    """Timestamps of rows ``row0 + 1 ...`` as UTC int64 nanoseconds, and whether they carry an offset.

    Errors name the file, the data row and the column: a timestamp that does not parse, a mix of
    aware and naive ones, a naive one that does not exist or is ambiguous in ``tz`` (daylight saving).
    """
    text = pd.Index(index).astype(str).str.strip()
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = np.asarray(parsed.isna())
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: data row {row0 + i + 1}, column {column!r}: timestamp {text[i]!r} does not parse "
            "as ISO-8601 (e.g. 2024-01-02 09:30:00-05:00)"
        )
    has_offset = np.asarray(text.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True))
    if has_offset.all():
        return parsed.as_unit("ns").asi8, True
    if has_offset.any():
        i = int(np.flatnonzero(has_offset != has_offset[0])[0])
        raise ValueError(
            f"{path}: data row {row0 + i + 1}, column {column!r}: timestamp {text[i]!r} "
            f"{'carries' if has_offset[i] else 'lacks'} a UTC offset and data row {row0 + 1} does not; "
            "write all timestamps one way"
        )
    naive = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601"))
    local = naive.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    gone = np.asarray(local.isna())
    if gone.any():
        i = int(np.flatnonzero(gone)[0])
        raise ValueError(
            f"{path}: data row {row0 + i + 1}, column {column!r}: naive timestamp {text[i]!r} is ambiguous "
            f"or does not exist in {tz} (a daylight-saving change); write timestamps with their UTC offset "
            "(e.g. 2024-11-03 01:30:00-04:00)"
        )
    return local.tz_convert("UTC").as_unit("ns").asi8, False


def parse_times(index: pd.Index, tz: str, where: object) -> pd.DatetimeIndex:
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
