"""The env step over N paths as compiled kernels: action map, the market's interval, the one fill rule,
reward, termination and observation, with the output row of every path.

Three kernels, one per way the market moves (each path independent, so the caller may run shards of the
paths in threads; the numbers do not depend on the sharding):

* :func:`fused_env_step`: markets with a kernel of :mod:`mmenv.sim.market_kernels` (the model market and its
  variants): draws, the market's interval and the trader's step in one pass per path, with next-step or
  same-step autoreset inside the kernel.
* :func:`env_step_paths`: markets without a kernel (the tick market), which moved already (``advance``).
* :func:`step_paths`: matching and accounting alone (:meth:`mmenv.sim.core.SimulationCore.step`).

Fills are settled by :func:`mmenv.sim.fills.match_and_settle` (the one fill rule, inlined); the action map,
observation and reward are those of :mod:`mmenv.sim.task`. The output columns are :data:`OUT_NAMES`.
"""

from __future__ import annotations

import math

import numpy as np

from mmenv.jit import njit
from mmenv.sim import market_kernels as mk
from mmenv.sim import model_step as ms
from mmenv.sim.fills import match_and_settle
from mmenv.sim.task import action_to_depth_one, observe_one, reward_one

__all__ = [
    "OUT_COLUMNS",
    "OUT_NAMES",
    "env_step_paths",
    "fused_env_step",
    "observe_paths",
    "step_paths",
]


@njit(cache=True)
def step_paths(
    q: np.ndarray,
    cash: np.ndarray,
    mid: np.ndarray,
    bid_depth: np.ndarray,
    ask_depth: np.ndarray,
    reach_bid: np.ndarray,
    reach_ask: np.ndarray,
    q_max: float,
    size: float,
    fee_per_unit: float,
    fee_rate: float,
    bought: np.ndarray,
    sold: np.ndarray,
    fees: np.ndarray,
    bid_price: np.ndarray,
    ask_price: np.ndarray,
) -> None:
    """:func:`match_and_settle` on every path; ``q`` and ``cash`` and the output arrays are written in place."""
    inf = math.inf
    for i in range(q.shape[0]):
        (q[i], cash[i], bought[i], sold[i], fees[i], bid_price[i], ask_price[i]) = match_and_settle(
            q[i],
            cash[i],
            mid[i],
            bid_depth[i],
            ask_depth[i],
            reach_bid[i],
            reach_ask[i],
            inf,
            inf,
            q_max,
            size,
            fee_per_unit,
            fee_rate,
        )


#: Columns of the per-step output of :func:`env_step_paths` (and of :meth:`SimulationCore.env_step`).
OUT_NAMES = (
    "bid_depth",
    "ask_depth",
    "bid",
    "ask",
    "bought",
    "sold",
    "fees",
    "reward",
    "terminated",
    "cash",
    "inventory",
    "mid",
    "equity",
    "time",
    "mid_before",
)
OUT_COLUMNS = len(OUT_NAMES)


@njit(cache=True, inline="always", error_model="numpy")
def _finish_one(
    i: int,
    db: float,
    da: float,
    q_b: float,
    w_b: float,
    q: np.ndarray,
    cash: np.ndarray,
    step: np.ndarray,
    mid_after: float,
    s0: float,
    sigma: float,
    w0: float,
    dt: float,
    n_steps: int,
    reward_code: int,
    phi: float,
    alpha: float,
    eta: float,
    out: np.ndarray,
    obs: np.ndarray,
) -> bool:
    """After matching path i: step count, reward, termination, the output row and the observation."""
    step[i] += 1
    terminal = step[i] >= n_steps
    w_a = cash[i] + q[i] * mid_after
    out[i, 0] = db
    out[i, 1] = da
    out[i, 7] = reward_one(reward_code, w_b, w_a, q_b, q[i], dt, terminal, w0, phi, alpha, eta)
    out[i, 8] = 1.0 if terminal else 0.0
    out[i, 9] = cash[i]
    out[i, 10] = q[i]
    out[i, 11] = mid_after
    out[i, 12] = w_a
    out[i, 13] = step[i] * dt
    observe_one(obs, i, q[i], (n_steps - step[i]) * dt, mid_after - s0, sigma)
    return terminal


