"""The on-disk bar cache: one CSV file per ticker / interval / day, written atomically.

A cached day is ``<cache_dir>/<TICKER>/<interval>[_ext]/<YYYY-MM-DD>.csv`` with the header
``datetime,open,high,low,close,volume`` and ISO-8601 timestamps with their UTC offset. Files are written to a
temporary file in the same directory and moved into place with :func:`os.replace`, so a reader never sees
half a file. Why CSV and not parquet: see :mod:`mmenv.data`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from mmenv.data.readers import _normalize_yf_frame, _parse_times
from mmenv.data.validate import (
    COLUMNS,
    NEW_YORK,
)


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
