"""Event-driven backtester: a tick stream replayed through a policy, one event per tick.

Each tick ``i`` of the stream is two things at time ``t_i``: a *quote update* (the prevailing mid becomes
``m_i``) followed by a *trade* (price ``p_i``, aggressor side ``s_i``, size ``z_i``) that arrives against that
mid. A market maker on the quote feed sees ``m_i`` before the trade and can reprice; with latency its new
quotes reach the book only at ``t_i + latency``, and its older quotes stay live (stale) meanwhile.

The loop (both paths below run exactly this, event by event; ``i`` is the event index in the stream):

1. *Validate* the tick: time not NaN and not before the previous tick, finite price and mid, side +-1,
   size finite and > 0. Bad input raises ``ValueError`` naming the event index; nothing is skipped.
2. *Decision on the quote update* (``reprice_on_quotes=True``, the default): if ``t_i`` has reached the next
   decision time (every tick when ``decision_interval = 0``, else on the grid ``t_0 + j * decision_interval``),
   the policy quotes depths ``(delta_b, delta_a)`` from ``(q, tau, m_i, sigma)`` only, with ``q`` the
   inventory before trade ``i``: the trade's price, side and size are never seen by the decision that is
   matched against it (no look-ahead; tested). The quotes are the prices ``bid = m_i - delta_b``,
   ``ask = m_i + delta_a`` (resting orders: they do not move with the mid until the next decision).
   ``latency = 0``: they are live at once, for trade ``i`` itself; ``latency > 0``: they are queued and go live
   at ``t_i + latency`` (the previous quotes stay live, stale, until then).
   ``tau = horizon - ((t_i - t_0) mod horizon)``: the AS strategy is run over consecutive episodes of length
   ``horizon`` with the inventory carried over. A NaN depth raises (or withdraws that side with
   ``allow_withdraw=True``, the :class:`mmenv.policy.Policy` convention), crossed quotes (``bid >= ask``)
   raise, naming the event.
3. *Quotes going live*: queued decisions whose latency has elapsed (``decision time + latency <= t_i``)
   replace the live bid and ask, in decision order.
4. *Matching and accounting* of trade ``i``: one call to :func:`mmenv.core.match_and_settle`, the core's one
   rule (shared with the env), at the tick's mid ``m_i``: a buyer-initiated trade (side +1) at price ``p``
   reaches depth ``p - m_i`` on the ask side (the bid side's reach is ``-inf``), a seller-initiated one
   reaches ``m_i - p`` on the bid side; the flow available to us is ``share * trade size``; so our ask fills
   iff ``p >= ask``, our bid iff ``p <= bid``, ``min(order_size, share * size)`` units at our quoted price.
   The core applies the hard inventory limit (no bid when ``q + order_size > q_max``, no ask when
   ``q - order_size < -q_max``) and the fees (``fee_per_unit * units + fee_rate * notional``; negative:
   rebates).
5. *Records*: every fill, and the state every ``record_every`` events (plus the first and the last); the
   state's bid and ask are the quotes that were live against trade ``i``.

With ``reprice_on_quotes=False`` ("reprice on trades only", the behaviour of a market maker that learns the
mid only from the trade prints) step 2 runs after step 5 instead, from ``(q after trade i, m_i)``, and the
quotes go live from trade ``i + 1`` on (``latency = 0``) or at ``t_i + latency``. They are then stale by one
trade: when the mid moves more between trades than the quoted depth they are picked off, an adverse
selection created by the event ordering, not by the market maker's rule.

Two implementations of this loop give identical records, bit for bit (tested):

* :func:`run_reference`: readable Python, calling ``match_and_settle.py_func`` and any
  :class:`mmenv.policy.Policy` (``policy.quote``). Used for generic policies (passive, trend, PPO, ...).
* the fast path: the same loop compiled with numba, calling ``match_and_settle`` itself, with the policy
  expressed as a :class:`QuoteRule` (the AS, symmetric and naive rules), whose kernel evaluates
  :func:`mmenv.engine.reservation_price` and :func:`mmenv.engine.optimal_spread` compiled from their own
  source (``numba.njit(engine.optimal_spread)``): one source for the formulas.

The stream is processed in chunks (an iterable of :class:`TickStream`, or one stream cut into views of
``chunk_size`` events), and the records are written into fixed-capacity buffers flushed to memory or to disk
(:class:`mmenv.records.Recorder`): with spilled records, memory stays flat however long the stream.

A model market (the Avellaneda-Stoikov exponential fill rule of the core) is the alternative:
:func:`backtest_model` steps :class:`mmenv.core.SimulationCore` over a :class:`mmenv.markets.ModelMarket` and
records the same fills and states.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np
from numba.extending import register_jitable

from mmenv import engine as _engine
from mmenv.config import MarketParams, check_finite, check_positive
from mmenv.core import match_and_settle
from mmenv.policy import QuoteState, state_from_obs
from mmenv.records import FILL_DTYPE, STATE_DTYPE, Recorder

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "QuoteRule",
    "TickStream",
    "backtest",
    "backtest_model",
    "iter_chunks",
    "run_fast",
    "run_reference",
]

# One source for the AS formulas: compile mmenv.engine's own functions (the helper it calls is registered
# as jitable in place, so numba resolves the call inside optimal_spread).
register_jitable(_engine._liquidity_term)
_reservation_price = nb.njit(cache=False)(_engine.reservation_price)
_optimal_spread = nb.njit(cache=False)(_engine.optimal_spread)

RULE_AS, RULE_SYMMETRIC, RULE_NAIVE = 0, 1, 2
_RULE_CODES = {"as": RULE_AS, "symmetric": RULE_SYMMETRIC, "naive": RULE_NAIVE}

# Error codes of the loop.
_ERR_TIME, _ERR_PRICE, _ERR_SIDE, _ERR_SIZE, _ERR_NAN_QUOTE, _ERR_CROSSED, _ERR_QUEUE = 1, 2, 3, 4, 5, 6, 7

# Indices of the float state vector ``st`` and the integer state vector ``ist`` of the loop.
_Q, _CASH, _BID, _ASK, _NEXT_DEC, _LAST_T, _T0, _LAST_MID, _LAST_BP, _LAST_AP, _ERR_A, _ERR_B = range(12)
_N_ST = 12
_EV, _NF, _NS, _SINCE, _ERR, _ERR_EV, _NDEC, _NLIVE, _STARTED, _QHEAD, _QCOUNT = range(11)
_N_IST = 11
# Parameters vector ``prm``.
_P_QMAX, _P_SIZE, _P_SHARE, _P_FPU, _P_FRATE, _P_INTERVAL, _P_LATENCY, _P_HORIZON, _P_SIGMA = range(9)
_P_WITHDRAW, _P_EVERY, _P_ON_QUOTES = 9, 10, 11
_N_PRM = 12
_QUEUE_CAP = 4096


# ----------------------------------------------------------------------------------------------------- input
@dataclass(frozen=True, eq=False)
class TickStream:
    """A stream of trades (events), struct of (M,) arrays.

    Attributes:
        time: float64, event time in the backtest's time unit (non-decreasing; checked by the loop).
        price: float64, trade price (price units).
        side: int8, +1 buyer-initiated (lifts asks: can fill our ask), -1 seller-initiated (hits bids).
        size: float64, trade size (units), > 0.
        mid: float64, mid-price at the trade (price units).
    """

    time: np.ndarray
    price: np.ndarray
    side: np.ndarray
    size: np.ndarray
    mid: np.ndarray

    def __post_init__(self) -> None:
        conv = {
            "time": np.float64,
            "price": np.float64,
            "side": np.int8,
            "size": np.float64,
            "mid": np.float64,
        }
        n = None
        for name, dt in conv.items():
            raw = np.asarray(getattr(self, name))
            if raw.ndim != 1:
                raise ValueError(f"TickStream.{name} must be one-dimensional, got shape {raw.shape}")
            if name == "side" and raw.dtype != np.int8:
                if raw.size and not np.isin(raw, (-1, 1)).all():
                    i = int(np.flatnonzero(~np.isin(raw, (-1, 1)))[0])
                    raise ValueError(f"side must be +1 or -1, got {raw[i].item()!r} at event {i}")
            arr = np.ascontiguousarray(raw, dtype=dt)
            object.__setattr__(self, name, arr)
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ValueError(f"TickStream.{name} has length {arr.shape[0]}, not {n} (the length of time)")

    def __len__(self) -> int:
        return self.time.shape[0]

    def slice(self, start: int, stop: int) -> TickStream:
        """Events ``start:stop`` as views (no copy)."""
        s = slice(start, stop)
        return TickStream(self.time[s], self.price[s], self.side[s], self.size[s], self.mid[s])

    @classmethod
    def from_ticks(cls, ticks: Any, time_unit_seconds: float = 1.0) -> TickStream:
        """From :class:`mmenv.ticks.Ticks`: time = trading clock / ``time_unit_seconds``."""
        check_positive("time_unit_seconds", time_unit_seconds)
        return cls(
            time=ticks.clock / float(time_unit_seconds),
            price=ticks.price,
            side=ticks.side,
            size=ticks.size,
            mid=ticks.mid,
        )


def iter_chunks(stream: TickStream | Iterable[TickStream], chunk_size: int = 1 << 20) -> Iterator[TickStream]:
    """Yield the stream as chunks: views of ``chunk_size`` events of one stream, or the chunks of an iterable."""
    if isinstance(stream, TickStream):
        for s in range(0, len(stream), chunk_size):
            yield stream.slice(s, min(len(stream), s + chunk_size))
        return
    for chunk in stream:
        if not isinstance(chunk, TickStream):
            raise TypeError(f"stream chunks must be TickStream, got {type(chunk).__name__}")
        yield chunk


# ---------------------------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class BacktestConfig:
    """Parameters of a tick backtest.

    Attributes:
        q_max: hard inventory limit (units), > 0 (``math.inf``: none).
        order_size: units per quote, > 0 and <= q_max.
        share: fraction of each trade's size we can take, in (0, 1]; fill = min(order_size, share * size).
        fee_per_unit: fee per unit traded (price units); negative: maker rebate.
        fee_rate: fee per unit of notional; negative: rebate.
        q0: initial inventory (units), |q0| <= q_max. cash0: initial cash (price units).
        decision_interval: time between quote decisions (time units), >= 0; 0: every tick.
        latency: delay between a decision and its quotes going live (time units), >= 0.
        horizon: AS episode length T (time units), > 0: tau = horizon - ((t - t_0) mod horizon).
        sigma: volatility the policy sees (price / sqrt(time unit)), >= 0.
        allow_withdraw: a NaN depth withdraws that side (True) or raises (False, default).
        reprice_on_quotes: each tick is a quote update (mid ``m_i``) followed by the trade, and the policy
            decides on the quote update, before the trade (True, default: with ``latency = 0`` its quotes are
            live for trade ``i`` itself). False: the policy decides after the trade only ("reprice on trades":
            quotes made at ``m_i`` are live from trade ``i + 1`` on, stale by one trade and picked off when
            the mid moves more between trades than the quoted depth).
        record_every: record the state every this many events (>= 1); the first and last are always recorded.
        fill_capacity, state_capacity: rows of the record buffers (>= 4).
        chunk_size: events per chunk when cutting one in-memory stream (>= 1).
    """

    q_max: float = 1000.0
    order_size: float = 100.0
    share: float = 1.0
    fee_per_unit: float = 0.0
    fee_rate: float = 0.0
    q0: float = 0.0
    cash0: float = 0.0
    decision_interval: float = 0.0
    latency: float = 0.0
    horizon: float = 1.0
    sigma: float = 1.0
    allow_withdraw: bool = False
    reprice_on_quotes: bool = True
    record_every: int = 1
    fill_capacity: int = 1 << 16
    state_capacity: int = 1 << 16
    chunk_size: int = 1 << 20

    def __post_init__(self) -> None:
        check_positive("q_max", self.q_max, allow_inf=True)
        check_positive("order_size", self.order_size)
        if self.order_size > self.q_max:
            raise ValueError(f"order_size must be <= q_max ({self.q_max!r}), got {self.order_size!r}")
        check_positive("share", self.share)
        if self.share > 1.0:
            raise ValueError(f"share must lie in (0, 1], got {self.share!r}")
        check_finite("fee_per_unit", self.fee_per_unit)
        check_finite("fee_rate", self.fee_rate)
        check_finite("q0", self.q0)
        if abs(self.q0) > self.q_max:
            raise ValueError(
                f"q0 must lie in [-q_max, q_max] = [-{self.q_max}, {self.q_max}], got {self.q0!r}"
            )
        check_finite("cash0", self.cash0)
        check_positive("decision_interval", self.decision_interval, allow_zero=True)
        check_positive("latency", self.latency, allow_zero=True)
        check_positive("horizon", self.horizon)
        check_positive("sigma", self.sigma, allow_zero=True)
        for name in ("allow_withdraw", "reprice_on_quotes"):
            v = getattr(self, name)
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {v!r}")
        for name, lo in (("record_every", 1), ("fill_capacity", 4), ("state_capacity", 4), ("chunk_size", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")

    def _params(self) -> np.ndarray:
        prm = np.empty(_N_PRM)
        prm[_P_QMAX], prm[_P_SIZE], prm[_P_SHARE] = self.q_max, self.order_size, self.share
        prm[_P_FPU], prm[_P_FRATE] = self.fee_per_unit, self.fee_rate
        prm[_P_INTERVAL], prm[_P_LATENCY], prm[_P_HORIZON] = (
            self.decision_interval,
            self.latency,
            self.horizon,
        )
        prm[_P_SIGMA], prm[_P_WITHDRAW], prm[_P_EVERY] = (
            self.sigma,
            float(self.allow_withdraw),
            self.record_every,
        )
        prm[_P_ON_QUOTES] = float(self.reprice_on_quotes)
        return prm


@dataclass(frozen=True)
class QuoteRule:
    """A quote rule the compiled loop can evaluate (the AS strategy and the baselines built on its formulas).

    * "as": r = s - q gamma sigma^2 tau (AS eq. 3.17), spread = gamma sigma^2 tau + (2/gamma) ln(1 + gamma/k)
      (eq. 3.18); depths (s - r + spread/2, r + spread/2 - s). As :class:`agents.AvellanedaStoikovAgent`.
    * "symmetric": spread/2 on each side of the mid (tau = 0 in the spread if not ``time_term``). As
      :class:`agents.SymmetricAgent`.
    * "naive": ``depth`` on each side. As :class:`agents.NaiveAgent`.

    Attributes:
        kind: "as", "symmetric" or "naive".
        gamma: risk aversion (1 / price unit), >= 0. k: liquidity (1 / price unit), > 0.
        sigma: volatility (price / sqrt(time unit)); None: the backtest's ``sigma``.
        depth: naive depth (price units), >= 0.
        time_term: the spread keeps gamma sigma^2 tau (eq. 3.18); False: liquidity term only (the "as" and
            "symmetric" rules; the agents' ``spread_time_term`` / ``time_term``).
    """

    kind: str = "as"
    gamma: float = 0.1
    k: float = 1.5
    sigma: float | None = None
    depth: float = 0.0
    time_term: bool = True

    def __post_init__(self) -> None:
        if self.kind not in _RULE_CODES:
            raise ValueError(f"kind must be one of {sorted(_RULE_CODES)}, got {self.kind!r}")
        check_positive("gamma", self.gamma, allow_zero=True)
        check_positive("k", self.k)
        if self.sigma is not None:
            check_positive("sigma", self.sigma, allow_zero=True)
        check_positive("depth", self.depth, allow_zero=True)

    @property
    def name(self) -> str:
        """The strategy's short name."""
        return self.kind

    def _params(self) -> np.ndarray:
        s = math.nan if self.sigma is None else float(self.sigma)
        return np.array([self.gamma, self.k, s, self.depth, float(self.time_term)])

    @classmethod
    def from_policy(cls, policy: Any) -> QuoteRule | None:
        """The rule equivalent to a policy, or None if there is none.

        A policy that the compiled loop can run says so itself: its ``quote_rule()`` method returns the
        equivalent :class:`QuoteRule` (the AS finite-horizon, symmetric and naive agents do), or None.
        """
        if isinstance(policy, QuoteRule):
            return policy
        get = getattr(policy, "quote_rule", None)
        return get() if callable(get) else None

    def to_policy(self) -> RulePolicy:
        """This rule as a :class:`mmenv.policy.Policy` evaluated in Python (for the reference loop)."""
        return RulePolicy(self)


class RulePolicy:
    """A :class:`QuoteRule` as a :class:`mmenv.policy.Policy`: the kernel's rule function run uncompiled.

    ``quote`` calls ``_rule_depths.py_func`` (the very function the compiled loop inlines) path by path, so
    the reference loop and the kernel share one source for the rule.
    """

    def __init__(self, rule: QuoteRule, s0: float = 100.0) -> None:
        self.rule, self.s0 = rule, float(s0)
        self.name = rule.name
        self._code, self._rp = _RULE_CODES[rule.kind], rule._params()

    def reset(self, num_paths: int = 1) -> None:
        """Stateless."""

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Depths (N,) each, from ``(q, tau, mid, sigma)`` (the rule's own sigma when it has one)."""
        rule_depths = _rule_depths.py_func
        q, tau, mid = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (state.q, state.tau, state.mid))
        sig = np.broadcast_to(np.asarray(state.sigma, dtype=np.float64), q.shape)
        own = self._rp[2]
        out = np.array(
            [
                rule_depths(self._code, self._rp, q[i], tau[i], mid[i], sig[i] if own != own else own)
                for i in range(q.shape[0])
            ],
            dtype=np.float64,
        ).reshape(q.shape[0], 2)
        return out[:, 0], out[:, 1]

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Depths (N, 2) for env observations (N, 4), or (2,) for one observation (``s0``: the start mid)."""
        bid, ask = self.quote(state_from_obs(obs, self.s0))
        out = np.stack([bid, ask], axis=-1)
        return out[0] if np.ndim(obs) == 1 else out


# ------------------------------------------------------------------------------------------------ results
@dataclass
class BacktestResult:
    """Records and counters of one backtest.

    Attributes:
        fills: :data:`mmenv.records.FILL_DTYPE` record. states: :data:`mmenv.records.STATE_DTYPE` record
            (first row: the state before the first event, ``event = -1``).
        n_events: events processed. n_decisions: quote decisions taken.
        n_quoted: events whose aggressor side met a live quote of ours (the denominator of the fill ratio).
        config: the :class:`BacktestConfig` (None for model-market backtests). strategy: the policy's name.
        order_size, q_max: the order size and inventory limit used (units).
        dt: event spacing for model-market backtests (time units), else None.
    """

    fills: np.ndarray
    states: np.ndarray
    n_events: int
    n_decisions: int
    n_quoted: int
    config: BacktestConfig | None
    strategy: str
    order_size: float
    q_max: float
    dt: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pnl(self) -> float:
        """Final minus initial mark-to-market equity (price units)."""
        return float(self.states["equity"][-1] - self.states["equity"][0])

    def fills_frame(self):
        """The fills as a pandas DataFrame."""
        from mmenv.records import to_frame

        return to_frame(self.fills)

    def states_frame(self):
        """The states as a pandas DataFrame."""
        from mmenv.records import to_frame

        return to_frame(self.states)


# ------------------------------------------------------------------------------------------ the fast path
@nb.njit(cache=True)
def _rule_depths(
    code: int, rp: np.ndarray, q: float, tau: float, mid: float, sigma: float
) -> tuple[float, float]:
    """Depths of a :class:`QuoteRule` (same operations, same order, as the agents in :mod:`agents`)."""
    if code == 0:
        skew = mid - _reservation_price(mid, q, tau, rp[0], sigma)
        tt = tau if rp[4] != 0.0 else 0.0 * tau
        half = 0.5 * _optimal_spread(tt, rp[0], sigma, rp[1])
        return half + skew, half - skew
    if code == 1:
        tt = tau if rp[4] != 0.0 else 0.0 * tau
        half = 0.5 * _optimal_spread(tt, rp[0], sigma, rp[1])
        return half, half
    return rp[3], rp[3]


@nb.njit(cache=True, inline="always")
def _decide(
    st: np.ndarray,
    ist: np.ndarray,
    queue: np.ndarray,
    code: int,
    rp: np.ndarray,
    q: float,
    ti: float,
    mi: float,
    sigma: float,
    horizon: float,
    interval: float,
    latency: float,
    withdraw: bool,
    ev: int,
) -> bool:
    """The decision step: quotes from ``(q, tau, m_i, sigma)`` at ``t_i``, live now or queued until ``t_i + L``.

    Returns True on an error (``ist[_ERR]`` set, naming event ``ev``).
    """
    tau = horizon - ((ti - st[_T0]) % horizon)
    db, da = _rule_depths(code, rp, q, tau, mi, sigma)
    if (db != db or da != da) and not withdraw:
        ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = _ERR_NAN_QUOTE, ev, db, da
        return True
    bid_px = mi - db
    ask_px = mi + da
    if bid_px >= ask_px:
        ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = _ERR_CROSSED, ev, bid_px, ask_px
        return True
    if latency > 0.0:
        qcap = queue.shape[0]
        if ist[_QCOUNT] >= qcap:
            ist[_ERR], ist[_ERR_EV] = _ERR_QUEUE, ev
            return True
        t = (ist[_QHEAD] + ist[_QCOUNT]) % qcap
        queue[t, 0] = bid_px
        queue[t, 1] = ask_px
        queue[t, 2] = ti + latency
        ist[_QCOUNT] += 1
    else:
        st[_BID] = bid_px
        st[_ASK] = ask_px
    ist[_NDEC] += 1
    if interval > 0.0:
        st[_NEXT_DEC] = st[_NEXT_DEC] + interval * (math.floor((ti - st[_NEXT_DEC]) / interval) + 1.0)
    return False


@nb.njit(cache=True, inline="always")
def _go_live(st: np.ndarray, ist: np.ndarray, queue: np.ndarray, ti: float) -> None:
    """Queued decisions whose live time ``t_dec + latency <= t_i`` replace the live quotes, in decision order."""
    qcap = queue.shape[0]
    while ist[_QCOUNT] > 0 and queue[ist[_QHEAD], 2] <= ti:
        h = ist[_QHEAD]
        st[_BID] = queue[h, 0]
        st[_ASK] = queue[h, 1]
        ist[_QHEAD] = (h + 1) % qcap
        ist[_QCOUNT] -= 1


@nb.njit(cache=True)
def _kernel(
    time: np.ndarray,
    price: np.ndarray,
    side: np.ndarray,
    size: np.ndarray,
    mid: np.ndarray,
    i0: int,
    st: np.ndarray,
    ist: np.ndarray,
    prm: np.ndarray,
    code: int,
    rp: np.ndarray,
    fills: np.ndarray,
    states: np.ndarray,
    queue: np.ndarray,
) -> int:
    """Run the loop of the module docstring from event ``i0`` of the chunk; return where it stopped.

    It stops at the end of the chunk, when a record buffer has no room for one more event, or on an error
    (``ist[_ERR] != 0``, event index in ``ist[_ERR_EV]``).
    """
    n = time.shape[0]
    cap_f = fills.shape[0]
    cap_s = states.shape[0]
    q_max, osize, share = prm[_P_QMAX], prm[_P_SIZE], prm[_P_SHARE]
    fpu, frate = prm[_P_FPU], prm[_P_FRATE]
    interval, latency, horizon = prm[_P_INTERVAL], prm[_P_LATENCY], prm[_P_HORIZON]
    sigma = prm[_P_SIGMA] if rp[2] != rp[2] else rp[2]
    withdraw = prm[_P_WITHDRAW] != 0.0
    every = int(prm[_P_EVERY])
    on_quotes = prm[_P_ON_QUOTES] != 0.0
    inf = math.inf
    for i in range(i0, n):
        if ist[_NF] + 2 > cap_f or ist[_NS] + 2 > cap_s:
            return i
        ev = ist[_EV]
        ti, pi, si, zi, mi = time[i], price[i], side[i], size[i], mid[i]
        if not (ti >= st[_LAST_T]):
            ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = _ERR_TIME, ev, ti, st[_LAST_T]
            return i
        if not (math.isfinite(pi) and math.isfinite(mi)):
            ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = _ERR_PRICE, ev, pi, mi
            return i
        if si != 1 and si != -1:
            ist[_ERR], ist[_ERR_EV], st[_ERR_A] = _ERR_SIDE, ev, si
            return i
        if not (zi > 0.0 and zi < inf):
            ist[_ERR], ist[_ERR_EV], st[_ERR_A] = _ERR_SIZE, ev, zi
            return i
        if ist[_STARTED] == 0:
            ist[_STARTED] = 1
            st[_T0] = ti
            st[_NEXT_DEC] = ti
            k = ist[_NS]
            states[k]["event"] = -1
            states[k]["time"] = ti
            states[k]["mid"] = mi
            states[k]["bid"] = math.nan
            states[k]["ask"] = math.nan
            states[k]["inventory"] = st[_Q]
            states[k]["cash"] = st[_CASH]
            states[k]["equity"] = st[_CASH] + st[_Q] * mi
            ist[_NS] = k + 1
        # 2. decision on the quote update (before the trade: the trade is not seen)
        if on_quotes and ti >= st[_NEXT_DEC]:
            if _decide(
                st, ist, queue, code, rp, st[_Q], ti, mi, sigma, horizon, interval, latency, withdraw, ev
            ):
                return i
        # 3. quotes going live
        _go_live(st, ist, queue, ti)
        # 4. matching and accounting: the core's rule
        if si > 0:
            reach_bid, reach_ask, avail_bid, avail_ask = -inf, pi - mi, 0.0, share * zi
        else:
            reach_bid, reach_ask, avail_bid, avail_ask = mi - pi, -inf, share * zi, 0.0
        q, cash, bought, sold, fees, bp, ap = match_and_settle(
            st[_Q],
            st[_CASH],
            mi,
            mi - st[_BID],
            st[_ASK] - mi,
            reach_bid,
            reach_ask,
            avail_bid,
            avail_ask,
            q_max,
            osize,
            fpu,
            frate,
        )
        st[_Q] = q
        st[_CASH] = cash
        if (si > 0 and ap == ap) or (si < 0 and bp == bp):
            ist[_NLIVE] += 1
        # 5. records
        if bought > 0.0:
            fee_b = fees if sold == 0.0 else fpu * bought + frate * (bought * bp)
            k = ist[_NF]
            fills[k]["event"] = ev
            fills[k]["time"] = ti
            fills[k]["side"] = 1
            fills[k]["price"] = bp
            fills[k]["size"] = bought
            fills[k]["mid"] = mi
            fills[k]["fee"] = fee_b
            fills[k]["inventory"] = q
            ist[_NF] = k + 1
        else:
            fee_b = 0.0
        if sold > 0.0:
            k = ist[_NF]
            fills[k]["event"] = ev
            fills[k]["time"] = ti
            fills[k]["side"] = -1
            fills[k]["price"] = ap
            fills[k]["size"] = sold
            fills[k]["mid"] = mi
            fills[k]["fee"] = fees - fee_b
            fills[k]["inventory"] = q
            ist[_NF] = k + 1
        ist[_SINCE] += 1
        if ist[_SINCE] >= every:
            k = ist[_NS]
            states[k]["event"] = ev
            states[k]["time"] = ti
            states[k]["mid"] = mi
            states[k]["bid"] = bp
            states[k]["ask"] = ap
            states[k]["inventory"] = q
            states[k]["cash"] = cash
            states[k]["equity"] = cash + q * mi
            ist[_NS] = k + 1
            ist[_SINCE] = 0
        st[_LAST_T] = ti
        st[_LAST_MID] = mi
        st[_LAST_BP] = bp
        st[_LAST_AP] = ap
        ist[_EV] = ev + 1
        # 2'. decision after the trade (reprice_on_quotes=False): live from the next event on
        if not on_quotes and ti >= st[_NEXT_DEC]:
            if _decide(st, ist, queue, code, rp, q, ti, mi, sigma, horizon, interval, latency, withdraw, ev):
                return i + 1
    return n


def _new_state(cfg: BacktestConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    st = np.zeros(_N_ST)
    st[_Q], st[_CASH] = cfg.q0, cfg.cash0
    st[_BID] = st[_ASK] = math.nan
    st[_LAST_T] = -math.inf
    ist = np.zeros(_N_IST, dtype=np.int64)
    queue = np.zeros((_QUEUE_CAP, 3))
    return st, ist, queue


def _raise(code: int, ev: int, a: float, b: float) -> None:
    if code == _ERR_TIME:
        if a != a:
            raise ValueError(f"tick time is NaN at event {ev}")
        raise ValueError(f"ticks out of order at event {ev}: time {a!r} < previous time {b!r}")
    if code == _ERR_PRICE:
        raise ValueError(f"tick price and mid must be finite at event {ev}, got price={a!r}, mid={b!r}")
    if code == _ERR_SIDE:
        raise ValueError(f"tick side must be +1 or -1 at event {ev}, got {a!r}")
    if code == _ERR_SIZE:
        raise ValueError(f"tick size must be finite and > 0 at event {ev}, got {a!r}")
    if code == _ERR_NAN_QUOTE:
        raise ValueError(
            f"policy returned a NaN quote at event {ev}: bid_depth={a!r}, ask_depth={b!r} "
            "(pass allow_withdraw=True to read NaN as 'no quote on that side')"
        )
    if code == _ERR_CROSSED:
        raise ValueError(f"policy returned crossed quotes at event {ev}: bid={a!r} >= ask={b!r}")
    if code == _ERR_QUEUE:
        raise ValueError(
            f"more than {_QUEUE_CAP} decisions in flight at event {ev}: latency spans too many decisions; "
            "use a larger decision_interval"
        )
    raise AssertionError(f"unknown error code {code}")  # pragma: no cover


def _final_state_row(st: np.ndarray, ist: np.ndarray) -> tuple:
    q, cash, mi = st[_Q], st[_CASH], st[_LAST_MID]
    return (ist[_EV] - 1, st[_LAST_T], mi, st[_LAST_BP], st[_LAST_AP], q, cash, cash + q * mi)


def _recorders(
    spill_dir: str | os.PathLike | None, cfg: BacktestConfig, tag: str
) -> tuple[Recorder, Recorder]:
    if spill_dir is None:
        return Recorder(FILL_DTYPE, cfg.fill_capacity), Recorder(STATE_DTYPE, cfg.state_capacity)
    d = Path(spill_dir)
    d.mkdir(parents=True, exist_ok=True)
    return (
        Recorder(FILL_DTYPE, cfg.fill_capacity, d / f"{tag}_fills.bin"),
        Recorder(STATE_DTYPE, cfg.state_capacity, d / f"{tag}_states.bin"),
    )


def _progress(progress: bool, total: int | None, name: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"backtest {name}", unit="ev", unit_scale=True, leave=False)


def run_fast(
    rule: QuoteRule,
    stream: TickStream | Iterable[TickStream],
    config: BacktestConfig | None = None,
    *,
    spill_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> BacktestResult:
    """The compiled loop (numba) with a :class:`QuoteRule`; see the module docstring.

    Args:
        rule: the quote rule. stream: one stream (cut into chunks of ``config.chunk_size``) or an iterable of
            chunks (e.g. a generator: memory then stays flat). config: the backtest parameters.
        spill_dir: if given, records are spilled to ``spill_dir/<strategy>_{fills,states}.bin`` and returned
            as memory maps. progress: tqdm bar over events.
    """
    cfg = BacktestConfig() if config is None else config
    if not isinstance(rule, QuoteRule):
        raise TypeError(f"rule must be a QuoteRule, got {type(rule).__name__}")
    st, ist, queue = _new_state(cfg)
    prm, rp, code = cfg._params(), rule._params(), _RULE_CODES[rule.kind]
    frec, srec = _recorders(spill_dir, cfg, rule.name)
    bar = _progress(progress, len(stream) if isinstance(stream, TickStream) else None, rule.name)
    for chunk in iter_chunks(stream, cfg.chunk_size):
        i, n = 0, len(chunk)
        while i < n:
            i = _kernel(
                chunk.time,
                chunk.price,
                chunk.side,
                chunk.size,
                chunk.mid,
                i,
                st,
                ist,
                prm,
                code,
                rp,
                frec.buffer,
                srec.buffer,
                queue,
            )
            frec.n, srec.n = int(ist[_NF]), int(ist[_NS])
            if ist[_ERR]:
                _raise(int(ist[_ERR]), int(ist[_ERR_EV]), float(st[_ERR_A]), float(st[_ERR_B]))
            if i < n:
                frec.flush()
                srec.flush()
                ist[_NF] = ist[_NS] = 0
        if bar is not None:
            bar.update(n)
    if bar is not None:
        bar.close()
    return _finish(frec, srec, st, ist, cfg, rule.name)


def _finish(frec: Recorder, srec: Recorder, st, ist, cfg: BacktestConfig, name: str) -> BacktestResult:
    if ist[_EV] == 0:
        raise ValueError("the tick stream has no events")
    if ist[_SINCE] != 0:
        srec.append(_final_state_row(st, ist))
    return BacktestResult(
        fills=frec.finish(),
        states=srec.finish(),
        n_events=int(ist[_EV]),
        n_decisions=int(ist[_NDEC]),
        n_quoted=int(ist[_NLIVE]),
        config=cfg,
        strategy=name,
        order_size=cfg.order_size,
        q_max=cfg.q_max,
    )


# ------------------------------------------------------------------------------------- the reference loop
def run_reference(
    policy: Any,
    stream: TickStream | Iterable[TickStream],
    config: BacktestConfig | None = None,
    *,
    spill_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> BacktestResult:
    """The readable loop, event by event in Python, for any :class:`mmenv.policy.Policy` (or a QuoteRule).

    Same steps, same order and same records as the compiled loop; matching and accounting by
    ``mmenv.core.match_and_settle.py_func`` (the core's rule, uncompiled). See :func:`run_fast` for the args.
    """
    cfg = BacktestConfig() if config is None else config
    if isinstance(policy, QuoteRule):
        policy = policy.to_policy()
    name = str(getattr(policy, "name", type(policy).__name__))
    settle = match_and_settle.py_func
    policy.reset(1)
    q, cash = float(cfg.q0), float(cfg.cash0)
    bid = ask = math.nan  # live quote prices
    pending: list[tuple[float, float, float]] = []  # (bid, ask, live time), in decision order
    last_t, t0, next_dec = -math.inf, math.nan, math.nan
    ev = n_dec = n_quoted = since = 0
    last = None
    sigma_arr = s0 = None
    frec, srec = _recorders(spill_dir, cfg, name)
    bar = _progress(progress, len(stream) if isinstance(stream, TickStream) else None, name)

    def decide(q: float, t: float, m: float, ev: int) -> float:
        """The decision step at ``t`` (mid ``m``, inventory ``q``); returns the next decision time."""
        nonlocal bid, ask, n_dec
        tau = cfg.horizon - ((t - t0) % cfg.horizon)
        state = QuoteState(q=np.array([q]), tau=np.array([tau]), mid=np.array([m]), sigma=sigma_arr, s0=s0)
        db_a, da_a = policy.quote(state)
        db, da = float(np.asarray(db_a).reshape(-1)[0]), float(np.asarray(da_a).reshape(-1)[0])
        if (db != db or da != da) and not cfg.allow_withdraw:
            _raise(_ERR_NAN_QUOTE, ev, db, da)
        bid_px, ask_px = m - db, m + da
        if bid_px >= ask_px:
            _raise(_ERR_CROSSED, ev, bid_px, ask_px)
        if cfg.latency > 0.0:
            if len(pending) >= _QUEUE_CAP:
                _raise(_ERR_QUEUE, ev, 0.0, 0.0)
            pending.append((bid_px, ask_px, t + cfg.latency))
        else:
            bid, ask = bid_px, ask_px
        n_dec += 1
        if cfg.decision_interval > 0.0:
            k = math.floor((t - next_dec) / cfg.decision_interval) + 1.0
            return next_dec + cfg.decision_interval * k
        return next_dec

    for chunk in iter_chunks(stream, cfg.chunk_size):
        for i in range(len(chunk)):
            t, p, s = float(chunk.time[i]), float(chunk.price[i]), int(chunk.side[i])
            z, m = float(chunk.size[i]), float(chunk.mid[i])
            # 1. validation
            if not t >= last_t:
                _raise(_ERR_TIME, ev, t, last_t)
            if not (math.isfinite(p) and math.isfinite(m)):
                _raise(_ERR_PRICE, ev, p, m)
            if s not in (1, -1):
                _raise(_ERR_SIDE, ev, s, 0.0)
            if not (0.0 < z < math.inf):
                _raise(_ERR_SIZE, ev, z, 0.0)
            if ev == 0:
                t0 = next_dec = t
                s0 = np.array([m])
                sigma_arr = np.array([cfg.sigma])
                srec.append((-1, t, m, math.nan, math.nan, q, cash, cash + q * m))
            # 2. decision on the quote update (before the trade: the trade is not seen)
            if cfg.reprice_on_quotes and t >= next_dec:
                next_dec = decide(q, t, m, ev)
            # 3. quotes going live
            while pending and pending[0][2] <= t:
                bid, ask, _ = pending.pop(0)
            # 4. match and settle: the trade reaches only its own side
            if s > 0:
                reach_bid, reach_ask, avail_bid, avail_ask = -math.inf, p - m, 0.0, cfg.share * z
            else:
                reach_bid, reach_ask, avail_bid, avail_ask = m - p, -math.inf, cfg.share * z, 0.0
            q, cash, bought, sold, fees, bp, ap = settle(
                q,
                cash,
                m,
                m - bid,
                ask - m,
                reach_bid,
                reach_ask,
                avail_bid,
                avail_ask,
                cfg.q_max,
                cfg.order_size,
                cfg.fee_per_unit,
                cfg.fee_rate,
            )
            if (s > 0 and ap == ap) or (s < 0 and bp == bp):
                n_quoted += 1
            # 5. records
            fee_b = 0.0
            if bought > 0.0:
                fee_b = fees if sold == 0.0 else cfg.fee_per_unit * bought + cfg.fee_rate * (bought * bp)
                frec.append((ev, t, 1, bp, bought, m, fee_b, q))
            if sold > 0.0:
                frec.append((ev, t, -1, ap, sold, m, fees - fee_b, q))
            since += 1
            if since >= cfg.record_every:
                srec.append((ev, t, m, bp, ap, q, cash, cash + q * m))
                since = 0
            last = (ev, t, m, bp, ap, q, cash, cash + q * m)
            last_t = t
            # 2'. decision after the trade (reprice_on_quotes=False): live from the next event on
            if not cfg.reprice_on_quotes and t >= next_dec:
                next_dec = decide(q, t, m, ev)
            ev += 1
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    if ev == 0:
        raise ValueError("the tick stream has no events")
    if since != 0:
        srec.append(last)
    return BacktestResult(
        fills=frec.finish(),
        states=srec.finish(),
        n_events=ev,
        n_decisions=n_dec,
        n_quoted=n_quoted,
        config=cfg,
        strategy=name,
        order_size=cfg.order_size,
        q_max=cfg.q_max,
    )


def backtest(
    policy: Any,
    stream: TickStream | Iterable[TickStream],
    config: BacktestConfig | None = None,
    *,
    path: str = "auto",
    spill_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> BacktestResult:
    """Backtest a policy on a tick stream (see the module docstring).

    Args:
        policy: a :class:`QuoteRule` or an :class:`mmenv.policy.Policy`.
        stream: a :class:`TickStream` or an iterable of chunks. config: :class:`BacktestConfig`.
        path: "fast" (compiled; needs a policy expressible as a QuoteRule), "reference", or "auto" (fast when
            possible). spill_dir, progress: see :func:`run_fast`.
    """
    if path not in ("auto", "fast", "reference"):
        raise ValueError(f"path must be 'auto', 'fast' or 'reference', got {path!r}")
    rule = QuoteRule.from_policy(policy) if path != "reference" else None
    if path == "fast" and rule is None:
        raise ValueError(
            f"path='fast' needs the AS (finite horizon), symmetric or naive rule; {type(policy).__name__} "
            "runs on path='reference'"
        )
    if rule is not None:
        return run_fast(rule, stream, config, spill_dir=spill_dir, progress=progress)
    return run_reference(policy, stream, config, spill_dir=spill_dir, progress=progress)


# ------------------------------------------------------------------------------------------- model market
def backtest_model(
    policy: Any,
    params: MarketParams | None = None,
    *,
    num_paths: int = 1,
    seed: int = 0,
    allow_withdraw: bool = False,
    progress: bool = False,
) -> list[BacktestResult]:
    """Backtest on the Avellaneda-Stoikov model market (the core's exponential or linear fill rule).

    Each decision step of :class:`mmenv.core.SimulationCore` over a :class:`mmenv.markets.ModelMarket` is one
    event: the policy quotes at the mid ``m_j`` (time ``j dt``), the core matches both sides against the
    model's reach (:func:`mmenv.core.match_and_settle`, via ``step_paths``), then the mid moves to
    ``m_{j+1}``. Fills are recorded at ``time = j dt`` and ``mid = m_j``; the state of event j at
    ``time = (j + 1) dt`` with ``mid = m_{j+1}``.

    Args:
        policy: an :class:`mmenv.policy.Policy` (batched over paths). params: the market (default the paper's).
        num_paths: independent paths (episodes), one result each. seed: seeds the market's generator.
        allow_withdraw: NaN depths withdraw a side (else they raise). progress: tqdm bar over steps.

    Returns:
        One :class:`BacktestResult` per path.
    """
    from mmenv.core import SimulationCore
    from mmenv.markets import ModelMarket

    params = MarketParams() if params is None else params
    market = ModelMarket(params, num_paths)
    core = SimulationCore.from_params(market, params)
    rng = np.random.default_rng(seed)
    core.reset(rng)
    policy.reset(num_paths)
    p, n, dt = num_paths, core.n_steps, market.dt
    mid = np.empty((p, n + 1))
    q = np.empty((p, n + 1))
    cash = np.empty((p, n + 1))
    bid = np.empty((p, n))
    ask = np.empty((p, n))
    bought = np.empty((p, n))
    sold = np.empty((p, n))
    fees = np.empty((p, n))
    mid[:, 0], q[:, 0], cash[:, 0] = market.mid, core.state.q, core.state.cash
    steps = range(n)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"model backtest {getattr(policy, 'name', '')}", leave=False)
    n_quoted = np.zeros(p, dtype=np.int64)
    for j in steps:
        state = QuoteState(
            q=core.state.q.copy(),
            tau=core.time_remaining(),
            mid=market.mid.copy(),
            sigma=market.sigma.copy(),
            s0=market.s0,
        )
        db, da = (np.asarray(x, dtype=np.float64).reshape(p) for x in policy.quote(state))
        bad = np.isnan(db) | np.isnan(da)
        if bad.any() and not allow_withdraw:
            i = int(np.flatnonzero(bad)[0])
            _raise(_ERR_NAN_QUOTE, j, float(db[i]), float(da[i]))
        crossed = (state.mid - db) >= (state.mid + da)
        if crossed.any():
            i = int(np.flatnonzero(crossed)[0])
            raise ValueError(
                f"policy returned crossed quotes at event {j} (path {i}): bid={state.mid[i] - db[i]!r} "
                f">= ask={state.mid[i] + da[i]!r}"
            )
        res = core.step(db, da, rng)
        mid[:, j + 1], q[:, j + 1], cash[:, j + 1] = res.mid_after, core.state.q, core.state.cash
        bid[:, j], ask[:, j] = res.bid_price, res.ask_price
        bought[:, j], sold[:, j], fees[:, j] = res.bought, res.sold, res.fees
        n_quoted += np.isfinite(res.bid_price).astype(np.int64) + np.isfinite(res.ask_price)
    name = str(getattr(policy, "name", type(policy).__name__))
    out = []
    for i in range(p):
        fills, states = records_from_arrays(
            dt,
            mid[i],
            q[i],
            cash[i],
            bid[i],
            ask[i],
            bought[i],
            sold[i],
            fees[i],
            params.fee_per_unit,
            params.fee_rate,
        )
        out.append(
            BacktestResult(
                fills=fills,
                states=states,
                n_events=n,
                n_decisions=n,
                n_quoted=int(n_quoted[i]),
                config=None,
                strategy=name,
                order_size=params.order_size,
                q_max=params.q_max,
                dt=dt,
            )
        )
    return out


def records_from_arrays(
    dt: float,
    mid: np.ndarray,
    q: np.ndarray,
    cash: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    bought: np.ndarray,
    sold: np.ndarray,
    fees: np.ndarray,
    fee_per_unit: float = 0.0,
    fee_rate: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill and state records of one path of a step-based run (model backtest or env rollout).

    Args:
        dt: step length (time units). mid, q, cash: (S + 1,) mid, inventory and cash, ``[0]`` before step 0.
        bid, ask: (S,) live quotes (NaN: not quoted). bought, sold, fees: (S,) fills and fees of each step.
        fee_per_unit, fee_rate: used to split a step's fees between its bid and ask fills when both filled.

    Returns:
        (fills, states) in :data:`mmenv.records.FILL_DTYPE` / :data:`mmenv.records.STATE_DTYPE`; fill times
        ``j dt`` at mid ``m_j``, state of step j at ``(j + 1) dt`` with mid ``m_{j+1}``.
    """
    s = bought.shape[0]
    states = np.zeros(s + 1, dtype=STATE_DTYPE)
    states["event"] = np.arange(-1, s)
    states["time"] = np.arange(s + 1) * dt
    states["mid"] = mid
    states["bid"][0] = states["ask"][0] = math.nan
    states["bid"][1:], states["ask"][1:] = bid, ask
    states["inventory"], states["cash"] = q, cash
    states["equity"] = cash + q * mid
    jb = np.flatnonzero(bought > 0)
    ja = np.flatnonzero(sold > 0)
    both = sold[jb] > 0
    fee_b = np.where(both, fee_per_unit * bought[jb] + fee_rate * (bought[jb] * bid[jb]), fees[jb])
    fee_b_all = np.zeros(s)
    fee_b_all[jb] = fee_b
    fills = np.zeros(jb.size + ja.size, dtype=FILL_DTYPE)
    ev = np.concatenate([jb, ja])
    order = np.argsort(ev, kind="stable")  # bid fill before ask fill within a step
    ev = ev[order]
    side = np.concatenate([np.ones(jb.size, np.int8), -np.ones(ja.size, np.int8)])[order]
    fills["event"] = ev
    fills["time"] = ev * dt
    fills["side"] = side
    fills["price"] = np.where(side > 0, bid[ev], ask[ev])
    fills["size"] = np.where(side > 0, bought[ev], sold[ev])
    fills["mid"] = mid[ev]
    fills["fee"] = np.where(side > 0, fee_b_all[ev], fees[ev] - fee_b_all[ev])
    fills["inventory"] = q[ev + 1]
    return fills, states
