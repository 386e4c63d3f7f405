"""The env step of the model market as one compiled pass per path, written for the vector units.

:func:`mmenv.sim.env_step.fused_env_step` serves every market kind of :mod:`mmenv.sim.market_kernels` with one scalar loop
(the market's kind, the reward and the autoreset decided per path by branches). The model market (the
Avellaneda-Stoikov market: the env's default, the replication's setting) gets this specialised step, which
performs the same floating-point operations in the same order, so it gives the same numbers bit for bit
(tests/test_model_step.py compares the two), but is laid out so that the compiler vectorises it:

1. per chunk of :data:`CHUNK` paths, the draws (:func:`mmenv.sim.market_kernels.draw_chunk`: Philox and the
   logarithms, loops without branches);
2. one loop without branches over the chunk: action map (clip and the affine map of
   :func:`mmenv.sim.task.action_to_depth_one`), the mid's move, the order flow's reach on both sides, the hard
   inventory limit, matching and accounting (:func:`mmenv.sim.fills.match_and_settle`), reward (pnl and
   penalized), termination and the observation; every ``if`` is a select (both sides computed, one kept),
   e.g. the notional ``(0 + b p_b) + s p_a`` with 0 in place of an absent fill, which is the branchy
   ``notional += ...`` exactly (0 + x never gives -0, so adding a zero changes no bit);
3. a short scalar loop for what is rare: the autoreset of finished paths (next-step: they start their next
   episode instead of stepping; same-step: they start it after the step, last observation kept) and the
   CARA reward's exponential on terminal steps (libm's ``exp`` stays out of the vector loop: a vector math
   library could round it differently).

SIMD lanes perform the scalar IEEE-754 operations (numba without ``fastmath`` neither fuses multiply-adds
nor reorders), so the numbers do not depend on the vector width, the CPU or the sharding. No reduction over
paths is vectorised except integer counts (exact in any order).

Outputs go to caller-owned buffers (no allocation per step): the observation (N, 4) float32, the reward
(N,) float64, terminated (N,) bool and, on request, the full output row (columns
:data:`mmenv.sim.env_step.OUT_NAMES`) from which the ``info`` dict is built.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from mmenv.counter_rng import det_exp
from mmenv.jit import njit
from mmenv.sim import market_kernels as mk
from mmenv.sim.task import BIG, action_to_depth_one, observe_one

__all__ = [
    "FP_SIZE",
    "check_actions",
    "model_env_shards",
    "model_env_step",
    "reset_row",
    "trader_params",
]

#: Paths per chunk: the draw buffers (five float64 rows) stay in L1.
CHUNK = mk.CHUNK

# Slots of the trader's float parameter vector ``fp`` (one array: fewer arguments to dispatch per call).
(
    Q0,
    Q_MAX,
    SIZE,
    FEE_UNIT,
    FEE_RATE,
    DT,
    N_STEPS,
    REWARD,
    PHI,
    ALPHA,
    ETA,
    NORMALIZED,
    MIN_DEPTH,
    MAX_DEPTH,
    CLIP,
    RESET_AFTER,
    WRITE_OUT,
    INF_FOR_NAN,
) = range(18)
FP_SIZE = 18
#: Columns of the output row (:data:`mmenv.sim.env_step.OUT_NAMES`).
N_OUT = 15

_EPS = 1e-9  # the hard limit's tolerance (mmenv.sim.fills.match_and_settle)


def trader_params(core, task, *, reset_after: bool, write_out: bool, inf_for_nan: bool = False) -> np.ndarray:
    """The ``fp`` vector of :func:`model_env_step` for a :class:`mmenv.sim.core.SimulationCore` and its
    :class:`mmenv.sim.task.TaskParams`; ``clip`` is the linear fill model's clipping depth (-inf: none).
    ``inf_for_nan``: output rows in the ``info`` convention (a side not quoted: price -inf / +inf and depth
    +inf) instead of the core's NaN."""
    m = core.market
    clip = getattr(m, "clip_depth", None)
    fp = np.empty(FP_SIZE)
    fp[Q0], fp[Q_MAX], fp[SIZE] = core.q0, core.q_max, core.order_size
    fp[FEE_UNIT], fp[FEE_RATE] = core.fee_per_unit, core.fee_rate
    fp[DT], fp[N_STEPS] = m.dt, m.n_steps
    fp[REWARD], fp[PHI], fp[ALPHA], fp[ETA] = task.reward_code, task.phi, task.alpha, task.utility_gamma
    fp[NORMALIZED], fp[MIN_DEPTH], fp[MAX_DEPTH] = float(task.normalized), task.min_depth, task.max_depth
    # normalized actions never quote below min_depth: no check needed when the clipping depth is not above it
    never = clip is None or (task.normalized and clip <= task.min_depth)
    fp[CLIP] = -math.inf if never else clip
    fp[RESET_AFTER], fp[WRITE_OUT], fp[INF_FOR_NAN] = float(reset_after), float(write_out), float(inf_for_nan)
    return fp


