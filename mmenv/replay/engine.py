"""Replay engine: a policy's orders against a real tape, with queue-aware fills, latency, a tick grid, a lot
grid and fees.

One compiled loop (:func:`mmenv.replay.kernel.run_events`) serves the replay backtest (:func:`replay`) and
the event-clock env (:class:`mmenv.replay.env.ReplayEnv`): the env runs it in *external* mode, returning at
each decision point for the agent's action; the backtest runs compiled quote rules (AS, symmetric, naive, the
fixed offset from the touch of :class:`mmenv.replay.config.TouchRule`) in the loop, or any :class:`agents.base.Policy` through the
same external mode. Fills are settled by the core's one rule, :func:`mmenv.sim.fills.match_and_settle` (hard
inventory limit, fees, cash and inventory).

Sizes live on the tape's lot grid (``Tape.lot``, or ``lot=``, else inferred from the tape's sizes by
:func:`mmenv.data.loaders.infer_lot`): ``order_size`` must be a whole number of lots, the size left of an
order is a whole number of lots, and a fill is the size available to us rounded to the nearest whole lot
(nothing under half a lot fills; float residue never does).

Per event of the tape (see :mod:`mmenv.data.tape`), in order:

0. *Decision* (when the last timestamp held a decision point, see 4): before the first event stamped
   after it, the policy decides on the state after *every* event stamped with that time (events sharing a
   timestamp arrive together: a policy cannot act between them).
1. *Orders reaching the book*: actions (new price or withdrawal of one side) whose arrival time is strictly
   before the event's time are applied, in decision order, against the book in force. A post-only price
   that would cross the opposite best is repriced to one tick inside it (``cross="reprice"``, the default:
   the most aggressive passive price, the touch when the spread is one tick) or the side is withdrawn
   (``cross="withdraw"``, like a post-only/GTX order the exchange rejects); never a marketable fill. An
   action at the price of the live order while it still has size left changes nothing (the order keeps its
   queue position); otherwise the live order is cancelled and a new one of ``order_size`` enters at the
   *back* of the queue.
2. *Quote event*: the book changes. Queue model (``fill_model="queue"``): when the size displayed at our
   level (our price = the best on our side) changes, its fall not explained by the trades printed at our
   level since the size last changed is cancellations, of which the queue model's share was ahead of us
   (``queue_model``: risk-averse, power-n, logarithmic or a fixed share, :mod:`mmenv.replay.config`); size
   added goes behind us; the queue ahead never exceeds the displayed size. When the best moves away from us
   (our price is better than the new best: the level emptied) we are first in the queue. When our level is
   deeper than the recorded best (level-1 data cannot show it): an order that joined there has an unknown
   queue until the level becomes the best, when it is ``deep_queue`` times the size displayed there
   (default 1: everyone displayed was there before us; 0: nobody, known at once); an order whose level was
   the best keeps its queue ahead, and the size last seen there, until its level is the best again. Both
   fill models: if the opposite best reaches our price (a best bid at or above our ask), the market went
   through us and the remaining size fills at our price.
3. *Trade event* (aggressor side +1 meets our ask, -1 our bid), price ``P`` and size ``V``:
   ``queue``: a print at our price first eats the queue ahead and fills what reaches us (whole lots); behind
   an unknown queue nothing fills at our price; a print through our price (a buy above our ask) fills up to
   ``V`` (``through_fill="print"``, default) or the whole remaining order (``"order"``).
   ``trade_through``: a print at or through our price (``at_price=True``, the default; False: through only)
   fills ``share * V``, queue ignored (a print through our price with ``through_fill="order"``: the order).
4. *Decision points*: every quote update by default, or every trade, or every event, every n of them, at
   least ``decision_interval_s`` apart; the decision itself is taken at step 0 of the first later event.
   The policy sees the mid, its inventory *in lots* (units / ``order_size``, so that risk aversions do not
   depend on the lot), tau (seconds), sigma (price / sqrt(s)), the top of the book and its own resting
   orders (:class:`mmenv.policy.QuoteState`), and returns depths; prices are rounded *away from the mid* to
   the tick grid (bid down, ask up); a NaN or +inf depth withdraws that side.

**Which events an order can meet.** A decision taken after the events stamped ``t`` reaches the book at
``a = t + feed_latency_s + entry_latency_s`` (the policy sees event i at ``t_i + feed``, its order travels
``entry`` more). It is in the book for every event stamped strictly after ``a``, until it is filled,
replaced or withdrawn; the events stamped ``a`` or earlier still meet the order it replaces. So with zero
latency a decision is never filled by the events of its own timestamp (the rest of the market order whose
first print triggered it: same timestamp, same aggressor), only by later ones; as in hftbacktest, whose
exchange processes an order arriving at ``a`` after the feed events stamped ``a``. Unchanged prices send
nothing (a fully filled order is renewed at the next decision).

5. *Records*: every fill, and the state every ``record_every`` events (first and last always): the
   :mod:`mmenv.records` dtypes, times in seconds from the first event.

Fees (maker, our fills are all passive): ``maker_fee_bps`` of notional plus ``maker_fee_per_unit`` per unit
(negative: rebates). The taker fee prices the liquidation of the final inventory at the opposite best in
``pnl_liquidated``.

Modules: :mod:`mmenv.replay.config` (the settings, :class:`ReplayConfig`, the queue models and
:class:`TouchRule`), :mod:`mmenv.replay.kernel` (the compiled loop) and this one (the driver:
:class:`ReplayState` and :func:`replay`).
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
from mmenv.data.loaders.common import infer_lot
from mmenv.data.tape import TRADE, Tape, iter_chunks
from mmenv.policy import OwnOrders, QuoteState, TopOfBook
from mmenv.records import FILL_DTYPE, STATE_DTYPE, Recorder
from mmenv.replay import kernel as kn
from mmenv.replay.config import DECIDE_ON, FILL_MODELS, QUEUE_MODELS, ReplayConfig, TouchRule
from mmenv.replay.jit_policy import N_STATE, JitPolicy, as_jit_policy, compiled_callback
from mmenv.sim.quote_rules import RULE_AS, RULE_NAIVE, RULE_SYMMETRIC, QuoteRule

__all__ = [
    "DECIDE_ON",
    "FILL_MODELS",
    "QUEUE_MODELS",
    "JitPolicy",
    "ReplayConfig",
    "ReplayState",
    "TouchRule",
    "check_features",
    "check_grid_step",
    "compiled_rule",
    "replay",
    "tape_lot",
]


def check_grid_step(name: str, value: Any) -> float:
    """``value`` as a float, or ValueError naming ``name`` unless it is a finite number > 0 (a tick or a lot)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def tape_lot(tape: Tape) -> float:
    """The size step of a tape: ``Tape.lot`` when the loader set it, else :func:`infer_lot` of its trade and
    book sizes."""
    lot = getattr(tape, "lot", None)
    if lot is not None:
        return float(lot)
    sizes = np.concatenate([tape.trade_qty[tape.kind == TRADE], tape.bid_qty, tape.ask_qty])
    return infer_lot(sizes)


