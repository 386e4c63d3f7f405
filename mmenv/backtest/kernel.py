"""The compiled backtest loop (numba): the steps of :mod:`mmenv.backtest`, event by event, with a QuoteRule
or a compiled policy (:class:`mmenv.sim.jit_policy.JitPolicy`).

The loop's state lives in two small vectors (``st`` floats, ``ist`` integers) so that a chunk can stop when
a record buffer is full and resume after the flush. Matching and accounting call
:func:`mmenv.sim.fills.match_and_settle` (compiled), the decision calls the rule of :mod:`mmenv.sim.quote_rules`, or the compiled policy through its numba callback
(:func:`mmenv.sim.jit_policy.compiled_callback`: one signature, so this loop is compiled once for every
policy) with the state vector of :mod:`mmenv.backtest.jit_state`.
:mod:`mmenv.backtest.reference` is the readable oracle this loop is tested against, record for record.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from mmenv.backtest.config import (
    P_EVERY,
    P_FPU,
    P_FRATE,
    P_HORIZON,
    P_INTERVAL,
    P_LATENCY,
    P_ON_QUOTES,
    P_QMAX,
    P_SHARE,
    P_SIGMA,
    P_SIZE,
    P_WITHDRAW,
    BacktestConfig,
)
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
from mmenv.jit import njit
from mmenv.records import Recorder
from mmenv.sim.fills import match_and_settle
from mmenv.sim.jit_policy import N_STATE, JitPolicy, compiled_callback, no_policy
from mmenv.sim.quote_rules import RULE_CODES, QuoteRule, rule_depths

__all__ = ["RULE_JIT", "run_fast"]

#: The decision code of a compiled policy (the quote rules' codes are >= 0).
RULE_JIT = -1


# Indices of the float state vector ``st`` and the integer state vector ``ist`` of the loop.
_Q, _CASH, _BID, _ASK, _NEXT_DEC, _LAST_T, _T0, _LAST_MID, _LAST_BP, _LAST_AP, _ERR_A, _ERR_B, _S0 = range(13)

_N_ST = 13

_EV, _NF, _NS, _SINCE, _ERR, _ERR_EV, _NDEC, _NLIVE, _STARTED, _QHEAD, _QCOUNT = range(11)

_N_IST = 11


@njit(cache=True, inline="always")
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
    pfn: Any,
    feats: np.ndarray,
    pprm: np.ndarray,
    pmem: np.ndarray,
    jst: np.ndarray,
    jout: np.ndarray,
    q_max: float,
    size: float,
) -> bool:
    """The decision step: quotes from ``(q, tau, m_i, sigma)`` at ``t_i``, live now or queued until ``t_i + L``.

    With ``code == RULE_JIT`` the compiled policy ``pfn`` (parameters ``pprm``, scratch ``pmem``) decides
    from the state vector ``jst`` and the feature row of event ``ev``; its NaN or +inf depth withdraws that
    side. Returns True on an error (``ist[_ERR]`` set, naming event ``ev``).
    """
    tau = horizon - ((ti - st[_T0]) % horizon)
    if code == RULE_JIT:
        fill_stream_state(
            jst, ti, st[_T0], tau, mi, st[_S0], q, q_max, size, sigma, st[_BID], st[_ASK], float(ist[_QCOUNT])
        )
        jout[0] = math.nan
        jout[1] = math.nan
        pfn(jst, feats[min(ev, feats.shape[0] - 1)], pprm, pmem, jout)
        db = math.nan if jout[0] == math.inf else jout[0]
        da = math.nan if jout[1] == math.inf else jout[1]
        withdraw = True
    else:
        db, da = rule_depths(code, rp, q, tau, mi, sigma)
    if (db != db or da != da) and not withdraw:
        ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = ERR_NAN_QUOTE, ev, db, da
        return True
    bid_px = mi - db
    ask_px = mi + da
    if bid_px >= ask_px:
        ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = ERR_CROSSED, ev, bid_px, ask_px
        return True
    if latency > 0.0:
        qcap = queue.shape[0]
        if ist[_QCOUNT] >= qcap:
            ist[_ERR], ist[_ERR_EV] = ERR_QUEUE, ev
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


@njit(cache=True, inline="always")
def _go_live(st: np.ndarray, ist: np.ndarray, queue: np.ndarray, ti: float) -> None:
    """Queued decisions whose live time ``t_dec + latency <= t_i`` replace the live quotes, in decision order."""
    qcap = queue.shape[0]
    while ist[_QCOUNT] > 0 and queue[ist[_QHEAD], 2] <= ti:
        h = ist[_QHEAD]
        st[_BID] = queue[h, 0]
        st[_ASK] = queue[h, 1]
        ist[_QHEAD] = (h + 1) % qcap
        ist[_QCOUNT] -= 1


@njit(cache=True)
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
    pfn: Any,
    feats: np.ndarray,
    pprm: np.ndarray,
    pmem: np.ndarray,
    jst: np.ndarray,
    jout: np.ndarray,
) -> int:
    """Run the loop of the module docstring from event ``i0`` of the chunk; return where it stopped.

    It stops at the end of the chunk, when a record buffer has no room for one more event, or on an error
    (``ist[_ERR] != 0``, event index in ``ist[_ERR_EV]``). ``code == RULE_JIT``: the compiled policy ``pfn``
    decides (parameters ``pprm``, scratch ``pmem``, feature rows ``feats`` by event index, state vector
    ``jst``, depths ``jout``); otherwise it is never called.
    """
    n = time.shape[0]
    cap_f = fills.shape[0]
    cap_s = states.shape[0]
    q_max, osize, share = prm[P_QMAX], prm[P_SIZE], prm[P_SHARE]
    fpu, frate = prm[P_FPU], prm[P_FRATE]
    interval, latency, horizon = prm[P_INTERVAL], prm[P_LATENCY], prm[P_HORIZON]
    sigma = prm[P_SIGMA] if rp[2] != rp[2] else rp[2]
    withdraw = prm[P_WITHDRAW] != 0.0
    every = int(prm[P_EVERY])
    on_quotes = prm[P_ON_QUOTES] != 0.0
    inf = math.inf
    for i in range(i0, n):
        if ist[_NF] + 2 > cap_f or ist[_NS] + 2 > cap_s:
            return i
        ev = ist[_EV]
        ti, pi, si, zi, mi = time[i], price[i], side[i], size[i], mid[i]
        if not (ti >= st[_LAST_T]):
            ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = ERR_TIME, ev, ti, st[_LAST_T]
            return i
        if not (math.isfinite(pi) and math.isfinite(mi)):
            ist[_ERR], ist[_ERR_EV], st[_ERR_A], st[_ERR_B] = ERR_PRICE, ev, pi, mi
            return i
        if si != 1 and si != -1:
            ist[_ERR], ist[_ERR_EV], st[_ERR_A] = ERR_SIDE, ev, si
            return i
        if not (zi >= 0.0 and zi < inf):  # a zero-size trade (zero-volume bar) fills nothing
            ist[_ERR], ist[_ERR_EV], st[_ERR_A] = ERR_SIZE, ev, zi
            return i
        if ist[_STARTED] == 0:
            ist[_STARTED] = 1
            st[_T0] = ti
            st[_S0] = mi
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
                st,
                ist,
                queue,
                code,
                rp,
                st[_Q],
                ti,
                mi,
                sigma,
                horizon,
                interval,
                latency,
                withdraw,
                ev,
                pfn,
                feats,
                pprm,
                pmem,
                jst,
                jout,
                q_max,
                osize,
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
            if _decide(
                st,
                ist,
                queue,
                code,
                rp,
                q,
                ti,
                mi,
                sigma,
                horizon,
                interval,
                latency,
                withdraw,
                ev,
                pfn,
                feats,
                pprm,
                pmem,
                jst,
                jout,
                q_max,
                osize,
            ):
                return i + 1
    return n


def _new_state(cfg: BacktestConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    st = np.zeros(_N_ST)
    st[_Q], st[_CASH] = cfg.q0, cfg.cash0
    st[_BID] = st[_ASK] = math.nan
    st[_LAST_T] = -math.inf
    ist = np.zeros(_N_IST, dtype=np.int64)
    queue = np.zeros((QUEUE_CAP, 3))
    return st, ist, queue


def _final_state_row(st: np.ndarray, ist: np.ndarray) -> tuple:
    q, cash, mi = st[_Q], st[_CASH], st[_LAST_MID]
    return (ist[_EV] - 1, st[_LAST_T], mi, st[_LAST_BP], st[_LAST_AP], q, cash, cash + q * mi)


def run_fast(
    rule: QuoteRule | JitPolicy,
    stream: TickStream | Iterable[TickStream],
    config: BacktestConfig | None = None,
    *,
    spill_dir: str | os.PathLike | None = None,
    progress: bool = False,
    sink: Any | None = None,
    features: np.ndarray | None = None,
) -> BacktestResult:
    """The compiled loop (numba) with a :class:`QuoteRule` or a compiled policy; see the module docstring.

    Args:
        rule: the quote rule, or a :class:`mmenv.sim.jit_policy.JitPolicy` (called inside the loop with the
            state vector of :mod:`mmenv.backtest.jit_state`; its memory starts at zero on every run).
        stream: one stream (cut into chunks of ``config.chunk_size``) or an iterable of
            chunks (e.g. a generator: memory then stays flat). config: the backtest parameters.
        spill_dir: if given, records are spilled to ``spill_dir/<strategy>_{fills,states}.bin`` and returned
            as memory maps. progress: tqdm bar over events.
        sink: if given, each time the buffers fill (and at the end) their records -- fills and states of the
            same events, in order -- go to ``sink.update(fills, states)`` and are not kept (the result's
            records are then empty): e.g. :class:`mmenv.analytics.stream.StreamingSummary`.
        features: for a compiled policy, the feature matrix (one row per event of the stream, float64; see
            :func:`mmenv.backtest.jit_state.check_features`); None: the policy gets an empty row.
    """
    cfg = BacktestConfig() if config is None else config
    if isinstance(rule, JitPolicy):
        code, rp, name = RULE_JIT, np.full(3, math.nan), rule.name
        pfn, pprm, pmem = rule.callback(), np.array(rule.params, dtype=np.float64), rule.new_memory()
    elif isinstance(rule, QuoteRule):
        code, rp, name = RULE_CODES[rule.kind], rule.packed(), rule.name
        pfn, pprm, pmem = compiled_callback(no_policy), np.zeros(0), np.zeros(0)
        if features is not None:
            raise ValueError("features are given to a compiled policy (JitPolicy), not to a QuoteRule")
    else:
        raise TypeError(f"rule must be a QuoteRule or a JitPolicy, got {type(rule).__name__}")
    feats = check_features(features, stream)
    jst, jout = np.full(N_STATE, math.nan), np.zeros(2)
    st, ist, queue = _new_state(cfg)
    prm = cfg.packed()
    frec, srec = make_recorders(spill_dir, cfg, name)
    bar = progress_bar(progress, len(stream) if isinstance(stream, TickStream) else None, name)
    for chunk in iter_chunks(stream, cfg.chunk_size):
        i, n = 0, len(chunk)
        check_feature_rows(feats, features, int(ist[_EV]) + n)
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
                pfn,
                feats,
                pprm,
                pmem,
                jst,
                jout,
            )
            frec.n, srec.n = int(ist[_NF]), int(ist[_NS])
            if ist[_ERR]:
                raise_loop_error(int(ist[_ERR]), int(ist[_ERR_EV]), float(st[_ERR_A]), float(st[_ERR_B]))
            if i < n:
                flush_records(frec, srec, sink)
                ist[_NF] = ist[_NS] = 0
        if bar is not None:
            bar.update(n)
    if bar is not None:
        bar.close()
    return _finish(frec, srec, st, ist, cfg, name, sink)


def _finish(
    frec: Recorder, srec: Recorder, st, ist, cfg: BacktestConfig, name: str, sink: Any | None
) -> BacktestResult:
    if ist[_EV] == 0:
        raise ValueError("the tick stream has no events")
    if ist[_SINCE] != 0:
        srec.append(_final_state_row(st, ist))  # the kernel leaves room for it: no flush in between
    if sink is not None:
        flush_records(frec, srec, sink)
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
