"""Trades and quotes for calibration: a common table and its views of real data and of synthetic markets.

Every source becomes a :class:`TradesAndQuotes`: a trades table (time in seconds, price, aggressor
side +1 buy / -1 sell, size, and the bid and ask in force just *before* the trade) and the quote
path (time, bid, ask). From it, :meth:`TradesAndQuotes.depth_sample` builds the
:class:`mmenv.calibration.DepthSample` of the intensity fit: one reach depth per market order,
``side * (price - mid_before)``, with the quoted half-spread as its threshold and the time spent at
each half-spread as exposure.

A market order that walks the book prints several trades with one timestamp; with
``aggregate=True`` they are merged into one order whose reach is its deepest print measured from
the mid before its first print, which is what the AS model calls the depth reached (Avellaneda &
Stoikov 2008, section 2.3).

The files are read by the loaders of :mod:`mmenv.data.loaders` into the one representation of real data,
the :class:`mmenv.data.tape.Tape`, viewed here as trades and quotes (:meth:`TradesAndQuotes.from_tape`;
:func:`load_trades_and_quotes` does both for any format of :data:`mmenv.data.loaders.FORMATS`).
Nothing is dropped silently: structural errors name the file, line and column; trades without a valid prior
quote, quotes that are crossed, locked or one-sided are counted in ``TradesAndQuotes.report`` and announced
with a warning.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmenv.calibration import DepthSample
from mmenv.data.loaders import load
from mmenv.data.tape import TRADE, market_clock

__all__ = [
    "TickSource",
    "TradesAndQuotes",
    "aggregate_market_orders",
    "load_trades_and_quotes",
    "simulate_trades_and_quotes",
    "trades_from_table",
    "warn_excluded",
]

TRADE_COLUMNS = ("time", "price", "side", "bid", "ask")


@dataclass(frozen=True)
class TradesAndQuotes:
    """Trades with the quote in force before each, and the quote path.

    Attributes:
        trades: DataFrame with float64 columns time (s), price, side (+1 buyer-initiated, -1
            seller-initiated), bid, ask (the quote before the trade) and size; sorted by time.
        quotes: DataFrame with time (s), bid, ask; sorted; only valid quotes (0 < bid < ask).
        tick: price tick (price units), or None for continuous prices.
        source: description of the origin, for the report.
        report: counts of what was read, excluded and why.
        validation: the tape validator's findings (``TapeValidation.as_dict()``), None when not validated.
        segments: (n_quotes,) label of the continuous piece of market time of each quote (gaps between
            pieces), None when there is no gap.
    """

    trades: pd.DataFrame
    quotes: pd.DataFrame
    tick: float | None = None
    source: str = ""
    report: dict[str, int] = field(default_factory=dict)
    validation: dict[str, Any] | None = None
    segments: np.ndarray | None = None

    def __post_init__(self) -> None:
        missing = [c for c in TRADE_COLUMNS if c not in self.trades.columns]
        if missing:
            raise ValueError(f"trades must have columns {TRADE_COLUMNS}, missing {missing}")
        missing = [c for c in ("time", "bid", "ask") if c not in self.quotes.columns]
        if missing:
            raise ValueError(f"quotes must have columns time, bid, ask, missing {missing}")
        if len(self.quotes) < 2:
            raise ValueError(
                f"quotes must hold >= 2 rows to give an observation window, got {len(self.quotes)}"
            )
        for name, df in (("trades", self.trades), ("quotes", self.quotes)):
            if not df["time"].is_monotonic_increasing:
                raise ValueError(f"{name}.time must be sorted in increasing order")
        bad = ~np.isin(self.trades["side"].to_numpy(), (-1.0, 1.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"trades.side must be +1 or -1, got {self.trades['side'].iloc[i]!r} at row {i}")
        if self.tick is not None and not (math.isfinite(self.tick) and self.tick > 0):
            raise ValueError(f"tick must be > 0 or None, got {self.tick!r}")

    @classmethod
    def from_tape(cls, tape: Any) -> TradesAndQuotes:
        """The trades and quotes of a :class:`mmenv.data.tape.Tape` (the one representation of real data).

        Trades: one row per trade event (time, price, side, size and the book the trade met); quotes: the quote
        events (time, bid, ask). Times are seconds of *market* time (:func:`mmenv.data.tape.market_clock`):
        every gap without events longer than the tape's ``max_gap_s`` (its report; 60 s by default) is
        removed, so that A is a rate per second of market time and every exposure leaves the gaps out; a
        move of the mid across a gap is left out of sigma (:meth:`mid_segments`). The loader's counts are
        the report, the validator's findings the ``validation``.
        """
        max_gap = tape.report.get("max_gap_s")
        ns, seg = market_clock(tape.time, max_gap)
        t_s = ns * 1e-9
        tr = tape.kind == TRADE
        qu = ~tr
        trades = pd.DataFrame(
            {
                "time": t_s[tr],
                "price": tape.trade_px[tr],
                "side": tape.side[tr].astype(np.float64),
                "bid": tape.bid_px[tr],
                "ask": tape.ask_px[tr],
                "size": tape.trade_qty[tr],
            }
        )
        quotes = pd.DataFrame({"time": t_s[qu], "bid": tape.bid_px[qu], "ask": tape.ask_px[qu]})
        report = {k: v for k, v in tape.report.items() if isinstance(v, (int, np.integer))}
        validation = tape.validation.as_dict() if getattr(tape, "validation", None) is not None else None
        return cls(
            trades=trades,
            quotes=quotes,
            tick=tape.tick,
            source=tape.source,
            report=report,
            validation=validation,
            segments=seg[qu] if seg.any() else None,
        )

    @property
    def window(self) -> tuple[float, float]:
        """(start, end) of the observation window: first and last quote time (s)."""
        t = self.quotes["time"].to_numpy()
        return float(t[0]), float(t[-1])

    def exposure(self) -> tuple[np.ndarray, np.ndarray]:
        """(levels, seconds): distinct quoted half-spreads and the time spent at each (s)."""
        q = self.quotes
        t = q["time"].to_numpy()
        c = 0.5 * (q["ask"].to_numpy() - q["bid"].to_numpy())
        tau = np.diff(t)
        c = c[:-1]
        unit = 0.5 * self.tick if self.tick is not None else 1e-9
        key = np.round(c / unit).astype(np.int64)
        uniq, inv = np.unique(key, return_inverse=True)
        seconds = np.bincount(inv, weights=tau)
        keep = seconds > 0
        return uniq[keep] * unit, seconds[keep]

    def mid_path(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, mid) of the quote path, for :func:`mmenv.calibration.estimate_sigma`."""
        q = self.quotes
        return q["time"].to_numpy(), 0.5 * (q["bid"].to_numpy() + q["ask"].to_numpy())

    def mid_segments(self) -> np.ndarray | None:
        """The continuous piece of market time of each quote of :meth:`mid_path` (None: one piece): sigma
        leaves out the moves of the mid across a gap."""
        return self.segments

    def depth_sample(self, *, aggregate: bool = True, sides: int = 2, censor: bool = True) -> DepthSample:
        """The sample of reach depths for :func:`mmenv.calibration.fit_intensity`.

        Args:
            aggregate: merge prints of one market order (same time and side) into one order.
            sides: 2 pools buys and sells (each side has intensity lambda); 1 if only one side is
                kept.
            censor: treat depths as interval-censored on the tick grid (needs ``tick``).

        Orders deeper than their touch are kept; orders *inside* the spread (hidden liquidity, or a
        quote that changed within the same clock tick) are excluded with a warning by
        DepthSample.build.
        """
        tr = aggregate_market_orders(self.trades) if aggregate else self.trades
        t0, t1 = self.window
        inside = (tr["time"].to_numpy() >= t0) & (tr["time"].to_numpy() <= t1)
        if not inside.all():
            warnings.warn(
                f"{int((~inside).sum())} trades lie outside the quote window and are excluded",
                stacklevel=2,
            )
            tr = tr.loc[inside]
        bid, ask = tr["bid"].to_numpy(), tr["ask"].to_numpy()
        mid = 0.5 * (bid + ask)
        depth = tr["side"].to_numpy() * (tr["price"].to_numpy() - mid)
        half = 0.5 * (ask - bid)
        levels, seconds = self.exposure()
        if censor and self.tick is not None:
            # snap to the half-tick grid the mid lives on, removing float noise
            unit = 0.5 * self.tick
            depth, half = np.round(depth / unit) * unit, np.round(half / unit) * unit
        return DepthSample.build(
            depth,
            thresholds=half,
            exposure=(levels, seconds),
            sides=sides,
            tick=self.tick if censor else None,
            times=tr["time"].to_numpy() - t0,
            side=tr["side"].to_numpy(),
        )