@dataclass
class ReplayState:
    """The mutable state of one replay (vectors read and written by the kernel), and its records."""

    config: ReplayConfig
    tick: float
    lot: float
    st: np.ndarray
    ist: np.ndarray
    prm: np.ndarray
    pq_t: np.ndarray
    pq_s: np.ndarray
    pq_l: np.ndarray
    fills: Recorder
    states: Recorder
    extra: dict[str, Any] = field(default_factory=dict)
    #: The compiled policy's arrays (:mod:`mmenv.replay.jit_policy`): callback, features (rows x n), params,
    #: memory, state vector, depths. Without one: the never-called :func:`kernel.no_policy` and empty arrays.
    pfn: Any = None
    feats: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))
    pprm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pmem: np.ndarray = field(default_factory=lambda: np.zeros(0))
    jst: np.ndarray = field(default_factory=lambda: np.full(N_STATE, math.nan))
    jout: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def __post_init__(self) -> None:
        if self.pfn is None:
            self.pfn = compiled_callback(kn.no_policy)

    def set_policy(self, policy: JitPolicy | None, features: np.ndarray | None) -> None:
        """Give the loop a compiled policy (fresh memory) and the feature matrix (None: no features)."""
        if policy is not None:
            self.pfn = policy.callback()
            self.pprm = np.array(policy.params, dtype=np.float64)  # writable: the callback type
            self.pmem = policy.new_memory()
        if features is not None:
            self.feats = features

    def features_row(self) -> np.ndarray | None:
        """The feature row at the last event (None without features)."""
        if self.feats.shape[1] == 0:
            return None
        return self.feats[min(int(self.ist[kn.I_EV]) - 1, self.feats.shape[0] - 1)]

    def jit_decide(self, policy: JitPolicy) -> tuple[float, float]:
        """The reference path's call of a compiled policy: the loop's state vector, the policy's Python
        function on the same arrays; returns its depths."""
        kn.fill_policy_state(self.jst, self.st, self.ist, self.prm)
        row = self.feats[min(int(self.ist[kn.I_EV]) - 1, self.feats.shape[0] - 1)]
        self.jout[:] = math.nan
        policy.py_func(self.jst, row, self.pprm, self.pmem, self.jout)
        return float(self.jout[0]), float(self.jout[1])

    @classmethod
    def new(
        cls,
        config: ReplayConfig,
        tick: float,
        lot: float,
        q0: float = 0.0,
        spill_dir: str | os.PathLike | None = None,
    ) -> ReplayState:
        """A flat start (inventory ``q0``, no order) for price tick ``tick`` and size step ``lot``; records
        in memory or spilled to ``spill_dir``.

        Raises:
            ValueError: a tick or lot that is not a finite number > 0, or an ``order_size`` that is not a
                whole number of lots.
        """
        tick, lot = check_grid_step("tick", tick), check_grid_step("lot", lot)
        config.check_lot(lot)
        st = np.zeros(kn.N_ST)
        st[kn.S_Q] = q0
        st[kn.S_MEM :] = math.nan  # no level remembered
        for s in range(2):
            o = kn.S_ORDER + 6 * s
            st[o + kn.O_LVL] = math.nan
            st[o + kn.O_AHEAD] = math.nan
            st[o + kn.O_LQTY] = math.nan
            st[o + kn.O_SENT] = kn.NEVER_SENT
        return cls(
            config=config,
            tick=tick,
            lot=lot,
            st=st,
            ist=np.zeros(kn.N_IST, dtype=np.int64),
            prm=config.packed(tick, lot),
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
    def orders(self) -> OwnOrders:
        """Our resting orders: price and units left on each side (NaN and 0 where none rests), and the
        actions on their way to the book on each side."""
        out = []
        for s in range(2):
            o = kn.S_ORDER + 6 * s
            left = float(self.st[o + kn.O_LEFT])
            out.append(float(self.st[o + kn.O_LVL]) * self.tick if left > 0 else math.nan)
            out.append(left * self.lot if left > 0 else 0.0)
        return OwnOrders(
            bid=out[0],
            bid_size=out[1],
            ask=out[2],
            ask_size=out[3],
            bid_in_flight=int(self.ist[kn.I_PEND0]),
            ask_in_flight=int(self.ist[kn.I_PEND1]),
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

    def policy_state(self, s0: float) -> QuoteState:
        """What a policy sees at a decision (:class:`mmenv.policy.QuoteState`, one path): inventory in lots
        of ``order_size``, tau, mid, sigma, ``s0``, the top of the book, our resting orders and the feature
        row at the decision's event (None without features)."""
        cfg = self.config
        tau = cfg.horizon_s - (self.elapsed_s % cfg.horizon_s)
        bb, bq, ba, aq = self.book
        one = lambda x: np.array([x], dtype=np.float64)  # noqa: E731
        return QuoteState(
            q=one(self.q / cfg.order_size),
            tau=one(tau),
            mid=one(self.mid),
            sigma=one(cfg.sigma),
            s0=one(s0),
            book=TopOfBook(bid=bb, bid_size=bq, ask=ba, ask_size=aq, tick=self.tick, lot=self.lot),
            orders=self.orders,
            features=self.features_row(),
        )

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
                self.pfn,
                self.feats,
                self.pprm,
                self.pmem,
                self.jst,
                self.jout,
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


def compiled_rule(policy: Any) -> tuple[int, np.ndarray, str] | None:
    """(kernel code, rule parameters, name) of a policy the compiled loop can run, else None: a
    :class:`QuoteRule` (or a policy whose ``quote_rule()`` gives one: the AS, symmetric and naive agents) or a
    :class:`TouchRule` (or a policy whose ``touch_rule()`` gives one: :class:`agents.TouchAgent`)."""
    touch = policy if isinstance(policy, TouchRule) else None
    if touch is None and callable(getattr(policy, "touch_rule", None)):
        touch = policy.touch_rule()
    if touch is not None:
        return kn.RULE_TOUCH, touch.packed(), touch.name
    rule = QuoteRule.from_policy(policy)
    if rule is None:
        return None
    code = {"as": RULE_AS, "symmetric": RULE_SYMMETRIC, "naive": RULE_NAIVE}[rule.kind]
    return code, rule.packed(), rule.name


def check_features(features: Any, n_events: int | None) -> np.ndarray:
    """The feature matrix of a replay as float64, C-contiguous, one row per tape event.

    Raises:
        ValueError: not a 2-D array of numbers, or (when the tape's length is known) a row count other than
            the tape's number of events.
    """
    try:
        m = np.ascontiguousarray(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"features must be a 2-D array of floats, got {type(features).__name__}") from exc
    if m.ndim != 2:
        raise ValueError(f"features must be a 2-D array (events x features), got shape {m.shape}")
    if n_events is not None and m.shape[0] != n_events:
        raise ValueError(f"features has {m.shape[0]} rows, not one per tape event ({n_events})")
    if m.shape[0] == 0:
        raise ValueError("features has no rows")
    return m


def replay(
    policy: Any,
    tape: Tape | Iterable[Tape],
    config: ReplayConfig | None = None,
    *,
    features: np.ndarray | None = None,
    tick: float | None = None,
    lot: float | None = None,
    path: str = "auto",
    observe: Callable[[ReplayState], Any] | None = None,
    spill_dir: str | os.PathLike | None = None,
) -> BacktestResult:
    """Replay ``policy`` on ``tape`` (see the module docstring); returns the records and counters.

    Args:
        policy: a :class:`mmenv.backtest.QuoteRule`, a :class:`TouchRule`, a compiled policy
            (:class:`mmenv.replay.jit_policy.JitPolicy`, or a policy whose ``jit_policy()`` gives one) or an
            :class:`agents.base.Policy` (the AS, symmetric, naive and touch agents and every policy with a
            compiled form run compiled unless ``path="reference"``).
        tape: a :class:`Tape` (cut into chunks of ``config.chunk_size``) or an iterable of chunks.
        config: :class:`ReplayConfig`.
        features: float64 (events x n) matrix, one row per tape event, computed from the tape alone; a
            compiled policy reads the row of the decision's event, a Python policy ``QuoteState.features``.
        tick: the price tick (default: the tape's). lot: the size step (default: the tape's ``lot``, else
            inferred from its sizes, :func:`tape_lot`); ``order_size`` must be a whole number of lots.
        path: "auto", "fast" (compiled rule or policy) or "reference" (the policy called from Python at each
            decision; a compiled policy's Python function).
        observe: optional callback at each decision on the reference path (for tests and tracing).
        spill_dir: records spilled to ``spill_dir/{fills,states}.bin`` and returned as memory maps (flat memory).

    Raises:
        ValueError: a bad ``path``, ``path="fast"`` for a policy without a compiled form, a feature matrix
            that is not one row per event, or what the loop rejects (events out of order, crossed quotes).
    """
    cfg = ReplayConfig() if config is None else config
    if path not in ("auto", "fast", "reference"):
        raise ValueError(f"path must be 'auto', 'fast' or 'reference', got {path!r}")
    feats = None
    if features is not None:
        feats = check_features(features, len(tape) if isinstance(tape, Tape) else None)
    jit = as_jit_policy(policy)
    rule = None
    if path != "reference":
        rule = (kn.RULE_JIT, _NO_RULE, jit.name) if jit is not None else compiled_rule(policy)
    if path == "fast" and rule is None:
        raise ValueError(
            "path='fast' needs the AS, symmetric, naive or touch rule or a compiled policy (JitPolicy), "
            f"got {type(policy).__name__}"
        )
    chunks = iter_chunks(tape, cfg.chunk_size)
    state = None
    if rule is not None:
        code, rp, name = rule
    else:
        code, rp = -1, _NO_RULE
        if jit is not None:
            policy = jit
        elif isinstance(policy, QuoteRule):
            policy = policy.to_policy()
        elif isinstance(policy, TouchRule):
            raise ValueError(
                "a TouchRule runs in the compiled loop only; use agents.TouchAgent on the reference path"
            )
        name = _policy_name(policy)
        if jit is None:
            policy.reset(1)
    s0 = None
    for chunk in chunks:
        if state is None:
            state = ReplayState.new(
                cfg,
                tick if tick is not None else chunk.tick,
                lot if lot is not None else tape_lot(tape if isinstance(tape, Tape) else chunk),
                spill_dir=spill_dir,
            )
            state.set_policy(jit, feats)
        i = 0
        while i < len(chunk):
            i = state.run(chunk, i, code, rp)
            if code < 0 and state.ist[kn.I_NEED]:
                if observe is not None:
                    observe(state)
                if jit is not None:
                    db, da = state.jit_decide(jit)
                    state.submit(db, da)
                    continue
                s0 = state.mid if s0 is None else s0
                db, da = policy.quote(state.policy_state(s0))
                state.submit(float(np.asarray(db).reshape(-1)[0]), float(np.asarray(da).reshape(-1)[0]))
    if state is None:
        raise ValueError("the tape has no events")
    if feats is not None and feats.shape[0] != state.n_events:
        raise ValueError(f"features has {feats.shape[0]} rows, not one per tape event ({state.n_events})")
    return state.finish(name)


#: The rule parameters given to the loop when no rule runs (``rp[2]`` NaN: the configuration's sigma).
_NO_RULE = np.array([0.0, 1.0, math.nan, 0.0, 1.0])
