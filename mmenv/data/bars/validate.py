"""The bar frame's shape, the data errors, and :func:`validate_bars` (what was found, what was done).

Every bar frame of :mod:`mmenv.data` has a tz-aware ``America/New_York`` ``DatetimeIndex`` named
``datetime`` (the bar's *start* time), sorted and unique, and the float64 columns
``open, high, low, close, volume``. No row is dropped without being counted in the :class:`BarReport`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

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

REMEDY = (
    "Use cached bars (load_bars(..., offline=True) reads only the cache), a CSV you saved earlier "
    "(read_bars_csv), or the embedded synthetic market (synthetic_bars(), the project's default)."
)

#: The same advice in terms of the command's flags (the ``mmenv`` command puts it in place of ``REMEDY``).
CLI_REMEDY = (
    "Use cached bars (--offline reads only the cache), a CSV you saved earlier (--bars-csv FILE), or "
    "leave out --ticker / --bars-csv for the embedded synthetic market."
)


class DataError(RuntimeError):
    """Base class of the errors of this module."""


class DataUnavailableError(DataError):
    """No bars could be obtained: network failure, unknown ticker, empty download or empty cache."""


class BarValidationError(DataError, ValueError):
    """The bars are unusable (nothing valid left, or too much of them invalid)."""


@dataclass(frozen=True)
class BarReport:
    """What :func:`validate_bars` found in a bar frame and what it did about it.

    Counts of dropped rows add up: ``n_input == n_output + n_duplicates + n_nonfinite +
    n_nonpositive + n_high_below_low + n_negative_volume + n_outliers``. Rows are checked in that
    order and each dropped row is counted once, under the first rule it fails.

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
        n_outliers: rows dropped because a price lay more than ``outlier_z`` robust standard
            deviations of the 1-minute log return away from the median close of its neighbours
            (an isolated bad print), or because the bar belonged to a run of bars away from the level
            before them that came back to it (see :func:`validate_bars`).
        n_outlier_runs: runs of two or more consecutive outlier bars among them.
        longest_outlier_run: bars in the longest such run (0 when none).
        outlier_z: the threshold used (None: the outlier rule was off).
        robust_sigma: the robust standard deviation of the within-session close-to-close log returns
            (1.4826 x their median absolute value), the unit of ``outlier_z``.
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
    n_outliers: int = 0
    n_outlier_runs: int = 0
    longest_outlier_run: int = 0
    outlier_z: float | None = None
    robust_sigma: float | None = None
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
            + self.n_outliers
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BarReport:
        """The report from :meth:`as_dict`'s output (``df.attrs["validation"]``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names}
        return cls(**kw)

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


#: Default threshold of the outlier rule, in robust standard deviations of the 1-minute log return.
OUTLIER_Z = 30.0

#: Bars on each side of a bar in the local median the outlier rule compares its prices with.
OUTLIER_HALF_WINDOW = 2

#: Longest run of bad bars (bars) the reverting-level test of the outlier rule looks for.
OUTLIER_MAX_RUN = 30

#: A run has come back when the close is within this fraction of the threshold of the level before it.
OUTLIER_RETURN_FRACTION = 0.5


def validate_bars(
    bars: pd.DataFrame,
    interval: str = "1m",
    *,
    max_drop_fraction: float = 0.5,
    outlier_z: float | None = OUTLIER_Z,
    check_spacing: bool = True,
) -> tuple[pd.DataFrame, BarReport]:
    """Check and clean a bar frame; say what was found and what was done.

    Rules, in order (a dropped row is counted under the first rule it fails):

    1. timestamps out of order: the frame is sorted (counted in ``n_unsorted``);
    2. duplicated timestamps: the last row of each timestamp is kept (``n_duplicates``);
    3. NaN or infinite open/high/low/close/volume: dropped (``n_nonfinite``);
    4. a price <= 0: dropped (``n_nonpositive``);
    5. high < low: dropped (``n_high_below_low``);
    6. volume < 0: dropped (``n_negative_volume``);
    7. price outliers: with ``r`` the close-to-close log returns inside each session and
       ``sigma_r = 1.4826 median|r|`` (a robust standard deviation, floored at 1e-4),
       a bar is dropped when the log distance of its close from the median close of the bars within
       :data:`OUTLIER_HALF_WINDOW` of it (same session; closer to the session's first or last bar, a window
       as wide on both sides), or of its open, high or low from the nearest of that median, its own close
       and the previous close, exceeds ``outlier_z *
       sigma_r`` (``n_outliers``). An isolated bad print (one bar at 1e12) is far from its
       neighbours' median; a genuine jump that lasts is not (the median follows it after two bars).
       Runs of bad bars (three bars at 1e12, a level shifted for a while) move that median with them, so
       a reverting-level test catches them: bars ``i..j-1`` (1 to :data:`OUTLIER_MAX_RUN` bars) are
       dropped when every close of the run lies more than ``outlier_z * sigma_r`` in log price from the
       close before it, on the same side, and the close of bar ``j`` is back within
       :data:`OUTLIER_RETURN_FRACTION` of that distance of it (``n_outlier_runs`` counts the runs of two
       bars or more, ``longest_outlier_run`` the longest). A genuine jump does not come back, so it is
       kept; a run still away at the end of the file cannot be told from a jump and is kept;
    8. open or close outside [low, high]: kept, high/low widened to include them
       (``n_open_close_outside``);
    9. zero volume: kept and counted (``n_zero_volume``): a bar without trades is legal;
    10. spacing (intraday intervals, ``check_spacing``): the median spacing of consecutive bars of
        one day must be the interval, and a file with one bar per day (two days or more, or a single bar) is
        not intraday: daily (or coarser) or 5-minute bars given as 1-minute bars raise
        :class:`BarValidationError`;
    11. gaps (intraday intervals only): overnight gaps, intraday gaps longer than one bar (halts,
        missing bars), half days and late opens are counted and listed, never filled.

    Args:
        bars: frame with columns open, high, low, close, volume and a tz-aware DatetimeIndex
            (any time zone; converted to America/New_York). Extra columns are ignored.
        interval: the bar length, one of ``INTERVALS`` (used for the gap rules).
        max_drop_fraction: raise if more than this fraction of the rows had to be dropped.
        outlier_z: threshold of rule 7 in robust standard deviations (None: rule off).
        check_spacing: apply rule 10.

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
    if outlier_z is not None and not (np.isfinite(outlier_z) and outlier_z > 0):
        raise ValueError(f"outlier_z must be > 0 or None, got {outlier_z!r}")
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
    if bad.any():
        df = df[~bad].copy()
    if check_spacing and interval != "1d" and len(df):
        _check_spacing(df.index, interval)
    robust_sigma = None
    runs: dict[str, int] = {}
    if outlier_z is not None and len(df) > 2:
        out_mask, robust_sigma = _outliers(df, outlier_z)
        counts["n_outliers"] = int(out_mask.sum())
        runs = _run_stats(out_mask)
        if counts["n_outliers"] and robust_sigma is not None:
            first = df.index[np.flatnonzero(out_mask)[0]]
            in_runs = (
                f", {runs['n_outlier_runs']} runs of consecutive bars, the longest {runs['longest_outlier_run']}"
                if runs["n_outlier_runs"]
                else ""
            )
            actions.append(
                f"dropped {counts['n_outliers']} price outliers (more than {outlier_z:g} robust sigmas "
                f"= {outlier_z * robust_sigma:.3g} in log price from the median of their neighbours, or "
                f"from the level before a run that came back to it{in_runs}; first at {first})"
            )
            df = df[~out_mask]
    if len(df) == 0:
        raise BarValidationError(
            f"no usable bars: all {n_input} rows were invalid "
            f"({', '.join(f'{k}={v}' for k, v in counts.items() if v)}). {REMEDY}"
        )
    dropped = sum(counts.values())
    if dropped > max_drop_fraction * n_input:
        raise BarValidationError(
            f"{dropped} of {n_input} bars are invalid (more than max_drop_fraction="
            f"{max_drop_fraction}): {', '.join(f'{k}={v}' for k, v in counts.items() if v)}. "
            f"The data are unusable as they stand. {REMEDY}"
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
        outlier_z=None if outlier_z is None else float(outlier_z),
        robust_sigma=robust_sigma,
        actions=tuple(actions),
        **runs,
        n_sessions=len(np.unique(df.index.normalize().as_unit("ns").asi8)),
        **counts,
        **gaps,
    )
    assert report.n_input == report.n_output + report.n_dropped
    return df, report