def warn_excluded(report: dict[str, int]) -> None:
    """Announce the rows the loaders and the validator excluded (``excluded_*`` counts) in one warning."""
    parts = [
        f"{v} {k.removeprefix('excluded_').replace('_', ' ')}"
        for k, v in report.items()
        if k.startswith("excluded") and v
    ]
    if parts:
        warnings.warn("excluded: " + ", ".join(parts), stacklevel=3)


def trades_from_table(
    trades: pd.DataFrame,
    quotes: pd.DataFrame | None = None,
    *,
    tick: float | None = None,
    source: str = "table",
) -> TradesAndQuotes:
    """Wrap a trades-and-quotes table (columns time [s], price, side, bid, ask; optional size).

    Without ``quotes``, the quote path is the (time, bid, ask) seen at the trades: the exposure is
    then only as good as that sampling.

    Raises:
        ValueError: missing columns, non-finite values, sides other than +-1, or bid >= ask.
    """
    missing = [c for c in TRADE_COLUMNS if c not in trades.columns]
    if missing:
        raise ValueError(f"trades must have columns {TRADE_COLUMNS}, missing {missing}")
    tr = trades.loc[:, [c for c in (*TRADE_COLUMNS, "size") if c in trades.columns]].astype(np.float64)
    if "size" not in tr:
        tr["size"] = 1.0
    vals = tr.to_numpy()
    if not np.isfinite(vals).all():
        r, c = np.argwhere(~np.isfinite(vals))[0]
        raise ValueError(f"trades.{tr.columns[c]} must be finite, got {vals[r, c]!r} at row {r}")
    if (tr["bid"] >= tr["ask"]).any():
        i = int(np.flatnonzero((tr["bid"] >= tr["ask"]).to_numpy())[0])
        raise ValueError(
            f"trades.bid must be < trades.ask, got bid={tr['bid'].iloc[i]!r}, "
            f"ask={tr['ask'].iloc[i]!r} at row {i}"
        )
    tr = tr.sort_values("time", kind="stable").reset_index(drop=True)
    q = tr[["time", "bid", "ask"]] if quotes is None else quotes[["time", "bid", "ask"]].astype(np.float64)
    q = q.sort_values("time", kind="stable").reset_index(drop=True)
    return TradesAndQuotes(trades=tr, quotes=q, tick=tick, source=source, report={"trades": len(tr)})


