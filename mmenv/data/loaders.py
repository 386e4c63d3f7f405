"""Loaders: LOBSTER, Binance trades + bookTicker, and the generic schema, each into a :class:`Tape`.

Rules shared by every loader (what a user can rely on):

* *Structural* problems are errors naming the file, the line (1-based, header included) and the column: a
  blank or unparseable required field, an order book file whose column count is not 4 per level, files of
  different lengths, timestamps out of order, a repeated trade id (a file appended to itself), timestamps
  in the wrong unit (seconds where milliseconds are expected), a file with no valid quote at all.
* *Market-state* anomalies are excluded and counted in ``Tape.report`` (printed by the CLI, written to
  ``metrics.json``; never only a warning): crossed quotes (``excluded_quotes_crossed``), locked quotes
  (``excluded_quotes_locked``), a missing side or a zero size (``excluded_quotes_empty_side``), trades of
  zero size (``excluded_trades_zero_size``), trades before the first valid quote
  (``excluded_trades_before_first_quote``). An excluded quote leaves the
  previous valid book in force. Trades beyond the opposite side of the book they met (a buy below the bid,
  a sell above the ask: off-book prints or a stale book) are kept and counted (``trades_outside_book``):
  they can never fill a quote of ours (a buy below the bid is below any ask we may rest) and calibration
  excludes them as orders below their touch.
* Gaps (no event for more than ``max_gap_s`` seconds) are counted (``gaps``, ``longest_gap_s``); the
  replay continues across them.
* Trades and quotes at the same timestamp: trades first (the quote stamped with the trade's time may
  already show its effect), so each trade meets the last quote stamped strictly before it.
* Each print is one trade row (LOBSTER: each execution message); calibration merges the prints of one
  market order (same time and direction) as :func:`mmenv.calibration.trades.aggregate_market_orders` does.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.data.tape import QUOTE, TRADE, Tape

__all__ = ["load_binance", "load_lobster", "load_tape", "save_tape"]

LOBSTER_DUMMY = 9_999_999_999
_MS_RANGE = (1e11, 1e14)  # epoch milliseconds: years 1973 .. 5138


def _fail(path: Path, line: int, column: str, what: str) -> None:
    raise ValueError(f"{path}: line {line}, column '{column}': {what}")


def _numeric(df, path: Path, columns: tuple[str, ...], header_lines: int, *, required: bool = True) -> dict:
    """The columns as float64 arrays; a blank or non-numeric cell is an error naming file, line, column."""
    import pandas as pd

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
            _fail(path, i + 1 + header_lines, c, what)
        out[c] = v
    return out


def _check_sorted(t: np.ndarray, path: Path, column: str, header_lines: int) -> None:
    d = np.diff(t)
    if (d < 0).any():
        i = int(np.flatnonzero(d < 0)[0]) + 1
        _fail(
            path,
            i + 1 + header_lines,
            column,
            f"timestamps out of order: {t[i].item()!r} after {t[i - 1].item()!r} (the file must be sorted in time)",
        )


def _check_unit_ms(t: np.ndarray, path: Path, column: str, header_lines: int) -> None:
    lo, hi = _MS_RANGE
    bad = (t < lo) | (t >= hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        unit = "seconds" if t[i] < lo else "microseconds or nanoseconds"
        _fail(
            path,
            i + 1 + header_lines,
            column,
            f"{t[i].item()!r} is not an epoch time in milliseconds (looks like {unit})",
        )


def _book_validity(bid, bq, ask, aq) -> tuple[np.ndarray, dict[str, int]]:
    """Valid quote mask and the counts of each exclusion reason."""
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


def _no_valid_quote(path: Path, n: int, counts: dict[str, int]) -> None:
    why = ", ".join(f"{v} {k.removeprefix('excluded_quotes_').replace('_', ' ')}" for k, v in counts.items())
    raise ValueError(f"{path}: no valid quote in {n} rows ({why}): the book is never two-sided")


def _infer_tick(prices: np.ndarray) -> float:
    u = np.unique(np.round(prices[np.isfinite(prices)], 9))
    if u.size < 2:
        raise ValueError(f"cannot infer the tick from {u.size} distinct price(s); pass tick=")
    d = np.diff(u)
    return float(np.round(d.min(), 9))


def _assemble(
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

    ``order`` (optional) gives the merged event order directly (LOBSTER: message order); otherwise events
    are sorted by time, trades before quotes at equal times.
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
        tick = _infer_tick(np.concatenate([bid, ask]))
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


# ------------------------------------------------------------------------------------------------ LOBSTER
def _read_headerless(path: Path, what: str):
    """A LOBSTER CSV as a string DataFrame; a header row (first field not a number) is skipped and counted."""
    import pandas as pd

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
    m = _numeric(msg, mp, ("time", "type", "size", "price", "direction"), hm)
    b = _numeric(book, bp, ("ask_px", "ask_qty", "bid_px", "bid_qty"), hb)
    t = m["time"]
    _check_sorted(t, mp, "time", hm)
    typ = m["type"].astype(np.int64)
    bad = ~np.isin(typ, (1, 2, 3, 4, 5, 6, 7))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail(mp, i + 1 + hm, "type", f"event type must be 1..7, got {m['type'][i]!r}")
    ns = np.round(t * 1e9).astype(np.int64)
    ask_raw, bid_raw = b["ask_px"], b["bid_px"]
    dummy = (np.abs(ask_raw) >= LOBSTER_DUMMY) | (np.abs(bid_raw) >= LOBSTER_DUMMY)
    ask = np.where(dummy, np.nan, ask_raw / 1e4)
    bid = np.where(dummy, np.nan, bid_raw / 1e4)
    valid, counts = _book_validity(bid, b["bid_qty"], ask, b["ask_qty"])
    if not valid.any():
        _no_valid_quote(bp, len(book), counts)
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
        _fail(mp, i + 1 + hm, "direction", f"direction must be +1 or -1, got {m['direction'][i]!r}")
    new = np.ones(ex.size, dtype=bool)
    new[1:] = (ns[ex][1:] != ns[ex][:-1]) | (side[1:] != side[:-1])
    report["market_orders"] = int(new.sum())
    report["hidden_executions"] = int((typ[ex] == 5).sum())
    # merged order: message index; a print sorts before its own row's book update (the book after it)
    pos = np.concatenate([qrow * 2 + 1, ex * 2])
    order = np.argsort(pos, kind="stable")
    date = mp.name.split("_")[1] if mp.name.count("_") >= 2 else "the file's day"
    return _assemble(
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


# ------------------------------------------------------------------------------------------------ Binance
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
    import pandas as pd

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
        _fail(path, i + 1 + header, column, f"must be true/false or 1/0, got {raw.iloc[i]!r}")
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
    tv = _numeric(tr, tp, (ct["time"], ct["price"], ct["qty"]), ht)
    qv = _numeric(qu, qp, (cq["time"], cq["bid_px"], cq["bid_qty"], cq["ask_px"], cq["ask_qty"]), hq)
    tt_ms, qt_ms = tv[ct["time"]], qv[cq["time"]]
    if "id" in ct and len(tr):
        ids = _numeric(tr, tp, (ct["id"],), ht)[ct["id"]]
        uniq, first_idx, counts = np.unique(ids, return_index=True, return_counts=True)
        if (counts > 1).any():
            dup_id = uniq[np.flatnonzero(counts > 1)[0]]
            rows = np.flatnonzero(ids == dup_id)
            _fail(
                tp,
                int(rows[1]) + 1 + ht,
                ct["id"],
                f"trade id {int(dup_id)} repeats line {int(rows[0]) + 1 + ht} (file appended to itself?)",
            )
    if len(tr):
        _check_unit_ms(tt_ms, tp, ct["time"], ht)
        _check_sorted(tt_ms, tp, ct["time"], ht)
    _check_unit_ms(qt_ms, qp, cq["time"], hq)
    _check_sorted(qt_ms, qp, cq["time"], hq)
    report: dict[str, Any] = {"trades_read": len(tr), "quotes_read": len(qu)}
    buyer_maker = _bool_column(tr[ct["is_buyer_maker"]], tp, ct["is_buyer_maker"], ht)
    bid, bq, ask, aq = qv[cq["bid_px"]], qv[cq["bid_qty"]], qv[cq["ask_px"]], qv[cq["ask_qty"]]
    valid, counts = _book_validity(bid, bq, ask, aq)
    if not valid.any():
        _no_valid_quote(qp, len(qu), counts)
    report.update(counts)
    tt_ns = np.round(tt_ms).astype(np.int64) * 1_000_000
    qt_ns = np.round(qt_ms).astype(np.int64) * 1_000_000
    return _assemble(
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


# ------------------------------------------------------------------------------------------------ generic
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
    import pandas as pd

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
    v = _numeric(df, p, GENERIC_COLUMNS[1:], header, required=False)
    t = _numeric(df, p, ("time_ns",), header)["time_ns"]  # blank or non-numeric: error
    try:
        tns = df["time_ns"].astype(np.int64).to_numpy()  # exact integers (float64 keeps only 53 bits)
    except (TypeError, ValueError):
        i = int(np.flatnonzero(t != np.floor(t))[0]) if (t != np.floor(t)).any() else 0
        _fail(
            p,
            i + 1 + header,
            "time_ns",
            f"must be an integer number of nanoseconds, got {df['time_ns'].iloc[i]!r}",
        )
    _check_sorted(tns, p, "time_ns", header)
    is_q = ~np.isnan(v["bid_px"]) | ~np.isnan(v["ask_px"])
    is_t = ~np.isnan(v["trade_px"])
    both = is_q & is_t
    neither = ~is_q & ~is_t
    for mask, what in (
        (both, "a row is either a quote or a trade, got both"),
        (neither, "a row needs either quote prices or a trade price, got neither"),
    ):
        if mask.any():
            _fail(p, int(np.flatnonzero(mask)[0]) + 1 + header, "bid_px/trade_px", what)
    ts = v["trade_side"]
    bad = is_t & ~np.isin(ts, (-1.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail(
            p,
            i + 1 + header,
            "trade_side",
            f"must be +1 or -1 on a trade row, got {df['trade_side'].iloc[i]!r}",
        )
    bad = is_t & np.isnan(v["trade_qty"])
    if bad.any():
        _fail(p, int(np.flatnonzero(bad)[0]) + 1 + header, "trade_qty", "blank field on a trade row")
    qi, ti = np.flatnonzero(is_q), np.flatnonzero(is_t)
    valid, counts = _book_validity(v["bid_px"][qi], v["bid_qty"][qi], v["ask_px"][qi], v["ask_qty"][qi])
    if not valid.any():
        _no_valid_quote(p, int(qi.size), counts)
    report: dict[str, Any] = {"rows_read": len(df), **counts}
    qk = qi[valid]
    pos = np.concatenate([qk, ti])
    order = np.argsort(pos, kind="stable")
    return _assemble(
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
