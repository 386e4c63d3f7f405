"""The generic tape schema (CSV, or Parquet): the format for any source without a loader of its own, read by
:func:`load_tape` and written by :func:`save_tape`.

One row per event, sorted by time: the time (``time_ns``, integer nanoseconds, any origin; or ``time_us``,
``time_ms``, ``time_s`` in those units), the quote columns ``bid_px, bid_qty, ask_px, ask_qty`` on quote rows,
the trade columns ``trade_px, trade_qty, trade_side`` (+1 buyer-initiated, -1 seller-initiated) on trade rows,
and optionally ``seq``, the events' sequence (integers): events stamped with the same time are taken in
``seq`` order when it is given, else trades before quotes (then file order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmenv.data.files import read_csv_table, sniff
from mmenv.data.loaders.common import (
    assemble_tape,
    book_validity,
    check_sorted,
    empty_side,
    fail,
    file_repairs,
    line_of,
    no_valid_quote,
    numeric_columns,
)
from mmenv.data.tape import Tape

__all__ = ["GENERIC_COLUMNS", "TIME_COLUMNS", "load_tape", "save_tape"]

GENERIC_COLUMNS = ("time_ns", "bid_px", "bid_qty", "ask_px", "ask_qty", "trade_px", "trade_qty", "trade_side")
#: The time columns the schema accepts (one of them), with nanoseconds per unit.
TIME_COLUMNS = {"time_ns": 1, "time_us": 1_000, "time_ms": 1_000_000, "time_s": 1_000_000_000}
UNIT_WORDS = {
    "time_ns": "nanoseconds",
    "time_us": "microseconds",
    "time_ms": "milliseconds",
    "time_s": "seconds",
}


def _read(p: Path) -> tuple[pd.DataFrame, int, np.ndarray | None, dict[str, int]]:
    """(frame, header lines, line of each row or None, reader repairs) of a CSV or Parquet tape file."""
    if sniff(p) == "parquet" or p.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("reading Parquet tapes needs pyarrow: pip install 'mmenv[data]'") from exc
        try:
            df = pq.read_table(p).to_pandas()
        except Exception as exc:  # pyarrow's errors have no common base; name the file
            raise ValueError(
                f"{p}: not a readable Parquet file ({type(exc).__name__}: {exc}); give the file again"
            ) from None
        return df, 0, None, {}
    table = read_csv_table(p)
    return table.frame, 1, table.line, file_repairs(table)


def _times(df: pd.DataFrame, p: Path, header: int, lines: np.ndarray | None) -> tuple[str, np.ndarray]:
    """(column, int64 ns) of the one time column; exact integers (float64 keeps only 53 bits)."""
    present = [c for c in TIME_COLUMNS if c in df.columns]
    if len(present) != 1:
        raise ValueError(
            f"{p}: the generic tape schema needs one time column of {list(TIME_COLUMNS)}, got "
            f"{present or 'none'}; name the time column by its unit"
        )
    col = present[0]
    t = numeric_columns(df, p, (col,), header, lines=lines)[col]  # blank or non-numeric: error
    big = np.abs(t) * TIME_COLUMNS[col] >= 2.0**63
    if big.any():
        i = int(np.flatnonzero(big)[0])
        fail(
            p,
            line_of(i, header, lines),
            col,
            f"{df[col].iloc[i]!r} is out of the range of nanosecond times (2^63 ns, about 292 years)",
            f"give the events' times in {UNIT_WORDS[col]}",
        )
    raw = pd.to_numeric(df[col], errors="coerce")
    if raw.dtype.kind not in "iu":
        frac = t != np.floor(t)
        if col == "time_ns" and frac.any():
            i = int(np.flatnonzero(frac)[0])
            fail(
                p,
                line_of(i, header, lines),
                col,
                f"must be an integer number of nanoseconds, got {df[col].iloc[i]!r}",
                "write whole nanoseconds",
            )
        return col, np.round(t * TIME_COLUMNS[col]).astype(np.int64)
    return col, raw.to_numpy(dtype=np.int64) * TIME_COLUMNS[col]


def load_tape(
    path: str | Path, *, tick: float | None = None, max_gap_s: float = 60.0, lot: float | None = None
) -> Tape:
    """Read a tape in the generic schema (CSV, or Parquet recognised by its content or its ``.parquet`` name).

    Schema: one row per event, sorted by time, with the columns

    * one time column: ``time_ns`` (integer nanoseconds, any origin, e.g. the Unix epoch), or ``time_us``,
      ``time_ms``, ``time_s``;
    * quote rows: ``bid_px``, ``bid_qty``, ``ask_px``, ``ask_qty`` filled, the trade columns empty;
    * trade rows: ``trade_px``, ``trade_qty``, ``trade_side`` (+1 buyer-initiated, -1 seller-initiated)
      filled, the quote columns empty;
    * optionally ``seq``: the sequence of the events (distinct integers, increasing with time). Events are
      taken in ``seq`` order when it is given; otherwise at equal times trades come before quotes (the one
      rule of the formats without a sequence), then file order.

    A row with both or neither is an error naming the line. Parquet needs ``pyarrow`` (the ``data`` extra).
    :func:`save_tape` writes this schema (with ``seq``, so a tape reads back in its own order).
    """
    p = Path(path)
    df, header, lines, repairs = _read(p)
    missing = [c for c in GENERIC_COLUMNS[1:] if c not in df.columns]
    if missing:
        raise ValueError(
            f"{p}: the generic tape schema needs columns {GENERIC_COLUMNS}, missing {missing}; add them (empty "
            "where they do not apply)"
        )
    if len(df) == 0:
        raise ValueError(f"{p}: the tape holds no data row; give a tape with quotes and trades")
    v = numeric_columns(df, p, GENERIC_COLUMNS[1:], header, required=False, lines=lines)
    tcol, tns = _times(df, p, header, lines)
    order_col = None
    if "seq" in df.columns:
        seq = numeric_columns(df, p, ("seq",), header, lines=lines)["seq"]
        o = np.argsort(seq, kind="stable")
        rep = np.flatnonzero(np.diff(seq[o]) == 0)
        if rep.size:
            fail(p, line_of(int(o[rep[0] + 1]), header, lines), "seq", f"{seq[o[rep[0] + 1]]:.0f} repeats")
        back = np.flatnonzero(np.diff(tns[o]) < 0)
        if back.size:
            i = int(o[back[0] + 1])
            fail(p, line_of(i, header, lines), tcol, "time decreases in seq order", "give seq in time order")
        order_col = o
    else:
        check_sorted(tns, p, tcol, header, lines)
    is_q = ~np.isnan(v["bid_px"]) | ~np.isnan(v["ask_px"])
    is_t = ~np.isnan(v["trade_px"])
    for mask, what in (
        (is_q & is_t, "a row is either a quote or a trade, got both"),
        (~is_q & ~is_t, "a row needs either quote prices or a trade price, got neither"),
    ):
        if mask.any():
            fail(p, line_of(int(np.flatnonzero(mask)[0]), header, lines), "bid_px/trade_px", what)
    ts = v["trade_side"]
    bad = is_t & ~np.isin(ts, (-1.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fail(
            p,
            line_of(i, header, lines),
            "trade_side",
            f"must be +1 or -1 on a trade row, got {df['trade_side'].iloc[i]!r}",
        )
    bad = is_t & np.isnan(v["trade_qty"])
    if bad.any():
        fail(
            p, line_of(int(np.flatnonzero(bad)[0]), header, lines), "trade_qty", "blank field on a trade row"
        )
    qi, ti = np.flatnonzero(is_q), np.flatnonzero(is_t)
    if order_col is not None:  # quotes and trades each in seq order
        pos = np.empty(len(df), np.int64)
        pos[order_col] = np.arange(len(df))
        qi, ti = qi[np.argsort(pos[qi], kind="stable")], ti[np.argsort(pos[ti], kind="stable")]
    valid, counts = book_validity(v["bid_px"][qi], v["bid_qty"][qi], v["ask_px"][qi], v["ask_qty"][qi])
    if not valid.any():
        no_valid_quote(p, int(qi.size), counts)
    report: dict[str, Any] = {"rows_read": len(df), **counts, **repairs}
    qk = qi[valid]
    order = None
    if order_col is not None:
        rank = np.concatenate([pos[qk], pos[ti]])
        order = np.argsort(rank, kind="stable")
    return assemble_tape(
        tns[qk],
        v["bid_px"][qk],
        v["bid_qty"][qk],
        v["ask_px"][qk],
        v["ask_qty"][qk],
        tns[ti],
        v["trade_px"][ti],
        v["trade_qty"][ti],
        ts[ti].astype(np.int8),
        tick=tick,
        lot=lot,
        origin="as in the file",
        source=f"tape {p.name}",
        report=report,
        max_gap_s=max_gap_s,
        order=order,
        qline=None if lines is None else lines[qk],
        tline=None if lines is None else lines[ti],
        empty_t=tns[qi[empty_side(valid, v["bid_px"][qi], v["ask_px"][qi])]],
        quote_file=p,
        trade_file=p,
    )


def save_tape(tape: Tape, path: str | Path) -> Path:
    """Write ``tape`` in the generic schema (CSV, or Parquet when the name ends in ``.parquet``), with its row
    order as ``seq`` (so that it reads back in the same order)."""
    p = Path(path)
    df = tape.to_frame()
    df["seq"] = np.arange(len(df), dtype=np.int64)
    if p.suffix == ".parquet":
        df.to_parquet(p, index=False)
    else:
        df.to_csv(p, index=False)
    return p
