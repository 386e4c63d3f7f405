"""Binance: a trades file and a best bid/ask (bookTicker) file, USD-M or COIN-M futures or spot, into a
:class:`Tape`.

Trades: a time column in epoch milliseconds (``trade_time_ms`` or ``time``), ``price``, ``qty``,
``is_buyer_maker`` (true: the buyer was the maker, so the aggressor sold) and, if present, the trade id. The
public spot daily files have no header and are read in their documented column order. Quotes: an
exchange-clock time in epoch milliseconds (``transaction_time_ms``, ``transaction_time``, ``event_time``),
``bid_px``, ``bid_qty``, ``ask_px``, ``ask_qty`` (or the ``best_bid_price`` ... names of the public files).
Trades are matched to quotes on the exchange clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmenv.data.files import CsvTable, read_csv_table
from mmenv.data.loaders.common import (
    assemble_tape,
    book_validity,
    check_sorted,
    empty_side,
    epoch_ns,
    fail,
    file_repairs,
    no_valid_quote,
    numeric_columns,
)
from mmenv.data.tape import Tape

__all__ = ["MAX_DUPLICATE_SHARE", "load_binance"]

_TRADE_ALIASES = {
    "time": ("trade_time_ms", "time", "T", "transact_time"),
    "price": ("price", "p"),
    "qty": ("qty", "q", "quantity"),
    "is_buyer_maker": ("is_buyer_maker", "isBuyerMaker", "m"),
    "id": ("trade_id", "id", "agg_trade_id", "a"),
}
_QUOTE_ALIASES = {
    "time": ("transaction_time_ms", "transaction_time", "event_time_ms", "event_time", "time"),
    "bid_px": ("bid_px", "best_bid_price", "b"),
    "bid_qty": ("bid_qty", "best_bid_qty", "B"),
    "ask_px": ("ask_px", "best_ask_price", "a"),
    "ask_qty": ("ask_qty", "best_ask_qty", "A"),
}
# Binance spot public trade files have no header: id, price, qty, quote_qty, time, is_buyer_maker, best_match
_SPOT_TRADE_NAMES = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"]
#: Rows repeating an earlier trade (same id, time, price, size and side; a capture replayed after a
#: reconnect) are dropped and counted up to this share of the file; above it the file is refused (a file
#: appended to itself).
MAX_DUPLICATE_SHARE = 0.01


def _resolve(
    df: pd.DataFrame, path: Path, aliases: dict[str, tuple[str, ...]], optional: tuple[str, ...] = ()
) -> dict[str, str]:
    out = {}
    for key, names in aliases.items():
        hit = next((n for n in names if n in df.columns), None)
        if hit is None and key not in optional:
            raise ValueError(
                f"{path}: needs a column {' or '.join(repr(n) for n in names)}, has {list(df.columns)}; give the "
                "Binance file with its header"
            )
        if hit is not None:
            out[key] = hit
    return out


def _read_with_header(path: Path, headerless_names: list[str] | None = None) -> tuple[CsvTable, int]:
    table = read_csv_table(path)
    if headerless_names is not None and table.header and _is_number(table.header[0]):
        return read_csv_table(path, header=False, names=headerless_names), 0
    return table, 1


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _bool_column(raw: pd.Series, path: Path, column: str, lines: np.ndarray) -> np.ndarray:
    s = raw.astype(str).str.strip().str.lower()
    true, false = s.isin(("1", "true", "1.0")), s.isin(("0", "false", "0.0"))
    bad = ~(true | false)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        fail(path, int(lines[i]), column, f"must be true/false or 1/0, got {raw.iloc[i]!r}")
    return true.to_numpy()


def _duplicates(
    tr: CsvTable, path: Path, ct: dict[str, str], ids: np.ndarray, report: dict[str, Any]
) -> None:
    """Rows repeating an earlier trade id: dropped and counted when they repeat it exactly and are few
    (:data:`MAX_DUPLICATE_SHARE`); an error naming both lines otherwise."""
    order = np.argsort(ids, kind="stable")
    rep = np.zeros(ids.size, dtype=bool)
    rep[order[1:]] = ids[order[1:]] == ids[order[:-1]]
    if not rep.any():
        return
    first_of = np.empty(ids.size, np.int64)
    uniq_start = np.r_[True, ~rep[order[1:]]]
    first_of[order] = order[np.flatnonzero(uniq_start)[np.cumsum(uniq_start) - 1]]
    cols = [ct[k] for k in ("time", "price", "qty", "is_buyer_maker")]
    f = tr.frame[cols].astype(str).apply(lambda c: c.str.strip()).to_numpy()
    dup = np.flatnonzero(rep)
    same = (f[dup] == f[first_of[dup]]).all(axis=1)
    if not same.all():
        i = int(dup[np.flatnonzero(~same)[0]])
        fail(
            path,
            int(tr.line[i]),
            ct["id"],
            f"trade id {ids[i]:.0f} repeats line {int(tr.line[first_of[i]]):,} with other values",
            "give each trade once",
        )
    if dup.size > MAX_DUPLICATE_SHARE * len(tr):
        i = int(dup[0])
        fail(
            path,
            int(tr.line[i]),
            ct["id"],
            f"trade id {ids[i]:.0f} repeats line {int(tr.line[first_of[i]]):,} ({dup.size:,} repeated trades: the "
            "file appended to itself?)",
            "give each trade once",
        )
    report["excluded_rows_duplicate_trades"] = int(dup.size)
    tr.keep(~rep)


def load_binance(
    trades_path: str | Path,
    quotes_path: str | Path,
    *,
    tick: float | None = None,
    max_gap_s: float = 60.0,
    trade_time: str | None = None,
    quote_time: str | None = None,
    lot: float | None = None,
) -> Tape:
    """Read Binance trades and best bid/ask (bookTicker) CSVs: USD-M or COIN-M futures, or spot.

    Trades: a time column (``trade_time_ms`` or ``time``), ``price``, ``qty``, ``is_buyer_maker`` (true: the
    aggressor sold) and, if present, the trade id (``trade_id`` or ``id``: a row repeating an earlier trade
    exactly is dropped and counted while such rows are at most 1% of the file, any other repeated id is an
    error). The spot daily files without a header are read with their documented column order. Quotes:
    ``transaction_time_ms`` (or ``transaction_time`` / ``event_time``), ``bid_px``, ``bid_qty``, ``ask_px``,
    ``ask_qty`` (or the ``best_bid_price`` ... names of the public files). Times are epoch seconds,
    milliseconds, microseconds (the spot files from 2025) or nanoseconds, the unit recognised from their
    magnitude, each file on its own (a column named ``..._ms`` must hold milliseconds). Trades are matched to
    quotes on the exchange clock; at equal times trades sort before quotes. Files may be gzip or zip
    archives. See the package docstring for errors and exclusions.

    Args:
        trades_path, quotes_path: the CSV files.
        tick, lot: price tick and size step (default: inferred from the data).
        max_gap_s: gaps longer than this are counted and left out of rate estimates.
        trade_time, quote_time: the time columns (default: the first present of the names above).
    """
    tp, qp = Path(trades_path), Path(quotes_path)
    tr, ht = _read_with_header(tp, _SPOT_TRADE_NAMES)
    qu, hq = _read_with_header(qp)
    if len(qu) == 0:
        raise ValueError(f"{qp}: the quotes file holds no data row; give the best bid/ask file")
    ct = _resolve(
        tr.frame, tp, {**_TRADE_ALIASES, **({"time": (trade_time,)} if trade_time else {})}, optional=("id",)
    )
    cq = _resolve(qu.frame, qp, {**_QUOTE_ALIASES, **({"time": (quote_time,)} if quote_time else {})})
    report: dict[str, Any] = {"trades_read": len(tr), "quotes_read": len(qu)}
    if "id" in ct and len(tr):
        ids = numeric_columns(tr.frame, tp, (ct["id"],), ht, lines=tr.line)[ct["id"]]
        _duplicates(tr, tp, ct, ids, report)
    tv = numeric_columns(tr.frame, tp, (ct["price"], ct["qty"]), ht, lines=tr.line)
    qv = numeric_columns(
        qu.frame, qp, (cq["bid_px"], cq["bid_qty"], cq["ask_px"], cq["ask_qty"]), hq, lines=qu.line
    )
    tt_ns = (
        epoch_ns(tr.frame[ct["time"]], tp, ct["time"], ht, tr.line)[0] if len(tr) else np.zeros(0, np.int64)
    )
    qt_ns, _ = epoch_ns(qu.frame[cq["time"]], qp, cq["time"], hq, qu.line)
    if len(tr):
        check_sorted(tt_ns, tp, ct["time"], ht, tr.line)
    check_sorted(qt_ns, qp, cq["time"], hq, qu.line)
    buyer_maker = _bool_column(tr.frame[ct["is_buyer_maker"]], tp, ct["is_buyer_maker"], tr.line)
    bid, bq, ask, aq = qv[cq["bid_px"]], qv[cq["bid_qty"]], qv[cq["ask_px"]], qv[cq["ask_qty"]]
    valid, counts = book_validity(bid, bq, ask, aq)
    if not valid.any():
        no_valid_quote(qp, len(qu), counts)
    report.update(counts)
    report.update(file_repairs(tr, qu))
    return assemble_tape(
        qt_ns[valid],
        bid[valid],
        bq[valid],
        ask[valid],
        aq[valid],
        tt_ns,
        tv[ct["price"]],
        tv[ct["qty"]],
        np.where(buyer_maker, -1, 1).astype(np.int8),
        tick=tick,
        lot=lot,
        origin="unix epoch",
        source=f"Binance {tp.name} + {qp.name}",
        report=report,
        max_gap_s=max_gap_s,
        qline=qu.line[valid],
        tline=tr.line,
        empty_t=qt_ns[empty_side(valid, bid, ask)],
        quote_file=qp,
        trade_file=tp,
    )
