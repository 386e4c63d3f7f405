"""LOBSTER: a message file and its order book file (lobsterdata.com), level 1 used, into a :class:`Tape`.

Message file, no header: time (seconds after midnight, nanosecond resolution), type (1 new limit order,
2 partial cancel, 3 delete, 4 execution of a visible order, 5 execution of a hidden order, 6 cross trade,
7 trading halt), order id, size (shares), price (dollars x 10000), direction (-1 sell limit order, +1 buy
limit order). Order book file: one row per message, 4 columns per level (ask price, ask size, bid price, bid
size; prices x 10000); row i is the book *after* message i, an empty level shows a dummy price of
+-9999999999.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.data.files import CsvTable, read_csv_table
from mmenv.data.loaders.common import (
    assemble_tape,
    book_validity,
    check_sorted,
    empty_side,
    fail,
    file_repairs,
    no_valid_quote,
    numeric_columns,
)
from mmenv.data.tape import Tape

__all__ = ["LOBSTER_DUMMY", "SECONDS_PER_DAY", "load_lobster"]

#: The price LOBSTER writes on an empty level (dollars x 10000, either sign).
LOBSTER_DUMMY = 9_999_999_999
#: LOBSTER times are seconds after midnight within one trading day.
SECONDS_PER_DAY = 86_400.0
#: The window of a LOBSTER file name: ``TICKER_YYYY-MM-DD_<start ms>_<end ms>_message_<levels>.csv``.
_NAME = re.compile(r"^(?P<ticker>[^_]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_")


def _read_headerless(path: Path, what: str) -> tuple[CsvTable, int]:
    """A LOBSTER CSV as text (:func:`mmenv.data.files.read_csv_table`); a header row (first field not a number)
    is skipped and counted."""
    table = read_csv_table(path, header=False)
    header = 0
    if len(table) and not _is_number(table.frame.iat[0, 0]):
        table.keep(np.arange(len(table)) > 0)
        header = 1
    if len(table) == 0:
        raise ValueError(f"{path}: the {what} file holds no data row; give the LOBSTER {what} file")
    return table, header


def _is_number(s: object) -> bool:
    try:
        float(str(s))
    except ValueError:
        return False
    return True


def _check_times(t: np.ndarray, path: Path, lines: np.ndarray) -> None:
    """LOBSTER times are seconds after midnight: within a day and within the window of the file's name."""
    bad = (t < 0) | (t > SECONDS_PER_DAY)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        looks = "milliseconds or finer" if t[i] > SECONDS_PER_DAY else "not a time of day"
        fail(
            path,
            int(lines[i]),
            "time",
            f"{t[i]!r} is not seconds after midnight (0 to 86,400; looks like {looks})",
            "give LOBSTER times in seconds after midnight",
        )
    m = _NAME.match(path.name)
    if m is None:
        return
    lo, hi = int(m["start"]) / 1000.0, int(m["end"]) / 1000.0
    out = (t < lo - 1.0) | (t > hi + 1.0)
    if hi - lo >= 1.0 and out.any():  # a window of a second or more (a real request's)
        i = int(np.flatnonzero(out)[0])
        fail(
            path,
            int(lines[i]),
            "time",
            f"{t[i]!r} s lies outside the window {lo:g} to {hi:g} s after midnight of the file's name (times "
            "in another unit, or the file of another window)",
            "give LOBSTER times in seconds after midnight, with the file's own name",
        )


