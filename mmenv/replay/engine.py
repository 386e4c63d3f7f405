"""Replay engine: a policy's orders against a real tape, with queue-aware fills, latency, a tick grid and fees.

One compiled loop (:func:`_kernel`) serves the replay backtest (:func:`replay`) and the event-clock env
(:class:`mmenv.replay.env.ReplayEnv`): the env runs it in *external* mode, returning at each decision point
for the agent's action; the backtest runs compiled quote rules (AS, symmetric, naive) in the loop, or any
:class:`agents.base.Policy` through the same external mode. Fills are settled by the core's one rule,
:func:`mmenv.sim.fills.match_and_settle` (hard inventory limit, fees, cash and inventory).

Per event of the tape (see :mod:`mmenv.data.tape`), in order:

1. *Orders reaching the book*: actions (new price or withdrawal of one side) whose arrival time is <= the
   event's time are applied, in decision order, against the book in force before the event. A post-only
   price that would cross the opposite best is repriced to one tick inside it (``cross="reprice"``, the
   default: the most aggressive passive price, the touch when the spread is one tick) or the side is
   withdrawn (``cross="withdraw"``); never a marketable fill. An action at the price of the live order
   while it still has size left changes nothing (the order keeps its queue position); otherwise the live
   order is cancelled and a new one of ``order_size`` enters at the *back* of the queue.
2. *Quote event*: the book changes. Queue model: at our level (our price = the best on our side), a fall
   of the displayed size not explained by trades at that level since the last quote is cancellations, of
   which a share ahead of us leaves the queue ahead (``cancel_ahead``: a fixed share, or "proportional":
   ``ahead / (ahead + behind)``, the power-1 probabilistic queue model of hftbacktest); size added goes
   behind us; the queue ahead never exceeds the displayed size. When the best moves away from us (our
   price is better than the new best: the level emptied) we are first in the queue. When our level is
   deeper than the recorded best (level-1 data cannot show it), the queue ahead is unknown until the level
   becomes the best, when it is ``deep_queue`` times the size displayed there (default 1: everyone
   displayed was there before us). Both models: if the opposite best reaches our price (a best bid at or
   above our ask), the market went through us and the remaining size fills at our price.
3. *Trade event* (aggressor side +1 meets our ask, -1 our bid), price ``P`` and size ``V``:
   ``queue``: a print through our price (a buy above our ask) fills ``min(left, V)``; a print at our price
   first eats the queue ahead and fills ``min(left, V - ahead)``; behind an unknown queue (a deeper level
   not yet seen at the top) nothing fills until a print goes through our price.
   ``trade_through``: a print at or through our price (``at_price=True``, the default; False: through only)
   fills ``min(left, share * V)``, queue ignored.
4. *Decision* (when the event is a decision point: every quote update by default, or every trade, or every
   event, every n of them, at least ``decision_interval_s`` apart): the policy sees the mid, its inventory
   *in lots* (units / ``order_size``, so that risk aversions do not depend on the lot), tau (seconds) and
   sigma (price / sqrt(s)), and returns depths; prices are rounded *away from the mid* to the tick grid (bid down, ask up);
   a NaN or +inf depth withdraws that side. The order reaches the book ``feed_latency_s +
   entry_latency_s`` later (the policy sees event i at ``t_i + feed``, its order travels ``entry`` more);
   until then the previous order stays live and can still fill at its old price. Unchanged prices send
   nothing (a fully filled order is renewed at the next decision).
5. *Records*: every fill, and the state every ``record_every`` events (first and last always): the
   :mod:`mmenv.records` dtypes, times in seconds from the first event.

Fees (maker, our fills are all passive): ``maker_fee_bps`` of notional plus ``maker_fee_per_unit`` per unit
(negative: rebates). The taker fee prices the liquidation of the final inventory at the opposite best in
``pnl_liquidated``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.backtest.result import BacktestResult
from mmenv.config import check_finite, check_positive
from mmenv.data.tape import Tape, iter_chunks
from mmenv.jit import njit
from mmenv.policy import QuoteState
from mmenv.records import FILL_DTYPE, STATE_DTYPE, Recorder
from mmenv.sim.fills import match_and_settle
from mmenv.sim.quote_rules import RULE_AS, RULE_NAIVE, RULE_SYMMETRIC, QuoteRule, rule_depths

__all__ = ["DECIDE_ON", "FILL_MODELS", "ReplayConfig", "ReplayState", "replay"]

FILL_MODELS = ("queue", "trade_through")
DECIDE_ON = ("quote", "trade", "event")
CROSS_RULES = ("reprice", "withdraw")

# float state
(_Q, _CASH, _BB, _BQ, _BA, _AQ, _BBL, _BAL, _ERR_A, _ERR_B) = range(10)
_O = 10  # per side s (0 bid, 1 ask), 6 slots each: level, left, ahead, level qty, traded, sent level
_LVL, _LEFT, _AHEAD, _LQTY, _TRADED, _SENT = range(6)
_N_ST = _O + 12
# int state
(_EV, _NF, _NS, _SINCE, _ERR, _ERR_EV, _NDEC, _NQUOTED, _STARTED, _QHEAD, _QCOUNT, _T0, _LAST_T, _NEED,
 _COUNT, _PEND0, _PEND1, _NEXT_DEC, _NREPRICED, _NWITHDRAWN, _NORDERS) = range(21)  # fmt: skip
_N_IST = 21
# parameters
(_P_QMAX, _P_SIZE, _P_FPU, _P_FRATE, _P_LAT, _P_HORIZON, _P_SIGMA, _P_EVERY, _P_MODEL, _P_SHARE, _P_ATPX,
 _P_CANCEL, _P_DEEP, _P_CROSS, _P_DECON, _P_DECN, _P_INTERVAL, _P_TICK, _P_INV) = range(19)  # fmt: skip
_N_PRM = 19
QUEUE_CAP = 1 << 14
ERR_TIME, ERR_CROSSED, ERR_QUEUE = 1, 2, 3
_WITHDRAW = -1.0
_NEVER = -2.0


@dataclass(frozen=True)
class ReplayConfig:
    """Settings of a replay (see the module docstring for what each does).

    Attributes:
        fill_model: "queue" (default) or "trade_through".
        cancel_ahead: queue model: share of the cancellations at our level that were ahead of us, a number
            in [0, 1] or "proportional" (ahead / (ahead + behind), default).
        deep_queue: queue ahead, as a fraction of the displayed size, of an order resting deeper than the
            recorded best when its level becomes the best, in [0, 1] (default 1).
        share: trade_through: fraction of each print's size available to us, in (0, 1].
        at_price: trade_through: a print at our price fills (True, default) or only one through it (False).
        order_size: units per order, > 0. q_max: hard inventory limit (units), >= order_size.
        maker_fee_bps, maker_fee_per_unit: fees on our (passive) fills; negative: rebates.
        taker_fee_bps, taker_fee_per_unit: fees of the final liquidation in ``pnl_liquidated``.
        feed_latency_s, entry_latency_s: market data to policy, and order to book (seconds, >= 0).
        cross: post-only rule, "reprice" (default) or "withdraw".
        decide_on: "quote" (every quote update, default), "trade" or "event"; decide_every: every n such
            events (>= 1); decision_interval_s: at least this long between decisions (s, >= 0).
        horizon_s: AS episode length (s), tau = horizon - ((t - t_0) mod horizon). sigma: volatility the
            policy sees (price / sqrt(s)).
        record_every: state record every n events (>= 1). fill_capacity, state_capacity: record buffer rows.
        chunk_size: events per chunk of an in-memory tape.
    """

    fill_model: str = "queue"
    cancel_ahead: float | str = "proportional"
    deep_queue: float = 1.0
    share: float = 1.0
    at_price: bool = True
    order_size: float = 1.0
    q_max: float = 10.0
    maker_fee_bps: float = 0.0
    maker_fee_per_unit: float = 0.0
    taker_fee_bps: float = 0.0
    taker_fee_per_unit: float = 0.0
    feed_latency_s: float = 0.0
    entry_latency_s: float = 0.0
    cross: str = "reprice"
    decide_on: str = "quote"
    decide_every: int = 1
    decision_interval_s: float = 0.0
    horizon_s: float = 60.0
    sigma: float = 0.0
    record_every: int = 1
    fill_capacity: int = 1 << 16
    state_capacity: int = 1 << 16
    chunk_size: int = 1 << 18

    def __post_init__(self) -> None:
        for name, allowed in (("fill_model", FILL_MODELS), ("decide_on", DECIDE_ON), ("cross", CROSS_RULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.cancel_ahead != "proportional":
            if isinstance(self.cancel_ahead, (bool, str)) or not (0.0 <= float(self.cancel_ahead) <= 1.0):
                raise ValueError(
                    f"cancel_ahead must be 'proportional' or in [0, 1], got {self.cancel_ahead!r}"
                )
        if not (isinstance(self.deep_queue, (int, float)) and 0.0 <= self.deep_queue <= 1.0):
            raise ValueError(f"deep_queue must lie in [0, 1], got {self.deep_queue!r}")
        check_positive("share", self.share)
        if self.share > 1.0:
            raise ValueError(f"share must lie in (0, 1], got {self.share!r}")
        check_positive("order_size", self.order_size)
        check_positive("q_max", self.q_max, allow_inf=True)
        if self.order_size > self.q_max:
            raise ValueError(f"order_size must be <= q_max ({self.q_max!r}), got {self.order_size!r}")
        for name in ("maker_fee_bps", "maker_fee_per_unit", "taker_fee_bps", "taker_fee_per_unit"):
            check_finite(name, getattr(self, name))
        for name in ("feed_latency_s", "entry_latency_s", "decision_interval_s", "sigma"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_positive("horizon_s", self.horizon_s)
        for name in ("at_price",):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        for name, lo in (
            ("decide_every", 1),
            ("record_every", 1),
            ("fill_capacity", 4),
            ("state_capacity", 4),
            ("chunk_size", 1),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")

    @property
    def latency_s(self) -> float:
        """Decision-to-book delay: feed plus entry latency (s)."""
        return self.feed_latency_s + self.entry_latency_s

    def describe(self) -> str:
        """One line for headers: fill model, latency, post-only rule, fees."""
        if self.fill_model == "queue":
            model = (
                f"queue (cancels ahead: {self.cancel_ahead}, deeper levels: {self.deep_queue:g} x displayed)"
            )
        else:
            model = f"trade_through ({'at or through' if self.at_price else 'through'} our price, share {self.share:g})"
        return (
            f"fills: {model}; latency: feed {self.feed_latency_s * 1e3:g} ms + entry "
            f"{self.entry_latency_s * 1e3:g} ms; post-only crossing: {self.cross}; maker fee "
            f"{self.maker_fee_bps:g} bps + {self.maker_fee_per_unit:g}/unit; decisions on every "
            f"{self.decide_every if self.decide_every > 1 else ''}{' ' if self.decide_every > 1 else ''}"
            f"{self.decide_on} update{'s' if self.decide_every > 1 else ''}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for metrics.json)."""
        return dict(self.__dict__)

    def packed(self, tick: float) -> np.ndarray:
        prm = np.zeros(_N_PRM)
        prm[_P_QMAX], prm[_P_SIZE] = self.q_max, self.order_size
        prm[_P_FPU], prm[_P_FRATE] = self.maker_fee_per_unit, self.maker_fee_bps * 1e-4
        prm[_P_LAT] = round(self.latency_s * 1e9)
        prm[_P_HORIZON], prm[_P_SIGMA] = self.horizon_s, self.sigma
        prm[_P_EVERY] = self.record_every
        prm[_P_MODEL] = FILL_MODELS.index(self.fill_model)
        prm[_P_SHARE], prm[_P_ATPX] = self.share, float(self.at_price)
        prm[_P_CANCEL] = -1.0 if self.cancel_ahead == "proportional" else float(self.cancel_ahead)
        prm[_P_DEEP] = self.deep_queue
        prm[_P_CROSS] = CROSS_RULES.index(self.cross)
        prm[_P_DECON], prm[_P_DECN] = DECIDE_ON.index(self.decide_on), self.decide_every
        prm[_P_INTERVAL] = round(self.decision_interval_s * 1e9)
        prm[_P_TICK], prm[_P_INV] = tick, 1.0 / tick
        return prm


