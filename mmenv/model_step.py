"""The env step of the model market as one compiled pass per path, written for the vector units.

:func:`mmenv.core.fused_env_step` serves every market kind of :mod:`mmenv.market_kernels` with one scalar loop
(the market's kind, the reward and the autoreset decided per path by branches). The model market (the
Avellaneda-Stoikov market: the env's default, the replication's setting) gets this specialised step, which
performs the same floating-point operations in the same order, so it gives the same numbers bit for bit
(tests/test_model_step.py compares the two), but is laid out so that the compiler vectorises it:

1. per chunk of :data:`CHUNK` paths, the draws (:func:`mmenv.market_kernels.draw_chunk`: Philox and the
   logarithms, loops without branches);
2. one loop without branches over the chunk: action map (clip and the affine map of
   :func:`mmenv.task.action_to_depth_one`), the mid's move, the order flow's reach on both sides, the hard
   inventory limit, matching and accounting (:func:`mmenv.core.match_and_settle`), reward (pnl and
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
:data:`mmenv.core.OUT_NAMES`) from which the ``info`` dict is built.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from mmenv import market_kernels as mk
from mmenv.task import BIG, action_to_depth_one, observe_one

__all__ = [
    "FP_SIZE",
    "check_actions",
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
) = range(17)
FP_SIZE = 17
#: Columns of the output row (:data:`mmenv.core.OUT_NAMES`).
N_OUT = 15

_EPS = 1e-9  # the hard limit's tolerance (mmenv.core.match_and_settle)


def trader_params(core, task, *, reset_after: bool, write_out: bool) -> np.ndarray:
    """The ``fp`` vector of :func:`model_env_step` for a :class:`mmenv.core.SimulationCore` and its
    :class:`mmenv.task.TaskParams`; ``clip`` is the linear fill model's clipping depth (-inf: none)."""
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
    fp[RESET_AFTER], fp[WRITE_OUT] = float(reset_after), float(write_out)
    return fp


@nb.njit(cache=True, nogil=True, error_model="numpy")
def check_actions(action: np.ndarray, normalized: bool) -> int:
    """Number of entries of the (N, 2) actions the env refuses: NaN, -inf, and +inf in normalized mode
    (in depth mode +inf is "no quote"). An integer count: exact in any order, so the loop vectorises."""
    bad = 0
    for i in range(action.shape[0]):
        for c in range(2):
            x = np.float64(action[i, c])
            bad += (x != x) | (x == -math.inf) | (normalized & (x == math.inf))
    return bad


@nb.njit(cache=True, inline="always", error_model="numpy")
def _reset_path(mp, fp, episode, mt, mid, sigma, s0, q, cash, step, w0, i, obs, out, write_row):
    """Start path i's next episode (the model market keeps no state of its own) and write its first
    observation; ``write_row``: also its output row at reset (no quotes: NaN, no fills, the start state)."""
    episode[i] += 1
    mt[i] = 0
    mid[i] = s0[i]
    sigma[i] = mp[mk.SIGMA]  # mmenv.market_kernels.reset_one of the model market
    q0 = fp[Q0]
    q[i] = q0
    cash[i] = 0.0
    step[i] = 0
    w0[i] = q0 * s0[i]
    observe_one(obs, i, q0, int(fp[N_STEPS]) * fp[DT], 0.0, sigma[i])
    if write_row:
        reset_row(out, i, q0, s0[i], w0[i])


