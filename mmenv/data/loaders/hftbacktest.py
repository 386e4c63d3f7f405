"""hftbacktest's event files: read one into a top-of-book :class:`Tape`, and write a tape as one, so that the same
tape runs in both tools.

The format (hftbacktest 2.4, ``hftbacktest.types.event_dtype``; nkaz001/hftbacktest, "Data" in its docs): a
``.npz`` holding an array ``data`` of records ``ev`` (uint64 flags), ``exch_ts`` and ``local_ts`` (int64,
nanoseconds: the exchange's time and the time the feed reached the strategy), ``px``, ``qty`` (float64),
``order_id``, ``ival``, ``fval``. The low byte of ``ev`` is the event kind: ``DEPTH_EVENT`` 1 (the size at
one price level, 0 deletes it), ``TRADE_EVENT`` 2, ``DEPTH_CLEAR_EVENT`` 3 (clear one side up to ``px``),
``DEPTH_SNAPSHOT_EVENT`` 4 (a level of a snapshot), ``DEPTH_BBO_EVENT`` 5 (a best bid or offer). The flags
``BUY_EVENT`` (bit 29) / ``SELL_EVENT`` (bit 28) give the side (bid / ask side of a depth event, the
aggressor of a trade); ``EXCH_EVENT`` (bit 31) / ``LOCAL_EVENT`` (bit 30) say which of hftbacktest's two
processors reads the row (its ``correct_event_order`` writes a row twice when the exchange and local orders
differ).

:func:`load_hftbacktest` reads the rows the exchange reads (all rows when none is flagged), in file order on
the exchange clock, rebuilds the book level by level and reduces it to its top: a quote row each time a run
of depth events sharing a timestamp (and an ``ival``: the message number this module writes; 0 in
hftbacktest's own converters) leaves the best bid or ask (price or size) changed, and a trade row per
print. A BBO event sets its level as the best and deletes the levels beyond it on that side (hftbacktest's
``FuseMarketDepth``). Structural problems are errors naming the file, the row (1-based) and the field;
events of other kinds (the Level-3 order events, custom events such as a ``bookTicker`` stream's 103 and
104), depth events and trades without a side, and books left crossed, locked or one-sided are counted in
``Tape.report``; the rest of the rules are :mod:`mmenv.data.loaders`'.

:func:`tape_to_events` and :func:`save_hftbacktest` write a tape the way hftbacktest feeds a best-bid/offer
stream into its depth (``FuseMarketDepth.update_best_bid``/``update_best_ask``, the fusion behind its
converters of Binance ``bookTicker`` and Tardis ``book_ticker`` files): per quote row and side, a depth event
at the new best when its price or size changed, then size-0 events deleting the levels the best backed off
from (a level the best moved away from *inward* keeps its last size, as in hftbacktest); the side moving
outward first, so that the book is never crossed between the two; a trade event per print. Every row carries
``EXCH_EVENT | LOCAL_EVENT``, ``exch_ts`` the tape's time, ``local_ts`` that time plus the feed latency and
``ival`` the tape's row (1-based; hftbacktest's exchange reads only ``ev``, ``exch_ts``, ``px`` and ``qty`` of
depth and trade events), so that reading the file back gives the tape's quote rows, less the rows that
changed nothing.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.data.files import sniff
from mmenv.data.grid import snap
from mmenv.data.loaders.common import assemble_tape, infer_lot, infer_tick
from mmenv.data.tape import QUOTE, TRADE, Tape
from mmenv.jit import njit

__all__ = [
    "EVENT_DTYPE",
    "load_hftbacktest",
    "save_hftbacktest",
    "tape_to_events",
]

#: hftbacktest's ``event_dtype`` (64 bytes, aligned).
EVENT_DTYPE = np.dtype(
    [
        ("ev", "u8"),
        ("exch_ts", "i8"),
        ("local_ts", "i8"),
        ("px", "f8"),
        ("qty", "f8"),
        ("order_id", "u8"),
        ("ival", "i8"),
        ("fval", "f8"),
    ],
    align=True,
)
DEPTH_EVENT, TRADE_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT, DEPTH_BBO_EVENT = 1, 2, 3, 4, 5
EXCH_EVENT, LOCAL_EVENT, BUY_EVENT, SELL_EVENT = 1 << 31, 1 << 30, 1 << 29, 1 << 28
_NEEDED = ("ev", "exch_ts", "px", "qty")


# ------------------------------------------------------------------------------------------------- writer
@njit(cache=True)
def _fuse_sides(kind, bidx, bqty, aidx, aqty, n_levels):
    """The depth events of a top-of-book tape, fused like hftbacktest's ``FuseMarketDepth``: per quote row,
    rows of (event row, +1 bid / -1 ask, level index, size). Levels are indices into the sorted levels."""
    n = kind.shape[0]
    cap = 4 * n + 4
    out_row = np.empty(cap, np.int64)
    out_side = np.empty(cap, np.int8)
    out_lvl = np.empty(cap, np.int64)
    out_qty = np.empty(cap, np.float64)
    bmap = np.zeros(n_levels)
    amap = np.zeros(n_levels)
    bbest, abest = -1, n_levels
    k = 0
    for i in range(n):
        if kind[i] != 0:
            continue
        bid_first = bidx[i] < bbest  # the side backing off goes first: never a crossed book in between
        for step in range(2):
            side = 1 if (step == 0) == bid_first else -1
            if side == 1:
                lv, q = bidx[i], bqty[i]
                if lv == bbest and q == bmap[lv]:
                    continue
                bmap[lv] = q
                out_row[k], out_side[k], out_lvl[k], out_qty[k] = i, 1, lv, q
                k += 1
                prev, bbest = bbest, lv
                for j in range(lv + 1, prev + 1):  # backed off: delete the levels it left
                    if bmap[j] > 0.0:
                        bmap[j] = 0.0
                        out_row[k], out_side[k], out_lvl[k], out_qty[k] = i, 1, j, 0.0
                        k += 1
            else:
                lv, q = aidx[i], aqty[i]
                if lv == abest and q == amap[lv]:
                    continue
                amap[lv] = q
                out_row[k], out_side[k], out_lvl[k], out_qty[k] = i, -1, lv, q
                k += 1
                prev, abest = abest, lv
                for j in range(prev, lv):  # backed off upward
                    if amap[j] > 0.0:
                        amap[j] = 0.0
                        out_row[k], out_side[k], out_lvl[k], out_qty[k] = i, -1, j, 0.0
                        k += 1
    return out_row[:k], out_side[:k], out_lvl[:k], out_qty[:k]


def tape_to_events(tape: Tape, *, feed_latency_s: float = 0.0) -> np.ndarray:
    """The tape as hftbacktest's events (an array of :data:`EVENT_DTYPE`, see the module docstring).

    Args:
        tape: the tape (its prices on its tick grid).
        feed_latency_s: ``local_ts - exch_ts`` of every row (seconds, >= 0).
    """
    if not (np.isfinite(feed_latency_s) and feed_latency_s >= 0):
        raise ValueError(f"feed_latency_s must be >= 0, got {feed_latency_s!r}")
    is_q = tape.kind == QUOTE
    bl = np.floor(tape.bid_px / tape.tick + 0.5).astype(np.int64)
    al = np.floor(tape.ask_px / tape.tick + 0.5).astype(np.int64)
    levels = np.unique(np.concatenate([bl[is_q], al[is_q]]))
    bidx = np.searchsorted(levels, bl)
    aidx = np.searchsorted(levels, al)
    row, side, lvl, qty = _fuse_sides(
        tape.kind, np.where(is_q, bidx, 0), tape.bid_qty, np.where(is_q, aidx, 0), tape.ask_qty, levels.size
    )
    tr = np.flatnonzero(tape.kind == TRADE)
    n = row.size + tr.size
    out = np.zeros(n, EVENT_DTYPE)
    # merge in tape order: depth events of row i, then (a trade row is its own row)
    key = np.concatenate([row, tr])
    order = np.argsort(key, kind="stable")
    flags = EXCH_EVENT | LOCAL_EVENT
    ev = np.concatenate(
        [
            np.where(side > 0, DEPTH_EVENT | BUY_EVENT, DEPTH_EVENT | SELL_EVENT).astype(np.uint64),
            np.where(tape.side[tr] > 0, TRADE_EVENT | BUY_EVENT, TRADE_EVENT | SELL_EVENT).astype(np.uint64),
        ]
    ) | np.uint64(flags)
    px = np.concatenate([np.round(levels[lvl] * tape.tick, 9), tape.trade_px[tr]])
    q = np.concatenate([qty, tape.trade_qty[tr]])
    t = tape.time[key]
    out["ev"] = ev[order]
    out["exch_ts"] = t[order]
    out["local_ts"] = t[order] + round(feed_latency_s * 1e9)
    out["px"] = px[order]
    out["qty"] = q[order]
    out["ival"] = (key + 1)[order]  # the tape's row (1-based): the reader's message boundaries
    return out


def save_hftbacktest(tape: Tape, path: str | Path, *, feed_latency_s: float = 0.0) -> Path:
    """Write ``tape`` as an hftbacktest event file (``.npz`` with the array ``data``; :func:`tape_to_events`),
    for ``hftbacktest.BacktestAsset().data([path])``."""
    p = Path(path)
    if p.suffix != ".npz":
        raise ValueError(f"an hftbacktest event file is a .npz, got {p.name!r}")
    np.savez_compressed(p, data=tape_to_events(tape, feed_latency_s=feed_latency_s))
    return p


# ------------------------------------------------------------------------------------------------- reader
@njit(cache=True, inline="always")
def _is_depth(kd: int) -> bool:
    return kd == DEPTH_EVENT or kd == DEPTH_CLEAR_EVENT or kd == DEPTH_SNAPSHOT_EVENT or kd == DEPTH_BBO_EVENT


@njit(cache=True, inline="always")
def _best_below(m, start: int) -> int:
    for j in range(start, -1, -1):
        if m[j] > 0.0:
            return j
    return -1


@njit(cache=True, inline="always")
def _best_above(m, start: int) -> int:
    n = m.shape[0]
    for j in range(max(start, 0), n):
        if m[j] > 0.0:
            return j
    return n


@njit(cache=True)
def _top_of_book(kind, side, lvl, qty, ts, msg, lot, n_levels):
    """Replay the depth events level by level (the size at each level index); after each run of depth
    events sharing a timestamp and a message number ``msg``, the top of the book when it changed; the
    trades, in file order.

    Returns, per emitted row: the event's row, its code (0 quote, 1 trade, 2 a side empty, 3 crossed,
    4 locked), the best bid level index and size, the best ask level index and size.
    """
    n = kind.shape[0]
    o_row = np.empty(n, np.int64)
    o_kind = np.empty(n, np.int8)
    o_b = np.zeros(n, np.int64)
    o_bq = np.zeros(n, np.float64)
    o_a = np.zeros(n, np.int64)
    o_aq = np.zeros(n, np.float64)
    bmap = np.zeros(n_levels)
    amap = np.zeros(n_levels)
    bbest, abest = -1, n_levels
    last_b, last_bq, last_a, last_aq = -2, -1.0, -2, -1.0
    k = 0
    half = 0.5 * lot  # hftbacktest deletes a level whose size rounds to 0 lots
    dirty = False
    for i in range(n):
        kd = kind[i]
        s, lv, q = side[i], lvl[i], qty[i]
        if kd == TRADE_EVENT:
            o_row[k], o_kind[k] = i, 1
            k += 1
        elif kd == DEPTH_CLEAR_EVENT:  # lvl: the first bid index / the last ask index cleared
            if s >= 0:
                for j in range(lv if s > 0 else 0, n_levels):
                    bmap[j] = 0.0
                bbest = _best_below(bmap, n_levels - 1)
            if s <= 0:
                for j in range(0, (lv if s < 0 else n_levels - 1) + 1):
                    amap[j] = 0.0
                abest = _best_above(amap, 0)
            dirty = True
        elif _is_depth(kd) and s > 0:
            present = q >= half
            if kd == DEPTH_BBO_EVENT and present:  # the new best: levels above it are gone
                for j in range(lv + 1, n_levels):
                    bmap[j] = 0.0
                for j in range(0, lv + 1):
                    amap[j] = 0.0
                abest = _best_above(amap, lv + 1)
            bmap[lv] = q if present else 0.0
            if present and lv > bbest:
                bbest = lv
            elif kd == DEPTH_BBO_EVENT or (not present and lv == bbest):
                bbest = _best_below(bmap, n_levels - 1 if kd == DEPTH_BBO_EVENT else lv)
            dirty = True
        elif _is_depth(kd) and s < 0:
            present = q >= half
            if kd == DEPTH_BBO_EVENT and present:
                for j in range(0, lv):
                    amap[j] = 0.0
                for j in range(lv, n_levels):
                    bmap[j] = 0.0
                bbest = _best_below(bmap, lv - 1)
            amap[lv] = q if present else 0.0
            if present and lv < abest:
                abest = lv
            elif kd == DEPTH_BBO_EVENT or (not present and lv == abest):
                abest = _best_above(amap, 0 if kd == DEPTH_BBO_EVENT else lv)
            dirty = True
        if not dirty:
            continue
        if i + 1 < n and ts[i + 1] == ts[i] and msg[i + 1] == msg[i] and _is_depth(kind[i + 1]):
            continue  # the run of depth events of this timestamp (and message) goes on
        dirty = False
        bq = bmap[bbest] if bbest >= 0 else 0.0
        aq = amap[abest] if abest < n_levels else 0.0
        if bbest == last_b and bq == last_bq and abest == last_a and aq == last_aq:
            continue
        last_b, last_bq, last_a, last_aq = bbest, bq, abest, aq
        code = 0
        if bbest < 0 or abest >= n_levels:
            code = 2
        elif bbest > abest:
            code = 3
        elif bbest == abest:
            code = 4
        o_row[k], o_kind[k] = i, code
        o_b[k], o_bq[k], o_a[k], o_aq[k] = max(bbest, 0), bq, min(abest, n_levels - 1), aq
        k += 1
    return o_row[:k], o_kind[:k], o_b[:k], o_bq[:k], o_a[:k], o_aq[:k]


def _fail(path: Path, row: int, field: str, what: str, todo: str = "correct or remove that row") -> None:
    """Raise the error of a row (1-based): ``{path}: row {row}, field '{field}': {what}; {todo}``."""
    raise ValueError(f"{path}: row {row:,}, field '{field}': {what}; {todo}")


#: Epoch times in a unit other than hftbacktest's nanoseconds, refused: name -> (smallest, largest), the
#: years 1990 to 2100 in that unit (as nanoseconds after an origin they are 7 to 47 days, or 10 to 68
#: minutes, after it, with every time of the file in that range).
_OTHER_EPOCH_UNITS = {"microseconds": (6.3e14, 4.11e15), "milliseconds": (6.3e11, 4.11e12)}


def _check_unit(p: Path, ts: np.ndarray) -> None:
    """Refuse exchange times that are epoch microseconds or milliseconds (hftbacktest's are nanoseconds)."""
    lo, hi = int(ts.min()), int(ts.max())
    for unit, (a, b) in _OTHER_EPOCH_UNITS.items():
        if a <= lo and hi < b:
            raise ValueError(
                f"{p}: field 'exch_ts': the times {lo} to {hi} look like epoch {unit}, not the nanoseconds of "
                "hftbacktest's events; write exch_ts and local_ts in nanoseconds"
            )


def _read_events(p: Path) -> np.ndarray:
    """The event array of an hftbacktest ``.npz``; ValueError naming the file when it is not one."""
    what = "an hftbacktest event file (.npz with an array 'data' of hftbacktest's event_dtype)"
    try:
        kind = sniff(p)
    except ValueError as exc:
        if "the file is empty" in str(exc):
            raise ValueError(f"{p}: the file is empty (0 bytes); give {what}") from None
        kind = "binary"
    if kind != "zip" and kind != "binary":
        raise ValueError(f"{p}: this is a {kind} file, not {what}; give the .npz that hftbacktest reads")
    try:
        with np.load(p, allow_pickle=False) as z:
            names = list(z.files)
            data = (z["data"] if "data" in names else z[names[0]]) if names else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, AttributeError) as exc:
        raise ValueError(f"{p}: cannot be read as {what} ({exc}); give such a file") from None
    if data is None:
        raise ValueError(f"{p}: holds no array; give {what}")
    if data.dtype.names is None:
        raise ValueError(f"{p}: array of {data.dtype} has no fields; give {what}")
    missing = [f for f in _NEEDED if f not in data.dtype.names]
    if missing:
        raise ValueError(f"{p}: the events lack the field(s) {missing}; give {what}")
    if data.ndim != 1:
        raise ValueError(f"{p}: the event array has shape {data.shape}; give {what} (one dimension)")
    return data


