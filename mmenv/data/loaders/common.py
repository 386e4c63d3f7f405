"""What every loader of :mod:`mmenv.data.loaders` shares: the errors that name file, line and column, the
numeric and time checks, the validity rules of a quote, the tick of a price grid, and the merge of valid
quotes and trades into a :class:`mmenv.data.tape.Tape` with its counted exclusions.

Line numbers in errors are 1-based and count the header: row ``i`` (0-based) of a table read after
``header_lines`` header lines is line ``i + 1 + header_lines``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmenv.data.tape import QUOTE, TRADE, Tape

__all__ = [
    "assemble_tape",
    "book_validity",
    "check_epoch_ms",
    "check_sorted",
    "fail",
    "infer_lot",
    "infer_tick",
    "no_valid_quote",
    "numeric_columns",
]

#: Epoch milliseconds accepted as such: years 1973 .. 5138 (seconds or micro/nanoseconds fall outside).
EPOCH_MS_RANGE = (1e11, 1e14)


def fail(path: Path, line: int, column: str, what: str) -> None:
    """Raise the ValueError of a structural problem: ``{path}: line {line}, column '{column}': {what}``."""
    raise ValueError(f"{path}: line {line}, column '{column}': {what}")


def numeric_columns(
    df: pd.DataFrame, path: Path, columns: tuple[str, ...], header_lines: int, *, required: bool = True
) -> dict[str, np.ndarray]:
    """The columns as float64 arrays; with ``required``, a blank or non-numeric cell is an error naming file,
    line and column (without, it reads as NaN)."""
    out = {}
    for c in columns:
        raw = df[c]
        v = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(v)
        if required and bad.any():
            i = int(np.flatnonzero(bad)[0])
            cell = raw.iloc[i]
            what = (
                "blank field"
                if (cell is None or (isinstance(cell, float) and math.isnan(cell)) or str(cell).strip() == "")
                else f"not a number: {cell!r}"
            )
            fail(path, i + 1 + header_lines, c, what)
        out[c] = v
    return out


def check_sorted(t: np.ndarray, path: Path, column: str, header_lines: int) -> None:
    """Error at the first timestamp smaller than its predecessor (files must be sorted in time)."""
    d = np.diff(t)
    if (d < 0).any():
        i = int(np.flatnonzero(d < 0)[0]) + 1
        fail(
            path,
            i + 1 + header_lines,
            column,
            f"timestamps out of order: {t[i].item()!r} after {t[i - 1].item()!r} (the file must be sorted in time)",
        )


def check_epoch_ms(t: np.ndarray, path: Path, column: str, header_lines: int) -> None:
    """Error at the first time outside :data:`EPOCH_MS_RANGE` (a file in seconds, micro- or nanoseconds)."""
    lo, hi = EPOCH_MS_RANGE
    bad = (t < lo) | (t >= hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        unit = "seconds" if t[i] < lo else "microseconds or nanoseconds"
        fail(
            path,
            i + 1 + header_lines,
            column,
            f"{t[i].item()!r} is not an epoch time in milliseconds (looks like {unit})",
        )


def book_validity(
    bid: np.ndarray, bq: np.ndarray, ask: np.ndarray, aq: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """The mask of valid quotes (both sides present with positive prices and sizes, bid < ask) and the count
    of each exclusion reason (``excluded_quotes_empty_side``, ``_crossed``, ``_locked``)."""
    with np.errstate(invalid="ignore"):
        empty = ~(np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask > 0) & (bq > 0) & (aq > 0))
        crossed = ~empty & (bid > ask)
        locked = ~empty & (bid == ask)
    valid = ~(empty | crossed | locked)
    return valid, {
        "excluded_quotes_empty_side": int(empty.sum()),
        "excluded_quotes_crossed": int(crossed.sum()),
        "excluded_quotes_locked": int(locked.sum()),
    }


def no_valid_quote(path: Path, n: int, counts: dict[str, int]) -> None:
    """Raise the error of a file whose book is never two-sided, with the counts of :func:`book_validity`."""
    why = ", ".join(f"{v} {k.removeprefix('excluded_quotes_').replace('_', ' ')}" for k, v in counts.items())
    raise ValueError(f"{path}: no valid quote in {n} rows ({why}): the book is never two-sided")


def infer_tick(prices: Any) -> float:
    """The tick of a price grid: the smallest positive gap between distinct finite prices (all rounded to
    1e-9 price units, which removes the float noise of decimal prices).

    Raises:
        ValueError: fewer than two distinct finite prices.
    """
    p = np.asarray(prices, dtype=np.float64)
    u = np.unique(np.round(p[np.isfinite(p)], 9))
    if u.size < 2:
        raise ValueError(f"cannot infer the tick from {u.size} distinct price(s); pass tick=")
    d = np.diff(u)
    return float(np.round(d.min(), 9))


def infer_lot(sizes: Any) -> float:
    """The size step (lot) of a size grid: the greatest common divisor of the finite positive sizes, all
    rounded to 1e-9 units (which removes the float noise of decimal sizes), e.g. 0.001 for sizes
    0.003, 0.005, 0.012.

    Raises:
        ValueError: no finite positive size.
    """
    s = np.asarray(sizes, dtype=np.float64)
    s = s[np.isfinite(s) & (s > 0)]
    if s.size == 0:
        raise ValueError("cannot infer the lot from no positive size; pass lot=")
    n = np.unique(np.round(s * 1e9).astype(np.int64))
    n = n[n > 0]
    if n.size == 0:
        raise ValueError("cannot infer the lot from sizes below 1e-9; pass lot=")
    return float(np.gcd.reduce(n)) / 1e9


def assemble_tape(
    qt: np.ndarray,
    bid: np.ndarray,
    bq: np.ndarray,
    ask: np.ndarray,
    aq: np.ndarray,
    tt: np.ndarray,
    tpx: np.ndarray,
    tqty: np.ndarray,
    tside: np.ndarray,
    *,
    tick: float | None,
    origin: str,
    source: str,
    report: dict[str, Any],
    max_gap_s: float,
    trades_first: bool = True,
    order: np.ndarray | None = None,
) -> Tape:
    """Merge valid quotes and trades into a tape (book carried forward onto trade rows); count exclusions.

    Args:
        qt, bid, bq, ask, aq: the valid quotes: time (ns), bid price and size, ask price and size.
        tt, tpx, tqty, tside: the trades: time (ns), price, size, aggressor side (+1 buy, -1 sell).
        tick: the price tick (None: :func:`infer_tick` of the quote prices). origin, source: the tape's
            time origin and description. report: the loader's counts, completed here (trades excluded before
            the first quote or of zero size, trades outside the book, gaps longer than ``max_gap_s``
            seconds, events, quotes, trades).
        trades_first: at equal times trades sort before quotes (the quote stamped with a trade's time may
            already show its effect).
        order: the merged event order, given directly (LOBSTER: message order; the generic schema: row
            order); otherwise events are sorted by time with ``trades_first``.
    """
    nq, nt = qt.size, tt.size
    time = np.concatenate([qt, tt])
    kind = np.concatenate([np.full(nq, QUOTE, np.int8), np.full(nt, TRADE, np.int8)])
    if order is None:
        pri = np.concatenate([np.ones(nq, np.int8), np.zeros(nt, np.int8)]) if trades_first else kind
        order = np.lexsort((pri, time))
    time, kind = time[order], kind[order]
    is_q = kind == QUOTE
    qi = np.cumsum(is_q) - 1  # index of the last quote at or before each event
    cols = {}
    for name, v in (("bid_px", bid), ("bid_qty", bq), ("ask_px", ask), ("ask_qty", aq)):
        cols[name] = v[np.maximum(qi, 0)] if nq else np.full(time.size, np.nan)
    tix = np.flatnonzero(~is_q)
    src = order[tix] - nq  # trade index of each trade row
    trade_px = np.full(time.size, np.nan)
    trade_qty = np.full(time.size, np.nan)
    side = np.zeros(time.size, np.int8)
    trade_px[tix], trade_qty[tix], side[tix] = tpx[src], tqty[src], tside[src]
    before = ~is_q & (qi < 0)
    zero = ~is_q & ~before & ~(trade_qty > 0)
    with np.errstate(invalid="ignore"):
        outside = (
            ~is_q
            & ~before
            & ~zero
            & (((side > 0) & (trade_px < cols["bid_px"])) | ((side < 0) & (trade_px > cols["ask_px"])))
        )
    keep = ~(before | zero)
    report["excluded_trades_before_first_quote"] = int(before.sum())
    report["excluded_trades_zero_size"] = int(zero.sum())
    report["trades_outside_book"] = int(outside.sum())
    sel = {c: v[keep] for c, v in cols.items()}
    time, kind = time[keep], kind[keep]
    if time.size:
        gaps = np.diff(time)
        big = gaps > max_gap_s * 1e9
        report["gaps"] = int(big.sum())
        report["longest_gap_s"] = float(gaps.max() * 1e-9) if gaps.size else 0.0
    report["events"] = int(time.size)
    report["quotes"] = int(np.count_nonzero(kind == QUOTE))
    report["trades"] = int(np.count_nonzero(kind == TRADE))
    if tick is None:
        tick = infer_tick(np.concatenate([bid, ask]))
    return Tape(
        time=time,
        kind=kind,
        **sel,
        trade_px=trade_px[keep],
        trade_qty=trade_qty[keep],
        side=side[keep],
        tick=tick,
        origin=origin,
        source=source,
        report=report,
    )
