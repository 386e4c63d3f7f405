"""The compiled loop of the replay: one pass over a chunk of tape events, as the rules of
:mod:`mmenv.replay.engine` state them (orders reaching the book, quote and trade events against our queue
position, records, decision points).

State lives in three flat vectors the driver (:class:`mmenv.replay.engine.ReplayState`) owns and the loop
updates in place: ``st`` (float64, slots ``S_*``, and six slots ``O_*`` per side from ``S_ORDER + 6 s``,
s = 0 bid, 1 ask), ``ist`` (int64, slots ``I_*``) and ``prm`` (the parameters, slots ``P_*`` of
:mod:`mmenv.replay.config`); the orders in flight are a ring buffer of ``QUEUE_CAP`` (arrival ns, side,
level). Prices are integer tick levels (floats, exact below 2^53). Fills are settled by the core's one rule,
:func:`mmenv.sim.fills.match_and_settle`; compiled quote rules by :func:`mmenv.sim.quote_rules.rule_depths`.
"""

from __future__ import annotations

import math

from mmenv.jit import njit
from mmenv.replay.config import (
    P_ATPX,
    P_CANCEL,
    P_CROSS,
    P_DECN,
    P_DECON,
    P_DEEP,
    P_EVERY,
    P_FPU,
    P_FRATE,
    P_HORIZON,
    P_INTERVAL,
    P_INV,
    P_LAT,
    P_MODEL,
    P_QMAX,
    P_SHARE,
    P_SIGMA,
    P_SIZE,
    P_TICK,
)
from mmenv.sim.fills import match_and_settle
from mmenv.sim.quote_rules import rule_depths

__all__ = ["N_IST", "N_ST", "QUEUE_CAP", "run_events", "submit_decision"]

# float state
(S_Q, S_CASH, S_BB, S_BQ, S_BA, S_AQ, S_BBL, S_BAL, S_ERR_A, S_ERR_B) = range(10)
S_ORDER = 10  # per side s (0 bid, 1 ask), 6 slots each: level, left, ahead, level qty, traded, sent level
O_LVL, O_LEFT, O_AHEAD, O_LQTY, O_TRADED, O_SENT = range(6)
N_ST = S_ORDER + 12
# int state
(I_EV, I_NF, I_NS, I_SINCE, I_ERR, I_ERR_EV, I_NDEC, I_NQUOTED, I_STARTED, I_QHEAD, I_QCOUNT, I_T0, I_LAST_T, I_NEED,
 I_COUNT, I_PEND0, I_PEND1, I_NEXT_DEC, I_NREPRICED, I_NWITHDRAWN, I_NORDERS) = range(21)  # fmt: skip
N_IST = 21
QUEUE_CAP = 1 << 14
ERR_TIME, ERR_CROSSED, ERR_QUEUE = 1, 2, 3
WITHDRAW = -1.0
NEVER_SENT = -2.0


@njit(cache=True, inline="always")
def _level(px: float, inv_tick: float) -> float:
    """Integer tick level of a market price (a float, exact for |level| < 2^53); ``inv_tick = 1 / tick``."""
    return math.floor(px * inv_tick + 0.5)


@njit(cache=True, inline="always")
def _settle(st, ist, prm, s: int, x: float, ev: int, tsec: float, mid: float, fills) -> None:
    """Fill up to ``x`` units of our order on side ``s`` at its price; the core's rule settles it."""
    o = S_ORDER + 6 * s
    left = st[o + O_LEFT]
    px = st[o + O_LVL] * prm[P_TICK]
    inf = math.inf
    if s == 0:
        r = match_and_settle(
            st[S_Q],
            st[S_CASH],
            0.0,
            -px,
            inf,
            inf,
            -inf,
            x,
            0.0,
            prm[P_QMAX],
            left,
            prm[P_FPU],
            prm[P_FRATE],
        )
        done = r[2]
    else:
        r = match_and_settle(
            st[S_Q], st[S_CASH], 0.0, inf, px, -inf, inf, 0.0, x, prm[P_QMAX], left, prm[P_FPU], prm[P_FRATE]
        )
        done = r[3]
    if done <= 0.0:
        return
    st[S_Q], st[S_CASH] = r[0], r[1]
    st[o + O_LEFT] = left - done
    k = ist[I_NF]
    fills[k]["event"] = ev
    fills[k]["time"] = tsec
    fills[k]["side"] = 1 if s == 0 else -1
    fills[k]["price"] = px
    fills[k]["size"] = done
    fills[k]["mid"] = mid
    fills[k]["fee"] = r[4]
    fills[k]["inventory"] = r[0]
    ist[I_NF] = k + 1


