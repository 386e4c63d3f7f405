"""Real bars from a tape: OHLCV bars of the mid (or of the trade prints) and their realised variance.

A tape (:mod:`mmenv.data.tape`) holds every top-of-book change and trade; :func:`tape_bars` cuts it into bars of
``interval_s`` seconds aligned to the clock (a 1-minute bar starts on a whole minute), in the bar frame of
:mod:`mmenv.data` (tz-aware ``America/New_York`` index named ``datetime``, the bar's start; float64
``open, high, low, close, volume``), so that :func:`mmenv.data.validate_bars` checks them like any bars.

* ``price="mid"`` (default): the mid is a step function of time; "the mid at t" is the mid after every event
  strictly before t (the first event's mid before the first event). ``open`` is the mid at the bar's start,
  ``close`` the mid at its end (so a bar's close is the next bar's open and the bar's log return is the sum
  of its sub-interval returns), ``high`` / ``low`` the extremes of the mid during the bar (open and every
  event's mid in the bar). A bar without events is flat.
* ``price="trade"``: OHLC of the prints inside the bar (NaN where the bar has none; the validator drops and
  counts those rows).
* ``volume``: units traded in the bar (sum of the prints' sizes). ``n_trades``: prints in the bar.
* ``rv``: realised variance of the bar from sub-interval returns, sum over k of
  (ln m(t_0 + k h) - ln m(t_0 + (k - 1) h))^2, k = 1..interval_s / h, with m the mid in force and
  h = ``sample_s`` (Andersen, Bollerslev, Diebold & Labys 2001, "The distribution of realized exchange rate
  volatility", JASA 96: calendar-time sampling of the mid). Sampling the mid, not the prints, avoids the
  bid-ask bounce of trade prices; the noise left is the mid's own tick steps.

Bars run from the bar holding the first event to the bar holding the last one. Time origin: the tape's
``origin`` must be "unix epoch" (UTC) or start with a date ``YYYY-MM-DD`` of exchange time (LOBSTER:
nanoseconds after that midnight in New York), else pass ``start_day``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from mmenv.data.bars.validate import NEW_YORK
from mmenv.data.tape import TRADE, Tape

__all__ = ["bar_edges", "bar_windows", "tape_bars", "tape_day"]


def tape_day(tape: Tape):
    """The pandas Timestamp of ``time = 0`` of ``tape`` (tz-aware), from its ``origin``."""
    if tape.origin == "unix epoch":
        return pd.Timestamp(0, tz="UTC")
    m = re.match(r"(\d{4}-\d{2}-\d{2})\b", tape.origin)
    if m is None:
        raise ValueError(
            f"tape origin must be 'unix epoch' or start with a date YYYY-MM-DD, got {tape.origin!r} "
            "(pass start_day)"
        )
    return pd.Timestamp(m.group(1)).tz_localize(NEW_YORK)


def _in_force(time: np.ndarray, values: np.ndarray, when: np.ndarray) -> np.ndarray:
    """values of the last event strictly before each ``when`` (the first event's when there is none)."""
    i = np.searchsorted(time, when, side="left") - 1
    return values[np.clip(i, 0, time.size - 1)]


#: Most bars :func:`bar_edges` makes (the arrays of the bars are sized by the tape's span, a data value).
MAX_BARS = 2_000_000


def bar_edges(tape: Tape, interval_s: float) -> np.ndarray:
    """Bar boundaries (tape time, ns), aligned to whole multiples of ``interval_s``: from the start of the
    bar of the first event to the end of the bar of the last one (n bars, n + 1 edges).

    Raises:
        ValueError: more than :data:`MAX_BARS` bars (a span of years, or a clock jump in the tape).
    """
    step = round(interval_s * 1e9)
    if not (math.isfinite(interval_s) and interval_s > 0 and step == interval_s * 1e9):
        raise ValueError(f"interval_s must be > 0 and a whole number of nanoseconds, got {interval_s!r}")
    first = (int(tape.time[0]) // step) * step
    n = int(tape.time[-1]) // step - first // step + 1
    if n > MAX_BARS:
        raise ValueError(
            f"{tape.source or 'the tape'} spans {tape.duration_s / 86_400:,.1f} days, {n:,} bars of {interval_s:g} s "
            f"(at most {MAX_BARS:,}): a clock jump in the file? give a tape of one period"
        )
    return first + step * np.arange(n + 1, dtype=np.int64)


def bar_windows(tape: Tape, interval_s: float = 60.0) -> list[Tape]:
    """The events of each bar of :func:`tape_bars` (views of ``tape``; a bar without events is empty)."""
    idx = np.searchsorted(tape.time, bar_edges(tape, interval_s), side="left")
    return [tape.slice(int(idx[j]), int(idx[j + 1])) for j in range(idx.size - 1)]


def tape_bars(
    tape: Tape, interval_s: float = 60.0, *, price: str = "mid", sample_s: float = 5.0, start_day=None
):
    """Bars of ``interval_s`` seconds of ``tape`` with their realised variance (module docstring).

    Args:
        tape: the tape (>= 1 event). interval_s: bar length in seconds, > 0, a whole number of
            nanoseconds. price: "mid" or "trade". sample_s: sampling step of the realised variance
            (seconds), dividing ``interval_s``. start_day: tz-aware Timestamp of ``time = 0`` (default
            :func:`tape_day`).

    Returns:
        a DataFrame indexed by the bar start (America/New_York, named ``datetime``) with the float64
        columns open, high, low, close, volume, n_trades, rv.
    """
    if price not in ("mid", "trade"):
        raise ValueError(f"price must be 'mid' or 'trade', got {price!r}")
    for name, v in (("interval_s", interval_s), ("sample_s", sample_s)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be > 0, got {v!r}")
    step = round(interval_s * 1e9)
    sub = round(sample_s * 1e9)
    if step != interval_s * 1e9 or sub != sample_s * 1e9 or step % sub:
        raise ValueError(
            f"sample_s must divide interval_s in whole nanoseconds, got interval_s={interval_s!r}, "
            f"sample_s={sample_s!r}"
        )
    if len(tape) < 1:
        raise ValueError("tape must hold at least one event")
    day = tape_day(tape) if start_day is None else pd.Timestamp(start_day)
    if day.tzinfo is None:
        raise ValueError(f"start_day must be tz-aware, got {start_day!r}")
    t = tape.time
    mid = tape.mid
    starts = bar_edges(tape, interval_s)[:-1]
    n, first = starts.size, int(starts[0])
    bar = (t - first) // step  # bar index of each event
    # the mid on a grid of sample_s inside each bar, both edges included (column 0: open, column m: close)
    m = step // sub
    grid = starts[:, None] + sub * np.arange(m + 1, dtype=np.int64)[None, :]
    grid_mid = _in_force(t, mid, grid.ravel()).reshape(n, m + 1)
    open_mid, close_mid = grid_mid[:, 0], grid_mid[:, -1]
    rv = np.sum(np.diff(np.log(grid_mid), axis=1) ** 2, axis=1)
    trade = tape.kind == TRADE
    vol = np.bincount(bar[trade], weights=tape.trade_qty[trade], minlength=n)[:n]
    ntr = np.bincount(bar[trade], minlength=n)[:n].astype(np.float64)
    if price == "mid":
        hi, lo = np.maximum(open_mid, close_mid), np.minimum(open_mid, close_mid)
        np.maximum.at(hi, bar, mid)
        np.minimum.at(lo, bar, mid)
        o, c = open_mid, close_mid
    else:
        px, b = tape.trade_px[trade], bar[trade]
        hi, lo = np.full(n, -np.inf), np.full(n, np.inf)
        np.maximum.at(hi, b, px)
        np.minimum.at(lo, b, px)
        o, c = np.full(n, np.nan), np.full(n, np.nan)
        if b.size:
            firsts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
            lasts = np.r_[firsts[1:] - 1, b.size - 1]
            o[b[firsts]], c[b[lasts]] = px[firsts], px[lasts]
        empty = ntr == 0
        hi[empty], lo[empty] = np.nan, np.nan
    index = pd.DatetimeIndex(day + pd.to_timedelta(starts, unit="ns")).tz_convert(NEW_YORK)
    index.name = "datetime"
    cols = {"open": o, "high": hi, "low": lo, "close": c, "volume": vol, "n_trades": ntr, "rv": rv}
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}, index=index)
