"""The on-disk bar cache: one CSV file per ticker / interval / day, written atomically.

A cached day is ``<cache_dir>/<TICKER>/<interval>[_ext]/<YYYY-MM-DD>.csv`` with the header
``datetime,open,high,low,close,volume`` and ISO-8601 timestamps with their UTC offset. Files are written to a
temporary file in the same directory and moved into place with :func:`os.replace`, so a reader never sees
half a file; beside each, ``<YYYY-MM-DD>.csv.sha256`` records the SHA-256 and size written. Why CSV and not
parquet: see :mod:`mmenv.data`.

Every day is checked when read (:func:`read_cache_day`, :class:`CacheFileError` naming the file and the
problem): size and checksum against the record, text and header, every bar on the day of the file name, and,
for regular-hours 1-minute bars, a complete session (the last bar starts at 15:30 or later, or 12:55-12:59
on a half day).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from mmenv.data.bars.readers import normalize_yf_frame, parse_times
from mmenv.data.bars.validate import (
    COLUMNS,
    NEW_YORK,
    DataError,
)

_HEADER = "datetime," + ",".join(COLUMNS)


class CacheFileError(DataError, ValueError):
    """A cached day file is unusable (cut, changed, binary, another day's bars, an incomplete session)."""


def default_cache_dir() -> Path:
    """The default cache root.

    ``$MMENV_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/mmenv/bars`` (``~/.cache/mmenv/bars``).
    """
    env = os.environ.get("MMENV_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mmenv" / "bars"


def day_dir(cache_dir: Path, ticker: str, interval: str, extended: bool) -> Path:
    return cache_dir / ticker / (interval + ("_ext" if extended else ""))


def _write_bytes_atomic(data: bytes, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` in the cache format to ``path`` atomically (temp file + fsync + os.replace), then the
    SHA-256 and size record beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df.loc[:, list(COLUMNS)].copy()
    out.index = out.index.tz_convert(NEW_YORK)
    out.index.name = "datetime"
    data = out.to_csv(date_format="%Y-%m-%d %H:%M:%S%z", lineterminator="\n").encode("utf-8")
    _write_bytes_atomic(data, path)
    _write_bytes_atomic(f"{hashlib.sha256(data).hexdigest()} {len(data)}\n".encode(), _checksum_path(path))


def read_cache_day(
    path: Path, day: pd.Timestamp | None = None, interval: str = "1m", extended: bool = False
) -> pd.DataFrame:
    """Read and check one cached day; :class:`CacheFileError` says what is wrong with which file.

    Args:
        path: the day file. day: the New York day its name stands for (None: not checked).
        interval, extended: what the file should hold (the session check applies to regular-hours 1m).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CacheFileError(f"cached bars {path}: cannot be read ({exc.strerror})") from None
    record = _checksum_path(path)
    if record.is_file():
        try:
            digest, size = record.read_text().split()
            ok = int(size) == len(data) and digest == hashlib.sha256(data).hexdigest()
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise CacheFileError(
                f"cached bars {path}: {len(data)} bytes whose checksum differs from the one recorded when it "
                "was written (the file was cut or changed)"
            )
    if not data.strip():
        raise CacheFileError(f"cached bars {path}: the file is empty (not even a header)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CacheFileError(f"cached bars {path}: binary or not UTF-8 text") from None
    if text.split("\n", 1)[0].strip() != _HEADER:
        raise CacheFileError(
            f"cached bars {path}: header {text.split(chr(10), 1)[0][:60]!r}, expected {_HEADER!r}"
        )
    try:
        raw = pd.read_csv(io.StringIO(text), index_col=0)
        if len(raw) == 0:
            return empty_bars()
        raw.index = parse_times(raw.index, NEW_YORK, path)
        bars = normalize_yf_frame(raw)
    except (ValueError, TypeError, pd.errors.ParserError) as exc:
        raise CacheFileError(f"cached bars {path}: {' '.join(str(exc).split())}") from None
    if day is not None:
        other = bars.index.normalize() != day
        if other.any():
            raise CacheFileError(
                f"cached bars {path}: holds bars of {bars.index[other][0].date()}, not of {day.date()}"
            )
    if interval == "1m" and not extended:
        last = bars.index[-1] - bars.index[-1].normalize()
        half_day = pd.Timedelta(hours=12, minutes=55) <= last < pd.Timedelta(hours=13)
        if last < pd.Timedelta(hours=15, minutes=30) and not half_day:
            raise CacheFileError(
                f"cached bars {path}: the session ends at {bars.index[-1].strftime('%H:%M')} with {len(bars)} "
                "bars: a truncated day (a full session's last bar starts at 15:59, a half day's at 12:59)"
            )
    return bars


def empty_bars() -> pd.DataFrame:
    idx = pd.DatetimeIndex([], tz=NEW_YORK, name="datetime")
    return pd.DataFrame({c: np.array([], dtype=np.float64) for c in COLUMNS}, index=idx)