# --------------------------------------------------------------------------------------------- the kernel
@njit(cache=True, inline="always")
def _level(px: float, inv_tick: float) -> float:
    """Integer tick level of a market price (a float, exact for |level| < 2^53); ``inv_tick = 1 / tick``."""
    return math.floor(px * inv_tick + 0.5)


@njit(cache=True, inline="always")
def _settle(st, ist, prm, s: int, x: float, ev: int, tsec: float, mid: float, fills) -> None:
    """Fill up to ``x`` units of our order on side ``s`` at its price; the core's rule settles it."""
    o = _O + 6 * s
    left = st[o + _LEFT]
    px = st[o + _LVL] * prm[_P_TICK]
    inf = math.inf
    if s == 0:
        r = match_and_settle(
            st[_Q],
            st[_CASH],
            0.0,
            -px,
            inf,
            inf,
            -inf,
            x,
            0.0,
            prm[_P_QMAX],
            left,
            prm[_P_FPU],
            prm[_P_FRATE],
        )
        done = r[2]
    else:
        r = match_and_settle(
            st[_Q], st[_CASH], 0.0, inf, px, -inf, inf, 0.0, x, prm[_P_QMAX], left, prm[_P_FPU], prm[_P_FRATE]
        )
        done = r[3]
    if done <= 0.0:
        return
    st[_Q], st[_CASH] = r[0], r[1]
    st[o + _LEFT] = left - done
    k = ist[_NF]
    fills[k]["event"] = ev
    fills[k]["time"] = tsec
    fills[k]["side"] = 1 if s == 0 else -1
    fills[k]["price"] = px
    fills[k]["size"] = done
    fills[k]["mid"] = mid
    fills[k]["fee"] = r[4]
    fills[k]["inventory"] = r[0]
    ist[_NF] = k + 1


