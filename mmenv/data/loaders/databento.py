"""Databento: DBN files (``.dbn`` or ``.dbn.zst``) of the schemas ``mbp-1``, ``tbbo`` and ``trades``, read
with the ``databento`` package (the ``databento`` extra), into a :class:`Tape`.

From Databento's documentation (databento.com/docs: "Schemas and data formats", the MBP-1, TBBO and Trades
schemas; "Standards and conventions", common fields, prices and flags):

* **mbp-1** has every event that updates the best bid or offer, and every trade. Each record carries
  ``action`` (Add, Cancel, Modify, cleaR book, Trade, Fill, None), ``side``, ``price``, ``size``, ``flags``
  and ``levels[0]``, the top of book (``bid_px_00``, ``bid_sz_00``, ``ask_px_00``, ``ask_sz_00``). A trade
  record (action ``T``) does not change the book: its ``levels[0]`` is the book just before the trade.
* **tbbo** is the subset of mbp-1 made of the trade records: every trade with the best bid and offer just
  before it.
* **trades** has the trades alone: no book, so it is refused on its own and read together with an mbp-1
  file of the same instrument (its book; the mbp-1 file's own trade records are then not used).

**Units.** Prices are signed integers where 1 unit is 1e-9 (``UNDEF_PRICE``, the largest int64, for a missing
side): divided by 1e9, which gives the float nearest to the decimal price, as ``DBNStore.to_df`` does. Sizes
are integers (shares, contracts). Times are integer nanoseconds since the Unix epoch.

**Clock** (``clock=``, ``--databento-clock``): ``"ts_recv"`` by default, the time Databento's capture server
received the record (colocated with the venue), the index by which DBN files are sorted and the timestamp
Databento recommends; or ``"ts_event"``, the matching engine's time, which can step back in a file (raised to
the running maximum and counted, ``times_raised``). A record flagged ``F_BAD_TS_RECV`` (its ``ts_recv`` is
inaccurate) gets the time of the record before it on the ``ts_recv`` clock (counted); an unflagged
``ts_recv`` that decreases is an error.

**Events.** Records are read in file order, which is the order of the events. Side of a trade: ``B`` is a
buy aggressor (+1), ``A`` a sell aggressor (-1); ``N`` (no side given by the venue) cannot be signed and is
excluded and counted (``excluded_trades_no_side``). The book: the ``levels[0]`` of a book record (any action
but ``T``) is the book at that record, read only at the last record of an event (``F_LAST``; the records
before it in the same event are intermediate states, counted as ``book_records_within_event``) and not where
``F_MAYBE_BAD_BOOK`` marks a gap in the venue's feed (counted); a trade record's ``levels[0]``, the book just
before it, also counts. A quote row is written wherever this valid book changes (best prices or sizes).
Ties: with one file, the file order; a trades file joined with an mbp-1 file is merged on the clock with
trades before quotes stamped with the same time (each trade meets the last book stamped strictly before it).

A file with several instruments needs ``symbol=`` (``--databento-symbol``): one of the raw symbols of its
metadata. Errors name the file, the record (1-based) and the field.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.data.loaders.common import EPOCH_RANGES, assemble_tape, monotone_times, quote_rows
from mmenv.data.tape import Tape

__all__ = ["CLOCKS", "PRICE_SCALE", "SCHEMAS", "load_databento"]

#: The tape's clock: the DBN field it reads.
CLOCKS = ("ts_recv", "ts_event")
#: DBN prices are integers of 1e-9 price units.
PRICE_SCALE = 1e9
#: The schemas read: top of book and trades in one file, or trades (with an mbp-1 file for the book).
SCHEMAS = ("mbp-1", "tbbo", "trades")
_UNDEF_PRICE = np.iinfo(np.int64).max
_F_LAST, _F_BAD_TS_RECV, _F_MAYBE_BAD_BOOK = 1 << 7, 1 << 3, 1 << 2


def _fail(path: Path, i: int, field: str, what: str, todo: str = "download the file again") -> None:
    """Raise the error of record ``i`` (0-based; the message counts from 1): ``{path}: record {n}, field
    '{field}': {what}; {todo}``."""
    raise ValueError(f"{path}: record {i + 1:,}, field '{field}': {what}; {todo}")


def _read(path: Path, symbol: str | None) -> tuple[str, np.ndarray, str]:
    """(schema, records of one instrument, its symbol) of a DBN file, read with the databento package."""
    import databento

    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes); give the DBN file with its data")
    try:
        store = databento.DBNStore.from_file(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # the package's BentoError or ValueError: not a DBN file, empty, ...
        raise ValueError(
            f"{path}: cannot read it as a DBN file ({exc}); give a .dbn or .dbn.zst file"
        ) from exc
    schema = str(store.schema) if store.schema is not None else "mixed"
    if schema not in SCHEMAS:
        raise ValueError(
            f"{path}: schema {schema!r} is not read here; give an mbp-1 or tbbo file (top of book and trades), "
            "or a trades file with an mbp-1 file"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = store.to_ndarray()
    if any("truncated" in str(w.message) for w in caught):
        raise ValueError(
            f"{path}: the file is truncated (an incomplete record after record {len(rec)}); download it again"
        )
    if len(rec) == 0:
        raise ValueError(f"{path}: the file holds no record (its metadata only); choose a range with data")
    ids = np.unique(rec["instrument_id"])
    names: dict[int, str] = {}
    for raw, intervals in (store.metadata.mappings or {}).items():
        for iv in intervals:
            if str(iv.get("symbol", "")).isdigit():
                names[int(iv["symbol"])] = raw
    label = lambda i: names.get(int(i), f"instrument {int(i)}")  # noqa: E731
    if symbol is not None:
        want = [i for i in ids if names.get(int(i)) == symbol or str(i) == symbol]
        if not want:
            raise ValueError(
                f"{path}: no instrument {symbol!r} in the file; it holds {', '.join(label(i) for i in ids)}: "
                "choose one of them"
            )
        rec = rec[np.isin(rec["instrument_id"], want)]
        return schema, rec, symbol
    if ids.size > 1:
        raise ValueError(
            f"{path}: the file holds {ids.size} instruments ({', '.join(label(i) for i in ids[:8])}); choose one "
            "with symbol= (--databento-symbol)"
        )
    return schema, rec, label(ids[0])


def _times(rec: np.ndarray, path: Path, clock: str, report: dict[str, Any], prefix: str = "") -> np.ndarray:
    """The records' times (ns) on ``clock``, repaired as the module docstring states."""
    t = rec[clock].astype(np.int64)
    lo, hi, _ = EPOCH_RANGES["ns"]
    bad = (t < lo) | (t >= hi)
    if clock == "ts_recv":
        flagged = (rec["flags"] & _F_BAD_TS_RECV) != 0
        bad &= ~flagged
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        v = rec[clock][i].item()
        like = next((f" (looks like {n})" for a, b, n in EPOCH_RANGES.values() if a <= v < b), "")
        _fail(path, i, clock, f"{v} is not an epoch time in nanoseconds{like}", "give epoch nanoseconds")
    if clock == "ts_event":
        t, raised = monotone_times(t)
        report[prefix + "times_raised"] = raised
        return t
    # a flagged ts_recv takes the time of the record before it (the first record: of the first good one)
    good = np.flatnonzero(~flagged)
    if good.size == 0:
        raise ValueError(
            f"{path}: every record is flagged F_BAD_TS_RECV; read it with the ts_event clock (--databento-clock "
            "ts_event)"
        )
    prev = np.maximum.accumulate(np.where(~flagged, np.arange(t.size), -1))
    t = t[np.where(prev >= 0, prev, good[0])]
    report[prefix + "times_replaced_bad_ts_recv"] = int(flagged.sum())
    d = np.diff(t)
    if (d < 0).any():
        i = int(np.flatnonzero(d < 0)[0]) + 1
        _fail(
            path,
            i,
            clock,
            f"{t[i]} is before {t[i - 1]}: records out of order (DBN files are sorted by ts_recv)",
            "give the file as Databento writes it, or read it with --databento-clock ts_event",
        )
    return t


