"""The compiled loop of the replay: one pass over a chunk of tape events, as the rules of
:mod:`mmenv.replay.engine` state them (decisions at the end of each timestamp, orders reaching the book, quote
and trade events against our queue position, records).

State lives in three flat vectors the driver (:class:`mmenv.replay.engine.ReplayState`) owns and the loop
updates in place: ``st`` (float64, slots ``S_*``, and six slots ``O_*`` per side from ``S_ORDER + 6 s``,
s = 0 bid, 1 ask), ``ist`` (int64, slots ``I_*``) and ``prm`` (the parameters, slots ``P_*`` of
:mod:`mmenv.replay.config`); the orders in flight are a ring buffer of ``QUEUE_CAP`` (arrival ns, side,
level). Prices are integer tick levels (floats, exact below 2^53). Our order's size left, the queue ahead of
it, the size displayed at its level and the size traded there are counted in *lots* (the tape's size step):
the size left is always a whole number of lots and a fill is a whole number of lots (the size available to
us rounded to the nearest lot, so that float residue never becomes a fill and nothing under half a lot
fills), as hftbacktest's queue models round (``is_filled``: ``round(-front / lot_size)`` lots). Fills are
settled by the core's one rule, :func:`mmenv.sim.fills.match_and_settle`; compiled quote rules by
:func:`mmenv.sim.quote_rules.rule_depths`, and the fixed offset from the touch (:data:`RULE_TOUCH`) here.
"""

from __future__ import annotations

import math

from mmenv.jit import njit
from mmenv.replay import jit_policy as jp
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
    P_INVLOT,
    P_LAT,
    P_LOT,
    P_MODEL,
    P_PARTIAL,
    P_QMAX,
    P_QMODEL,
    P_QPOW,
    P_SHARE,
    P_SIGMA,
    P_SIZE,
    P_THROUGH,
    P_TICK,
    P_WAIT,
)
from mmenv.sim.fills import match_and_settle
from mmenv.sim.jit_policy import no_policy
from mmenv.sim.quote_rules import rule_depths

__all__ = [
    "N_IST",
    "N_ST",
    "QUEUE_CAP",
    "RULE_JIT",
    "RULE_TOUCH",
    "fill_policy_state",
    "no_policy",
    "run_events",
    "submit_decision",
    "touch_depths",
]

# float state
(S_Q, S_CASH, S_BB, S_BQ, S_BA, S_AQ, S_BBL, S_BAL, S_ERR_A, S_ERR_B) = range(10)
S_ORDER = (
    10  # per side s (0 bid, 1 ask), 6 slots each: level, lots left, lots ahead, lots displayed, traded, sent
)
O_LVL, O_LEFT, O_AHEAD, O_LQTY, O_TRADED, O_SENT = range(6)
#: Levels remembered per side: the earlier bests the best has since moved inward from (level, lots last shown).
MEM = 8
S_MEM = S_ORDER + 12  # per side s: MEM levels from S_MEM + 2 MEM s, then MEM sizes (NaN: empty)
#: The mid at the first decision (NaN before it): the compiled policy's ``J_S0``.
S_S0 = S_MEM + 4 * MEM
N_ST = S_S0 + 1
# int state
(I_EV, I_NF, I_NS, I_SINCE, I_ERR, I_ERR_EV, I_NDEC, I_NQUOTED, I_STARTED, I_QHEAD, I_QCOUNT, I_T0, I_LAST_T, I_NEED,
 I_COUNT, I_PEND0, I_PEND1, I_NEXT_DEC, I_NREPRICED, I_NWITHDRAWN, I_NORDERS, I_DUE) = range(22)  # fmt: skip
N_IST = 22
QUEUE_CAP = 1 << 14
ERR_TIME, ERR_CROSSED, ERR_QUEUE = 1, 2, 3
WITHDRAW = -1.0
NEVER_SENT = -2.0
#: Queue-model codes (the order of :data:`mmenv.replay.config.QUEUE_MODELS`).
Q_RISK_AVERSE, Q_POWER, Q_LOG, Q_FIXED = 0, 1, 2, 3
#: The code of the fixed-offset touch rule (``rp[0]``: the offset in ticks behind the best on each side).
RULE_TOUCH = 16
#: The code of a compiled policy (:mod:`mmenv.replay.jit_policy`), called through the loop's ``pfn``.
RULE_JIT = 32