def load_hftbacktest(
    path: str | Path, *, tick: float | None = None, lot: float | None = None, max_gap_s: float = 60.0
) -> Tape:
    """Read an hftbacktest event file into a top-of-book tape (module docstring).

    Args:
        path: the ``.npz`` file.
        tick: the price tick (default: inferred from the depth prices, :func:`infer_tick`).
        lot: the size step (default: inferred from the sizes, :func:`infer_lot`); a depth size under half a
            lot deletes its level, as in hftbacktest.
        max_gap_s: gaps longer than this are counted in the report.

    Raises:
        ValueError: naming the file, the row (1-based) and the field: not an event file, exchange times
            going backwards, a price that is not finite and > 0 or a size that is not finite and >= 0 on a
            depth or trade row, no valid quote at all.
    """
    p = Path(path)
    data = _read_events(p)
    ev = data["ev"].astype(np.uint64)
    flagged = (ev & np.uint64(EXCH_EVENT)) != 0
    rows = np.flatnonzero(flagged) if flagged.any() else np.arange(ev.size)
    report: dict[str, Any] = {"events_read": int(ev.size), "exchange_events": int(rows.size)}
    if rows.size == 0:
        raise ValueError(f"{p}: holds no event; give a file with the events of a period with data")
    ev = ev[rows]
    ts = data["exch_ts"][rows].astype(np.int64)
    _check_unit(p, ts)
    px = data["px"][rows].astype(np.float64)
    qty = data["qty"][rows].astype(np.float64)
    kind = (ev & np.uint64(0xFF)).astype(np.int64)
    d = np.diff(ts)
    if (d < 0).any():
        j = int(np.flatnonzero(d < 0)[0]) + 1
        _fail(
            p,
            int(rows[j]) + 1,
            "exch_ts",
            f"exchange time going backwards: {ts[j]} after {ts[j - 1]}",
            "give the events in the order of exch_ts, as hftbacktest's converters write them",
        )
    buy = (ev & np.uint64(BUY_EVENT)) != 0
    sell = (ev & np.uint64(SELL_EVENT)) != 0
    side = np.where(buy, 1, np.where(sell, -1, 0)).astype(np.int64)
    priced = np.isin(kind, (DEPTH_EVENT, TRADE_EVENT, DEPTH_SNAPSHOT_EVENT, DEPTH_BBO_EVENT))
    known = priced | (kind == DEPTH_CLEAR_EVENT)
    for field, v, ok in (("px", px, np.isfinite(px) & (px > 0)), ("qty", qty, np.isfinite(qty) & (qty >= 0))):
        bad = priced & ~ok
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            cond = "> 0" if field == "px" else ">= 0"
            _fail(p, int(rows[j]) + 1, field, f"must be finite and {cond}, got {float(v[j])!r}")
    no_side = priced & (side == 0)
    report["excluded_events_other_kind"] = int((~known).sum())
    report["excluded_depth_events_no_side"] = int((no_side & (kind != TRADE_EVENT)).sum())
    report["excluded_trades_no_side"] = int((no_side & (kind == TRADE_EVENT)).sum())
    use = known & ~no_side
    kind = np.where(use, kind, 0)
    depth = use & (kind != TRADE_EVENT) & (kind != DEPTH_CLEAR_EVENT)
    if not depth.any():
        raise ValueError(
            f"{p}: holds no depth event with a side: no book to read; give a file with the book's depth or "
            "BBO events"
        )
    tick_given, lot_given = tick, lot
    if tick is None:
        tick = infer_tick(px[depth])
    if lot is None:
        lot = infer_lot(qty[use & (kind != DEPTH_CLEAR_EVENT)])
    finite = np.isfinite(px)
    # prices within float noise of the tick grid put exactly on it; a price off the grid keeps a level of its
    # own, so the validator sees it in the top of book (quotes_off_grid), never moved silently onto the grid
    lv, _ = snap(np.where(finite, px, 0.0), tick)
    levels = np.unique(lv[depth])
    idx = np.searchsorted(levels, lv)  # exact for depth rows
    clear = use & (kind == DEPTH_CLEAR_EVENT)
    # a clear event: bids from the first level >= its price, asks up to the last level <= it (all: no price)
    first_bid = np.where(finite, np.searchsorted(levels, lv, side="left"), 0)
    last_ask = np.where(finite, np.searchsorted(levels, lv, side="right") - 1, levels.size - 1)
    idx = np.where(clear & (side > 0), first_bid, np.where(clear & (side < 0), last_ask, idx))
    msg = data["ival"][rows].astype(np.int64) if "ival" in data.dtype.names else np.zeros(rows.size, np.int64)
    o_row, o_kind, o_b, o_bq, o_a, o_aq = _top_of_book(kind, side, idx, qty, ts, msg, float(lot), levels.size)
    q = o_kind == 0
    report["excluded_quotes_empty_side"] = int((o_kind == 2).sum())
    report["excluded_quotes_crossed"] = int((o_kind == 3).sum())
    report["excluded_quotes_locked"] = int((o_kind == 4).sum())
    if not q.any():
        raise ValueError(
            f"{p}: no valid top of book in {rows.size:,} events: the book is never two-sided; check that the "
            "file holds both sides of the book"
        )
    t = o_kind == 1
    is_q = q[q | t]
    pos = np.concatenate([np.flatnonzero(is_q), np.flatnonzero(~is_q)])
    order = np.argsort(pos, kind="stable")
    tr = o_row[t]
    tape = assemble_tape(
        ts[o_row[q]],
        levels[o_b[q]],
        o_bq[q],
        levels[o_a[q]],
        o_aq[q],
        ts[tr],
        px[tr],
        qty[tr],
        side[tr].astype(np.int8),
        tick=tick_given,
        lot=lot_given,
        origin="as in the file (exch_ts, nanoseconds)",
        source=f"hftbacktest {p.name}",
        report=report,
        max_gap_s=max_gap_s,
        order=order,
        qline=rows[o_row[q]] + 1,
        tline=rows[tr] + 1,
        quote_file=p,
        trade_file=p,
        row_word="row",
    )
    return tape if tape.lot is not None else replace(tape, lot=float(lot), validate=False)
