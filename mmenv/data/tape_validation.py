"""The tape validator: every rule a tape of trades and quotes passes, what it found and what it did.

:func:`build_tape` turns the quotes and trades a loader read (:class:`Events`) into a
:class:`mmenv.data.tape.Tape`, the same way for every format (the loaders' :func:`mmenv.data.loaders.common.
assemble_tape` calls it, and :func:`mmenv.data.loaders.load` runs :func:`validate_tape` on a tape that a
format built without it). Like :func:`mmenv.data.validate_bars`, it names every rule, counts every row it
drops or repairs under its rule (:class:`TapeValidation`, ``tape.validation``), and refuses a file when more
than a stated share is invalid. The rules, in order, with their thresholds (:data:`RULES` and the report
:class:`TapeValidation` live in :mod:`mmenv.data.tape_validation_report`; the docs page
*Real data* lists the same):

1. **time unit**: more than :data:`MAX_EVENT_RATE` events per second on average (over more than 1,000
   events) is refused: the times are not in the unit the format says (each loader also checks its own unit).
2. **time overlap**: trades and quotes whose times do not overlap (another day) are refused, both ranges
   in the message.
3. **tick grid** (:mod:`mmenv.data.grid`): the tick is the grid at least 99.9% of the quote prices lie on
   (a given ``tick`` is checked against them: refused when it makes more than ``max(10^6, the data's)``
   levels over the price range or leaves more than 0.1% of the prices off its grid). Quotes off the grid are
   dropped (``quotes_off_grid``); prices within float noise of it are snapped onto it (``prices_snapped``);
   trade prices off it are kept and counted (``trades_off_grid``: a midpoint execution is legal).
4. **lot grid**: the lot is the grid of the sizes (trades and the book), inferred or checked the same way;
   sizes within float noise are snapped, others kept and counted (``sizes_off_lot``).
5. **absurd quotes**: with ``S = max(50 ticks, 20 sigma_1s, 10 x the median spread)``, where ``sigma_1s`` is
   the robust standard deviation of the mid's non-zero 1-second moves (and ``S`` at most 20% of the median
   trade price, should most quotes be absurd), a quote whose spread exceeds ``S``
   (``quotes_absurd_spread``: an ask a million times the mid) or whose mid lies more than ``S`` from the
   median mid of the quotes within 30 s (``quotes_absurd_level``: a decimal shift) is dropped; the book
   before it stays in force.
6. **price overlap**: trades whose central prices (1% to 99%) do not meet the quotes' range, or whose median
   differs from the median mid by more than a factor 1.25 (another instrument, prices in another unit), are
   refused, both ranges in the message.
7. **trades without a book**: trades before the first valid quote (``trades_before_first_quote``) or more
   than ``max_gap_s`` after the last (``trades_after_last_quote``), and trades of size <= 0
   (``trades_zero_size``), are dropped.
8. **bad prints**: a trade more than ``P = max(20 ticks, 10 sigma_1s)`` outside the envelope of the book
   in force and of every quote within 1 s of it (the prices it could have met) is dropped
   (``trades_bad_print``); a print at or through the touch, or where the book went next, is a sweep and kept.
9. **side against the book**: more than 10% of the trades on the wrong side of the book they met (a buy
   at or below the bid, a sell at or above the ask) is refused: trades and quotes of different instruments,
   or the aggressor side inverted. Below that, prints strictly beyond the opposite side are kept and counted
   (``trades_outside_book``).
10. **share invalid**: more than half of the quotes, or of the trades, dropped is refused.
11. **reported, kept**: gaps without any event longer than ``max_gap_s`` (``gaps``; excluded from the
    exposure time of every rate estimate, see :meth:`mmenv.calibration.trades.TradesAndQuotes.from_tape`),
    stretches of at least 10 s with a one-sided book (``one_sided_stretches``) or a frozen book while at least
    5 trades printed (``frozen_stretches``).

A tape with fewer than 20 non-zero 1-second moves of the mid has no measured ``sigma_1s``: rules 5 and 8 use
their floors (ticks, spreads) only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.data import tape_rules
from mmenv.data.grid import Grid, check_grid, infer_grid, snap
from mmenv.data.tape import QUOTE, TRADE, Tape
from mmenv.data.tape_validation_report import (
    ABSURD_MAX_SHARE,
    ABSURD_SIGMAS,
    ABSURD_SPREADS,
    ABSURD_TICKS,
    BAD_PRINT_SIGMAS,
    BAD_PRINT_TICKS,
    ENVELOPE_HALF_NS,
    FROZEN_MIN_TRADES,
    LEVEL_HALF_NS,
    MAX_DROP_SHARE,
    MAX_EVENT_RATE,
    MAX_GAP_S,
    MAX_LEVEL_RATIO,
    MAX_WRONG_SIDE,
    MIN_RATE_EVENTS,
    RULES,
    SCALE_HORIZON_NS,
    STRETCH_NS,
    TapeValidation,
    TapeValidationError,
    rule_words,
)

__all__ = [
    "MAX_GAP_S",
    "RULES",
    "Events",
    "TapeValidation",
    "TapeValidationError",
    "build_tape",
    "validate_tape",
]


@dataclass
class Events:
    """The quotes and trades a loader read, before the validator (arrays of one length per side).

    Attributes:
        qt, bid, bq, ask, aq: valid two-sided quotes: time (ns), bid price and size, ask price and size.
        tt, tpx, tqty, tside: trades: time (ns), price, size, aggressor side (+1 buy, -1 sell).
        qrank, trank: the position of each quote and trade in the merged event order (int64, increasing on
            each side, all distinct).
        qline, tline: the 1-based line of each in its file (None: unknown).
        empty_t: times of the quote rows excluded as one-sided or empty (for the stretches).
        quote_file, trade_file: the files (for messages).
        row_word: what ``qline`` and ``tline`` count: ``"line"`` (a text file) or ``"record"``, ``"row"`` (the
            records of a binary file).
    """

    qt: np.ndarray
    bid: np.ndarray
    bq: np.ndarray
    ask: np.ndarray
    aq: np.ndarray
    tt: np.ndarray
    tpx: np.ndarray
    tqty: np.ndarray
    tside: np.ndarray
    qrank: np.ndarray
    trank: np.ndarray
    qline: np.ndarray | None = None
    tline: np.ndarray | None = None
    empty_t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quote_file: str = "the quotes"
    trade_file: str = "the trades"
    row_word: str = "line"

    def keep_quotes(self, mask: np.ndarray) -> None:
        """Keep the quotes of ``mask``."""
        for name in ("qt", "bid", "bq", "ask", "aq", "qrank", "qline"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, v[mask])

    def keep_trades(self, mask: np.ndarray) -> None:
        """Keep the trades of ``mask``."""
        for name in ("tt", "tpx", "tqty", "tside", "trank", "tline"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, v[mask])


def _where(lines: np.ndarray | None, mask: np.ndarray, file: str, word: str = "line") -> str | None:
    if not mask.any():
        return None
    i = int(np.flatnonzero(mask)[0])
    name = Path(file).name
    return f"{name} {word} {int(lines[i]):,}" if lines is not None else f"{name} row {i + 1:,}"


def _fmt_time(ns: float, origin: str) -> str:
    if origin == "unix epoch" and 1e17 < ns < 4.2e18:
        return str(np.datetime64(int(ns), "ns").astype("datetime64[ms]")).replace("T", " ") + " UTC"
    return f"{ns * 1e-9:,.3f} s"


def build_tape(
    ev: Events,
    *,
    tick: float | None,
    lot: float | None = None,
    max_gap_s: float = MAX_GAP_S,
    origin: str = "unix epoch",
    source: str = "",
    report: dict[str, Any] | None = None,
) -> Tape:
    """Validate the events (the rules of the module docstring, in order) and merge them into a tape.

    Args:
        ev: the quotes and trades read (changed in place: the rows the rules drop are removed).
        tick, lot: the price tick and size step given by the user (None: inferred).
        max_gap_s: the gap threshold (s). origin, source: the tape's. report: the loader's counts
            (``excluded_*`` keys count rows it excluded), completed here.

    Raises:
        TapeValidationError: a refusal (rules 1, 2, 3, 6, 9, 10), naming the file and saying what to do.
    """
    if not (math.isfinite(max_gap_s) and max_gap_s > 0):
        raise ValueError(f"max_gap_s must be a finite number > 0, got {max_gap_s!r}")
    report = {} if report is None else report
    tick_given = tick is not None
    loader_q = {k: int(v) for k, v in report.items() if k.startswith("excluded_quotes_")}
    loader_rows = {k: int(v) for k, v in report.items() if k.startswith("excluded_rows_")}
    quotes_in = ev.qt.size + sum(loader_q.values())
    trades_in = ev.tt.size
    dropped: dict[str, int] = {k.removeprefix("excluded_"): v for k, v in {**loader_rows, **loader_q}.items()}
    kept: dict[str, float] = {}
    first: dict[str, str] = {}
    max_gap_ns = round(max_gap_s * 1e9)
    _check_rate(ev)
    _check_time_overlap(ev, max_gap_ns, origin)

    # 3. the tick grid of the quote prices; 4. the lot grid of the sizes
    prices = np.concatenate([ev.bid, ev.ask])
    grid = _grid(prices, tick, "price", "tick", ev.quote_file)
    tick = grid.step if tick is None else float(tick)
    bid, off_b = snap(ev.bid, tick)
    ask, off_a = snap(ev.ask, tick)
    repaired = {"prices_snapped": int((bid != ev.bid).sum() + (ask != ev.ask).sum())}
    ev.bid, ev.ask = bid, ask
    off = off_b | off_a
    dropped["quotes_off_grid"] = int(off.sum())
    if off.any():
        first["quotes_off_grid"] = _where(ev.qline, off, ev.quote_file, ev.row_word)
        ev.keep_quotes(~off)
    tpx, toff = snap(ev.tpx, tick)
    repaired["prices_snapped"] += int((tpx != ev.tpx).sum())
    ev.tpx = tpx
    kept["trades_off_grid"] = int(toff.sum())
    if toff.any():
        first["trades_off_grid"] = _where(ev.tline, toff, ev.trade_file, ev.row_word)
    lot_used, lot_off = _lot(ev, lot, repaired)
    kept["sizes_off_lot"] = lot_off

    # 5. absurd quotes, against the robust scale of the mid's moves
    mid = 0.5 * (ev.bid + ev.ask)
    sigma = tape_rules.mid_scale(ev.qt, mid, SCALE_HORIZON_NS)
    spread = ev.ask - ev.bid
    s_thr = max(
        ABSURD_TICKS * tick, ABSURD_SIGMAS * (sigma or 0.0), ABSURD_SPREADS * float(np.median(spread))
    )
    s_thr = min(
        s_thr, ABSURD_MAX_SHARE * _price_level(ev)
    )  # the scales above break down if most quotes are absurd
    wide = spread > s_thr
    ok = ~wide
    ref = tape_rules.window_median(ev.qt[ok], mid[ok], ev.qt, LEVEL_HALF_NS) if ok.any() else mid
    level = ok & (np.abs(mid - ref) > s_thr)
    for rule, mask in (("quotes_absurd_spread", wide), ("quotes_absurd_level", level)):
        dropped[rule] = int(mask.sum())
        if mask.any():
            first[rule] = _where(ev.qline, mask, ev.quote_file, ev.row_word)
    if (wide | level).any():
        ev.keep_quotes(~(wide | level))
    if ev.qt.size == 0:
        raise TapeValidationError(
            f"{ev.quote_file}: no valid quote is left ({_counts(dropped)}); check that the file holds the "
            "instrument's best bid and ask"
        )
    _check_price_overlap(ev)

    # 7. trades without a book, of size <= 0
    qi = np.searchsorted(ev.qrank, ev.trank, side="left") - 1  # the last quote before each trade
    before = qi < 0
    after = ~before & (ev.tt > ev.qt[-1] + max_gap_ns)
    with np.errstate(invalid="ignore"):
        zero = ~before & ~after & ~(ev.tqty > 0)
    for rule, mask in (
        ("trades_before_first_quote", before),
        ("trades_after_last_quote", after),
        ("trades_zero_size", zero),
    ):
        dropped[rule] = int(mask.sum())
        if mask.any():
            first[rule] = _where(ev.tline, mask, ev.trade_file, ev.row_word)
    ev.keep_trades(~(before | after | zero))
    qi = qi[~(before | after | zero)]

    # 8. bad prints, against the book's envelope within 1 s
    b_in, a_in = ev.bid[qi], ev.ask[qi]
    p_thr = max(BAD_PRINT_TICKS * tick, BAD_PRINT_SIGMAS * (sigma or 0.0))
    if ev.tt.size:
        lo, hi = tape_rules.book_envelope(ev.qt, ev.bid, ev.ask, ev.tt, b_in, a_in, ENVELOPE_HALF_NS)
        bad = np.maximum(lo - ev.tpx, ev.tpx - hi) > p_thr
    else:
        bad = np.zeros(0, dtype=bool)
    dropped["trades_bad_print"] = int(bad.sum())
    if bad.any():
        first["trades_bad_print"] = _where(ev.tline, bad, ev.trade_file, ev.row_word)
        ev.keep_trades(~bad)
        qi, b_in, a_in = qi[~bad], b_in[~bad], a_in[~bad]

    # 9. side against the book
    buy = ev.tside > 0
    wrong = (buy & (ev.tpx <= b_in)) | (~buy & (ev.tpx >= a_in))
    outside = (buy & (ev.tpx < b_in)) | (~buy & (ev.tpx > a_in))
    kept["trades_outside_book"] = int(outside.sum())
    if outside.any():
        first["trades_outside_book"] = _where(ev.tline, outside, ev.trade_file, ev.row_word)
    if ev.tt.size >= 20 and wrong.mean() > MAX_WRONG_SIDE:
        raise TapeValidationError(
            f"{ev.trade_file}: {wrong.mean():.0%} of the trades are on the wrong side of the book they met (a buy "
            f"at or below the bid, a sell at or above the ask; at most {MAX_WRONG_SIDE:.0%} in real data): the "
            f"trades and the quotes of {Path(ev.quote_file).name} are not of one instrument, or the aggressor "
            "side is inverted; give the trades and quotes of one instrument and day"
        )

    # 10. share invalid
    q_drop = quotes_in - ev.qt.size
    t_drop = trades_in - ev.tt.size
    for what, n_drop, n_in, file in (
        ("quotes", q_drop, quotes_in, ev.quote_file),
        ("trades", t_drop, trades_in, ev.trade_file),
    ):
        if n_in and n_drop > MAX_DROP_SHARE * n_in:
            rules = {k: v for k, v in dropped.items() if v and (k.startswith(what) or k.startswith("rows"))}
            raise TapeValidationError(
                f"{file}: {n_drop:,} of {n_in:,} {what} are invalid ({_counts(rules)}), more than "
                f"{MAX_DROP_SHARE:.0%}; check the file (its format, unit and instrument)"
            )

    cols = _merge(ev)
    # 11. reported and kept
    n_gaps, _, total, longest = tape_rules.gaps(cols["time"], max_gap_ns)
    kept.update(gaps=n_gaps, longest_gap_s=longest, gap_time_s=total)
    end = int(cols["time"][-1]) if cols["time"].size else 0
    n1, l1 = tape_rules.one_sided_stretches(ev.empty_t, ev.qt, end, STRETCH_NS)
    changes = np.sort(np.concatenate([ev.qt, ev.empty_t]))  # a book turning one-sided is a change
    n2, l2 = tape_rules.quiet_stretches(changes, ev.tt, STRETCH_NS, FROZEN_MIN_TRADES)
    kept.update(
        one_sided_stretches=n1, longest_one_sided_stretch=l1, frozen_stretches=n2, longest_frozen_stretch=l2
    )
    for k in ("gaps", "longest_gap_s", "trades_outside_book", "trades_off_grid"):
        report[k] = kept[k]
    for rule in ("quotes_off_grid", "quotes_absurd_spread", "quotes_absurd_level"):
        report[f"excluded_{rule}"] = dropped[rule]
    for rule in (
        "trades_before_first_quote",
        "trades_after_last_quote",
        "trades_zero_size",
        "trades_bad_print",
    ):
        report[f"excluded_{rule}"] = dropped[rule]
    report["max_gap_s"] = float(max_gap_s)
    report["events"], report["quotes"], report["trades"] = (
        int(cols["time"].size),
        int(ev.qt.size),
        int(ev.tt.size),
    )
    validation = TapeValidation(
        source=source,
        quotes_in=int(quotes_in),
        quotes_out=int(ev.qt.size),
        trades_in=int(trades_in),
        trades_out=int(ev.tt.size),
        dropped=dropped,
        repaired=repaired,
        kept=kept,
        first={k: v for k, v in first.items() if v},
        tick=float(tick),
        tick_given=tick_given,
        lot=lot_used,
        lot_given=lot is not None,
        thresholds={
            "sigma_1s": sigma,
            "absurd": s_thr,
            "bad_print": p_thr,
            "max_gap_s": float(max_gap_s),
            "max_drop_share": MAX_DROP_SHARE,
            "max_wrong_side": MAX_WRONG_SIDE,
        },
    )
    return Tape(
        **cols, tick=tick, lot=lot_used, origin=origin, source=source, report=report, validation=validation
    )


def _counts(d: dict[str, int]) -> str:
    parts = [f"{v:,} {rule_words(k)}" for k, v in d.items() if v]
    return ", ".join(parts) or "none dropped"


def _grid(values: np.ndarray, given: float | None, what: str, flag: str, file: str) -> Grid | None:
    """The inferred grid, with a given step checked against it (None when a given step is used on values
    without a grid of their own)."""
    try:
        g = infer_grid(values, what)
    except ValueError as exc:
        if given is None:
            raise TapeValidationError(f"{file}: {exc}") from None
        return None
    if given is not None:
        try:
            check_grid(values, given, g, what, flag)
        except ValueError as exc:
            raise TapeValidationError(f"{file}: {exc}") from None
    return g


def _lot(ev: Events, lot: float | None, repaired: dict[str, int]) -> tuple[float | None, int]:
    """The lot (given and checked, or inferred; None for sizes on no decimal grid), sizes snapped onto it, and
    the count of sizes off it."""
    sizes = np.concatenate([ev.tqty, ev.bq, ev.aq])
    try:
        g = infer_grid(sizes, "size")
    except ValueError:
        g = None
    if lot is not None and g is not None:
        try:
            check_grid(sizes, lot, g, "size", "lot")
        except ValueError as exc:
            raise TapeValidationError(f"{ev.trade_file}: {exc}") from None
    step = float(lot) if lot is not None else (g.step if g is not None else None)
    if step is None:
        return None, 0
    n_off, n_snap = 0, 0
    for name in ("tqty", "bq", "aq"):
        v = getattr(ev, name)
        s, off = snap(v, step)
        n_snap += int((s != v).sum())
        n_off += int(off.sum())
        setattr(ev, name, s)
    repaired["sizes_snapped"] = n_snap
    return step, n_off


def _check_rate(ev: Events) -> None:
    t = np.concatenate([ev.qt[[0, -1]] if ev.qt.size else ev.qt, ev.tt[[0, -1]] if ev.tt.size else ev.tt])
    n = ev.qt.size + ev.tt.size
    if n <= MIN_RATE_EVENTS or t.size == 0:
        return
    span_s = max(float(t.max() - t.min()) * 1e-9, 1e-9)
    if n / span_s > MAX_EVENT_RATE:
        raise TapeValidationError(
            f"{ev.quote_file}: {n:,} events in {span_s:.3g} s ({n / span_s:.3g} per second): the times are not in "
            "the unit the format says (nanoseconds of the tape); give the times in their documented unit"
        )


def _check_time_overlap(ev: Events, max_gap_ns: int, origin: str) -> None:
    if ev.tt.size == 0 or ev.qt.size == 0:
        return
    t0, t1, q0, q1 = int(ev.tt.min()), int(ev.tt.max()), int(ev.qt[0]), int(ev.qt[-1])
    if t1 < q0 or t0 > q1 + max_gap_ns:
        raise TapeValidationError(
            f"{ev.trade_file} and {ev.quote_file} do not overlap in time: trades from {_fmt_time(t0, origin)} to "
            f"{_fmt_time(t1, origin)}, quotes from {_fmt_time(q0, origin)} to {_fmt_time(q1, origin)}; give "
            "the trades and quotes of one day"
        )


def _price_level(ev: Events) -> float:
    """The price level: the median of the positive trade prices, or of the mids without trades."""
    with np.errstate(invalid="ignore"):
        p = ev.tpx[np.isfinite(ev.tpx) & (ev.tpx > 0)]
    return float(np.median(p)) if p.size else float(np.median(0.5 * (ev.bid + ev.ask)))


def _check_price_overlap(ev: Events) -> None:
    """Refuse trades whose central prices (1% to 99%) miss the quotes' range, or whose median lies more than
    a factor :data:`MAX_LEVEL_RATIO` from the quotes' median mid (robust to a minority of bad rows)."""
    if ev.tt.size == 0:
        return
    with np.errstate(invalid="ignore"):
        p = ev.tpx[np.isfinite(ev.tpx) & (ev.tpx > 0)]
    if p.size == 0:
        return
    lo, med, hi = np.quantile(p, [0.01, 0.5, 0.99])
    qlo, qhi = float(ev.bid.min()), float(ev.ask.max())
    mid = float(np.median(0.5 * (ev.bid + ev.ask)))
    ratio = max(med / mid, mid / med)
    if hi < qlo or lo > qhi or ratio > MAX_LEVEL_RATIO:
        raise TapeValidationError(
            f"{ev.trade_file} and {ev.quote_file} do not overlap in price: trades at {lo:.6g} to {hi:.6g} (1% to "
            f"99%, median {med:.6g}), quotes at {qlo:.6g} to {qhi:.6g} (median mid {mid:.6g}); give the trades and "
            "quotes of one instrument, with prices in one unit"
        )