def _env_step_paths(
    action: np.ndarray,
    normalized: bool,
    min_depth: float,
    max_depth: float,
    q: np.ndarray,
    cash: np.ndarray,
    step: np.ndarray,
    mid_before: np.ndarray,
    mid_after: np.ndarray,
    s0: np.ndarray,
    sigma: np.ndarray,
    w0: np.ndarray,
    reach_bid: np.ndarray,
    reach_ask: np.ndarray,
    q_max: float,
    size: float,
    fee_per_unit: float,
    fee_rate: float,
    dt: float,
    n_steps: int,
    reward_code: int,
    phi: float,
    alpha: float,
    eta: float,
    out: np.ndarray,
    obs: np.ndarray,
) -> None:
    """One env step on every path of a market that moved already: action map, :func:`match_and_settle`,
    reward and observation (markets without a kernel of :mod:`mmenv.sim.market_kernels`, e.g. tick replay).

    ``out`` (N, OUT_COLUMNS) receives, in the order of :data:`OUT_NAMES`, bid_depth, ask_depth, bid_price,
    ask_price, bought, sold, fees, reward, terminated (0/1), and the state after the step: cash, inventory,
    mid, equity and time; ``obs`` (N, 4) float32 the next observation. State arrays are updated in place.
    """
    inf = math.inf
    for i in range(q.shape[0]):
        db, da = action_to_depth_one(action[i, 0], action[i, 1], normalized, min_depth, max_depth)
        q_b = q[i]
        w_b = cash[i] + q_b * mid_before[i]
        (q[i], cash[i], out[i, 4], out[i, 5], out[i, 6], out[i, 2], out[i, 3]) = match_and_settle(
            q_b,
            cash[i],
            mid_before[i],
            db,
            da,
            reach_bid[i],
            reach_ask[i],
            inf,
            inf,
            q_max,
            size,
            fee_per_unit,
            fee_rate,
        )
        _finish_one(
            i,
            db,
            da,
            q_b,
            w_b,
            q,
            cash,
            step,
            mid_after[i],
            s0[i],
            sigma[i],
            w0[i],
            dt,
            n_steps,
            reward_code,
            phi,
            alpha,
            eta,
            out,
            obs,
        )
        out[i, 14] = mid_before[i]


#: The compiled kernel; GIL-free, so :meth:`SimulationCore.env_step` runs shards of a large N in threads
#: (each path is independent: the result does not depend on the sharding).
env_step_paths = njit(cache=True, nogil=True)(_env_step_paths)


@njit(cache=True, inline="always", error_model="numpy")
def _reset_one(
    kind,
    mp,
    mst,
    k0,
    k1,
    stream,
    episode,
    mt,
    mid,
    sigma,
    s0,
    q,
    cash,
    step,
    w0,
    q0,
    i,
    out,
    obs,
    n_steps,
    dt,
    write_row,
) -> None:
    """Start path i's next episode (market and trader), write its first observation and (``write_row``)
    its output row at reset: no quotes (NaN), no fills, the starting state."""
    episode[i] += 1
    mt[i] = 0
    mid[i] = s0[i]
    sigma[i] = mk.reset_one(kind, mp, mst, i, k0, k1, stream[i], episode[i])
    q[i] = q0
    cash[i] = 0.0
    step[i] = 0
    w0[i] = q0 * s0[i]
    observe_one(obs, i, q0, n_steps * dt, 0.0, sigma[i])
    if write_row:
        ms.reset_row(out, i, q0, s0[i], w0[i])