def _prices(v: np.ndarray) -> np.ndarray:
    return np.where(v == _UNDEF_PRICE, np.nan, v / PRICE_SCALE)


def _trades(rec: np.ndarray, path: Path, t: np.ndarray, report: dict[str, Any]):
    """(positions, time, price, size, side) of the signed trade records."""
    pos = np.flatnonzero(rec["action"] == b"T")
    bad = rec["price"][pos] == _UNDEF_PRICE
    if bad.any():
        _fail(path, int(pos[np.flatnonzero(bad)[0]]), "price", "undefined price on a trade record")
    side = rec["side"][pos]
    bad = ~np.isin(side, (b"A", b"B", b"N"))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail(
            path,
            int(pos[i]),
            "side",
            f"must be A, B or N on a trade record, got {side[i].decode(errors='replace')!r}",
        )
    signed = side != b"N"
    report["excluded_trades_no_side"] = int((~signed).sum())
    pos = pos[signed]
    return (
        pos,
        t[pos],
        _prices(rec["price"][pos]),
        rec["size"][pos].astype(np.float64),
        np.where(rec["side"][pos] == b"B", 1, -1).astype(np.int8),
    )


def _book(rec: np.ndarray, t: np.ndarray, report: dict[str, Any]):
    """(position key, time, bid, bid size, ask, ask size) of the book rows: every usable ``levels[0]``, keyed
    2 r for the book before a trade record r and 2 r + 1 for the book at a book record r."""
    flags = rec["flags"]
    is_trade = rec["action"] == b"T"
    maybe_bad = (flags & _F_MAYBE_BAD_BOOK) != 0
    within = ~is_trade & ((flags & _F_LAST) == 0)
    report["book_records_within_event"] = int(within.sum())
    report["quotes_maybe_bad_book"] = int((maybe_bad & ~within).sum())
    r = np.flatnonzero(~within & ~maybe_bad)
    return (
        2 * r + (~is_trade[r]).astype(np.int64),  # the record of key k is k // 2
        t[r],
        _prices(rec["bid_px_00"][r]),
        rec["bid_sz_00"][r].astype(np.float64),
        _prices(rec["ask_px_00"][r]),
        rec["ask_sz_00"][r].astype(np.float64),
    )