def _session_starts(index: pd.DatetimeIndex) -> np.ndarray:
    """Boolean mask of the first bar of each New York calendar day."""
    day_ns = index.normalize().as_unit("ns").asi8
    return np.r_[True, day_ns[1:] != day_ns[:-1]] if len(index) else np.zeros(0, dtype=bool)


def robust_sigma(log_returns: np.ndarray) -> float:
    """1.4826 x the median absolute value of the non-zero returns, floored at 1e-4 (1 bp).

    The median is unmoved by a few outliers (breakdown point 50%); 1.4826 makes it the standard
    deviation of zero-mean Gaussian returns (1-minute returns have no drift to speak of, and a
    steady drift must not shrink the scale). Zero returns (no trade, no quote change) are left out so
    that a quiet market does not give sigma = 0.
    """
    r = log_returns[np.isfinite(log_returns) & (log_returns != 0)]
    if r.size == 0:
        return 1e-4
    return max(1.4826 * float(np.median(np.abs(r))), 1e-4)


#: Fewest within-session returns the outlier rule needs to measure its scale (else it is skipped).
OUTLIER_MIN_RETURNS = 20


def _outliers(df: pd.DataFrame, z: float) -> tuple[np.ndarray, float | None]:
    """Rule 7 of :func:`validate_bars`: (mask of outlier bars, robust sigma of the log returns).

    Skipped (no bar flagged, sigma None) with fewer than :data:`OUTLIER_MIN_RETURNS` within-session
    returns, where the scale cannot be measured. The isolated-print test looks only inside a session, so it
    runs on blocks of whole sessions of about :data:`OUTLIER_BLOCK_ROWS` bars (memory of one block).
    """
    c = np.log(df["close"].to_numpy(np.float64))
    start = _session_starts(df.index)
    r = np.diff(c)[~start[1:]]  # within-session close-to-close log returns
    if np.count_nonzero(r) < OUTLIER_MIN_RETURNS:
        return np.zeros(len(df), dtype=bool), None
    threshold = z * robust_sigma(r)
    del r
    mask = _reverting_runs(c, threshold)
    starts = np.flatnonzero(start)
    lo = 0
    while lo < len(df):
        # the block ends at the last session start within OUTLIER_BLOCK_ROWS bars (at least one session)
        nxt = starts[starts > lo]
        within = nxt[nxt <= lo + OUTLIER_BLOCK_ROWS]
        if len(df) - lo <= OUTLIER_BLOCK_ROWS or nxt.size == 0:
            hi = len(df)
        else:
            hi = int(within[-1]) if within.size else int(nxt[0])
        block = np.log(df.iloc[lo:hi][list(PRICE_COLUMNS)].to_numpy(np.float64))
        mask[lo:hi] |= _isolated_prints(block, start[lo:hi], threshold)
        lo = hi
    return mask, threshold / z


