"""The tape: one internal representation of a real market's top of book and trades.

A :class:`Tape` is a struct of arrays, one row per market event, in exchange-time order:

* ``time`` int64, nanoseconds since ``origin`` (LOBSTER: since midnight; Binance: since the Unix epoch).
* ``kind`` int8: :data:`QUOTE` (a change of the top of book) or :data:`TRADE` (one market order).
* ``bid_px``, ``bid_qty``, ``ask_px``, ``ask_qty`` float64: the top of book in force *at* the event. On a
  quote row it is the new book; on a trade row it is the book the trade met (the last quote before it),
  carried forward, so that every row is self-contained (a chunk needs no history to be read).
* ``trade_px``, ``trade_qty`` float64 (NaN on quote rows) and ``side`` int8 (+1 buyer-initiated: lifts
  asks; -1 seller-initiated: hits bids; 0 on quote rows). Each print is one row (a market order that walks the book prints several rows with one timestamp;
  calibration merges them into one order, see :func:`mmenv.calibration.trades.aggregate_market_orders`).

Every loader of :mod:`mmenv.data.loaders` (one per format, :data:`mmenv.data.loaders.FORMATS`) builds a
tape; calibration reads it through :meth:`mmenv.calibration.trades.TradesAndQuotes.from_tape`
(:func:`mmenv.calibration.trades.load_trades_and_quotes` loads and views in one call), the replay engine
through :func:`iter_chunks` (views of fixed size: the memory of a replay does not grow with the tape when
the tape itself is a generator of chunks, see :func:`tile`). What a loader excluded and why is in ``Tape.report`` (counts), printed by the CLI and
written to ``metrics.json``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["QUOTE", "TRADE", "Tape", "iter_chunks", "market_clock", "tile"]

QUOTE, TRADE = 0, 1
_FLOAT_COLUMNS = ("bid_px", "bid_qty", "ask_px", "ask_qty", "trade_px", "trade_qty")
COLUMNS = ("time", "kind", *_FLOAT_COLUMNS, "side")


@dataclass(frozen=True, eq=False)
class Tape:
    """Top-of-book quotes and trades of one instrument, struct of (N,) arrays (see the module docstring).

    Attributes:
        time, kind, bid_px, bid_qty, ask_px, ask_qty, trade_px, trade_qty, side: the columns.
        tick: price tick of the instrument (price units), > 0.
        lot: size step of the instrument (size units), > 0, or None when unknown: the loaders infer it from
            the sizes (:func:`mmenv.data.grid.infer_lot`) or take the one given.
        origin: what ``time = 0`` is, e.g. "unix epoch" or "2012-06-21 00:00 (exchange local)".
        source: description of the files, for headers and the report.
        report: counts of rows read, excluded (and why), gaps; ``excluded_*`` keys are exclusions.
        validation: what the tape validator found and did (:class:`mmenv.data.tape_validation.TapeValidation`),
            None for a tape that was not validated (synthetic tapes, tapes built in code).
        validate: check the invariants at construction (vectorised; off for internal views).

    Raises:
        ValueError: naming the column and event index when the invariants fail: time decreasing, kind not
            0/1, a quote row with a crossed, locked or empty side, a trade row with a side other than +-1,
            a non-finite price or a size <= 0.
    """

    time: np.ndarray
    kind: np.ndarray
    bid_px: np.ndarray
    bid_qty: np.ndarray
    ask_px: np.ndarray
    ask_qty: np.ndarray
    trade_px: np.ndarray
    trade_qty: np.ndarray
    side: np.ndarray
    tick: float
    lot: float | None = None
    origin: str = "unix epoch"
    source: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    validate: bool = True
    lot: float | None = None
    validation: Any = None

    def __post_init__(self) -> None:
        conv = {
            "time": np.int64,
            "kind": np.int8,
            "side": np.int8,
            **dict.fromkeys(_FLOAT_COLUMNS, np.float64),
        }
        n = None
        for name, dt in conv.items():
            arr = np.ascontiguousarray(getattr(self, name), dtype=dt)
            if arr.ndim != 1:
                raise ValueError(f"Tape.{name} must be one-dimensional, got shape {arr.shape}")
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ValueError(f"Tape.{name} has length {arr.shape[0]}, not {n} (the length of time)")
            object.__setattr__(self, name, arr)
        if not (
            isinstance(self.tick, (int, float, np.floating)) and math.isfinite(self.tick) and self.tick > 0
        ):
            raise ValueError(f"tick must be a finite number > 0, got {self.tick!r}")
        object.__setattr__(self, "tick", float(self.tick))
        if self.lot is not None:
            if isinstance(self.lot, bool) or not (
                isinstance(self.lot, (int, float, np.floating)) and math.isfinite(self.lot) and self.lot > 0
            ):
                raise ValueError(f"lot must be a finite number > 0 or None, got {self.lot!r}")
            object.__setattr__(self, "lot", float(self.lot))
        if self.validate:
            self._check()

    def _check(self) -> None:
        def fail(col: str, mask: np.ndarray, what: str) -> None:
            i = int(np.flatnonzero(mask)[0])
            raise ValueError(f"Tape.{col} {what} at event {i}, got {getattr(self, col)[i]!r}")

        if self.time.size > 1 and (np.diff(self.time) < 0).any():
            fail("time", np.concatenate([[False], np.diff(self.time) < 0]), "decreases (events out of order)")
        bad = (self.kind != QUOTE) & (self.kind != TRADE)
        if bad.any():
            fail("kind", bad, "must be 0 (quote) or 1 (trade)")
        for col in ("bid_px", "ask_px", "bid_qty", "ask_qty"):
            v = getattr(self, col)
            bad = ~(np.isfinite(v) & (v > 0))
            if bad.any():
                fail(col, bad, "must be finite and > 0 (every row carries the book in force)")
        bad = self.bid_px >= self.ask_px
        if bad.any():
            fail("bid_px", bad, f"must be < ask_px (crossed or locked book; ask {self.ask_px[bad][0]!r})")
        tr = self.kind == TRADE
        bad = tr & (self.side != 1) & (self.side != -1)
        if bad.any():
            fail("side", bad, "must be +1 or -1 on a trade row")
        for col in ("trade_px", "trade_qty"):
            v = getattr(self, col)
            bad = tr & ~(np.isfinite(v) & (v > 0))
            if bad.any():
                fail(col, bad, "must be finite and > 0 on a trade row")

    # ------------------------------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.time.shape[0])

    @property
    def n_trades(self) -> int:
        """Number of trade rows (market orders)."""
        return int(np.count_nonzero(self.kind == TRADE))

    @property
    def duration_s(self) -> float:
        """Last minus first event time (seconds)."""
        return float(self.time[-1] - self.time[0]) * 1e-9 if len(self) else 0.0

    @property
    def mid(self) -> np.ndarray:
        """Mid-price in force at each event (price units)."""
        return 0.5 * (self.bid_px + self.ask_px)

    def slice(self, start: int, stop: int) -> Tape:
        """Events ``start:stop`` as views (no copy, no re-validation)."""
        s = slice(start, stop)
        cols = {c: getattr(self, c)[s] for c in COLUMNS}
        return Tape(**cols, **self.attributes(), validate=False)

    def attributes(self) -> dict[str, Any]:
        """Everything but the columns (tick, lot, origin, source, report, validation): what a view keeps."""
        return {
            "tick": self.tick,
            "lot": self.lot,
            "origin": self.origin,
            "source": self.source,
            "report": self.report,
            "validation": self.validation,
        }

    def split(self, fraction: float = 0.5) -> tuple[Tape, Tape]:
        """(in-sample, out-of-sample): the events before and from ``t_0 + fraction * duration``.

        Raises:
            ValueError: ``fraction`` outside (0, 1), or a part without a trade.
        """
        if not (0.0 < fraction < 1.0):
            raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
        cut = self.time[0] + round(fraction * float(self.time[-1] - self.time[0]))
        i = int(np.searchsorted(self.time, cut, side="left"))
        a, b = self.slice(0, i), self.slice(i, len(self))
        for name, part in (("in-sample", a), ("out-of-sample", b)):
            if part.n_trades == 0:
                raise ValueError(f"the {name} part of the tape (fraction={fraction!r}) holds no trade")
        return a, b

    def windows(self, n: int) -> list[Tape]:
        """``n`` consecutive windows of equal duration (views)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        edges = self.time[0] + np.round(np.linspace(0, float(self.time[-1] - self.time[0]), n + 1)).astype(
            np.int64
        )
        idx = np.searchsorted(self.time, edges, side="left")
        idx[-1] = len(self)
        return [self.slice(int(idx[j]), int(idx[j + 1])) for j in range(n)]

    # ---------------------------------------------------------------------------------- synthetic ticks
    @classmethod
    def from_ticks(cls, ticks: Any, tick: float, displayed: float = 1.0, lot: float = 1e-6) -> Tape:
        """The tape of a synthetic tick stream (:class:`mmenv.data.ticks.Ticks`), for the event-clock env on it.

        Each synthetic trade becomes a quote event then the trade, both at its trading-clock time: the book is
        the quoted half-spread around the mid rounded away from it to the ``tick`` grid (at least one tick
        wide), with ``displayed`` units on each side (the synthetic stream has no book sizes: a stated
        convention; use ``trade_through`` fills, which ignore them). Trade prices are the stream's; trade sizes
        (continuous in the synthetic stream) are rounded to the nearest multiple of ``lot`` units (at least one
        lot), so that the replay counts them on a size grid like a real tape's.
        """
        if not (math.isfinite(tick) and tick > 0):
            raise ValueError(f"tick must be > 0, got {tick!r}")
        mid, hs = np.asarray(ticks.mid, np.float64), np.asarray(ticks.half_spread, np.float64)
        bid = np.floor((mid - hs) / tick + 1e-9) * tick
        ask = np.maximum(np.ceil((mid + hs) / tick - 1e-9) * tick, bid + tick)
        n = mid.size
        t = np.round(np.asarray(ticks.clock, np.float64) * 1e9).astype(np.int64)
        nan = np.full(n, np.nan)
        inter = lambda q, tr: np.stack([q, tr], axis=1).reshape(-1)  # noqa: E731 (quote row, then trade row)
        if not (math.isfinite(lot) and lot > 0):
            raise ValueError(f"lot must be > 0, got {lot!r}")
        qty = np.full(n, float(displayed))
        size = np.maximum(np.rint(np.asarray(ticks.size, np.float64) / lot), 1.0) * lot
        return cls(
            time=inter(t, t),
            kind=inter(np.zeros(n, np.int8), np.ones(n, np.int8)),
            bid_px=inter(bid, bid),
            bid_qty=inter(qty, qty),
            ask_px=inter(ask, ask),
            ask_qty=inter(qty, qty),
            trade_px=inter(nan, np.asarray(ticks.price, np.float64)),
            trade_qty=inter(nan, size),
            side=inter(np.zeros(n, np.int8), np.asarray(ticks.side, np.int8)),
            tick=tick,
            lot=lot,
            origin="trading clock",
            source="synthetic ticks",
        )

    # ----------------------------------------------------------------------------------------- export
    def to_frame(self):
        """The tape in the generic schema of :func:`mmenv.data.loaders.load_tape` (a pandas DataFrame)."""
        tr = self.kind == TRADE
        nan = np.nan
        return pd.DataFrame(
            {
                "time_ns": self.time,
                "bid_px": np.where(tr, nan, self.bid_px),
                "bid_qty": np.where(tr, nan, self.bid_qty),
                "ask_px": np.where(tr, nan, self.ask_px),
                "ask_qty": np.where(tr, nan, self.ask_qty),
                "trade_px": np.where(tr, self.trade_px, nan),
                "trade_qty": np.where(tr, self.trade_qty, nan),
                "trade_side": np.where(tr, self.side, 0).astype(np.int8),
            }
        )