@njit(cache=True, inline="always")
def _apply(st, ist, prm, s: int, lvl: float) -> None:
    """An action reaching the book: new price ``lvl`` on side ``s`` (or withdrawal), post-only rule."""
    o = _O + 6 * s
    if lvl == _WITHDRAW:
        st[o + _LVL] = math.nan
        st[o + _LEFT] = 0.0
        return
    crosses = lvl >= st[_BAL] if s == 0 else lvl <= st[_BBL]
    if crosses:
        if prm[_P_CROSS] != 0.0:
            st[o + _LVL] = math.nan
            st[o + _LEFT] = 0.0
            ist[_NWITHDRAWN] += 1
            return
        lvl = st[_BAL] - 1.0 if s == 0 else st[_BBL] + 1.0
        ist[_NREPRICED] += 1
    if st[o + _LVL] == lvl and st[o + _LEFT] > 0.0:
        return  # same price, size left: keep the queue position
    ist[_NORDERS] += 1
    st[o + _LVL] = lvl
    st[o + _LEFT] = prm[_P_SIZE]
    st[o + _TRADED] = 0.0
    best = st[_BBL] if s == 0 else st[_BAL]
    better = lvl > best if s == 0 else lvl < best
    if lvl == best:
        st[o + _AHEAD] = st[_BQ] if s == 0 else st[_AQ]
        st[o + _LQTY] = st[o + _AHEAD]
    elif better:
        st[o + _AHEAD] = 0.0
        st[o + _LQTY] = math.nan
    else:
        st[o + _AHEAD] = math.nan
        st[o + _LQTY] = math.nan