def load_databento(
    path: str | Path,
    book_path: str | Path | None = None,
    *,
    tick: float | None = None,
    max_gap_s: float = 60.0,
    lot: float | None = None,
    clock: str = "ts_recv",
    symbol: str | None = None,
) -> Tape:
    """Read a Databento DBN file (``mbp-1`` or ``tbbo``), or a ``trades`` file with an ``mbp-1`` file (either
    order), into a tape. Units, clock, events and ties: the module docstring.

    Args:
        path: the DBN file (``.dbn`` or ``.dbn.zst``).
        book_path: with a trades file, the mbp-1 file of the same instrument (either of the two may be first).
        tick: price tick (default: inferred from the book's prices).
        lot: size step (default: inferred from the sizes).
        max_gap_s: gaps longer than this are counted in the report.
        clock: ``"ts_recv"`` (default) or ``"ts_event"``.
        symbol: the raw symbol (or numeric instrument id) to read from a file of several instruments.

    Raises:
        ImportError: without the databento package (``pip install 'mmenv[databento]'``).
        ValueError: an unknown clock, a schema not read here, a trades file without a book, a structural
            problem (naming file, record and field).
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {list(CLOCKS)}, got {clock!r}")
    files = [Path(path)] + ([Path(book_path)] if book_path is not None else [])
    read = [_read(p, symbol) for p in files]
    schemas = [s for s, _, _ in read]
    report: dict[str, Any] = {"schema": " + ".join(schemas), "clock": clock}
    if len(files) == 1:
        (schema, rec, sym), p = read[0], files[0]
        if schema == "trades":
            raise ValueError(
                f"{p}: a trades file holds no book (schema trades), so it cannot be replayed or calibrated alone; "
                "give it with an mbp-1 file of the same instrument: --databento TRADES.dbn MBP1.dbn"
            )
        report["records_read"] = len(rec)
        t = _times(rec, p, clock, report)
        tpos, tt, tpx, tqty, tside = _trades(rec, p, t, report)
        key, qt, bid, bq, ask, aq = _book(rec, t, report)
        bp, tp, order_of = p, p, True
    else:
        if sorted(schemas) != ["mbp-1", "trades"]:
            raise ValueError(
                f"{files[0].name} ({schemas[0]}), {files[1].name} ({schemas[1]}): two files are a trades file "
                "and an mbp-1 file; give one mbp-1 or tbbo file alone, or trades with mbp-1"
            )
        ti = schemas.index("trades")
        (_, trec, tsym), tp = read[ti], files[ti]
        (_, brec, sym), bp = read[1 - ti], files[1 - ti]
        if tsym != sym:
            raise ValueError(
                f"{tp.name} is {tsym} but {bp.name} is {sym}: give the trades and book of one instrument"
            )
        report.update(records_read=len(trec), book_records_read=len(brec))
        t = _times(trec, tp, clock, report)
        tpos, tt, tpx, tqty, tside = _trades(trec, tp, t, report)
        bt = _times(brec, bp, clock, report, prefix="book_")
        key, qt, bid, bq, ask, aq = _book(brec, bt, report)
        report["book_file_trades_not_used"] = int((brec["action"] == b"T").sum())
        order_of = False
    vi = quote_rows(bid, bq, ask, aq, bp, report, on_change=True)
    report["quotes_from_trade_records"] = int((key[vi] % 2 == 0).sum()) if order_of else 0
    order = None
    if (
        order_of
    ):  # file order: the book before a trade (2 r), the trade (2 r + 1), the book at a record (2 r + 1)
        pos = np.concatenate([key[vi], 2 * tpos + 1])
        kind = np.concatenate([np.zeros(vi.size), np.ones(tpos.size)])
        order = np.lexsort((kind, pos))
    return assemble_tape(
        qt[vi],
        bid[vi],
        bq[vi],
        ask[vi],
        aq[vi],
        tt,
        tpx,
        tqty,
        tside,
        tick=tick,
        origin="unix epoch",
        source=f"Databento {sym} {report['schema']} ({clock} clock)",
        report=report,
        max_gap_s=max_gap_s,
        lot=lot,
        order=order,
        qline=key[vi] // 2 + 1,
        tline=tpos + 1,
        quote_file=bp,
        trade_file=tp,
        row_word="record",
    )