def aggregate_market_orders(trades: pd.DataFrame) -> pd.DataFrame:
    """Merge consecutive prints with the same time and side into one market order.

    The order keeps the first print's time and quote (the book before the order), its deepest price
    (max for buys, min for sells) and the total size; ``n_prints`` counts the merged prints.
    """
    t = trades["time"].to_numpy()
    s = trades["side"].to_numpy()
    new = np.ones(len(trades), dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (s[1:] != s[:-1])
    gid = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    out = trades.iloc[first].reset_index(drop=True).copy()
    signed = trades["price"].to_numpy() * s
    deepest = np.full(first.size, -np.inf)
    np.maximum.at(deepest, gid, signed)
    out["price"] = deepest * out["side"].to_numpy()
    out["size"] = np.bincount(gid, weights=trades["size"].to_numpy())
    out["n_prints"] = np.bincount(gid)
    return out


def load_trades_and_quotes(format: str, *files: str | Path, **options: Any) -> TradesAndQuotes:
    """Read real data in any format of :data:`mmenv.data.loaders.FORMATS` as trades and quotes: the
    :class:`mmenv.data.tape.Tape` of :func:`mmenv.data.loaders.load` viewed by
    :meth:`TradesAndQuotes.from_tape`, its exclusions announced with a warning (and counted in ``report``).

    E.g. ``load_trades_and_quotes("lobster", message, orderbook)`` (executions of types 4 and 5, one trade
    each; an execution of a sell limit order is a buyer-initiated trade; the quote before message i is the
    last valid book at or before row i - 1) or ``load_trades_and_quotes("binance", trades, bbo)`` (each
    trade meets the last valid quote stamped strictly *before* it on the exchange clock; trades with no
    earlier quote are excluded and counted). Errors and exclusions as in :mod:`mmenv.data.loaders`.

    Args:
        format: "lobster", "binance" or "generic". files: the format's files, in its order.
        options: the loader's keyword arguments, e.g. ``tick`` (default: inferred from the quote prices).
    """
    tq = TradesAndQuotes.from_tape(load(format, *files, **options))
    warn_excluded(tq.report)
    return tq


def simulate_trades_and_quotes(
    A: float,
    k: float,
    duration_s: float,
    rng: np.random.Generator,
    *,
    sigma: float = 0.01,
    s0: float = 100.0,
    half_spread: float = 0.0,
    quote_dt: float = 0.1,
) -> TradesAndQuotes:
    """A synthetic AS market as trades and quotes (a model, not data): the default of ``mmenv
    calibrate``.

    The mid is an arithmetic Brownian motion (sigma in price / sqrt(s)) sampled every ``quote_dt``
    seconds and quoted at mid +- half_spread. On each side market orders arrive as a Poisson
    process of rate A exp(-k half_spread) (orders / s) with reach half_spread + Exp(k) from the
    quoted mid, so that lambda(d) = A exp(-k d) holds for d >= half_spread (AS 2008 eq.
    2.10-2.12). Prices are continuous.
    """
    if not (duration_s > 0 and quote_dt > 0 and duration_s >= 2 * quote_dt):
        raise ValueError(
            f"duration_s must be >= 2 quote_dt > 0, got duration_s={duration_s!r}, quote_dt={quote_dt!r}"
        )
    n_q = int(duration_s / quote_dt) + 1
    qt = quote_dt * np.arange(n_q)
    mid = s0 + np.concatenate([[0.0], np.cumsum(sigma * math.sqrt(quote_dt) * rng.standard_normal(n_q - 1))])
    rate = A * math.exp(-k * half_spread) * qt[-1]
    counts = rng.poisson(rate, size=2)
    n = int(counts.sum())
    t = rng.uniform(0.0, qt[-1], size=n)
    side = np.repeat([1.0, -1.0], counts)
    order = np.argsort(t, kind="stable")
    t, side = t[order], side[order]
    reach = half_spread + rng.exponential(1.0 / k, size=n)
    m = mid[np.clip(np.searchsorted(qt, t, side="right") - 1, 0, n_q - 1)]
    trades = pd.DataFrame(
        {
            "time": t,
            "price": m + side * reach,
            "side": side,
            "bid": m - half_spread,
            "ask": m + half_spread,
            "size": np.ones(n),
        }
    )
    quotes = pd.DataFrame({"time": qt, "bid": mid - half_spread, "ask": mid + half_spread})
    if half_spread <= 0:
        quotes["ask"] = quotes["bid"] + 1e-12  # a locked book would be invalid; keep ask > bid
        trades["ask"] = trades["bid"] + 1e-12
    return TradesAndQuotes(
        trades=trades,
        quotes=quotes,
        tick=None,
        source=f"synthetic AS market (A={A:g}, k={k:g}, sigma={sigma:g})",
        report={"trades": n},
    )


@dataclass(frozen=True)
class TickSource:
    """Adapter of :class:`mmenv.data.ticks.Ticks` (synthetic trades from bars) for :func:`calibrate`.

    The tick model draws each trade's reach from the mid as Exponential(k) with no truncation at the
    quoted touch (see :mod:`mmenv.data.ticks`), so the sample uses threshold 0, both sides pooled, and the
    trading-clock duration (overnight gaps removed). sigma comes from the mid at the trades, in price
    units per sqrt(trading-clock second).
    """

    ticks: Any
    source: str = "synthetic ticks (mmenv.data.ticks)"
    report: dict[str, int] = field(default_factory=dict)

    def depth_sample(self, *, aggregate: bool = True, sides: int = 2, censor: bool = True) -> DepthSample:
        """Depths as drawn (aggregate and censor do not apply: one print per order, continuous)."""
        tk = self.ticks
        return DepthSample.build(
            tk.depth,
            float(tk.duration),
            sides=sides,
            times=tk.clock - tk.clock[0],
            side=tk.side.astype(np.float64),
        )

    def mid_path(self) -> tuple[np.ndarray, np.ndarray]:
        """(trading-clock seconds, mid) at the trades."""
        return np.asarray(self.ticks.clock, dtype=np.float64), np.asarray(self.ticks.mid, dtype=np.float64)

    def mid_segments(self) -> np.ndarray:
        """Continuous pieces of the mid path, one label per trade: a new piece starts at every bar that
        does not follow its predecessor by one bar length (a session gap, missing bars). The trading
        clock skips those gaps while the mid jumps across them; sigma leaves such increments out."""
        tk = self.ticks
        first = np.asarray(tk.bar_start[:-1])
        offset = tk.clock[first] - np.arange(first.size) * tk.bar_seconds
        bar_ns = tk.time_ns[first] - np.round(offset * 1e9).astype(np.int64)
        step = tk.bar_seconds * 1e9
        new = np.r_[True, np.abs(np.diff(bar_ns) - step) > 0.5 * step]
        return np.cumsum(new)[tk.bar]