#: Bars per block of the isolated-print test of rule 7 (whole sessions; memory of one block).
OUTLIER_BLOCK_ROWS = 200_000


def _isolated_prints(logp: np.ndarray, start: np.ndarray, threshold: float) -> np.ndarray:
    """The isolated-print test of rule 7 on whole sessions: ``logp`` (n, 4) log open, high, low, close."""
    n = len(logp)
    session = np.cumsum(start)
    # centred medians of 2h + 1 closes; a bar d < h bars from its session's first or last bar gets the
    # centred window of 2d + 1 (the last bar: itself), so a jump near a session edge is never
    # outvoted by the bars on one side of it
    c = logp[:, 3]
    pos = np.arange(n) - np.flatnonzero(start)[session - 1]
    size = np.bincount(session)[session]
    d = np.minimum(np.minimum(pos, size - 1 - pos), OUTLIER_HALF_WINDOW)
    close = pd.Series(c)
    med = c.copy()
    for h in range(1, OUTLIER_HALF_WINDOW + 1):
        m = close.groupby(session).transform(lambda x, w=2 * h + 1: x.rolling(w, center=True).median())
        med = np.where(d == h, m.to_numpy(), med)
    # open, high and low: against the nearest of that median, the bar's own close and the previous close of
    # the session (a jump inside bar i spans the close before it and the close after it)
    prev = np.where(pos > 0, np.r_[c[:1], c[:-1]], c)
    dev = np.abs(c - med)
    for j in range(3):  # one column at a time
        p = logp[:, j]
        dev = np.maximum(dev, np.minimum(np.minimum(np.abs(p - med), np.abs(p - c)), np.abs(p - prev)))
    return dev > threshold