@njit(cache=True, inline="always")
def _submit(st, ist, prm, pq_t, pq_s, pq_l, t: int, mid: float, db: float, da: float, ev: int) -> bool:
    """A decision at time ``t`` (ns): depths to grid prices, sent now or after the latency. True on error."""
    tick, inv = prm[_P_TICK], prm[_P_INV]
    blvl = math.floor((mid - db) * inv + 1e-9) if (db == db and db < math.inf) else _WITHDRAW
    alvl = math.ceil((mid + da) * inv - 1e-9) if (da == da and da < math.inf) else _WITHDRAW
    if blvl != _WITHDRAW and alvl != _WITHDRAW and blvl >= alvl:
        ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = ERR_CROSSED, ev, blvl * tick, alvl * tick
        return True
    ist[_NDEC] += 1
    lat = int(prm[_P_LAT])
    cap = pq_t.shape[0]
    for s in range(2):
        lvl = blvl if s == 0 else alvl
        o = _O + 6 * s
        pend = ist[_PEND0 + s]
        renew = lvl != _WITHDRAW and st[o + _LEFT] <= 0.0 and pend == 0
        if lvl == st[o + _SENT] and not renew:
            continue
        st[o + _SENT] = lvl
        if lat == 0:
            _apply(st, ist, prm, s, lvl)
        else:
            if ist[_QCOUNT] >= cap:
                ist[_ERR], ist[_ERR_EV] = ERR_QUEUE, ev
                return True
            j = (ist[_QHEAD] + ist[_QCOUNT]) % cap
            pq_t[j], pq_s[j], pq_l[j] = t + lat, s, lvl
            ist[_QCOUNT] += 1
            ist[_PEND0 + s] += 1
    return False