def load_lobster(
    message_path: str | Path,
    orderbook_path: str | Path,
    *,
    tick: float | None = None,
    max_gap_s: float = 60.0,
    lot: float | None = None,
) -> Tape:
    """Read a LOBSTER message file and its order book file (any number of levels; level 1 is used).

    Times are seconds after midnight (nanosecond resolution kept), checked to lie within a day and within the
    window of the file's name (``..._34200000_57600000_message_1.csv``: 09:30 to 16:00 in milliseconds);
    prices are dollars x 10000. Executions are messages of type 4 (visible) and 5 (hidden), one trade row
    each; an execution of a sell limit order (direction -1) is a buyer-initiated trade (``side =
    -direction``). The book in force before message i is order book row i - 1. A quote event is written
    whenever the valid level-1 book changes. The event order is the message order (LOBSTER's sequence: an
    execution sorts before the book update of its own message row). A header row in either file is skipped
    and counted (``header_rows``); halts (type 7) are counted. When the last line of one file was cut short
    (dropped by the reader), the other file's last row, which has no partner, is dropped too and counted.

    Args:
        message_path, orderbook_path: the two CSV files (or gzip/zip archives of them).
        tick, lot: price tick and size step (default: inferred from the data).
        max_gap_s: gaps longer than this are counted and left out of rate estimates.
    """
    mp, bp = Path(message_path), Path(orderbook_path)
    msg, hm = _read_headerless(mp, "message")
    book, hb = _read_headerless(bp, "order book")
    if msg.frame.shape[1] < 6:
        raise ValueError(
            f"{mp}: a LOBSTER message file has 6 columns, got {msg.frame.shape[1]}; give the message file"
        )
    if book.frame.shape[1] % 4 != 0:
        raise ValueError(
            f"{bp}: a LOBSTER order book file has 4 columns per level (ask price, ask size, bid price, bid "
            f"size), got {book.frame.shape[1]} columns; give the order book file"
        )
    unmatched = 0
    if abs(len(msg) - len(book)) == 1 and any("truncated_last_line" in t.repairs for t in (msg, book)):
        longer = msg if len(msg) > len(book) else book  # the other file's last line was cut: its row goes too
        longer.keep(np.arange(len(longer)) < len(longer) - 1)
        unmatched = 1
    if len(msg) != len(book):
        raise ValueError(
            f"{bp}: the order book file must have one row per message ({len(msg):,}), got {len(book):,}; give "
            "the order book file of the same request"
        )
    mf = msg.frame.iloc[:, :6]
    mf.columns = ["time", "type", "order_id", "size", "price", "direction"]
    bf = book.frame.iloc[:, :4]
    bf.columns = ["ask_px", "ask_qty", "bid_px", "bid_qty"]
    m = numeric_columns(mf, mp, ("time", "type", "size", "price", "direction"), hm, lines=msg.line)
    b = numeric_columns(bf, bp, ("ask_px", "ask_qty", "bid_px", "bid_qty"), hb, lines=book.line)
    t = m["time"]
    check_sorted(t, mp, "time", hm, msg.line)
    _check_times(t, mp, msg.line)
    typ = m["type"].astype(np.int64)
    bad = ~np.isin(m["type"], (1, 2, 3, 4, 5, 6, 7))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fail(mp, int(msg.line[i]), "type", f"event type must be 1..7, got {m['type'][i]!r}")
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
        **file_repairs(msg, book),
        "excluded_rows_unmatched_last_row": unmatched,
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
        fail(mp, int(msg.line[i]), "direction", f"direction must be +1 or -1, got {m['direction'][i]!r}")
    new = np.ones(ex.size, dtype=bool)
    new[1:] = (ns[ex][1:] != ns[ex][:-1]) | (side[1:] != side[:-1])
    report["market_orders"] = int(new.sum())
    report["hidden_executions"] = int((typ[ex] == 5).sum())
    # merged order: message index; a print sorts before its own row's book update (the book after it)
    pos = np.concatenate([qrow * 2 + 1, ex * 2])
    order = np.argsort(pos, kind="stable")
    name = _NAME.match(mp.name)
    date = name["date"] if name else "the file's day"
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
        lot=lot,
        origin=f"{date} 00:00 exchange time",
        source=f"LOBSTER {mp.name}",
        report=report,
        max_gap_s=max_gap_s,
        order=order,
        qline=book.line[qrow],
        tline=msg.line[ex],
        empty_t=ns[empty_side(valid, bid, ask)],
        quote_file=bp,
        trade_file=mp,
    )