@njit(cache=True, nogil=True, error_model="numpy")
def fused_env_step(
    kind: int,
    mp: np.ndarray,
    mst: np.ndarray,
    k0,
    k1,
    stream: np.ndarray,
    episode: np.ndarray,
    mt: np.ndarray,
    mid: np.ndarray,
    sigma: np.ndarray,
    s0: np.ndarray,
    action: np.ndarray,
    normalized: bool,
    min_depth: float,
    max_depth: float,
    q: np.ndarray,
    cash: np.ndarray,
    step: np.ndarray,
    w0: np.ndarray,
    q0: float,
    q_max: float,
    size: float,
    fee_per_unit: float,
    fee_rate: float,
    dt: float,
    n_steps: int,
    reward_code: int,
    phi: float,
    alpha: float,
    eta: float,
    reset_first: np.ndarray,
    reset_after: bool,
    out: np.ndarray,
    obs: np.ndarray,
    final_obs: np.ndarray,
) -> None:
    """One env step of every path in one pass over a market of :mod:`mmenv.sim.market_kernels`.

    Per path: if ``reset_first[i]`` (the next-step autoreset of a finished episode) the path starts its
    next episode instead of stepping (reward 0, not terminated, first observation). Otherwise: action map
    (:func:`mmenv.sim.task.action_to_depth_one`), the market's interval (:func:`mmenv.sim.market_kernels.step_one`:
    the reach of the flow and the mid's move, in the market's event order), the hard limit, matching and
    accounting (:func:`match_and_settle`), the market's reaction to the fills, reward, termination and the
    observation; with ``reset_after`` a path that terminates writes its last observation to ``final_obs``
    and starts its next episode in the same step (same-step autoreset). ``out``: :data:`OUT_NAMES`.
    """
    inf = math.inf
    buf = np.empty((6, mk.CHUNK))
    n = q.shape[0]
    for lo in range(0, n, mk.CHUNK):
        m = min(mk.CHUNK, n - lo)
        mk.draw_chunk(mp, k0, k1, stream, episode, mt, lo, m, buf[0], buf[1], buf[2], buf[3], buf[4], buf[5])
        for j in range(m):
            i = lo + j
            do_reset = reset_first[i]
            if not do_reset:
                db, da = action_to_depth_one(action[i, 0], action[i, 1], normalized, min_depth, max_depth)
                q_b = q[i]
                m_b = mid[i]
                w_b = cash[i] + q_b * m_b
                r_b, r_a = mk.step_one(
                    kind,
                    mp,
                    mst,
                    i,
                    k0,
                    k1,
                    stream[i],
                    episode[i],
                    mt[i],
                    mid,
                    sigma,
                    buf[0, j],
                    buf[1, j],
                    buf[2, j],
                    buf[3, j],
                    buf[4, j],
                )
                mt[i] += 1
                (q[i], cash[i], out[i, 4], out[i, 5], out[i, 6], out[i, 2], out[i, 3]) = match_and_settle(
                    q_b, cash[i], m_b, db, da, r_b, r_a, inf, inf, q_max, size, fee_per_unit, fee_rate
                )
                mk.after_fills_one(kind, mst, i, out[i, 4], out[i, 5])
                out[i, 14] = m_b
                terminal = _finish_one(
                    i,
                    db,
                    da,
                    q_b,
                    w_b,
                    q,
                    cash,
                    step,
                    mid[i],
                    s0[i],
                    sigma[i],
                    w0[i],
                    dt,
                    n_steps,
                    reward_code,
                    phi,
                    alpha,
                    eta,
                    out,
                    obs,
                )
                if reset_after and terminal:
                    for c in range(obs.shape[1]):
                        final_obs[i, c] = obs[i, c]
                    do_reset = True  # the step's own values stay in the output row
            # next-step reset (writes a reset row) or same-step reset (the new episode's state and obs)
            if do_reset:
                _reset_one(
                    kind,
                    mp,
                    mst,
                    k0,
                    k1,
                    stream,
                    episode,
                    mt,
                    mid,
                    sigma,
                    s0,
                    q,
                    cash,
                    step,
                    w0,
                    q0,
                    i,
                    out,
                    obs,
                    n_steps,
                    dt,
                    reset_first[i],
                )


@njit(cache=True)
def observe_paths(
    q: np.ndarray,
    step: np.ndarray,
    n_steps: int,
    dt: float,
    mid: np.ndarray,
    s0: np.ndarray,
    sigma: np.ndarray,
    obs: np.ndarray,
) -> None:
    """Observations of every path into the float32 (N, 4) array ``obs`` (see :mod:`mmenv.sim.task`)."""
    for i in range(q.shape[0]):
        observe_one(obs, i, q[i], (n_steps - step[i]) * dt, mid[i] - s0[i], sigma[i])