@njit(cache=True, inline="always")
def _arrivals(st, ist, prm, pq_t, pq_s, pq_l, t: int) -> None:
    """Apply the actions that reach the book at or before ``t`` (ns), in decision order."""
    cap = pq_t.shape[0]
    while ist[_QCOUNT] > 0 and pq_t[ist[_QHEAD]] <= t:
        h = ist[_QHEAD]
        s = pq_s[h]
        _apply(st, ist, prm, s, pq_l[h])
        ist[_PEND0 + s] -= 1
        ist[_QHEAD] = (h + 1) % cap
        ist[_QCOUNT] -= 1


@njit(cache=True, inline="always")
def _on_quote(st, prm, s: int) -> None:
    """Queue position of our order on side ``s`` after a book update (queue model)."""
    o = _O + 6 * s
    lvl = st[o + _LVL]
    best = st[_BBL] if s == 0 else st[_BAL]
    qty = st[_BQ] if s == 0 else st[_AQ]
    better = lvl > best if s == 0 else lvl < best
    if better:  # the level emptied: we are first
        st[o + _AHEAD] = 0.0
        st[o + _LQTY] = math.nan
    elif lvl == best:
        ahead = st[o + _AHEAD]
        prev = st[o + _LQTY]
        if ahead != ahead:  # unknown (was deeper): the stated assumption
            ahead = prm[_P_DEEP] * qty
        elif prev == prev:
            before = max(prev - st[o + _TRADED], 0.0)  # displayed size left after the trades at our level
            cancels = before - qty
            if cancels > 0.0:
                share = prm[_P_CANCEL]
                if share < 0.0:
                    behind = max(before - ahead, 0.0)
                    share = ahead / (ahead + behind) if ahead + behind > 0.0 else 0.0
                ahead = max(ahead - share * cancels, 0.0)
        st[o + _AHEAD] = min(ahead, qty)
        st[o + _LQTY] = qty
    else:
        st[o + _LQTY] = math.nan  # deeper than the best: frozen, unseen
    st[o + _TRADED] = 0.0