@njit(cache=True, nogil=True, error_model="numpy")
def check_actions(action: np.ndarray, normalized: bool) -> int:
    """Number of entries of the C-contiguous (N, 2) actions the env refuses: NaN, -inf, and +inf in
    normalized mode (in depth mode +inf is "no quote"). One comparison per entry (NaN compares false) and
    an integer count (exact in any order), so the loop vectorises."""
    flat = action.reshape(-1)
    bad = 0
    if normalized:
        for k in range(flat.shape[0]):
            bad += 0 if abs(flat[np.uint64(k)]) < math.inf else 1
    else:
        for k in range(flat.shape[0]):
            bad += 0 if flat[np.uint64(k)] > -math.inf else 1
    return bad


@njit(cache=True, inline="always", error_model="numpy")
def _reset_path(mp, fp, episode, mt, mid, sigma, s0, q, cash, step, w0, i, obs, rows, cols, write_row):
    """Start path i's next episode (the model market keeps no state of its own) and write its first
    observation; ``write_row``: also its output values at reset into ``rows`` (:func:`reset_value`)."""
    episode[i] += 1
    mt[i] = 0
    mid[i] = s0[i]
    sigma[i] = mp[mk.SIGMA]  # mmenv.sim.market_kernels.reset_one of the model market
    q0 = fp[Q0]
    q[i] = q0
    cash[i] = 0.0
    step[i] = 0
    w0[i] = q0 * s0[i]
    observe_one(obs, i, q0, int(fp[N_STEPS]) * fp[DT], 0.0, sigma[i])
    if write_row:
        inf_for_nan = fp[INF_FOR_NAN] != 0.0
        for r in range(cols.shape[0]):
            rows[r, i] = reset_value(cols[r], q0, s0[i], w0[i], inf_for_nan)


@njit(cache=True, inline="always", error_model="numpy")
def reset_value(c: int, q0: float, s0: float, w0: float, inf_for_nan: bool) -> float:
    """Column c of a path's output row at a reset (:data:`mmenv.sim.env_step.OUT_NAMES`): no quotes (NaN depths and
    prices; with ``inf_for_nan`` the info convention: depths and ask +inf, bid -inf), no fills, fees or
    reward, the starting inventory, mid and wealth."""
    if c <= 3:
        if not inf_for_nan:
            return math.nan
        return -math.inf if c == 2 else math.inf
    if c == 10:
        return q0
    if c == 11 or c == 14:
        return s0
    if c == 12:
        return w0
    return 0.0


@njit(cache=True, inline="always", error_model="numpy")
def reset_row(out: np.ndarray, i: int, q0: float, s0: float, w0: float) -> None:
    """Path i's output row at a reset into ``out`` (N, OUT_COLUMNS) (:func:`reset_value`, NaN quotes)."""
    for c in range(out.shape[1]):
        out[i, c] = reset_value(c, q0, s0, w0, False)


