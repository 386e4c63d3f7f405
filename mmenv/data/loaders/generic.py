"""The generic tape schema (CSV, or Parquet when the name ends in ``.parquet``): the format for any source
without a loader of its own, read by :func:`load_tape` and written by :func:`save_tape`.

One row per event, sorted by time: ``time_ns`` (integer nanoseconds, any origin), the quote columns
``bid_px, bid_qty, ask_px, ask_qty`` on quote rows, the trade columns ``trade_px, trade_qty, trade_side``
(+1 buyer-initiated, -1 seller-initiated) on trade rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmenv.data.loaders.common import (
    assemble_tape,
    book_validity,
    check_sorted,
    fail,
    no_valid_quote,
    numeric_columns,
)
from mmenv.data.tape import Tape

__all__ = ["GENERIC_COLUMNS", "load_tape", "save_tape"]

GENERIC_COLUMNS = ("time_ns", "bid_px", "bid_qty", "ask_px", "ask_qty", "trade_px", "trade_qty", "trade_side")


def load_tape(path: str | Path, *, tick: float | None = None, max_gap_s: float = 60.0) -> Tape:
    """Read a tape in the generic schema (CSV, or Parquet when the name ends in ``.parquet``).

    Schema: one row per event, sorted by time, with the columns

    * ``time_ns``: integer nanoseconds (any origin, e.g. the Unix epoch);
    * quote rows: ``bid_px``, ``bid_qty``, ``ask_px``, ``ask_qty`` filled, the trade columns empty;
    * trade rows: ``trade_px``, ``trade_qty``, ``trade_side`` (+1 buyer-initiated, -1 seller-initiated)
      filled, the quote columns empty.

    A row with both or neither is an error naming the line. Parquet needs ``pyarrow`` (the ``data`` extra).
    :func:`save_tape` writes this schema.
    """
    p = Path(path)
    if p.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("reading Parquet tapes needs pyarrow: pip install 'mmenv[data]'") from exc
        df = pq.read_table(p).to_pandas()
        header = 0
    else:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        header = 1
    missing = [c for c in GENERIC_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{p}: the generic tape schema needs columns {GENERIC_COLUMNS}, missing {missing}")
    v = numeric_columns(df, p, GENERIC_COLUMNS[1:], header, required=False)
    t = numeric_columns(df, p, ("time_ns",), header)["time_ns"]  # blank or non-numeric: error
    try:
        tns = df["time_ns"].astype(np.int64).to_numpy()  # exact integers (float64 keeps only 53 bits)
    except (TypeError, ValueError):
        i = int(np.flatnonzero(t != np.floor(t))[0]) if (t != np.floor(t)).any() else 0
        fail(
            p,
            i + 1 + header,
            "time_ns",
            f"must be an integer number of nanoseconds, got {df['time_ns'].iloc[i]!r}",
        )
    check_sorted(tns, p, "time_ns", header)
    is_q = ~np.isnan(v["bid_px"]) | ~np.isnan(v["ask_px"])
    is_t = ~np.isnan(v["trade_px"])
    both = is_q & is_t
    neither = ~is_q & ~is_t
    for mask, what in (
        (both, "a row is either a quote or a trade, got both"),
        (neither, "a row needs either quote prices or a trade price, got neither"),
    ):
        if mask.any():
            fail(p, int(np.flatnonzero(mask)[0]) + 1 + header, "bid_px/trade_px", what)
    ts = v["trade_side"]
    bad = is_t & ~np.isin(ts, (-1.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fail(
            p,
            i + 1 + header,
            "trade_side",
            f"must be +1 or -1 on a trade row, got {df['trade_side'].iloc[i]!r}",
        )
    bad = is_t & np.isnan(v["trade_qty"])
    if bad.any():
        fail(p, int(np.flatnonzero(bad)[0]) + 1 + header, "trade_qty", "blank field on a trade row")
    qi, ti = np.flatnonzero(is_q), np.flatnonzero(is_t)
    valid, counts = book_validity(v["bid_px"][qi], v["bid_qty"][qi], v["ask_px"][qi], v["ask_qty"][qi])
    if not valid.any():
        no_valid_quote(p, int(qi.size), counts)
    report: dict[str, Any] = {"rows_read": len(df), **counts}
    qk = qi[valid]
    pos = np.concatenate([qk, ti])
    order = np.argsort(pos, kind="stable")
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
        origin="as in the file",
        source=f"tape {p.name}",
        report=report,
        max_gap_s=max_gap_s,
        order=order,
    )


def save_tape(tape: Tape, path: str | Path) -> Path:
    """Write ``tape`` in the generic schema (CSV, or Parquet when the name ends in ``.parquet``)."""
    p = Path(path)
    df = tape.to_frame()
    if p.suffix == ".parquet":
        df.to_parquet(p, index=False)
    else:
        df.to_csv(p, index=False)
    return p