@njit(cache=True, inline="always")
def _apply(st, ist, prm, s: int, lvl: float) -> None:
    """An action reaching the book: new price ``lvl`` on side ``s`` (or withdrawal), post-only rule."""
    o = S_ORDER + 6 * s
    if lvl == WITHDRAW:
        st[o + O_LVL] = math.nan
        st[o + O_LEFT] = 0.0
        return
    crosses = lvl >= st[S_BAL] if s == 0 else lvl <= st[S_BBL]
    if crosses:
        if prm[P_CROSS] != 0.0:
            st[o + O_LVL] = math.nan
            st[o + O_LEFT] = 0.0
            ist[I_NWITHDRAWN] += 1
            return
        lvl = st[S_BAL] - 1.0 if s == 0 else st[S_BBL] + 1.0
        ist[I_NREPRICED] += 1
    if st[o + O_LVL] == lvl and st[o + O_LEFT] > 0.0:
        return  # same price, size left: keep the queue position
    ist[I_NORDERS] += 1
    st[o + O_LVL] = lvl
    st[o + O_LEFT] = prm[P_SIZE]
    st[o + O_TRADED] = 0.0
    best = st[S_BBL] if s == 0 else st[S_BAL]
    better = lvl > best if s == 0 else lvl < best
    if lvl == best:
        st[o + O_AHEAD] = st[S_BQ] if s == 0 else st[S_AQ]
        st[o + O_LQTY] = st[o + O_AHEAD]
    elif better:
        st[o + O_AHEAD] = 0.0
        st[o + O_LQTY] = math.nan
    else:
        st[o + O_AHEAD] = math.nan
        st[o + O_LQTY] = math.nan


@njit(cache=True, inline="always")
def submit_decision(
    st, ist, prm, pq_t, pq_s, pq_l, t: int, mid: float, db: float, da: float, ev: int
) -> bool:
    """A decision at time ``t`` (ns): depths to grid prices, sent now or after the latency. True on error."""
    tick, inv = prm[P_TICK], prm[P_INV]
    blvl = math.floor((mid - db) * inv + 1e-9) if (db == db and db < math.inf) else WITHDRAW
    alvl = math.ceil((mid + da) * inv - 1e-9) if (da == da and da < math.inf) else WITHDRAW
    if blvl != WITHDRAW and alvl != WITHDRAW and blvl >= alvl:
        ist[I_ERR], ist[I_ERR_EV], st[S_ERR_A], st[S_ERR_B] = ERR_CROSSED, ev, blvl * tick, alvl * tick
        return True
    ist[I_NDEC] += 1
    lat = int(prm[P_LAT])
    cap = pq_t.shape[0]
    for s in range(2):
        lvl = blvl if s == 0 else alvl
        o = S_ORDER + 6 * s
        pend = ist[I_PEND0 + s]
        renew = lvl != WITHDRAW and st[o + O_LEFT] <= 0.0 and pend == 0
        if lvl == st[o + O_SENT] and not renew:
            continue
        st[o + O_SENT] = lvl
        if lat == 0:
            _apply(st, ist, prm, s, lvl)
        else:
            if ist[I_QCOUNT] >= cap:
                ist[I_ERR], ist[I_ERR_EV] = ERR_QUEUE, ev
                return True
            j = (ist[I_QHEAD] + ist[I_QCOUNT]) % cap
            pq_t[j], pq_s[j], pq_l[j] = t + lat, s, lvl
            ist[I_QCOUNT] += 1
            ist[I_PEND0 + s] += 1
    return False