@njit(cache=True, inline="always")
def _level(px: float, inv_tick: float) -> float:
    """Integer tick level of a market price (a float, exact for |level| < 2^53); ``inv_tick = 1 / tick``."""
    return math.floor(px * inv_tick + 0.5)


@njit(cache=True, inline="always")
def _whole_lots(x: float) -> float:
    """``x`` lots rounded to the nearest whole number of lots (halves up): what can fill."""
    return math.floor(x + 0.5)


@njit(cache=True)
def touch_depths(offset: float, tick: float, bid: float, ask: float, mid: float) -> tuple[float, float]:
    """Depths from ``mid`` of quotes ``offset`` ticks behind the best bid and ask (:data:`RULE_TOUCH`):
    ``(mid - (bid - offset tick), ask + offset tick - mid)``; the Python policy calls this very function."""
    return mid - (bid - offset * tick), (ask + offset * tick) - mid


@njit(cache=True, inline="always")
def _ahead_share(model: int, n: float, fixed: float, a: float, b: float, lot: float) -> float:
    """Share of a cancellation at our level that was ahead of us, ``a`` lots ahead and ``b`` behind
    (the queue models of :mod:`mmenv.replay.config`)."""
    if model == Q_RISK_AVERSE:
        return 0.0
    if model == Q_FIXED:
        return fixed
    if a <= 0.0:
        return 0.0
    if b <= 0.0:
        return 1.0
    if model == Q_POWER:
        return 1.0 / (1.0 + (b / a) ** n)  # a^n / (a^n + b^n), without overflow
    fa, fb = math.log1p(a * lot), math.log1p(b * lot)  # log(1 + size), sizes in units
    return fa / (fa + fb)


@njit(cache=True, inline="always")
def _settle(st, ist, prm, s: int, x: float, ev: int, tsec: float, mid: float, fills) -> None:
    """Fill up to ``x`` whole lots of our order on side ``s`` at its price; the core's rule settles it."""
    o = S_ORDER + 6 * s
    left = st[o + O_LEFT]
    x = min(x, left)
    if x < 1.0:
        return
    lot = prm[P_LOT]
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
            x * lot,
            0.0,
            prm[P_QMAX],
            left * lot,
            prm[P_FPU],
            prm[P_FRATE],
        )
        done = r[2]
    else:
        r = match_and_settle(
            st[S_Q],
            st[S_CASH],
            0.0,
            inf,
            px,
            -inf,
            inf,
            0.0,
            x * lot,
            prm[P_QMAX],
            left * lot,
            prm[P_FPU],
            prm[P_FRATE],
        )
        done = r[3]
    if done <= 0.0:
        return
    st[S_Q], st[S_CASH] = r[0], r[1]
    st[o + O_LEFT] = left - x
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
def _remember(st, s: int, old: float, old_qty: float, new: float) -> None:
    """The best on side ``s`` moved from level ``old`` (``old_qty`` lots shown) to ``new``: inward, the old
    best is remembered with its last size (the oldest-deepest entry makes room); outward, every remembered
    level the best backed off from is forgotten (hftbacktest's fused top-of-book depth does the same)."""
    m = S_MEM + 2 * MEM * s
    sign = 1.0 if s == 0 else -1.0  # bids: inward is up
    if (new - old) * sign > 0.0:
        slot = -1
        for j in range(MEM):
            if st[m + j] == new:
                st[m + j] = math.nan  # the new best is shown, not remembered
            if st[m + j] == old:
                slot = j
        if slot < 0:
            for j in range(MEM):
                if st[m + j] != st[m + j]:
                    slot = j
                    break
        if slot < 0:  # full: the level furthest behind makes room
            far = -math.inf
            for j in range(MEM):
                d = (old - st[m + j]) * sign
                if d > far:
                    slot, far = j, d
        st[m + slot] = old
        st[m + MEM + slot] = old_qty
    elif (new - old) * sign < 0.0:
        for j in range(MEM):
            lv = st[m + j]
            if lv == lv and (lv - new) * sign >= 0.0:
                st[m + j] = math.nan


