"""The measurements behind the tape validator's rules (:mod:`mmenv.data.tape_validation`): the robust scale of
the mid's moves, the book over a window of time, absurd quotes, bad prints, gaps and stretches.

Every function is vectorised (``O(n log n)`` at most, rolling windows in pandas' compiled loops) and its work
is bounded by the number of events, never by a data value such as a time span or a price range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "MIN_MOVES",
    "SCALE_POINTS",
    "book_envelope",
    "gaps",
    "mid_scale",
    "one_sided_stretches",
    "quiet_stretches",
    "window_median",
]

#: Fewest non-zero moves :func:`mid_scale` needs to measure a scale (else the rules use their floors only).
MIN_MOVES = 20
#: Most starting points :func:`mid_scale` samples (evenly spaced quotes), so that its work is bounded.
SCALE_POINTS = 1_000_000
#: 1.4826 x the median absolute deviation is the standard deviation of a Gaussian (a robust sd).
MAD_TO_SD = 1.4826


def mid_scale(qt: np.ndarray, mid: np.ndarray, horizon_ns: int) -> float | None:
    """The robust standard deviation of the mid's non-zero moves over ``horizon_ns`` (price units).

    From (up to :data:`SCALE_POINTS`) quotes ``i``, the move ``m(t_i + horizon) - m(t_i)`` of the mid in force;
    zero moves are left out (a quiet market must not give a zero scale) and the scale is ``1.4826 x
    median |move|`` (Hampel's estimator: a few absurd quotes do not move it). None with fewer than
    :data:`MIN_MOVES` non-zero moves.
    """
    n = qt.size
    if n < 2:
        return None
    i = np.arange(0, n, max(1, n // SCALE_POINTS))
    j = np.searchsorted(qt, qt[i] + horizon_ns, side="right") - 1
    d = mid[j] - mid[i]
    d = d[np.isfinite(d) & (d != 0)]
    if d.size < MIN_MOVES:
        return None
    return MAD_TO_SD * float(np.median(np.abs(d)))


def _rolling(qt: np.ndarray, values: np.ndarray, t_end: np.ndarray, width_ns: int, how: str) -> np.ndarray:
    """``how`` ("min", "max", "median") of ``values`` over the quotes with time in ``(t - width, t]`` for each
    ``t`` of ``t_end`` (NaN where none): the queries are NaN rows merged into the quote series, so pandas'
    time-based rolling window (linear in the rows) answers them all at once."""
    times = np.concatenate([qt, t_end])
    vals = np.concatenate([values, np.full(t_end.size, np.nan)])
    order = np.argsort(times, kind="stable")  # a quote stamped at t is inside the window ending at t
    s = pd.Series(vals[order], index=pd.DatetimeIndex(times[order].astype("datetime64[ns]")))
    r = getattr(s.rolling(pd.Timedelta(int(width_ns), "ns"), min_periods=1), how)().to_numpy()
    out = np.empty(times.size)
    out[order] = r
    return out[qt.size :]


def window_median(qt: np.ndarray, values: np.ndarray, t: np.ndarray, half_ns: int) -> np.ndarray:
    """The median of ``values`` over the quotes with time in ``(t - half, t + half]``, for each ``t``."""
    return _rolling(qt, values, t + half_ns, 2 * half_ns, "median")


def book_envelope(
    qt: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    t: np.ndarray,
    bid_in_force: np.ndarray,
    ask_in_force: np.ndarray,
    half_ns: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(lowest bid, highest ask) of the book in force at each ``t`` and of every quote within ``half_ns`` of
    ``t`` (before or after): the prices a trade at ``t`` could have met, given a book that moves and
    clocks that differ by a little."""
    lo = np.fmin(bid_in_force, _rolling(qt, bid, t + half_ns, 2 * half_ns, "min"))
    hi = np.fmax(ask_in_force, _rolling(qt, ask, t + half_ns, 2 * half_ns, "max"))
    return lo, hi


def gaps(time: np.ndarray, max_gap_ns: int) -> tuple[int, float, float, float]:
    """(count, longest (s), total (s), longest of all intervals (s)) of the intervals between consecutive
    events longer than ``max_gap_ns``."""
    if time.size < 2:
        return 0, 0.0, 0.0, 0.0
    d = np.diff(time)
    big = d > max_gap_ns
    return (
        int(big.sum()),
        float(d[big].max() * 1e-9) if big.any() else 0.0,
        float(d[big].sum() * 1e-9),
        float(d.max() * 1e-9),
    )


def one_sided_stretches(empty_t: np.ndarray, qt: np.ndarray, end: int, min_ns: int) -> tuple[int, float]:
    """(count, longest (s)) of the stretches of at least ``min_ns`` during which the book was one-sided or
    empty: from the first of consecutive one-sided rows (no valid quote between them) to the next valid
    quote (or ``end``)."""
    if empty_t.size == 0:
        return 0, 0.0
    nxt = np.searchsorted(qt, empty_t, side="right")  # the valid quote that ends each one-sided row's stretch
    first = np.r_[True, nxt[1:] != nxt[:-1]]
    start = empty_t[first]
    stop = np.where(nxt[first] < qt.size, qt[np.minimum(nxt[first], qt.size - 1)], end)
    dur = stop - start
    long = dur >= min_ns
    return int(long.sum()), float(dur.max() * 1e-9) if dur.size else 0.0


def quiet_stretches(qt: np.ndarray, tt: np.ndarray, min_ns: int, min_trades: int) -> tuple[int, float]:
    """(count, longest (s)) of the frozen stretches: at least ``min_ns`` without a change of the book while
    at least ``min_trades`` trades printed (a stale or frozen quote feed)."""
    if qt.size == 0 or tt.size == 0:
        return 0, 0.0
    end = max(int(qt[-1]), int(tt[-1]))
    bounds = np.append(qt, end)
    dur = np.diff(bounds)
    n_tr = np.diff(np.searchsorted(tt, bounds, side="left"))
    frozen = (dur >= min_ns) & (n_tr >= min_trades)
    return int(frozen.sum()), float(dur[frozen].max() * 1e-9) if frozen.any() else 0.0