@njit(cache=True, inline="always", error_model="numpy")
def _trade_path(k, a_b, a_a, q_b, c_b, m_b, t_b, z, e_b, e_a, lg_b, lg_a):
    """Pass 2 of the module docstring for one path, on scalars (``k``: :func:`_constants`; the path's action,
    inventory, cash, mid and step, its draws): selects only, no branch. Returns the output row's values
    (columns :data:`mmenv.sim.env_step.OUT_NAMES`) and the step count after the step."""
    (q_max_eps, neg_q_max_eps, size, fee_unit, fee_rate, dt, n_steps, code, phi, alpha, normalized, min_depth,
     half, log_adt, inv_k, linear, drift, vol, move_first) = k  # fmt: skip
    if normalized:  # mmenv.sim.task.action_to_depth_one
        db = min_depth + (min(max(a_b, -1.0), 1.0) + 1.0) * half
        da = min_depth + (min(max(a_a, -1.0), 1.0) + 1.0) * half
    else:
        db, da = a_b, a_a
    w_b = c_b + q_b * m_b
    # the market's interval (mmenv.sim.market_kernels.step_one, kind MODEL)
    move = drift + vol * z
    if linear:
        r_b = (log_adt + e_b) * inv_k
        r_a = (log_adt + e_a) * inv_k
    else:
        r_b = (log_adt - lg_b) * inv_k
        r_a = (log_adt - lg_a) * inv_k
    if move_first:
        r_b = r_b - move
        r_a = r_a + move
    m_a = m_b + move
    # hard limit, matching, accounting (mmenv.sim.fills.match_and_settle with unlimited flow)
    bid_live = (q_b + size <= q_max_eps) & (db < math.inf)
    ask_live = (q_b - size >= neg_q_max_eps) & (da < math.inf)
    bid_price = m_b - db if bid_live else math.nan
    ask_price = m_b + da if ask_live else math.nan
    bought = size if bid_live & (r_b >= db) else 0.0
    sold = size if ask_live & (r_a >= da) else 0.0
    x_b = bought * bid_price if bought > 0.0 else 0.0
    x_s = sold * ask_price if sold > 0.0 else 0.0
    notional = (0.0 + x_b) + x_s
    flow = (0.0 - x_b) + x_s
    fees = fee_unit * (bought + sold) + fee_rate * notional
    q_a = q_b + bought - sold
    c_a = c_b + flow - fees
    # reward and termination (mmenv.sim.task.reward_one)
    t_a = t_b + 1
    terminal = t_a >= n_steps
    w_a = c_a + q_a * m_a
    if code == 0:
        rew = w_a - w_b
    elif code == 1:
        rew = w_a - w_b - phi * q_b * q_b * dt
        rew_t = rew - alpha * q_a * q_a
        rew = rew_t if terminal else rew
    else:
        rew = 0.0  # CARA: the terminal exponential in the caller, outside the vector loop
    row = (
        db,
        da,
        bid_price,
        ask_price,
        bought,
        sold,
        fees,
        rew,
        1.0 if terminal else 0.0,
        c_a,
        q_a,
        m_a,
        w_a,
        t_a * dt,
        m_b,
    )
    return row, t_a


@njit(cache=True, inline="always", error_model="numpy")
def _constants(fp, mp):
    """The loop's constants from the trader's and the market's parameter vectors (one tuple)."""
    return (
        fp[Q_MAX] + _EPS,
        -fp[Q_MAX] - _EPS,
        fp[SIZE],
        fp[FEE_UNIT],
        fp[FEE_RATE],
        fp[DT],
        int(fp[N_STEPS]),
        int(fp[REWARD]),
        fp[PHI],
        fp[ALPHA],
        fp[NORMALIZED] != 0.0,
        fp[MIN_DEPTH],
        0.5 * (fp[MAX_DEPTH] - fp[MIN_DEPTH]),
        mp[mk.LOG_ADT],
        mp[mk.INV_K],
        mp[mk.LINEAR] != 0.0,
        mp[mk.DRIFT],
        mp[mk.VOL],
        mp[mk.EVENT] != 0.0,
    )


@njit(cache=True, nogil=True, error_model="numpy")
def _trade_chunk(
    fp,
    mp,
    c0,
    m,
    z,
    e_b,
    e_a,
    lg_b,
    lg_a,
    act_flat,
    q,
    cash,
    mid,
    mt,
    step,
    s0,
    sigma,
    obs_flat,
    reward,
    terminated,
    ob,
    write_out,
) -> None:
    """Pass 2 of the module docstring on paths c0 .. c0 + m - 1 (draws of the chunk in z .. lg_a), one loop
    with the output rows and one without (a loop with stores under a run-time condition vectorises with
    masked stores and computes the row anyway). Every array is an argument (its data pointer a plain value,
    so the vectoriser sees affine addresses), the 2-d ones flat with a constant stride, indices unsigned (no
    negative-index wraparound); the output rows go to the chunk buffer ``ob`` (N_OUT, CHUNK), flat: stores to
    one buffer at constant distances need no run-time alias checks (one per column of a 2-d ``out`` are too
    many, and the compiler gives up vectorising)."""
    k = _constants(fp, mp)
    n_steps, dt = k[6], k[5]
    for j in range(m):
        i = np.uint64(c0 + j)
        row, t_a = _trade_path(
            k,
            np.float64(act_flat[i + i]),
            np.float64(act_flat[i + i + np.uint64(1)]),
            q[i],
            cash[i],
            mid[i],
            step[i],
            z[j],
            e_b[j],
            e_a[j],
            lg_b[j],
            lg_a[j],
        )
        q[i], cash[i], mid[i], step[i], reward[i], terminated[i] = (
            row[10],
            row[9],
            row[11],
            t_a,
            row[7],
            t_a >= n_steps,
        )
        mt[i] += 1
        o = np.uint64(4) * i  # mmenv.sim.task.observe_one
        obs_flat[o] = row[10]
        obs_flat[o + np.uint64(1)] = max((n_steps - t_a) * dt, 0.0)
        obs_flat[o + np.uint64(2)] = min(max(row[11] - s0[i], -BIG), BIG)
        obs_flat[o + np.uint64(3)] = min(max(sigma[i], 0.0), BIG)
        if nb.literally(write_out):  # one compiled loop with the rows, one without
            (ob[j], ob[CHUNK + j], ob[2 * CHUNK + j], ob[3 * CHUNK + j], ob[4 * CHUNK + j], ob[5 * CHUNK + j],
             ob[6 * CHUNK + j], ob[7 * CHUNK + j], ob[8 * CHUNK + j], ob[9 * CHUNK + j], ob[10 * CHUNK + j],
             ob[11 * CHUNK + j], ob[12 * CHUNK + j], ob[13 * CHUNK + j], ob[14 * CHUNK + j]) = row  # fmt: skip


