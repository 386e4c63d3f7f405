"""Replay engine: a policy's orders against a real tape, with queue-aware fills, latency, a tick grid and fees.

One compiled loop (:func:`mmenv.replay.kernel.run_events`) serves the replay backtest (:func:`replay`) and
the event-clock env (:class:`mmenv.replay.env.ReplayEnv`): the env runs it in *external* mode, returning at each decision point
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

Modules: :mod:`mmenv.replay.config` (the settings, :class:`ReplayConfig`), :mod:`mmenv.replay.kernel` (the
compiled loop) and this one (the driver: :class:`ReplayState` and :func:`replay`).
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
from mmenv.data.tape import Tape, iter_chunks
from mmenv.policy import QuoteState
from mmenv.records import FILL_DTYPE, STATE_DTYPE, Recorder
from mmenv.replay import kernel as kn
from mmenv.replay.config import DECIDE_ON, FILL_MODELS, ReplayConfig
from mmenv.sim.quote_rules import RULE_AS, RULE_NAIVE, RULE_SYMMETRIC, QuoteRule

__all__ = ["DECIDE_ON", "FILL_MODELS", "ReplayConfig", "ReplayState", "replay"]


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
        st = np.zeros(kn.N_ST)
        st[kn.S_Q] = q0
        for s in range(2):
            o = kn.S_ORDER + 6 * s
            st[o + kn.O_LVL] = math.nan
            st[o + kn.O_AHEAD] = math.nan
            st[o + kn.O_LQTY] = math.nan
            st[o + kn.O_SENT] = kn.NEVER_SENT
        return cls(
            config=config,
            tick=float(tick),
            st=st,
            ist=np.zeros(kn.N_IST, dtype=np.int64),
            prm=config.packed(tick),
            pq_t=np.zeros(kn.QUEUE_CAP, dtype=np.int64),
            pq_s=np.zeros(kn.QUEUE_CAP, dtype=np.int64),
            pq_l=np.zeros(kn.QUEUE_CAP),
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
        return float(self.st[kn.S_Q])

    @property
    def cash(self) -> float:
        return float(self.st[kn.S_CASH])

    @property
    def book(self) -> tuple[float, float, float, float]:
        """(bid, bid size, ask, ask size) in force."""
        return (
            float(self.st[kn.S_BB]),
            float(self.st[kn.S_BQ]),
            float(self.st[kn.S_BA]),
            float(self.st[kn.S_AQ]),
        )

    @property
    def mid(self) -> float:
        return 0.5 * float(self.st[kn.S_BB] + self.st[kn.S_BA])

    @property
    def elapsed_s(self) -> float:
        return (int(self.ist[kn.I_LAST_T]) - int(self.ist[kn.I_T0])) * 1e-9

    @property
    def n_events(self) -> int:
        return int(self.ist[kn.I_EV])

    def run(self, chunk: Tape, i: int, code: int, rp: np.ndarray) -> int:
        """Run the kernel on ``chunk`` from ``i``, flushing records, until the chunk ends or a decision is due."""
        n = len(chunk)
        while i < n:
            self.ist[kn.I_NEED] = 0
            i = kn.run_events(
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
            if self.ist[kn.I_NEED]:
                return i
            if i < n:
                self.flush_records()
        return i

    def submit(self, bid_depth: float, ask_depth: float) -> None:
        """The external policy's decision at the last event (depths in price units; NaN/inf withdraws)."""
        t = int(self.ist[kn.I_LAST_T])
        err = kn.submit_decision(
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
            int(self.ist[kn.I_EV]) - 1,
        )
        self._sync()
        if err:
            self.raise_loop_error()
        self.ist[kn.I_NEED] = 0

    def _sync(self) -> None:
        self.fills.n, self.states.n = int(self.ist[kn.I_NF]), int(self.ist[kn.I_NS])
        if self.ist[kn.I_ERR]:
            self.raise_loop_error()

    def flush_records(self) -> None:
        self.fills.flush()
        self.states.flush()
        self.ist[kn.I_NF] = self.ist[kn.I_NS] = 0

    def raise_loop_error(self) -> None:
        code, ev, a, b = (
            int(self.ist[kn.I_ERR]),
            int(self.ist[kn.I_ERR_EV]),
            float(self.st[kn.S_ERR_A]),
            float(self.st[kn.S_ERR_B]),
        )
        if code == kn.ERR_TIME:
            raise ValueError(
                f"tape events out of order at event {ev}: time {int(a)} ns < previous {int(b)} ns"
            )
        if code == kn.ERR_CROSSED:
            raise ValueError(f"policy returned crossed quotes at event {ev}: bid={a!r} >= ask={b!r}")
        if code == kn.ERR_QUEUE:
            raise ValueError(
                f"more than {kn.QUEUE_CAP} orders in flight at event {ev}: the latency spans too many "
                "decisions; decide less often (decide_every, decision_interval_s)"
            )
        raise AssertionError(f"unknown error code {code}")  # pragma: no cover

    def finish(self, name: str) -> BacktestResult:
        """Close the records (a last state row) and return the :class:`mmenv.backtest.BacktestResult`."""
        if self.ist[kn.I_EV] == 0:
            raise ValueError("the tape has no events")
        if self.ist[kn.I_SINCE] != 0:
            q, cash, m = self.q, self.cash, self.mid
            tick = self.tick
            bid = self.st[kn.S_ORDER + kn.O_LVL] * tick if self.st[kn.S_ORDER + kn.O_LEFT] > 0 else math.nan
            ask = (
                self.st[kn.S_ORDER + 6 + kn.O_LVL] * tick
                if self.st[kn.S_ORDER + 6 + kn.O_LEFT] > 0
                else math.nan
            )
            self.states.append(
                (int(self.ist[kn.I_EV]) - 1, self.elapsed_s, m, bid, ask, q, cash, cash + q * m)
            )
        cfg = self.config
        bb, _, ba, _ = self.book
        q = self.q
        exit_px = bb if q > 0 else ba
        taker = cfg.taker_fee_per_unit * abs(q) + cfg.taker_fee_bps * 1e-4 * abs(q) * exit_px
        res = BacktestResult(
            fills=self.fills.finish(),
            states=self.states.finish(),
            n_events=int(self.ist[kn.I_EV]),
            n_decisions=int(self.ist[kn.I_NDEC]),
            n_quoted=int(self.ist[kn.I_NQUOTED]),
            config=None,
            strategy=name,
            order_size=cfg.order_size,
            q_max=cfg.q_max,
        )
        res.extra.update(
            replay=cfg.to_dict(),
            n_orders=int(self.ist[kn.I_NORDERS]),
            n_repriced=int(self.ist[kn.I_NREPRICED]),
            n_withdrawn=int(self.ist[kn.I_NWITHDRAWN]),
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
            if code < 0 and state.ist[kn.I_NEED]:
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