def _merge(ev: Events) -> dict[str, np.ndarray]:
    """The columns of the tape of the kept events in their rank order, the book in force carried onto every
    trade row."""
    nq, nt = ev.qt.size, ev.tt.size
    rank = np.concatenate([ev.qrank, ev.trank])
    order = np.argsort(rank, kind="stable")
    time = np.concatenate([ev.qt, ev.tt])[order]
    kind = np.concatenate([np.full(nq, QUOTE, np.int8), np.full(nt, TRADE, np.int8)])[order]
    is_q = kind == QUOTE
    qi = np.maximum(np.cumsum(is_q) - 1, 0)
    cols = {
        n: v[qi] for n, v in (("bid_px", ev.bid), ("bid_qty", ev.bq), ("ask_px", ev.ask), ("ask_qty", ev.aq))
    }
    tix = np.flatnonzero(~is_q)
    src = order[tix] - nq
    trade_px, trade_qty = np.full(time.size, np.nan), np.full(time.size, np.nan)
    side = np.zeros(time.size, np.int8)
    trade_px[tix], trade_qty[tix], side[tix] = ev.tpx[src], ev.tqty[src], ev.tside[src]
    return {"time": time, "kind": kind, **cols, "trade_px": trade_px, "trade_qty": trade_qty, "side": side}


def validate_tape(
    tape: Tape,
    *,
    tick: float | None = None,
    lot: float | None = None,
    max_gap_s: float = MAX_GAP_S,
    file: str | None = None,
) -> Tape:
    """The tape through :func:`build_tape` (for a tape a format built without the validator): the same rules,
    the rows in the tape's order (ties kept as they are), messages naming ``file`` (default: the source)."""
    q = tape.kind == QUOTE
    rows = np.arange(len(tape), dtype=np.int64)
    name = file or tape.source or "the tape"
    ev = Events(
        qt=tape.time[q],
        bid=tape.bid_px[q],
        bq=tape.bid_qty[q],
        ask=tape.ask_px[q],
        aq=tape.ask_qty[q],
        tt=tape.time[~q],
        tpx=tape.trade_px[~q],
        tqty=tape.trade_qty[~q],
        tside=tape.side[~q],
        qrank=rows[q],
        trank=rows[~q],
        quote_file=name,
        trade_file=name,
    )
    return build_tape(
        ev,
        tick=tick,
        lot=lot if lot is not None else None,
        max_gap_s=max_gap_s,
        origin=tape.origin,
        source=tape.source,
        report=dict(tape.report),
    )