@njit(cache=True, nogil=True, error_model="numpy")
def _copy_rows(ob, m, c0, rows, cols, inf_for_nan) -> None:
    """The chunk's output columns ``cols`` from ``ob`` into ``rows`` at paths c0 .. c0 + m - 1; with
    ``inf_for_nan``, where a side is not quoted (its price NaN) the info convention: price -inf (bid) or
    +inf (ask), depth +inf. (Flat, unsigned indices: plain vector copies.)"""
    flat = rows.reshape(-1)
    n = np.uint64(rows.shape[1])
    for r in range(cols.shape[0]):
        c = cols[r]
        src = np.uint64(c * CHUNK)
        dst = np.uint64(r) * n + np.uint64(c0)
        if inf_for_nan and c <= 3:
            price = np.uint64((2 if c % 2 == 0 else 3) * CHUNK)  # (bid_)depth, bid: the bid; the ask likewise
            fill = -math.inf if c == 2 else math.inf
            for j in range(m):
                ju = np.uint64(j)
                x = ob[price + ju]
                flat[dst + ju] = fill if x != x else ob[src + ju]
        else:
            for j in range(m):
                ju = np.uint64(j)
                flat[dst + ju] = ob[src + ju]


@njit(cache=True, nogil=True, error_model="numpy")
def model_env_step(
    mp: np.ndarray,
    fp: np.ndarray,
    k0,
    k1,
    stream: np.ndarray,
    episode: np.ndarray,
    mt: np.ndarray,
    mid: np.ndarray,
    sigma: np.ndarray,
    s0: np.ndarray,
    action: np.ndarray,
    q: np.ndarray,
    cash: np.ndarray,
    step: np.ndarray,
    w0: np.ndarray,
    reset_first: np.ndarray,
    obs: np.ndarray,
    reward: np.ndarray,
    terminated: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    final_obs: np.ndarray,
    lo: int,
    hi: int,
) -> int:
    """One env step of paths lo .. hi - 1 of the model market (module docstring); the same numbers as
    :func:`mmenv.sim.env_step.fused_env_step` with kind MODEL. Returns how many paths quote closer than the linear
    fill model's clipping depth ``fp[CLIP]`` (the caller warns).

    Args:
        mp: the market's kernel parameters (:mod:`mmenv.sim.market_kernels` slots). fp: :func:`trader_params`.
        k0, k1: the key words. stream, episode, mt: the draws' addresses (mt: the market's step).
        mid, sigma, s0: the market's per-path state. action: (N, 2) C-contiguous float32 or float64, already
            checked (:func:`check_actions`).
        q, cash, step, w0: the trader's state. reset_first: bool (N,), paths that start their next episode
            instead of stepping (next-step autoreset).
        obs: (N, 4) C-contiguous float32; reward: (N,) float64; terminated: (N,) bool.
        rows, cols: with ``fp[WRITE_OUT]``, row r of the (K, N) C-contiguous float64 ``rows`` receives column
            ``cols[r]`` of the output row (:data:`mmenv.sim.env_step.OUT_NAMES`; ``fp[INF_FOR_NAN]``: in the info
            convention), e.g. an (N, OUT_COLUMNS) Fortran-ordered array's transpose with cols 0 .. 14.
        final_obs: (N, 4) float32, the last observation of a path that ends with ``fp[RESET_AFTER]``
            (same-step autoreset).
    """
    code = int(fp[REWARD])
    eta = fp[ETA]
    reset_after = fp[RESET_AFTER] != 0.0
    write_out = fp[WRITE_OUT] != 0.0
    inf_for_nan = fp[INF_FOR_NAN] != 0.0
    r_reward = -1  # the row of the reward column, if written
    if write_out:
        for r in range(cols.shape[0]):
            if cols[r] == 7:
                r_reward = r
    normalized = fp[NORMALIZED] != 0.0
    min_depth, max_depth, clip = fp[MIN_DEPTH], fp[MAX_DEPTH], fp[CLIP]
    buf = np.empty((6, CHUNK))
    z, e_b, e_a, lg_b, lg_a, zc = buf[0], buf[1], buf[2], buf[3], buf[4], buf[5]
    ob = np.empty(N_OUT * CHUNK)
    obs_flat = obs.reshape(-1)
    act_flat = action.reshape(-1)
    clipped = 0
    for c0 in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - c0)
        mk.draw_chunk(mp, k0, k1, stream, episode, mt, c0, m, z, e_b, e_a, lg_b, lg_a, zc)
        if write_out:
            _trade_chunk(
                fp,
                mp,
                c0,
                m,
                z,
                e_b,
                e_a,
                lg_b,
                lg_a,
                act_flat,
                q,
                cash,
                mid,
                mt,
                step,
                s0,
                sigma,
                obs_flat,
                reward,
                terminated,
                ob,
                True,
            )
        else:
            _trade_chunk(
                fp,
                mp,
                c0,
                m,
                z,
                e_b,
                e_a,
                lg_b,
                lg_a,
                act_flat,
                q,
                cash,
                mid,
                mt,
                step,
                s0,
                sigma,
                obs_flat,
                reward,
                terminated,
                ob,
                False,
            )
        if write_out:
            _copy_rows(ob, m, c0, rows, cols, inf_for_nan)
        if clip > -math.inf:  # quotes where the linear model's fill probability is clipped (rare settings)
            for j in range(m):
                i = c0 + j
                db, da = action_to_depth_one(
                    act_flat[2 * i], act_flat[2 * i + 1], normalized, min_depth, max_depth
                )
                clipped += (min(db, da) < clip) and not reset_first[i]
        # the rare cases, one path at a time: CARA's terminal reward, autoreset
        if code == 2:
            for j in range(m):
                i = c0 + j
                if terminated[i]:
                    rew = -det_exp(-eta * (cash[i] + q[i] * mid[i] - w0[i]))
                    reward[i] = rew
                    if r_reward >= 0:
                        rows[r_reward, i] = rew
        n_reset = 0
        for j in range(m):
            i = np.uint64(c0 + j)
            n_reset += reset_first[i] | (reset_after & terminated[i])
        if n_reset == 0:
            continue
        for j in range(m):
            i = c0 + j
            if reset_first[i]:
                reward[i] = 0.0
                terminated[i] = False
                _reset_path(
                    mp, fp, episode, mt, mid, sigma, s0, q, cash, step, w0, i, obs, rows, cols, write_out
                )
            elif reset_after and terminated[i]:
                for c in range(4):
                    final_obs[i, c] = obs[i, c]
                _reset_path(mp, fp, episode, mt, mid, sigma, s0, q, cash, step, w0, i, obs, rows, cols, False)
    return clipped


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def model_env_shards(
    mp,
    fp,
    k0,
    k1,
    stream,
    episode,
    mt,
    mid,
    sigma,
    s0,
    action,
    q,
    cash,
    step,
    w0,
    reset_first,
    obs,
    reward,
    terminated,
    rows,
    cols,
    final_obs,
    bounds,
) -> int:
    """:func:`model_env_step` on the path ranges ``bounds`` (S, 2) [lo, hi), one per thread of numba's pool
    (``prange``): each range writes only its own paths and every draw is addressed by its path, so the
    numbers do not depend on the ranges or the threads. Returns the summed clipping count (an integer sum:
    exact in any order). One launch costs about a microsecond with the OpenMP or TBB layer, against tens
    for a hand-off through a Python thread pool."""
    n_shards = bounds.shape[0]
    counts = np.zeros(n_shards, dtype=np.int64)
    for s in nb.prange(n_shards):
        counts[s] = model_env_step(
            mp,
            fp,
            k0,
            k1,
            stream,
            episode,
            mt,
            mid,
            sigma,
            s0,
            action,
            q,
            cash,
            step,
            w0,
            reset_first,
            obs,
            reward,
            terminated,
            rows,
            cols,
            final_obs,
            bounds[s, 0],
            bounds[s, 1],
        )
    return counts.sum()