def _reverting_runs(c: np.ndarray, threshold: float) -> np.ndarray:
    """The reverting-level test of rule 7: mask of the bars of runs that left the level before them by more
    than ``threshold`` (log price, all on one side) and came back within ``OUTLIER_RETURN_FRACTION *
    threshold`` of it after at most :data:`OUTLIER_MAX_RUN` bars."""
    n = c.size
    mask = np.zeros(n, dtype=bool)
    jumps = np.flatnonzero(np.abs(np.diff(c)) > threshold) + 1  # bar i left the close of bar i - 1
    back_tol = OUTLIER_RETURN_FRACTION * threshold
    done = 0
    for i in jumps:
        if i < done:
            continue  # inside a run already found
        base = c[i - 1]
        ahead = c[i : min(n, i + OUTLIER_MAX_RUN + 1)] - base
        away = np.sign(ahead[0]) * ahead > threshold
        k = int(np.argmin(away)) if not away.all() else ahead.size  # first bar no longer away
        if k < ahead.size and abs(ahead[k]) <= back_tol:
            mask[i : i + k] = True
            done = i + k
    return mask


def _run_stats(mask: np.ndarray) -> dict[str, int]:
    """Runs of two or more consecutive True in ``mask``: how many, and the longest (0 when none)."""
    if not mask.any():
        return {"n_outlier_runs": 0, "longest_outlier_run": 0}
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    long = lengths[lengths >= 2]
    return {"n_outlier_runs": int(long.size), "longest_outlier_run": int(long.max()) if long.size else 0}


def within_session_log_returns(bars: pd.DataFrame) -> np.ndarray:
    """Close-to-close log returns of consecutive bars of one New York day (overnight returns excluded).

    A return across a session gap (overnight, weekend) is a jump of a different size and horizon
    than the bar's; a volatility estimated from 1-minute returns must leave it out.
    """
    close = bars["close"].to_numpy(np.float64)
    start = _session_starts(pd.DatetimeIndex(bars.index).tz_convert(NEW_YORK))
    return np.diff(np.log(close))[~start[1:]]


def _check_spacing(index: pd.DatetimeIndex, interval: str) -> None:
    """Rule 10 of :func:`validate_bars`: bars given as ``interval`` must be spaced by it."""
    step = INTERVALS[interval]
    start = _session_starts(index)
    diffs = np.diff(index.as_unit("ns").asi8)[~start[1:]]
    if diffs.size == 0:
        if len(index) >= 2:
            gap = pd.Timedelta(int(np.median(np.diff(index.as_unit("ns").asi8))), unit="ns")
            raise BarValidationError(
                f"the bars hold one bar per day ({len(index)} days, median spacing {gap.total_seconds() / 86_400:g} "
                f"day(s)): these are daily or coarser bars, not {interval} bars; give intraday bars of that "
                "interval"
            )
        if len(index) == 1:
            raise BarValidationError(
                f"a single bar cannot show that the bars are {interval} bars (daily bars look the same); give at "
                "least two bars of one day"
            )
        return
    median = pd.Timedelta(int(np.median(diffs)), unit="ns")
    if median != step:
        raise BarValidationError(
            f"consecutive bars of a day are {median.total_seconds() / 60:g} min apart (median), not "
            f"{step.total_seconds() / 60:g} min: these are not {interval} bars; give {interval} bars "
            f"(or resample them to {interval})"
        )


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