@njit(cache=True)
def _kernel(
    time,
    kind,
    bpx,
    bqty,
    apx,
    aqty,
    tpx,
    tqty,
    tside,
    i0,
    st,
    ist,
    prm,
    code,
    rp,
    fills,
    states,
    pq_t,
    pq_s,
    pq_l,
):
    """Run the loop of the module docstring from event ``i0``; return where it stopped.

    Stops at the end of the chunk, when a record buffer is nearly full, on an error, or (``code < 0``,
    external policy) after an event that is a decision point (``ist[_NEED] = 1``).
    """
    n = time.shape[0]
    cap_f, cap_s = fills.shape[0], states.shape[0]
    tick, inv_tick = prm[_P_TICK], prm[_P_INV]
    every = int(prm[_P_EVERY])
    model_queue = prm[_P_MODEL] == 0.0
    share, at_px = prm[_P_SHARE], prm[_P_ATPX] != 0.0
    dec_on, dec_n, interval = int(prm[_P_DECON]), int(prm[_P_DECN]), int(prm[_P_INTERVAL])
    horizon = prm[_P_HORIZON]
    sigma = prm[_P_SIGMA] if rp[2] != rp[2] else rp[2]
    for i in range(i0, n):
        if ist[_NF] + 3 > cap_f or ist[_NS] + 2 > cap_s:
            return i
        t = time[i]
        ev = ist[_EV]
        if ist[_STARTED] == 1 and t < ist[_LAST_T]:
            ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = ERR_TIME, ev, t, ist[_LAST_T]
            return i
        if ist[_STARTED] == 0:
            ist[_STARTED] = 1
            ist[_T0] = t
            ist[_NEXT_DEC] = t
            st[_BB], st[_BQ], st[_BA], st[_AQ] = bpx[i], bqty[i], apx[i], aqty[i]
            st[_BBL], st[_BAL] = _level(bpx[i], inv_tick), _level(apx[i], inv_tick)
            k = ist[_NS]
            m0 = 0.5 * (bpx[i] + apx[i])
            states[k]["event"] = -1
            states[k]["time"] = 0.0
            states[k]["mid"] = m0
            states[k]["bid"] = math.nan
            states[k]["ask"] = math.nan
            states[k]["inventory"] = st[_Q]
            states[k]["cash"] = st[_CASH]
            states[k]["equity"] = st[_CASH] + st[_Q] * m0
            ist[_NS] = k + 1
        tsec = (t - ist[_T0]) * 1e-9
        # 1. orders reaching the book
        if ist[_QCOUNT] > 0:
            _arrivals(st, ist, prm, pq_t, pq_s, pq_l, t)
        kd = kind[i]
        if kd == 0:
            # 2. quote event
            st[_BB], st[_BQ], st[_BA], st[_AQ] = bpx[i], bqty[i], apx[i], aqty[i]
            st[_BBL], st[_BAL] = _level(bpx[i], inv_tick), _level(apx[i], inv_tick)
            mid = 0.5 * (bpx[i] + apx[i])
            for s in range(2):
                o = _O + 6 * s
                if st[o + _LEFT] > 0.0:
                    if model_queue:
                        _on_quote(st, prm, s)
                    through = st[_BAL] <= st[o + _LVL] if s == 0 else st[_BBL] >= st[o + _LVL]
                    if through:
                        _settle(st, ist, prm, s, st[o + _LEFT], ev, tsec, mid, fills)
        else:
            # 3. trade event
            mid = 0.5 * (st[_BB] + st[_BA])
            s = 1 if tside[i] > 0 else 0
            o = _O + 6 * s
            if st[o + _LEFT] > 0.0:
                ist[_NQUOTED] += 1
                p = _level(tpx[i], inv_tick)
                v = tqty[i]
                lvl = st[o + _LVL]
                through = p > lvl if s == 1 else p < lvl
                x = 0.0
                if model_queue:
                    if through:
                        x = v
                        st[o + _AHEAD] = 0.0
                    elif p == lvl:
                        ahead = st[o + _AHEAD]
                        if ahead == ahead:
                            x = max(v - ahead, 0.0)
                            st[o + _AHEAD] = max(ahead - v, 0.0)
                            st[o + _TRADED] += v
                elif through or (at_px and p == lvl):
                    x = share * v
                if x > 0.0:
                    _settle(st, ist, prm, s, x, ev, tsec, mid, fills)
        # 5. records
        ist[_SINCE] += 1
        if ist[_SINCE] >= every:
            k = ist[_NS]
            states[k]["event"] = ev
            states[k]["time"] = tsec
            states[k]["mid"] = mid
            states[k]["bid"] = st[_O + _LVL] * tick if st[_O + _LEFT] > 0.0 else math.nan
            states[k]["ask"] = st[_O + 6 + _LVL] * tick if st[_O + 6 + _LEFT] > 0.0 else math.nan
            states[k]["inventory"] = st[_Q]
            states[k]["cash"] = st[_CASH]
            states[k]["equity"] = st[_CASH] + st[_Q] * mid
            ist[_NS] = k + 1
            ist[_SINCE] = 0
        ist[_LAST_T] = t
        ist[_EV] = ev + 1
        # 4. decision point
        if dec_on == 2 or kd == dec_on:
            ist[_COUNT] += 1
            if ist[_COUNT] >= dec_n and t >= ist[_NEXT_DEC]:
                ist[_COUNT] = 0
                if interval > 0:
                    ist[_NEXT_DEC] = t + interval
                if code < 0:
                    ist[_NEED] = 1
                    return i + 1
                tau = horizon - (tsec % horizon)
                db, da = rule_depths(code, rp, st[_Q] / prm[_P_SIZE], tau, mid, sigma)
                if _submit(st, ist, prm, pq_t, pq_s, pq_l, t, mid, db, da, ev):
                    return i + 1
    return n