def market_clock(time: np.ndarray, max_gap_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(market time in ns, segment of each event): the clock with every interval without events longer than
    ``max_gap_s`` seconds removed, and the label of the continuous piece each event belongs to (0, 1, ...).

    The first event keeps its time; within a piece times are the clock's, so without gaps the market time is
    ``time`` itself. A rate estimated per second of market time (A, orders per second) is not diluted by a
    halt, a lost connection or a clock jump; a move of the mid across a gap is left out of sigma by the
    segments. ``max_gap_s`` None: no gap removed.
    """
    t = np.asarray(time, dtype=np.int64)
    if t.size < 2 or max_gap_s is None:
        return t, np.zeros(t.size, np.int64)
    d = np.diff(t)
    gap = d > round(max_gap_s * 1e9)
    if not gap.any():
        return t, np.zeros(t.size, np.int64)
    d[gap] = 0
    return t[0] + np.concatenate([[0], np.cumsum(d)]), np.concatenate([[0], np.cumsum(gap)])


def iter_chunks(tape: Tape | Iterable[Tape], chunk_size: int = 1 << 18) -> Iterator[Tape]:
    """Yield views of ``chunk_size`` events of one tape, or the chunks of an iterable of tapes."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    if isinstance(tape, Tape):
        for s in range(0, len(tape), chunk_size):
            yield tape.slice(s, min(len(tape), s + chunk_size))
        return
    for chunk in tape:
        if not isinstance(chunk, Tape):
            raise TypeError(f"tape chunks must be Tape, got {type(chunk).__name__}")
        yield chunk


def tile(tape: Tape, n_events: int, chunk_size: int = 1 << 18) -> Iterator[Tape]:
    """The tape repeated end to end until ``n_events`` events, as chunks (memory: one chunk at a time).

    Each repetition is shifted in time by the tape's span plus 1 ms, so time keeps increasing; prices are
    not shifted (the book jumps back to the first quote at each seam, like a gap).
    """
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ValueError(f"n_events must be an integer >= 1, got {n_events!r}")
    span = int(tape.time[-1] - tape.time[0]) + 1_000_000
    done, rep = 0, 0
    buf = None
    while done < n_events:
        for s in range(0, len(tape), chunk_size):
            m = min(len(tape) - s, chunk_size, n_events - done)
            if m <= 0:
                break
            part = tape.slice(s, s + m)
            if buf is None or buf.shape[0] != m:
                buf = np.empty(m, dtype=np.int64)
            np.add(part.time, rep * span, out=buf)
            cols = {c: getattr(part, c) for c in COLUMNS if c != "time"}
            yield Tape(time=buf, **cols, **tape.attributes(), validate=False)
            done += m
        rep += 1