@nb.njit(cache=True, inline="always", error_model="numpy")
def reset_row(out: np.ndarray, i: int, q0: float, s0: float, w0: float) -> None:
    """Path i's output row at a reset (columns :data:`mmenv.core.OUT_NAMES`): no quotes (NaN depths and
    prices), no fills, fees or reward, the starting inventory, mid and wealth."""
    for c in range(out.shape[1]):
        out[i, c] = 0.0
    out[i, 0] = out[i, 1] = out[i, 2] = out[i, 3] = math.nan
    out[i, 10] = q0
    out[i, 11] = s0
    out[i, 12] = w0
    out[i, 14] = s0


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _trade_chunk(
    fp, mp, c0, m, z, e_b, e_a, lg_b, lg_a, act_flat, q, cash, mid, mt, step, s0, sigma, obs_flat, reward,
    terminated, ob, write_out,
) -> None:  # fmt: skip
    """Pass 2 of the module docstring on paths c0 .. c0 + m - 1 (draws of the chunk in z .. lg_a): every
    array an argument (its data pointer a plain value, so the vectoriser sees affine addresses) and the
    2-d ones flat with a constant stride; the output rows go to the chunk buffer ``ob`` (N_OUT, CHUNK), flat:
    stores to one buffer at constant distances need no run-time alias checks (too many of those, one per
    column of a 2-d ``out``, and the compiler gives up vectorising)."""
    inf = math.inf
    q_max_eps = fp[Q_MAX] + _EPS
    neg_q_max_eps = -fp[Q_MAX] - _EPS
    size = fp[SIZE]
    fee_unit, fee_rate = fp[FEE_UNIT], fp[FEE_RATE]
    dt = fp[DT]
    n_steps = int(fp[N_STEPS])
    code = int(fp[REWARD])
    phi, alpha = fp[PHI], fp[ALPHA]
    normalized = fp[NORMALIZED] != 0.0
    min_depth, max_depth = fp[MIN_DEPTH], fp[MAX_DEPTH]
    half = 0.5 * (max_depth - min_depth)
    log_adt, inv_k = mp[mk.LOG_ADT], mp[mk.INV_K]
    linear = mp[mk.LINEAR] != 0.0
    drift, vol = mp[mk.DRIFT], mp[mk.VOL]
    move_first = mp[mk.EVENT] != 0.0
    c0u = np.uint64(c0)
    for j in range(m):
        i = np.uint64(c0 + j)  # unsigned: no negative-index wraparound, the addresses stay affine
        a_b = np.float64(act_flat[i + i])
        a_a = np.float64(act_flat[i + i + np.uint64(1)])
        if normalized:  # mmenv.task.action_to_depth_one
            db = min_depth + (min(max(a_b, -1.0), 1.0) + 1.0) * half
            da = min_depth + (min(max(a_a, -1.0), 1.0) + 1.0) * half
        else:
            db, da = a_b, a_a
        q_b = q[i]
        c_b = cash[i]
        m_b = mid[i]
        w_b = c_b + q_b * m_b
        # the market's interval (mmenv.market_kernels.step_one, kind MODEL)
        move = drift + vol * z[i - c0u]
        if linear:
            r_b = (log_adt + e_b[i - c0u]) * inv_k
            r_a = (log_adt + e_a[i - c0u]) * inv_k
        else:
            r_b = (log_adt - lg_b[i - c0u]) * inv_k
            r_a = (log_adt - lg_a[i - c0u]) * inv_k
        if move_first:
            r_b = r_b - move
            r_a = r_a + move
        m_a = m_b + move
        # hard limit, matching, accounting (mmenv.core.match_and_settle with unlimited flow)
        bid_live = (q_b + size <= q_max_eps) & (db < inf)
        ask_live = (q_b - size >= neg_q_max_eps) & (da < inf)
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
        # reward, termination, observation (mmenv.task.reward_one, observe_one)
        t_a = step[i] + 1
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
        q[i] = q_a
        cash[i] = c_a
        mid[i] = m_a
        mt[i] += 1
        step[i] = t_a
        reward[i] = rew
        terminated[i] = terminal
        o = np.uint64(4) * i
        obs_flat[o] = q_a
        obs_flat[o + np.uint64(1)] = max((n_steps - t_a) * dt, 0.0)
        obs_flat[o + np.uint64(2)] = min(max(m_a - s0[i], -BIG), BIG)
        obs_flat[o + np.uint64(3)] = min(max(sigma[i], 0.0), BIG)
        if write_out:  # the chunk's output rows, flat with a constant stride (copied to ``out`` after)
            ob[j] = db
            ob[CHUNK + j] = da
            ob[2 * CHUNK + j] = bid_price
            ob[3 * CHUNK + j] = ask_price
            ob[4 * CHUNK + j] = bought
            ob[5 * CHUNK + j] = sold
            ob[6 * CHUNK + j] = fees
            ob[7 * CHUNK + j] = rew
            ob[8 * CHUNK + j] = 1.0 if terminal else 0.0
            ob[9 * CHUNK + j] = c_a
            ob[10 * CHUNK + j] = q_a
            ob[11 * CHUNK + j] = m_a
            ob[12 * CHUNK + j] = w_a
            ob[13 * CHUNK + j] = t_a * dt
            ob[14 * CHUNK + j] = m_b


