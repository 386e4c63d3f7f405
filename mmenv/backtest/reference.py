"""The reference backtest loop: readable Python, event by event. It is the test oracle of the compiled loop.

:func:`run_reference` runs the steps of :mod:`mmenv.backtest` for any :class:`mmenv.policy.Policy`; the tests
require the compiled loop (:mod:`mmenv.backtest.kernel`) to give the same records, bit for bit. It is also
the path for policies the kernel cannot express (passive, trend, PPO, ...).

What is shared and what is written twice: the *rules* are written once, as numba functions, and this loop
calls their uncompiled ``.py_func`` while the kernel calls them compiled -- the fill and accounting rule is
:func:`mmenv.sim.fills.match_and_settle` (``match_and_settle.py_func`` here), a quote rule is
``mmenv.sim.quote_rules.rule_depths`` (through :class:`mmenv.sim.quote_rules.RulePolicy`). Only the *event
loop* (validation, decision timing, latency queue, records) is written twice, and that is what the oracle
checks. A new fill model is therefore one numba function beside ``match_and_settle`` (called by the kernel
compiled and here by ``.py_func``), never a second Python copy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from mmenv.backtest.config import BacktestConfig
from mmenv.backtest.jit_state import check_feature_rows, check_features, fill_stream_state
from mmenv.backtest.result import (
    ERR_CROSSED,
    ERR_NAN_QUOTE,
    ERR_PRICE,
    ERR_QUEUE,
    ERR_SIDE,
    ERR_SIZE,
    ERR_TIME,
    QUEUE_CAP,
    BacktestResult,
    flush_records,
    make_recorders,
    progress_bar,
    raise_loop_error,
)
from mmenv.backtest.stream import TickStream, iter_chunks
from mmenv.policy import QuoteState
from mmenv.sim.fills import match_and_settle
from mmenv.sim.jit_policy import N_STATE, JitPolicy
from mmenv.sim.quote_rules import QuoteRule

__all__ = ["run_reference"]


def run_reference(
    policy: Any,
    stream: TickStream | Iterable[TickStream],
    config: BacktestConfig | None = None,
    *,
    spill_dir: str | os.PathLike | None = None,
    progress: bool = False,
    sink: Any | None = None,
    features: np.ndarray | None = None,
) -> BacktestResult:
    """The readable loop, event by event in Python, for any :class:`mmenv.policy.Policy` (or a QuoteRule).

    Same steps, same order and same records as the compiled loop; matching and accounting by
    ``mmenv.sim.fills.match_and_settle.py_func`` (the core's rule, uncompiled). A
    :class:`mmenv.sim.jit_policy.JitPolicy` is called as its Python function (``py_func``) on the same state
    vector (``mmenv.backtest.jit_state.fill_stream_state.py_func``), feature row, parameters and memory as in
    the compiled loop. See :func:`run_fast` for the args.
    """
    cfg = BacktestConfig() if config is None else config
    if isinstance(policy, QuoteRule):
        policy = policy.to_policy()
    jit = policy if isinstance(policy, JitPolicy) else None
    if jit is None and features is not None:
        raise ValueError("features are given to a compiled policy (JitPolicy), not to a Python policy")
    feats = check_features(features, stream)
    if jit is not None:
        pprm, pmem = np.array(jit.params, dtype=np.float64), jit.new_memory()
        jst, jout = np.full(N_STATE, math.nan), np.zeros(2)
        fill_state = fill_stream_state.py_func
    else:
        policy.reset(1)
    name = str(getattr(policy, "name", type(policy).__name__))
    settle = match_and_settle.py_func
    q, cash = float(cfg.q0), float(cfg.cash0)
    bid = ask = math.nan  # live quote prices
    pending: list[tuple[float, float, float]] = []  # (bid, ask, live time), in decision order
    last_t, t0, next_dec = -math.inf, math.nan, math.nan
    ev = n_dec = n_quoted = since = 0
    last = None
    sigma_arr = s0 = None
    frec, srec = make_recorders(spill_dir, cfg, name)
    bar = progress_bar(progress, len(stream) if isinstance(stream, TickStream) else None, name)

    def decide(q: float, t: float, m: float, ev: int) -> float:
        """The decision step at ``t`` (mid ``m``, inventory ``q``); returns the next decision time."""
        nonlocal bid, ask, n_dec
        tau = cfg.horizon - ((t - t0) % cfg.horizon)
        if jit is not None:
            fill_state(
                jst, t, t0, tau, m, s0[0], q, cfg.q_max, cfg.order_size, cfg.sigma, bid, ask, len(pending)
            )
            jout[:] = math.nan
            jit.py_func(jst, feats[min(ev, feats.shape[0] - 1)], pprm, pmem, jout)
            db, da = (math.nan if x == math.inf else float(x) for x in jout)
        else:
            state = QuoteState(
                q=np.array([q]), tau=np.array([tau]), mid=np.array([m]), sigma=sigma_arr, s0=s0
            )
            db_a, da_a = policy.quote(state)
            db, da = float(np.asarray(db_a).reshape(-1)[0]), float(np.asarray(da_a).reshape(-1)[0])
        if (db != db or da != da) and not (cfg.allow_withdraw or jit is not None):
            raise_loop_error(ERR_NAN_QUOTE, ev, db, da)
        bid_px, ask_px = m - db, m + da
        if bid_px >= ask_px:
            raise_loop_error(ERR_CROSSED, ev, bid_px, ask_px)
        if cfg.latency > 0.0:
            if len(pending) >= QUEUE_CAP:
                raise_loop_error(ERR_QUEUE, ev, 0.0, 0.0)
            pending.append((bid_px, ask_px, t + cfg.latency))
        else:
            bid, ask = bid_px, ask_px
        n_dec += 1
        if cfg.decision_interval > 0.0:
            k = math.floor((t - next_dec) / cfg.decision_interval) + 1.0
            return next_dec + cfg.decision_interval * k
        return next_dec

    for chunk in iter_chunks(stream, cfg.chunk_size):
        check_feature_rows(feats, features, ev + len(chunk))
        for i in range(len(chunk)):
            # both buffers are emptied together, before an event, when either has no room for one more
            if frec.n + 2 > frec.capacity or srec.n + 2 > srec.capacity:
                flush_records(frec, srec, sink)
            t, p, s = float(chunk.time[i]), float(chunk.price[i]), int(chunk.side[i])
            z, m = float(chunk.size[i]), float(chunk.mid[i])
            # 1. validation
            if not t >= last_t:
                raise_loop_error(ERR_TIME, ev, t, last_t)
            if not (math.isfinite(p) and math.isfinite(m)):
                raise_loop_error(ERR_PRICE, ev, p, m)
            if s not in (1, -1):
                raise_loop_error(ERR_SIDE, ev, s, 0.0)
            if not (0.0 <= z < math.inf):
                raise_loop_error(ERR_SIZE, ev, z, 0.0)
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
    if sink is not None:
        flush_records(frec, srec, sink)
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
