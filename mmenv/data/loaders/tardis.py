"""tardis.dev: its downloadable CSV files (plain or gzip'd), of any exchange it covers, into a :class:`Tape`.

The layout is tardis.dev's own, one for every exchange (docs.tardis.dev, "Downloadable CSV files", section
"Data types"; its CSV format: comma-delimited, a header line, ``.`` as decimal mark, an empty cell where a
value is missing). Every file starts with ``exchange, symbol, timestamp, local_timestamp``, then:

* ``trades``: ``id, side, price, amount``; ``side`` is the liquidity taker's side (``buy``, ``sell`` or
  ``unknown``), so ``buy`` is a buyer-initiated trade (+1);
* ``quotes`` and ``book_ticker`` (the same columns): ``ask_amount, ask_price, bid_price, bid_amount``, the
  best ask and bid (empty when that side is empty);
* ``book_snapshot_5`` / ``book_snapshot_25``: ``asks[i].price, asks[i].amount, bids[i].price,
  bids[i].amount`` for i = 0 .. 4 (24), level 0 the best;
* ``incremental_book_L2``: ``is_snapshot, side, price, amount``: the new amount (not a delta) at one price
  level of the ``bid`` or ``ask`` side, 0 removing the level; ``is_snapshot`` true on the rows of a full
  book snapshot (the start of each file, and again after a reconnection); the rows of one message share
  their timestamps.

**Time.** Both stamps are microseconds since the Unix epoch, UTC, x 1000 to the tape's nanoseconds:
``timestamp`` is the exchange's time of the message (``local_timestamp`` where the exchange gives none),
``local_timestamp`` is when tardis.dev received it; each file is ordered by ``local_timestamp``. The tape's
clock (``clock=``, ``--tardis-clock``) is ``"exchange"`` by default (``timestamp``: the time of the event at
the venue, the clock of the replay's latency model and of the Binance loader; ``local_timestamp`` carries a
remote client's network delay and its jitter) or ``"local"``. The rows keep the file's order: on the
exchange clock a stamp earlier than one before it in the same file is raised to that earlier stamp
(counted, ``times_raised``); on the local clock a stamp that decreases is an error (the file is not in its
documented order).

**Ties.** Trades sort before quotes stamped with the same time (each trade meets the last book stamped
strictly before it), as in the Binance loader.

**What the tape gets** (one book file and one trades file, given in either order: each file's data type is
recognised from its header, never from its name, since a file downloaded from its URL is named
``<SYMBOL>.csv.gz``): the trades file gives the trades (``unknown`` sides excluded and counted, a repeated
trade id an error); the book file gives the quotes:

* ``quotes`` / ``book_ticker``: one quote row per row;
* ``book_snapshot_N``: level 0; a quote row where the top of book (best prices and amounts) changes, since
  a snapshot row is also written when only a deeper level changed. Levels 1 .. N-1 are not read: the tape
  and the replay hold the top of book only (an order resting deeper has the queue of ``--deep-queue``);
* ``incremental_book_L2``: the book rebuilt from its rows (:func:`mmenv.data.loaders.l2book.top_of_book`),
  read after each message (rows with the same ``timestamp``, ``local_timestamp`` and ``is_snapshot``), the
  book cleared at the first row of each snapshot; a quote row where the top changes. Rows before the first
  snapshot are excluded and counted (the book they update is unknown).

Errors name the file, the line (1-based, the header is line 1) and the column; exclusions are counted in
``Tape.report`` (see :mod:`mmenv.data.loaders`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmenv.data.files import CsvTable, read_csv_header, read_csv_table
from mmenv.data.loaders.common import (
    assemble_tape,
    book_validity,
    check_epoch,
    check_sorted,
    empty_side,
    fail,
    file_repairs,
    monotone_times,
    numeric_columns,
    quote_rows,
)
from mmenv.data.tape import Tape

__all__ = ["CLOCKS", "LAYOUTS", "load_tardis", "tardis_data_type"]

#: The tape's clock -> the tardis.dev column it reads.
CLOCKS = {"exchange": "timestamp", "local": "local_timestamp"}
_COMMON = ("exchange", "symbol", "timestamp", "local_timestamp")
#: The columns of each data type read here (``book_snapshot_N``: the level-0 columns, the only ones read).
LAYOUTS: dict[str, tuple[str, ...]] = {
    "trades": (*_COMMON, "id", "side", "price", "amount"),
    "quotes": (*_COMMON, "ask_amount", "ask_price", "bid_price", "bid_amount"),
    "book_snapshot": (*_COMMON, "asks[0].price", "asks[0].amount", "bids[0].price", "bids[0].amount"),
    "incremental_book_L2": (*_COMMON, "is_snapshot", "side", "price", "amount"),
}
_TYPES_READ = "trades, quotes, book_ticker, book_snapshot_5, book_snapshot_25, incremental_book_L2"

# how each column is parsed: int (epoch microseconds), float (required), float? (may be blank), bool, text
_KINDS = {
    "timestamp": "int",
    "local_timestamp": "int",
    "price": "float",
    "amount": "float",
    "ask_amount": "float?",
    "ask_price": "float?",
    "bid_price": "float?",
    "bid_amount": "float?",
    "asks[0].price": "float?",
    "asks[0].amount": "float?",
    "bids[0].price": "float?",
    "bids[0].amount": "float?",
    "is_snapshot": "bool",
}


def _header(path: Path) -> list[str]:
    try:
        return read_csv_header(path)
    except ValueError as exc:
        if "the file is empty" in str(exc):
            raise ValueError(
                f"{path}: the file is empty (tardis.dev serves an empty file for a day without data); "
                "choose a day with data"
            ) from None
        raise


def tardis_data_type(path: str | Path) -> str:
    """The tardis.dev data type of a CSV file, from its header: ``"trades"``, ``"quotes"`` (also
    ``book_ticker``, the same columns), ``"book_snapshot_<N>"`` or ``"incremental_book_L2"``.

    Raises:
        ValueError: naming the file, when the header is none of these or lacks one of the type's columns.
    """
    p = Path(path)
    cols = _header(p)
    if "is_snapshot" in cols:
        kind = "incremental_book_L2"
    elif "asks[0].price" in cols or "bids[0].price" in cols:
        kind = "book_snapshot"
    elif "ask_price" in cols or "bid_price" in cols:
        kind = "quotes"
    elif "id" in cols and "side" in cols:
        kind = "trades"
    else:
        raise ValueError(
            f"{p}: not a tardis.dev CSV file of a data type read here ({_TYPES_READ}): its header is "
            f"{','.join(cols[:10])}; download one of these data types"
        )
    missing = [c for c in LAYOUTS[kind] if c not in cols]
    if missing:
        what = kind if kind != "book_snapshot" else "book_snapshot_N"
        raise ValueError(
            f"{p}: line 1: a tardis.dev {what} file needs the columns {missing}, missing from its header; give "
            "the file with tardis.dev's header"
        )
    if kind == "book_snapshot":
        return f"book_snapshot_{sum(1 for c in cols if c.startswith('asks[') and c.endswith('].price'))}"
    return kind


@dataclass
class _Table:
    """The typed columns of a tardis.dev CSV, with the 1-based file line of each row."""

    frame: pd.DataFrame
    line: np.ndarray
    repairs: dict[str, int]


def _column(tb: CsvTable, c: str, kind: Any) -> pd.Series | np.ndarray:
    """Column ``c`` of ``tb`` parsed as ``kind`` (module's ``_KINDS``); a bad cell is an error naming its
    line and column."""
    path, raw = tb.path, tb.frame[c]
    if kind in ("float", "float?"):
        return numeric_columns(tb.frame, path, (c,), 1, required=kind == "float", lines=tb.line)[c]
    if kind == "int":
        if raw.dtype.kind in "iu":
            return raw.to_numpy(np.int64)
        text = raw.astype(str).str.strip()
        num = pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(np.float64)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(num) | (num != np.floor(num)) | (np.abs(num) >= 2.0**63)
        if not bad.any():
            return text.astype(np.int64).to_numpy()
        i = int(np.flatnonzero(bad)[0])
        what = "an integer number of microseconds"
        cell = str(raw.iloc[i])
        blank = cell.strip() in ("", "nan")
        fail(
            path,
            int(tb.line[i]),
            c,
            f"blank field (expected {what})" if blank else f"expected {what}, got {cell!r}",
        )
    text = raw.astype(str).str.strip()
    if kind == "bool":
        low = text.str.lower()
        bad = ~low.isin(("true", "false"))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            fail(path, int(tb.line[i]), c, f"expected true or false, got {raw.iloc[i]!r}")
        return (low == "true").to_numpy()
    if isinstance(kind, tuple):
        bad = ~text.isin(kind)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            fail(path, int(tb.line[i]), c, f"must be one of {list(kind)}, got {raw.iloc[i]!r}")
    return text


def _read(path: Path, columns: tuple[str, ...], kinds: dict[str, Any] | None = None) -> _Table:
    """The columns of a tardis.dev CSV (the header already checked), read through
    :func:`mmenv.data.files.read_csv_table` (archives, repeated headers, a truncated last line) and typed;
    a bad cell is an error naming its line and column."""
    kinds = {**_KINDS, **(kinds or {})}
    cats = tuple(c for c in columns if c in ("exchange", "symbol") or isinstance(kinds.get(c), tuple))
    tb = read_csv_table(path, usecols=list(columns), categories=cats)
    if len(tb) == 0:
        raise ValueError(f"{path}: the file holds no data row (its header only); choose a day with data")
    df = pd.DataFrame({c: _column(tb, c, kinds.get(c, "text")) for c in columns})
    symbols = df["symbol"].unique()
    if len(symbols) > 1:
        raise ValueError(
            f"{path}: the file holds {len(symbols)} symbols ({', '.join(map(str, symbols[:5]))}); "
            "give the file of one symbol"
        )
    return _Table(df, tb.line, tb.repairs)


def _times(tb: _Table, path: Path, clock: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """The times (ns) on ``clock`` of the rows ``rows`` (None: all), and how many were raised to keep them
    monotone on the exchange clock; the unit and the documented order checked on every row."""
    df = tb.frame
    local = df["local_timestamp"].to_numpy(np.int64)
    check_epoch(local, path, "local_timestamp", 1, "us", tb.line)
    check_sorted(local, path, "local_timestamp", 1, tb.line)  # the documented order of every tardis.dev file
    if clock == "local":
        return (local if rows is None else local[rows]) * 1000, 0
    t = df["timestamp"].to_numpy(np.int64)
    check_epoch(t, path, "timestamp", 1, "us", tb.line)
    t, raised = monotone_times(t if rows is None else t[rows])
    return t * 1000, raised


def _check_price_amount(tb: _Table, path: Path, price: np.ndarray, amount: np.ndarray) -> None:
    """Error at the first price that is not > 0 or amount that is not >= 0 (file, line, column)."""
    for name, v, lo in (("price", price, "> 0"), ("amount", amount, ">= 0")):
        bad = (v <= 0) if name == "price" else (v < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            fail(path, int(tb.line[i]), name, f"must be a number {lo}, got {v[i].item()!r}")


def _read_trades(path: Path, clock: str, report: dict[str, Any]):
    tb = _read(path, LAYOUTS["trades"], {"side": ("buy", "sell", "unknown"), "id": "text"})
    df = tb.frame
    price, amount = df["price"].to_numpy(np.float64), df["amount"].to_numpy(np.float64)
    _check_price_amount(tb, path, price, amount)
    t, raised = _times(tb, path, clock)
    report.update(trades_read=len(df), trades_times_raised=raised)
    ids = df["id"].to_numpy(str)
    given = ids != ""
    if given.any():
        uniq, counts = np.unique(ids[given], return_counts=True)
        if (counts > 1).any():
            rows = np.flatnonzero(given)[ids[given] == uniq[np.flatnonzero(counts > 1)[0]]]
            fail(
                path,
                int(tb.line[rows[1]]),
                "id",
                f"trade id {str(ids[rows[0]])!r} repeats line {int(tb.line[rows[0]]):,} (the file appended to itself?)",
                "give each trade once",
            )
    known = (df["side"] != "unknown").to_numpy()
    report["excluded_trades_unknown_side"] = int((~known).sum())
    sgn = np.where((df["side"] == "buy").to_numpy(), 1, -1).astype(np.int8)
    return (
        t[known],
        price[known],
        amount[known],
        sgn[known],
        str(df["exchange"].iloc[0]),
        str(df["symbol"].iloc[0]),
        tb.line[known],
        tb,
    )


def _read_book(path: Path, kind: str, clock: str, report: dict[str, Any]):
    """(time ns, bid, bid qty, ask, ask qty, sampled, exchange, symbol, line of each row, table) of the book
    file; ``sampled``: a quote row is written only where the top changes."""
    if kind == "incremental_book_L2":
        return _incremental(path, clock, report)
    layout = LAYOUTS["quotes" if kind == "quotes" else "book_snapshot"]
    tb = _read(path, layout)
    df = tb.frame
    t, raised = _times(tb, path, clock)
    report.update(book_rows_read=len(df), book_times_raised=raised)
    c = layout[4:]
    if kind == "quotes":  # ask_amount, ask_price, bid_price, bid_amount
        aq, ask, bid, bq = (df[x].to_numpy(np.float64) for x in c)
    else:  # asks[0].price, asks[0].amount, bids[0].price, bids[0].amount
        ask, aq, bid, bq = (df[x].to_numpy(np.float64) for x in c)
    exch, sym = str(df["exchange"].iloc[0]), str(df["symbol"].iloc[0])
    return t, bid, bq, ask, aq, kind != "quotes", exch, sym, tb.line, tb


def _incremental(path: Path, clock: str, report: dict[str, Any]):
    """The top of book after each message of an incremental_book_L2 file (module docstring)."""
    from mmenv.data.loaders.l2book import top_of_book  # numba: compiled only for this data type

    tb = _read(path, LAYOUTS["incremental_book_L2"], {"side": ("bid", "ask")})
    df = tb.frame
    price, amount = df["price"].to_numpy(np.float64), df["amount"].to_numpy(np.float64)
    _check_price_amount(tb, path, price, amount)
    snap = df["is_snapshot"].to_numpy(bool)
    if not snap.any():
        raise ValueError(
            f"{path}: no row with is_snapshot=true: the book cannot be rebuilt without a snapshot; "
            "give a whole day's file (each starts with a snapshot)"
        )
    ts, lts = df["timestamp"].to_numpy(np.int64), df["local_timestamp"].to_numpy(np.int64)
    n = len(df)
    new_msg = np.ones(n, dtype=bool)  # the first row of each message
    new_msg[1:] = (ts[1:] != ts[:-1]) | (lts[1:] != lts[:-1]) | (snap[1:] != snap[:-1])
    first = int(np.argmax(snap))
    keep = np.arange(n) >= first
    report.update(
        book_rows_read=n,
        excluded_updates_before_snapshot=first,
        book_snapshots=int((snap & new_msg).sum()),
    )
    emit = np.zeros(n, dtype=bool)
    emit[:-1] = new_msg[1:]
    emit[-1] = True
    sel = np.flatnonzero(keep)
    bid, bq, ask, aq = top_of_book(
        price[sel],
        amount[sel],
        (df["side"] == "bid").to_numpy()[sel],
        (snap & new_msg)[sel],
        emit[sel],
    )
    rows = sel[emit[sel]]  # the last row of each message
    t, raised = _times(tb, path, clock, rows)
    report.update(book_messages=int(rows.size), book_times_raised=raised)
    exch, sym = str(df["exchange"].iloc[0]), str(df["symbol"].iloc[0])
    return t, bid, bq, ask, aq, True, exch, sym, tb.line[rows], tb


def load_tardis(
    book_path: str | Path,
    trades_path: str | Path,
    *,
    tick: float | None = None,
    max_gap_s: float = 60.0,
    lot: float | None = None,
    clock: str = "exchange",
) -> Tape:
    """Read a tardis.dev book file and trades file (CSV or .csv.gz, in either order) into a tape.

    The book file is a ``quotes``, ``book_ticker``, ``book_snapshot_5``, ``book_snapshot_25`` or
    ``incremental_book_L2`` file, the other a ``trades`` file of the same symbol; each file's type is read
    from its header (:func:`tardis_data_type`). Times, ties and what each type gives: the module docstring.

    Args:
        book_path, trades_path: the two files (either order).
        tick: price tick (default: inferred from the book's prices).
        lot: size step (default: inferred from the sizes).
        max_gap_s: gaps longer than this are counted in the report.
        clock: ``"exchange"`` (``timestamp``, default) or ``"local"`` (``local_timestamp``).

    Raises:
        ValueError: an unknown clock; two book files or two trades files; files of different symbols; a
            structural problem, naming file, line and column.
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {list(CLOCKS)}, got {clock!r}")
    paths = (Path(book_path), Path(trades_path))
    kinds = tuple(tardis_data_type(p) for p in paths)
    if kinds.count("trades") != 1:
        what = "two trades files" if kinds[0] == "trades" else f"two book files ({kinds[0]}, {kinds[1]})"
        raise ValueError(
            f"tardis.dev files {paths[0].name}, {paths[1].name}: got {what}; give one book file (quotes, "
            "book_ticker, book_snapshot_5/25 or incremental_book_L2) and one trades file"
        )
    if kinds[0] == "trades":
        paths, kinds = paths[::-1], kinds[::-1]
    bp, tp = paths
    report: dict[str, Any] = {"book_type": kinds[0], "clock": clock}
    qt, bid, bq, ask, aq, sampled, exch, sym, qline, btb = _read_book(bp, kinds[0], clock, report)
    tt, tpx, tqty, tside, t_exch, t_sym, tline, ttb = _read_trades(tp, clock, report)
    report.update(file_repairs(btb, ttb))
    if (exch, sym) != (t_exch, t_sym):
        raise ValueError(
            f"{bp.name} is {exch} {sym} but {tp.name} is {t_exch} {t_sym}: give the book and trades of one symbol"
        )
    q = quote_rows(bid, bq, ask, aq, bp, report, on_change=sampled)
    return assemble_tape(
        qt[q],
        bid[q],
        bq[q],
        ask[q],
        aq[q],
        tt,
        tpx,
        tqty,
        tside,
        tick=tick,
        origin="unix epoch",
        source=f"tardis.dev {exch} {sym} {kinds[0]} + trades ({clock} clock)",
        report=report,
        max_gap_s=max_gap_s,
        lot=lot,
        qline=qline[q],
        tline=tline,
        empty_t=qt[empty_side(book_validity(bid, bq, ask, aq)[0], bid, ask)],
        quote_file=bp,
        trade_file=tp,
    )
