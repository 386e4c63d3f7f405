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

from mmenv.data.loaders.common import (
    assemble_tape,
    book_validity,
    check_epoch_ms,
    check_sorted,
    fail,
    no_valid_quote,
    numeric_columns,
)
from mmenv.data.tape import Tape

__all__ = ["load_binance"]

_TRADE_ALIASES = {
    "time": ("trade_time_ms", "time", "T"),
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


def _resolve(
    df, path: Path, aliases: dict[str, tuple[str, ...]], optional: tuple[str, ...] = ()
) -> dict[str, str]:
    out = {}
    for key, names in aliases.items():
        hit = next((n for n in names if n in df.columns), None)
        if hit is None and key not in optional:
            raise ValueError(
                f"{path}: needs a column {' or '.join(repr(n) for n in names)}; has {list(df.columns)}"
            )
        if hit is not None:
            out[key] = hit
    return out


def _read_with_header(path: Path, headerless_names: list[str] | None = None):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if headerless_names is not None and len(df.columns) and _is_number(df.columns[0]):
        df = pd.read_csv(
            path, header=None, names=headerless_names[: len(df.columns)], dtype=str, keep_default_na=False
        )
        return df, 0
    return df, 1


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _bool_column(raw, path: Path, column: str, header: int) -> np.ndarray:
    s = raw.astype(str).str.strip().str.lower()
    true, false = s.isin(("1", "true", "1.0")), s.isin(("0", "false", "0.0"))
    bad = ~(true | false)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        fail(path, i + 1 + header, column, f"must be true/false or 1/0, got {raw.iloc[i]!r}")
    return true.to_numpy()


def load_binance(
    trades_path: str | Path,
    quotes_path: str | Path,
    *,
    tick: float | None = None,
    max_gap_s: float = 60.0,
    trade_time: str | None = None,
    quote_time: str | None = None,
) -> Tape:
    """Read Binance trades and best bid/ask (bookTicker) CSVs, USD-M futures or spot.

    Trades: a time column in epoch milliseconds (``trade_time_ms`` or ``time``), ``price``, ``qty``,
    ``is_buyer_maker`` (true: the aggressor sold) and, if present, the trade id (``trade_id`` or ``id``:
    a repeated id is an error). The spot daily files without a header are read with their documented
    column order. Quotes: ``transaction_time_ms`` (or ``transaction_time`` / ``event_time``), ``bid_px``,
    ``bid_qty``, ``ask_px``, ``ask_qty`` (or the ``best_bid_price`` ... names of the public files).
    See the module docstring for errors and exclusions.

    Args:
        trades_path, quotes_path: the CSV files.
        tick: price tick (default: inferred from the quote prices).
        max_gap_s: gaps longer than this are counted in the report.
        trade_time, quote_time: the epoch-millisecond time columns (default: the first present of the names
            above).
    """
    tp, qp = Path(trades_path), Path(quotes_path)
    tr, ht = _read_with_header(tp, _SPOT_TRADE_NAMES)
    qu, hq = _read_with_header(qp)
    if len(qu) == 0:
        raise ValueError(f"{qp}: the quotes file holds no data row")
    ct = _resolve(
        tr, tp, {**_TRADE_ALIASES, **({"time": (trade_time,)} if trade_time else {})}, optional=("id",)
    )
    cq = _resolve(qu, qp, {**_QUOTE_ALIASES, **({"time": (quote_time,)} if quote_time else {})})
    tv = numeric_columns(tr, tp, (ct["time"], ct["price"], ct["qty"]), ht)
    qv = numeric_columns(qu, qp, (cq["time"], cq["bid_px"], cq["bid_qty"], cq["ask_px"], cq["ask_qty"]), hq)
    tt_ms, qt_ms = tv[ct["time"]], qv[cq["time"]]
    if "id" in ct and len(tr):
        ids = numeric_columns(tr, tp, (ct["id"],), ht)[ct["id"]]
        uniq, first_idx, counts = np.unique(ids, return_index=True, return_counts=True)
        if (counts > 1).any():
            dup_id = uniq[np.flatnonzero(counts > 1)[0]]
            rows = np.flatnonzero(ids == dup_id)
            fail(
                tp,
                int(rows[1]) + 1 + ht,
                ct["id"],
                f"trade id {int(dup_id)} repeats line {int(rows[0]) + 1 + ht} (file appended to itself?)",
            )
    if len(tr):
        check_epoch_ms(tt_ms, tp, ct["time"], ht)
        check_sorted(tt_ms, tp, ct["time"], ht)
    check_epoch_ms(qt_ms, qp, cq["time"], hq)
    check_sorted(qt_ms, qp, cq["time"], hq)
    report: dict[str, Any] = {"trades_read": len(tr), "quotes_read": len(qu)}
    buyer_maker = _bool_column(tr[ct["is_buyer_maker"]], tp, ct["is_buyer_maker"], ht)
    bid, bq, ask, aq = qv[cq["bid_px"]], qv[cq["bid_qty"]], qv[cq["ask_px"]], qv[cq["ask_qty"]]
    valid, counts = book_validity(bid, bq, ask, aq)
    if not valid.any():
        no_valid_quote(qp, len(qu), counts)
    report.update(counts)
    tt_ns = np.round(tt_ms).astype(np.int64) * 1_000_000
    qt_ns = np.round(qt_ms).astype(np.int64) * 1_000_000
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
        origin="unix epoch",
        source=f"Binance {tp.name} + {qp.name}",
        report=report,
        max_gap_s=max_gap_s,
    )