@njit(cache=True, inline="always")
def _arrivals(st, ist, prm, pq_t, pq_s, pq_l, t: int) -> None:
    """Apply the actions that reach the book at or before ``t`` (ns), in decision order."""
    cap = pq_t.shape[0]
    while ist[I_QCOUNT] > 0 and pq_t[ist[I_QHEAD]] <= t:
        h = ist[I_QHEAD]
        s = pq_s[h]
        _apply(st, ist, prm, s, pq_l[h])
        ist[I_PEND0 + s] -= 1
        ist[I_QHEAD] = (h + 1) % cap
        ist[I_QCOUNT] -= 1


@njit(cache=True, inline="always")
def _on_quote(st, prm, s: int) -> None:
    """Queue position of our order on side ``s`` after a book update (queue model)."""
    o = S_ORDER + 6 * s
    lvl = st[o + O_LVL]
    best = st[S_BBL] if s == 0 else st[S_BAL]
    qty = st[S_BQ] if s == 0 else st[S_AQ]
    better = lvl > best if s == 0 else lvl < best
    if better:  # the level emptied: we are first
        st[o + O_AHEAD] = 0.0
        st[o + O_LQTY] = math.nan
    elif lvl == best:
        ahead = st[o + O_AHEAD]
        prev = st[o + O_LQTY]
        if ahead != ahead:  # unknown (was deeper): the stated assumption
            ahead = prm[P_DEEP] * qty
        elif prev == prev:
            before = max(prev - st[o + O_TRADED], 0.0)  # displayed size left after the trades at our level
            cancels = before - qty
            if cancels > 0.0:
                share = prm[P_CANCEL]
                if share < 0.0:
                    behind = max(before - ahead, 0.0)
                    share = ahead / (ahead + behind) if ahead + behind > 0.0 else 0.0
                ahead = max(ahead - share * cancels, 0.0)
        st[o + O_AHEAD] = min(ahead, qty)
        st[o + O_LQTY] = qty
    else:
        st[o + O_LQTY] = math.nan  # deeper than the best: frozen, unseen
    st[o + O_TRADED] = 0.0