@njit(cache=True, inline="always")
def _recalled(st, s: int, lvl: float) -> float:
    """Lots last shown at remembered level ``lvl`` on side ``s`` (NaN when it is not remembered)."""
    m = S_MEM + 2 * MEM * s
    for j in range(MEM):
        if st[m + j] == lvl:
            return st[m + MEM + j]
    return math.nan


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
    st[o + O_LEFT] = _whole_lots(prm[P_SIZE] * prm[P_INVLOT])
    st[o + O_TRADED] = 0.0
    best = st[S_BBL] if s == 0 else st[S_BAL]
    better = lvl > best if s == 0 else lvl < best
    if lvl == best:
        st[o + O_AHEAD] = (st[S_BQ] if s == 0 else st[S_AQ]) * prm[P_INVLOT]
        st[o + O_LQTY] = st[o + O_AHEAD]
    elif better:  # a price nobody displays: first in its queue
        st[o + O_AHEAD] = 0.0
        st[o + O_LQTY] = 0.0
    else:  # deeper than the recorded best: the size last shown there if it was the best, else unknown
        seen = _recalled(st, s, lvl)
        if seen == seen:
            st[o + O_AHEAD] = seen
            st[o + O_LQTY] = seen
        else:  # unknown until it is the best (known, 0, if deep_queue = 0)
            st[o + O_AHEAD] = 0.0 if prm[P_DEEP] == 0.0 else math.nan
            st[o + O_LQTY] = math.nan


@njit(cache=True, inline="always")
def submit_decision(
    st, ist, prm, pq_t, pq_s, pq_l, t: int, mid: float, db: float, da: float, ev: int
) -> bool:
    """A decision at time ``t`` (ns): depths to grid prices, sent now or after the latency. True on error.

    Called once the events stamped ``t`` have all been processed: with no latency the order is in the book
    before the first event stamped after ``t``; with latency ``L`` it reaches the book at ``t + L`` and is
    applied before the first event stamped strictly after ``t + L``.
    """
    tick, inv = prm[P_TICK], prm[P_INV]
    # depths rounded away from the mid to the tick grid (a millionth of a tick of float noise tolerated)
    blvl = math.floor((mid - db) * inv + 1e-6) if (db == db and db < math.inf) else WITHDRAW
    alvl = math.ceil((mid + da) * inv - 1e-6) if (da == da and da < math.inf) else WITHDRAW
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
        if (lvl == st[o + O_SENT] and not renew) or (pend > 0 and prm[P_WAIT] != 0.0):
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
    """Apply the actions that reach the book strictly before ``t`` (ns), in decision order."""
    cap = pq_t.shape[0]
    while ist[I_QCOUNT] > 0 and pq_t[ist[I_QHEAD]] < t:
        h = ist[I_QHEAD]
        s = pq_s[h]
        _apply(st, ist, prm, s, pq_l[h])
        ist[I_PEND0 + s] -= 1
        ist[I_QHEAD] = (h + 1) % cap
        ist[I_QCOUNT] -= 1


@njit(cache=True, inline="always")
def _on_quote(st, prm, s: int, moved: bool) -> None:
    """Queue position of our order on side ``s`` after a book update (queue model); ``moved``: the best on
    that side changed level."""
    o = S_ORDER + 6 * s
    lvl = st[o + O_LVL]
    best = st[S_BBL] if s == 0 else st[S_BAL]
    qty = (st[S_BQ] if s == 0 else st[S_AQ]) * prm[P_INVLOT]
    better = lvl > best if s == 0 else lvl < best
    if better:  # the level emptied: we are first
        st[o + O_AHEAD] = 0.0
        st[o + O_LQTY] = 0.0
        st[o + O_TRADED] = 0.0
    elif lvl == best:
        ahead = st[o + O_AHEAD]
        prev = st[o + O_LQTY]
        if ahead != ahead:  # unknown (joined deeper): the stated assumption
            ahead = prm[P_DEEP] * qty
        elif prev == prev:
            if qty == prev and not moved:
                return  # our level's size did not change: nothing to learn, trades keep accumulating
            cancels = prev - st[o + O_TRADED] - qty  # the fall not explained by the trades at our level
            if cancels > 0.0:
                a = max(ahead, 0.0)
                b = max(prev - st[o + O_TRADED] - a, 0.0)
                share = _ahead_share(int(prm[P_QMODEL]), prm[P_QPOW], prm[P_CANCEL], a, b, prm[P_LOT])
                ahead = max(a - share * cancels, 0.0)
        st[o + O_AHEAD] = min(ahead, qty)
        st[o + O_LQTY] = qty
        st[o + O_TRADED] = 0.0
    # deeper than the best: unseen; the last size seen and the trades there are kept until it is the best