# ------------------------------------------------------------------------------------------------ driver
@dataclass
class ReplayState:
    """The mutable state of one replay (vectors read and written by the kernel), and its records."""

    config: ReplayConfig
    tick: float
    st: np.ndarray
    ist: np.ndarray
    prm: np.ndarray
    pq_t: np.ndarray
    pq_s: np.ndarray
    pq_l: np.ndarray
    fills: Recorder
    states: Recorder
    book_last: tuple[float, float, float, float] = (math.nan, math.nan, math.nan, math.nan)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(
        cls, config: ReplayConfig, tick: float, q0: float = 0.0, spill_dir: str | os.PathLike | None = None
    ) -> ReplayState:
        """A flat start (inventory ``q0``, no order); records in memory or spilled to ``spill_dir``."""
        st = np.zeros(_N_ST)
        st[_Q] = q0
        for s in range(2):
            o = _O + 6 * s
            st[o + _LVL] = math.nan
            st[o + _AHEAD] = math.nan
            st[o + _LQTY] = math.nan
            st[o + _SENT] = _NEVER
        return cls(
            config=config,
            tick=float(tick),
            st=st,
            ist=np.zeros(_N_IST, dtype=np.int64),
            prm=config.packed(tick),
            pq_t=np.zeros(QUEUE_CAP, dtype=np.int64),
            pq_s=np.zeros(QUEUE_CAP, dtype=np.int64),
            pq_l=np.zeros(QUEUE_CAP),
            fills=Recorder(
                FILL_DTYPE, config.fill_capacity, None if spill_dir is None else Path(spill_dir) / "fills.bin"
            ),
            states=Recorder(
                STATE_DTYPE,
                config.state_capacity,
                None if spill_dir is None else Path(spill_dir) / "states.bin",
            ),
        )

    # -- views for observations and policies
    @property
    def q(self) -> float:
        return float(self.st[_Q])

    @property
    def cash(self) -> float:
        return float(self.st[_CASH])

    @property
    def book(self) -> tuple[float, float, float, float]:
        """(bid, bid size, ask, ask size) in force."""
        return float(self.st[_BB]), float(self.st[_BQ]), float(self.st[_BA]), float(self.st[_AQ])

    @property
    def mid(self) -> float:
        return 0.5 * float(self.st[_BB] + self.st[_BA])

    @property
    def elapsed_s(self) -> float:
        return (int(self.ist[_LAST_T]) - int(self.ist[_T0])) * 1e-9

    @property
    def n_events(self) -> int:
        return int(self.ist[_EV])

    def run(self, chunk: Tape, i: int, code: int, rp: np.ndarray) -> int:
        """Run the kernel on ``chunk`` from ``i``, flushing records, until the chunk ends or a decision is due."""
        n = len(chunk)
        while i < n:
            self.ist[_NEED] = 0
            i = _kernel(
                chunk.time,
                chunk.kind,
                chunk.bid_px,
                chunk.bid_qty,
                chunk.ask_px,
                chunk.ask_qty,
                chunk.trade_px,
                chunk.trade_qty,
                chunk.side,
                i,
                self.st,
                self.ist,
                self.prm,
                code,
                rp,
                self.fills.buffer,
                self.states.buffer,
                self.pq_t,
                self.pq_s,
                self.pq_l,
            )
            self._sync()
            if self.ist[_NEED]:
                return i
            if i < n:
                self.flush_records()
        return i

    def submit(self, bid_depth: float, ask_depth: float) -> None:
        """The external policy's decision at the last event (depths in price units; NaN/inf withdraws)."""
        t = int(self.ist[_LAST_T])
        err = _submit(
            self.st,
            self.ist,
            self.prm,
            self.pq_t,
            self.pq_s,
            self.pq_l,
            t,
            self.mid,
            float(bid_depth),
            float(ask_depth),
            int(self.ist[_EV]) - 1,
        )
        self._sync()
        if err:
            self.raise_loop_error()
        self.ist[_NEED] = 0

    def _sync(self) -> None:
        self.fills.n, self.states.n = int(self.ist[_NF]), int(self.ist[_NS])
        if self.ist[_ERR]:
            self.raise_loop_error()

    def flush_records(self) -> None:
        self.fills.flush()
        self.states.flush()
        self.ist[_NF] = self.ist[_NS] = 0

    def raise_loop_error(self) -> None:
        code, ev, a, b = (
            int(self.ist[_ERR]),
            int(self.ist[_ERR_EV]),
            float(self.st[_ERR_A]),
            float(self.st[_ERR_B]),
        )
        if code == ERR_TIME:
            raise ValueError(
                f"tape events out of order at event {ev}: time {int(a)} ns < previous {int(b)} ns"
            )
        if code == ERR_CROSSED:
            raise ValueError(f"policy returned crossed quotes at event {ev}: bid={a!r} >= ask={b!r}")
        if code == ERR_QUEUE:
            raise ValueError(
                f"more than {QUEUE_CAP} orders in flight at event {ev}: the latency spans too many "
                "decisions; decide less often (decide_every, decision_interval_s)"
            )
        raise AssertionError(f"unknown error code {code}")  # pragma: no cover

    def finish(self, name: str) -> BacktestResult:
        """Close the records (a last state row) and return the :class:`mmenv.backtest.BacktestResult`."""
        if self.ist[_EV] == 0:
            raise ValueError("the tape has no events")
        if self.ist[_SINCE] != 0:
            q, cash, m = self.q, self.cash, self.mid
            tick = self.tick
            bid = self.st[_O + _LVL] * tick if self.st[_O + _LEFT] > 0 else math.nan
            ask = self.st[_O + 6 + _LVL] * tick if self.st[_O + 6 + _LEFT] > 0 else math.nan
            self.states.append((int(self.ist[_EV]) - 1, self.elapsed_s, m, bid, ask, q, cash, cash + q * m))
        cfg = self.config
        bb, _, ba, _ = self.book
        q = self.q
        exit_px = bb if q > 0 else ba
        taker = cfg.taker_fee_per_unit * abs(q) + cfg.taker_fee_bps * 1e-4 * abs(q) * exit_px
        res = BacktestResult(
            fills=self.fills.finish(),
            states=self.states.finish(),
            n_events=int(self.ist[_EV]),
            n_decisions=int(self.ist[_NDEC]),
            n_quoted=int(self.ist[_NQUOTED]),
            config=None,
            strategy=name,
            order_size=cfg.order_size,
            q_max=cfg.q_max,
        )
        res.extra.update(
            replay=cfg.to_dict(),
            n_orders=int(self.ist[_NORDERS]),
            n_repriced=int(self.ist[_NREPRICED]),
            n_withdrawn=int(self.ist[_NWITHDRAWN]),
            pnl_liquidated=float(self.cash + q * exit_px - taker - res.states["equity"][0])
            if q != 0
            else res.pnl,
        )
        return res