@njit(cache=True)
def run_events(
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
    external policy) after an event that is a decision point (``ist[I_NEED] = 1``).
    """
    n = time.shape[0]
    cap_f, cap_s = fills.shape[0], states.shape[0]
    tick, inv_tick = prm[P_TICK], prm[P_INV]
    every = int(prm[P_EVERY])
    model_queue = prm[P_MODEL] == 0.0
    share, at_px = prm[P_SHARE], prm[P_ATPX] != 0.0
    dec_on, dec_n, interval = int(prm[P_DECON]), int(prm[P_DECN]), int(prm[P_INTERVAL])
    horizon = prm[P_HORIZON]
    sigma = prm[P_SIGMA] if rp[2] != rp[2] else rp[2]
    for i in range(i0, n):
        if ist[I_NF] + 3 > cap_f or ist[I_NS] + 2 > cap_s:
            return i
        t = time[i]
        ev = ist[I_EV]
        if ist[I_STARTED] == 1 and t < ist[I_LAST_T]:
            ist[I_ERR], ist[I_ERR_EV], st[S_ERR_A], st[S_ERR_B] = ERR_TIME, ev, t, ist[I_LAST_T]
            return i
        if ist[I_STARTED] == 0:
            ist[I_STARTED] = 1
            ist[I_T0] = t
            ist[I_NEXT_DEC] = t
            st[S_BB], st[S_BQ], st[S_BA], st[S_AQ] = bpx[i], bqty[i], apx[i], aqty[i]
            st[S_BBL], st[S_BAL] = _level(bpx[i], inv_tick), _level(apx[i], inv_tick)
            k = ist[I_NS]
            m0 = 0.5 * (bpx[i] + apx[i])
            states[k]["event"] = -1
            states[k]["time"] = 0.0
            states[k]["mid"] = m0
            states[k]["bid"] = math.nan
            states[k]["ask"] = math.nan
            states[k]["inventory"] = st[S_Q]
            states[k]["cash"] = st[S_CASH]
            states[k]["equity"] = st[S_CASH] + st[S_Q] * m0
            ist[I_NS] = k + 1
        tsec = (t - ist[I_T0]) * 1e-9
        # 1. orders reaching the book
        if ist[I_QCOUNT] > 0:
            _arrivals(st, ist, prm, pq_t, pq_s, pq_l, t)
        kd = kind[i]
        if kd == 0:
            # 2. quote event
            st[S_BB], st[S_BQ], st[S_BA], st[S_AQ] = bpx[i], bqty[i], apx[i], aqty[i]
            st[S_BBL], st[S_BAL] = _level(bpx[i], inv_tick), _level(apx[i], inv_tick)
            mid = 0.5 * (bpx[i] + apx[i])
            for s in range(2):
                o = S_ORDER + 6 * s
                if st[o + O_LEFT] > 0.0:
                    if model_queue:
                        _on_quote(st, prm, s)
                    through = st[S_BAL] <= st[o + O_LVL] if s == 0 else st[S_BBL] >= st[o + O_LVL]
                    if through:
                        _settle(st, ist, prm, s, st[o + O_LEFT], ev, tsec, mid, fills)
        else:
            # 3. trade event
            mid = 0.5 * (st[S_BB] + st[S_BA])
            s = 1 if tside[i] > 0 else 0
            o = S_ORDER + 6 * s
            if st[o + O_LEFT] > 0.0:
                ist[I_NQUOTED] += 1
                p = _level(tpx[i], inv_tick)
                v = tqty[i]
                lvl = st[o + O_LVL]
                through = p > lvl if s == 1 else p < lvl
                x = 0.0
                if model_queue:
                    if through:
                        x = v
                        st[o + O_AHEAD] = 0.0
                    elif p == lvl:
                        ahead = st[o + O_AHEAD]
                        if ahead == ahead:
                            x = max(v - ahead, 0.0)
                            st[o + O_AHEAD] = max(ahead - v, 0.0)
                            st[o + O_TRADED] += v
                elif through or (at_px and p == lvl):
                    x = share * v
                if x > 0.0:
                    _settle(st, ist, prm, s, x, ev, tsec, mid, fills)
        # 5. records
        ist[I_SINCE] += 1
        if ist[I_SINCE] >= every:
            k = ist[I_NS]
            states[k]["event"] = ev
            states[k]["time"] = tsec
            states[k]["mid"] = mid
            states[k]["bid"] = st[S_ORDER + O_LVL] * tick if st[S_ORDER + O_LEFT] > 0.0 else math.nan
            states[k]["ask"] = st[S_ORDER + 6 + O_LVL] * tick if st[S_ORDER + 6 + O_LEFT] > 0.0 else math.nan
            states[k]["inventory"] = st[S_Q]
            states[k]["cash"] = st[S_CASH]
            states[k]["equity"] = st[S_CASH] + st[S_Q] * mid
            ist[I_NS] = k + 1
            ist[I_SINCE] = 0
        ist[I_LAST_T] = t
        ist[I_EV] = ev + 1
        # 4. decision point
        if dec_on == 2 or kd == dec_on:
            ist[I_COUNT] += 1
            if ist[I_COUNT] >= dec_n and t >= ist[I_NEXT_DEC]:
                ist[I_COUNT] = 0
                if interval > 0:
                    ist[I_NEXT_DEC] = t + interval
                if code < 0:
                    ist[I_NEED] = 1
                    return i + 1
                tau = horizon - (tsec % horizon)
                db, da = rule_depths(code, rp, st[S_Q] / prm[P_SIZE], tau, mid, sigma)
                if submit_decision(st, ist, prm, pq_t, pq_s, pq_l, t, mid, db, da, ev):
                    return i + 1
    return n