@njit(cache=True)
def fill_policy_state(jst, st, ist, prm) -> None:
    """The state vector of a compiled policy (:mod:`mmenv.replay.jit_policy`, slots ``J_*``) at a decision
    after the events stamped ``ist[I_LAST_T]``; sets the start mid ``st[S_S0]`` at the first decision.

    The loop and the reference path both call this function, so a policy sees the same numbers on both.
    """
    t = ist[I_LAST_T]
    tsec = (t - ist[I_T0]) * 1e-9
    horizon = prm[P_HORIZON]
    mid = 0.5 * (st[S_BB] + st[S_BA])
    if st[S_S0] != st[S_S0]:
        st[S_S0] = mid
    tick, size = prm[P_TICK], prm[P_SIZE]
    jst[jp.J_TIME] = t * 1e-9
    jst[jp.J_ELAPSED] = tsec
    jst[jp.J_TAU] = horizon - (tsec % horizon)
    jst[jp.J_MID] = mid
    jst[jp.J_BID], jst[jp.J_BID_SIZE] = st[S_BB], st[S_BQ]
    jst[jp.J_ASK], jst[jp.J_ASK_SIZE] = st[S_BA], st[S_AQ]
    jst[jp.J_TICK], jst[jp.J_LOT] = tick, prm[P_LOT]
    jst[jp.J_Q] = st[S_Q] / size
    jst[jp.J_Q_MAX] = prm[P_QMAX] / size
    jst[jp.J_SIGMA] = prm[P_SIGMA]
    jst[jp.J_S0] = st[S_S0]
    for s in range(2):
        o = S_ORDER + 6 * s
        left = st[o + O_LEFT]
        j = jp.J_OWN_BID + 2 * s
        jst[j] = st[o + O_LVL] * tick if left > 0.0 else math.nan
        jst[j + 1] = left * prm[P_LOT] / size if left > 0.0 else 0.0
    jst[jp.J_BID_IN_FLIGHT] = ist[I_PEND0]
    jst[jp.J_ASK_IN_FLIGHT] = ist[I_PEND1]


