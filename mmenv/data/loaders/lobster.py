"""LOBSTER: a message file and its order book file (lobsterdata.com), level 1 used, into a :class:`Tape`.

Message file, no header: time (seconds after midnight, nanosecond resolution), type (1 new limit order,
2 partial cancel, 3 delete, 4 execution of a visible order, 5 execution of a hidden order, 6 cross trade,
7 trading halt), order id, size (shares), price (dollars x 10000), direction (-1 sell limit order, +1 buy
limit order). Order book file: one row per message, 4 columns per level (ask price, ask size, bid price, bid
size; prices x 10000); row i is the book *after* message i, an empty level shows a dummy price of
+-9999999999.
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

__all__ = ["LOBSTER_DUMMY", "load_lobster"]

#: The price LOBSTER writes on an empty level (dollars x 10000, either sign).
LOBSTER_DUMMY = 9_999_999_999


def _read_headerless(path: Path, what: str):
    """A LOBSTER CSV as a string DataFrame; a header row (first field not a number) is skipped and counted."""
    df = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False)
    header = 0
    if len(df) and pd.to_numeric(pd.Series([df.iat[0, 0]]), errors="coerce").isna().iat[0]:
        df = df.iloc[1:].reset_index(drop=True)
        header = 1
    if len(df) == 0:
        raise ValueError(f"{path}: the {what} file holds no data row")
    return df, header


def load_lobster(
    message_path: str | Path,
    orderbook_path: str | Path,
    *,
    tick: float | None = None,
    max_gap_s: float = 60.0,
) -> Tape:
    """Read a LOBSTER message file and its order book file (any number of levels; level 1 is used).

    Times are seconds after midnight (nanosecond resolution kept); prices are dollars x 10000. Executions are
    messages of type 4 (visible) and 5 (hidden), one trade row each; an execution of a sell limit order
    (direction -1) is a buyer-initiated trade (``side = -direction``). The book in force before message i is order book row
    i - 1. A quote event is written whenever the valid level-1 book changes. A header row in either file is
    skipped and counted (``header_rows``); halts (type 7) are counted.

    Args:
        message_path, orderbook_path: the two CSV files.
        tick: price tick (default: inferred from the book prices).
        max_gap_s: gaps longer than this are counted in the report.
    """
    mp, bp = Path(message_path), Path(orderbook_path)
    msg, hm = _read_headerless(mp, "message")
    book, hb = _read_headerless(bp, "order book")
    if msg.shape[1] < 6:
        raise ValueError(f"{mp}: a LOBSTER message file has 6 columns, got {msg.shape[1]}")
    if book.shape[1] % 4 != 0:
        raise ValueError(
            f"{bp}: a LOBSTER order book file has 4 columns per level (ask price, ask size, bid price, bid "
            f"size), got {book.shape[1]} columns"
        )
    if len(msg) != len(book):
        raise ValueError(
            f"{bp}: the order book file must have one row per message ({len(msg)}), got {len(book)}"
        )
    msg.columns = ["time", "type", "order_id", "size", "price", "direction", *msg.columns[6:]]
    book = book.iloc[:, :4]
    book.columns = ["ask_px", "ask_qty", "bid_px", "bid_qty"]
    m = numeric_columns(msg, mp, ("time", "type", "size", "price", "direction"), hm)
    b = numeric_columns(book, bp, ("ask_px", "ask_qty", "bid_px", "bid_qty"), hb)
    t = m["time"]
    check_sorted(t, mp, "time", hm)
    typ = m["type"].astype(np.int64)
    bad = ~np.isin(typ, (1, 2, 3, 4, 5, 6, 7))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fail(mp, i + 1 + hm, "type", f"event type must be 1..7, got {m['type'][i]!r}")
    ns = np.round(t * 1e9).astype(np.int64)
    ask_raw, bid_raw = b["ask_px"], b["bid_px"]
    dummy = (np.abs(ask_raw) >= LOBSTER_DUMMY) | (np.abs(bid_raw) >= LOBSTER_DUMMY)
    ask = np.where(dummy, np.nan, ask_raw / 1e4)
    bid = np.where(dummy, np.nan, bid_raw / 1e4)
    valid, counts = book_validity(bid, b["bid_qty"], ask, b["ask_qty"])
    if not valid.any():
        no_valid_quote(bp, len(book), counts)
    report: dict[str, Any] = {
        "messages": len(msg),
        "header_rows": hm + hb,
        **counts,
        "halts": int((typ == 7).sum()),
    }
    # quote events: valid rows whose level-1 book differs from the previous valid row's
    vi = np.flatnonzero(valid)
    key = np.stack([bid[vi], b["bid_qty"][vi], ask[vi], b["ask_qty"][vi]], axis=1)
    changed = np.ones(vi.size, dtype=bool)
    changed[1:] = (key[1:] != key[:-1]).any(axis=1)
    qrow = vi[changed]
    # trades: one row per execution (calibration merges the prints of one market order)
    ex = np.flatnonzero((typ == 4) | (typ == 5))
    report["executions"] = int(ex.size)
    side = -m["direction"][ex]
    bad = (side != 1) & (side != -1)
    if bad.any():
        i = int(ex[np.flatnonzero(bad)[0]])
        fail(mp, i + 1 + hm, "direction", f"direction must be +1 or -1, got {m['direction'][i]!r}")
    new = np.ones(ex.size, dtype=bool)
    new[1:] = (ns[ex][1:] != ns[ex][:-1]) | (side[1:] != side[:-1])
    report["market_orders"] = int(new.sum())
    report["hidden_executions"] = int((typ[ex] == 5).sum())
    # merged order: message index; a print sorts before its own row's book update (the book after it)
    pos = np.concatenate([qrow * 2 + 1, ex * 2])
    order = np.argsort(pos, kind="stable")
    date = mp.name.split("_")[1] if mp.name.count("_") >= 2 else "the file's day"
    return assemble_tape(
        ns[qrow],
        bid[qrow],
        b["bid_qty"][qrow],
        ask[qrow],
        b["ask_qty"][qrow],
        ns[ex],
        m["price"][ex] / 1e4,
        m["size"][ex],
        side.astype(np.int8),
        tick=tick,
        origin=f"{date} 00:00 exchange time",
        source=f"LOBSTER {mp.name}",
        report=report,
        max_gap_s=max_gap_s,
        order=order,
    )