@nb.njit(cache=True, nogil=True, error_model="numpy")
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
    out: np.ndarray,
    final_obs: np.ndarray,
    lo: int,
    hi: int,
) -> int:
    """One env step of paths lo .. hi - 1 of the model market (module docstring); the same numbers as
    :func:`mmenv.core.fused_env_step` with kind MODEL. Returns how many paths quote closer than the linear
    fill model's clipping depth ``fp[CLIP]`` (the caller warns).

    Args:
        mp: the market's kernel parameters (:mod:`mmenv.market_kernels` slots). fp: :func:`trader_params`.
        k0, k1: the key words. stream, episode, mt: the draws' addresses (mt: the market's step).
        mid, sigma, s0: the market's per-path state. action: (N, 2) C-contiguous float32 or float64, already
            checked (:func:`check_actions`).
        q, cash, step, w0: the trader's state. reset_first: bool (N,), paths that start their next episode
            instead of stepping (next-step autoreset).
        obs: (N, 4) C-contiguous float32; reward: (N,) float64; terminated: (N,) bool; out: (N, OUT_COLUMNS)
            float64 (written when ``fp[WRITE_OUT]``); final_obs: (N, 4) float32, the last observation of a
            path that ends with ``fp[RESET_AFTER]`` (same-step autoreset).
    """
    code = int(fp[REWARD])
    eta = fp[ETA]
    reset_after = fp[RESET_AFTER] != 0.0
    write_out = fp[WRITE_OUT] != 0.0
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
        _trade_chunk(
            fp, mp, c0, m, z, e_b, e_a, lg_b, lg_a, act_flat, q, cash, mid, mt, step, s0, sigma, obs_flat, reward,
            terminated, ob, write_out,
        )  # fmt: skip
        if write_out:
            for c in range(N_OUT):
                for j in range(m):
                    out[c0 + j, c] = ob[c * CHUNK + j]
        if clip > -math.inf:  # quotes where the linear model's fill probability is clipped (rare settings)
            for j in range(m):
                i = c0 + j
                db, da = action_to_depth_one(act_flat[2 * i], act_flat[2 * i + 1], normalized, min_depth, max_depth)
                clipped += (min(db, da) < clip) and not reset_first[i]
        # the rare cases, one path at a time: CARA's terminal reward, autoreset
        if code == 2:
            for j in range(m):
                i = c0 + j
                if terminated[i]:
                    rew = -math.exp(-eta * (cash[i] + q[i] * mid[i] - w0[i]))
                    reward[i] = rew
                    if write_out:
                        out[i, 7] = rew
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
                _reset_path(mp, fp, episode, mt, mid, sigma, s0, q, cash, step, w0, i, obs, out, write_out)
            elif reset_after and terminated[i]:
                for c in range(4):
                    final_obs[i, c] = obs[i, c]
                _reset_path(mp, fp, episode, mt, mid, sigma, s0, q, cash, step, w0, i, obs, out, False)
    return clipped