@njit(cache=True, inline="always")
def _decide(
    st, ist, prm, pq_t, pq_s, pq_l, code: int, rp, sigma: float, pfn, feats, pprm, pmem, jst, jout
) -> bool:
    """The compiled rule's (or policy's) decision after the events stamped ``ist[I_LAST_T]``; True on error."""
    t = ist[I_LAST_T]
    tsec = (t - ist[I_T0]) * 1e-9
    horizon = prm[P_HORIZON]
    tau = horizon - (tsec % horizon)
    mid = 0.5 * (st[S_BB] + st[S_BA])
    if code == RULE_JIT:
        fill_policy_state(jst, st, ist, prm)
        row = min(ist[I_EV] - 1, feats.shape[0] - 1)
        jout[0] = math.nan
        jout[1] = math.nan
        pfn(jst, feats[row], pprm, pmem, jout)
        db, da = jout[0], jout[1]
    elif code == RULE_TOUCH:
        db, da = touch_depths(rp[0], prm[P_TICK], st[S_BB], st[S_BA], mid)
    else:
        db, da = rule_depths(code, rp, st[S_Q] / prm[P_SIZE], tau, mid, sigma)
    return submit_decision(st, ist, prm, pq_t, pq_s, pq_l, t, mid, db, da, ist[I_EV] - 1)


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
    pfn,
    feats,
    pprm,
    pmem,
    jst,
    jout,
):
    """Run the loop of the module docstring from event ``i0``; return where it stopped.

    Stops at the end of the chunk, when a record buffer is nearly full, on an error, or (``code < 0``,
    external policy) before the first event after a decision point's timestamp (``ist[I_NEED] = 1``: the
    policy decides on the state after every event stamped with that time, then the loop resumes at the
    returned index). ``code == RULE_JIT``: the compiled policy ``pfn`` decides (parameters ``pprm``, scratch
    ``pmem``, state vector ``jst``, depths ``jout``, features row ``feats[event]``).
    """
    n = time.shape[0]
    cap_f, cap_s = fills.shape[0], states.shape[0]
    tick, inv_tick, inv_lot = prm[P_TICK], prm[P_INV], prm[P_INVLOT]
    every = int(prm[P_EVERY])
    model_queue = prm[P_MODEL] == 0.0
    whole_order = prm[P_THROUGH] != 0.0
    partial = prm[P_PARTIAL] != 0.0
    share, at_px = prm[P_SHARE], prm[P_ATPX] != 0.0
    dec_on, dec_n, interval = int(prm[P_DECON]), int(prm[P_DECN]), int(prm[P_INTERVAL])
    sigma = prm[P_SIGMA] if rp[2] != rp[2] else rp[2]
    for i in range(i0, n):
        if ist[I_NF] + 3 > cap_f or ist[I_NS] + 2 > cap_s:
            return i
        t = time[i]
        ev = ist[I_EV]
        if ist[I_STARTED] == 1:
            if t < ist[I_LAST_T]:
                ist[I_ERR], ist[I_ERR_EV], st[S_ERR_A], st[S_ERR_B] = ERR_TIME, ev, t, ist[I_LAST_T]
                return i
            # 0. the decision taken after the last timestamp, once the orders that reached the book by
            # then are in it
            if ist[I_DUE] == 1 and t > ist[I_LAST_T]:
                if ist[I_QCOUNT] > 0:
                    _arrivals(st, ist, prm, pq_t, pq_s, pq_l, ist[I_LAST_T] + 1)
                ist[I_DUE] = 0
                if code < 0:
                    ist[I_NEED] = 1
                    return i
                if _decide(
                    st, ist, prm, pq_t, pq_s, pq_l, code, rp, sigma, pfn, feats, pprm, pmem, jst, jout
                ):
                    return i
        else:
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
        # 1. orders reaching the book (an order decided at 0 latency went in at step 0)
        if ist[I_QCOUNT] > 0:
            _arrivals(st, ist, prm, pq_t, pq_s, pq_l, t)
        kd = kind[i]
        if kd == 0:
            # 2. quote event
            old_bl, old_al, old_bq, old_aq = st[S_BBL], st[S_BAL], st[S_BQ], st[S_AQ]
            st[S_BB], st[S_BQ], st[S_BA], st[S_AQ] = bpx[i], bqty[i], apx[i], aqty[i]
            st[S_BBL], st[S_BAL] = _level(bpx[i], inv_tick), _level(apx[i], inv_tick)
            if st[S_BBL] != old_bl:
                _remember(st, 0, old_bl, old_bq * inv_lot, st[S_BBL])
            if st[S_BAL] != old_al:
                _remember(st, 1, old_al, old_aq * inv_lot, st[S_BAL])
            mid = 0.5 * (bpx[i] + apx[i])
            for s in range(2):
                o = S_ORDER + 6 * s
                if st[o + O_LEFT] > 0.0:
                    if model_queue:
                        moved = st[S_BBL] != old_bl if s == 0 else st[S_BAL] != old_al
                        _on_quote(st, prm, s, moved)
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
                v = tqty[i] * inv_lot
                lvl = st[o + O_LVL]
                through = p > lvl if s == 1 else p < lvl
                x = 0.0
                if model_queue:
                    if through:
                        x = st[o + O_LEFT] if whole_order else _whole_lots(v)
                        st[o + O_AHEAD] = 0.0
                    elif p == lvl:
                        ahead = st[o + O_AHEAD]
                        st[o + O_TRADED] += v
                        if ahead == ahead:
                            ahead -= v
                            if ahead < 0.0:
                                x = _whole_lots(-ahead)
                                if x >= 1.0:
                                    ahead = 0.0  # the rest of the print went to us and behind us
                            st[o + O_AHEAD] = ahead
                elif through:
                    x = st[o + O_LEFT] if whole_order else _whole_lots(share * v)
                elif at_px and p == lvl:
                    x = _whole_lots(share * v)
                if x >= 1.0:
                    _settle(st, ist, prm, s, x if partial else st[o + O_LEFT], ev, tsec, mid, fills)
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
        # 4. decision point: decided once the events stamped t are all in (step 0 of a later event)
        if dec_on == 2 or kd == dec_on:
            ist[I_COUNT] += 1
            if ist[I_COUNT] >= dec_n and t >= ist[I_NEXT_DEC]:
                ist[I_COUNT] = 0
                if interval > 0:
                    ist[I_NEXT_DEC] = t + interval
                ist[I_DUE] = 1
    return n