def _policy_name(policy: Any) -> str:
    return str(getattr(policy, "name", type(policy).__name__))


def replay(
    policy: Any,
    tape: Tape | Iterable[Tape],
    config: ReplayConfig | None = None,
    *,
    tick: float | None = None,
    path: str = "auto",
    observe: Callable[[ReplayState], Any] | None = None,
    spill_dir: str | os.PathLike | None = None,
) -> BacktestResult:
    """Replay ``policy`` on ``tape`` (see the module docstring); returns the records and counters.

    Args:
        policy: a :class:`mmenv.backtest.QuoteRule` or an :class:`agents.base.Policy` (the AS, symmetric and
            naive agents run compiled unless ``path="reference"``).
        tape: a :class:`Tape` (cut into chunks of ``config.chunk_size``) or an iterable of chunks.
        config: :class:`ReplayConfig`. tick: the price tick (default: the tape's).
        path: "auto", "fast" (compiled rule) or "reference" (the policy called from Python at each decision).
        observe: optional callback at each decision on the reference path (for tests and tracing).
        spill_dir: records spilled to ``spill_dir/{fills,states}.bin`` and returned as memory maps (flat memory).
    """
    cfg = ReplayConfig() if config is None else config
    if path not in ("auto", "fast", "reference"):
        raise ValueError(f"path must be 'auto', 'fast' or 'reference', got {path!r}")
    rule = QuoteRule.from_policy(policy) if path != "reference" else None
    if path == "fast" and rule is None:
        raise ValueError(f"path='fast' needs the AS, symmetric or naive rule, got {type(policy).__name__}")
    chunks = iter_chunks(tape, cfg.chunk_size)
    state = None
    if rule is not None:
        code, rp = (
            {"as": RULE_AS, "symmetric": RULE_SYMMETRIC, "naive": RULE_NAIVE}[rule.kind],
            rule.packed(),
        )
        name = rule.name
    else:
        code, rp = -1, np.array([0.0, 1.0, math.nan, 0.0, 1.0])
        if isinstance(policy, QuoteRule):
            policy = policy.to_policy()
        name = _policy_name(policy)
        policy.reset(1)
    s0 = None
    for chunk in chunks:
        if state is None:
            state = ReplayState.new(cfg, tick if tick is not None else chunk.tick, spill_dir=spill_dir)
        i = 0
        while i < len(chunk):
            i = state.run(chunk, i, code, rp)
            if code < 0 and state.ist[_NEED]:
                if observe is not None:
                    observe(state)
                tau = cfg.horizon_s - (state.elapsed_s % cfg.horizon_s)
                s0 = state.mid if s0 is None else s0
                qs = QuoteState(
                    q=np.array([state.q / cfg.order_size]),
                    tau=np.array([tau]),
                    mid=np.array([state.mid]),
                    sigma=np.array([cfg.sigma]),
                    s0=np.array([s0]),
                )
                db, da = policy.quote(qs)
                state.submit(float(np.asarray(db).reshape(-1)[0]), float(np.asarray(da).reshape(-1)[0]))
    if state is None:
        raise ValueError("the tape has no events")
    return state.finish(name)
