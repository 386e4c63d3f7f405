"""The built-in strategies as compiled policies (:mod:`mmenv.replay.jit_policy`): the replay's loop calls
them at each decision, at kernel speed.

Each function here is the same arithmetic, in the same order, as its agent's ``quote`` (which stays the
reference: the tests replay both and compare the records bit for bit); the agent's ``jit_policy()`` packs
its parameters. Inventory ``q`` is the state's ``J_Q`` (lots of the order size), tau ``J_TAU`` (s), the mid
``J_MID`` and sigma ``J_SIGMA`` (the replay's), depths in price units, +inf withdraws a side.

* :func:`glft_policy`: the GLFT closed form (:class:`agents.GLFTAgent`),
  ``delta_b = c1 + (2 q + Delta) / 2 c2``, ``delta_a = c1 - (2 q - Delta) / 2 c2``, +inf at the bound.
* :func:`table_policy`: a depth table indexed by time and inventory (the CJP optimum
  :class:`agents.CJPAgent` and the exact discrete optimum :class:`agents.ExactOptimumAgent`):
  ``j = clip(rint(tau / dt), j_lo, j_hi)``, ``i = clip(rint((q - q0) / Delta) + shift, 0, i_hi)``.
* :func:`interp_policy`: the AS-style quotes of a general intensity
  (:class:`agents.intensity_quotes.IntensityASAgent`): ``np.interp`` of the targets
  ``(1 +- 2 q) gamma sigma^2 tau / 2`` on its solved grid.
* :func:`pool_policy`: the constant-product pool (:class:`agents.PassiveAgent`).
* :func:`trend_policy`: the trend follower (:class:`agents.TrendFollowingAgent`), its momentum, last mid
  and last tau in ``memory``.
"""

from __future__ import annotations

import math

import numpy as np

from mmenv.jit import njit
from mmenv.replay.jit_policy import J_MID, J_Q, J_S0, J_SIGMA, J_TAU

__all__ = [
    "TABLE_HEADER",
    "glft_policy",
    "interp_policy",
    "pool_policy",
    "table_params",
    "table_policy",
    "trend_policy",
]

#: Header of :func:`table_policy`'s parameters: dt, j_lo, j_hi, q0, Delta, shift, i_hi, columns; then the
#: bid table and the ask table, each row-major (rows j = 0.., columns i).
TABLE_HEADER = 8


@njit(cache=True)
def glft_policy(state, features, params, memory, out) -> None:
    """GLFT closed form. ``params``: c1, c2 (NaN: from the state's sigma), gamma, 2 A Delta k, growth,
    Delta, Q (lots)."""
    q = state[J_Q]
    c1, c2 = params[0], params[1]
    if c2 != c2:  # c2 = sqrt(sigma^2 gamma / (2 A Delta k) growth), as GLFTAgent.coefficients
        sigma = state[J_SIGMA]
        c2 = math.sqrt(sigma * sigma * params[2] / params[3] * params[4])
    d, qmax = params[5], params[6]
    bid = c1 + (2.0 * q + d) / 2.0 * c2
    ask = c1 - (2.0 * q - d) / 2.0 * c2
    out[0] = math.inf if q + d > qmax + 1e-9 else bid
    out[1] = math.inf if q - d < -qmax - 1e-9 else ask


@njit(cache=True)
def table_policy(state, features, params, memory, out) -> None:
    """Depth-table look-up (header :data:`TABLE_HEADER`, then the bid and ask tables)."""
    dt, j_lo, j_hi, q0, size, shift, i_hi, cols = params[0:TABLE_HEADER]
    j = min(max(np.rint(state[J_TAU] / dt), j_lo), j_hi)
    i = min(max(np.rint((state[J_Q] - q0) / size) + shift, 0.0), i_hi)
    k = int(j) * int(cols) + int(i)
    n = (params.shape[0] - TABLE_HEADER) // 2
    out[0] = params[TABLE_HEADER + k]
    out[1] = params[TABLE_HEADER + n + k]


@njit(cache=True)
def interp_policy(state, features, params, memory, out) -> None:
    """AS quotes of a general intensity. ``params``: gamma, sigma (NaN: the state's), n, then the grid's
    n left sides (non-decreasing) and n depths."""
    sigma = params[1] if params[1] == params[1] else state[J_SIGMA]
    n = int(params[2])
    lhs = params[3 : 3 + n]
    grid = params[3 + n : 3 + 2 * n]
    q = state[J_Q]
    base = 0.5 * params[0] * (sigma * sigma) * state[J_TAU]
    out[0] = np.interp((1.0 + 2.0 * q) * base, lhs, grid)
    out[1] = np.interp((1.0 - 2.0 * q) * base, lhs, grid)


@njit(cache=True)
def pool_policy(state, features, params, memory, out) -> None:
    """Constant-product pool from the start mid ``J_S0``. ``params``: L, L^2, fee share kept (1 - fee), size."""
    liq, l2, keep, size = params[0], params[1], params[2], params[3]
    mid = state[J_MID]
    x = liq / math.sqrt(state[J_S0]) + state[J_Q]
    y = l2 / x
    bid = (y - l2 / (x + size * keep)) / size
    ask = (l2 / (x - size) - y) / (size * keep) if x > size else math.inf
    out[0] = mid - bid
    out[1] = ask - mid


@njit(cache=True)
def trend_policy(state, features, params, memory, out) -> None:
    """Trend follower. ``params``: half spread, beta, lambda. ``memory``: momentum, last mid, last tau,
    started (0/1)."""
    mid, tau = state[J_MID], state[J_TAU]
    half, beta, lam = params[0], params[1], params[2]
    if memory[3] == 0.0:
        memory[0], memory[1], memory[2], memory[3] = 0.0, mid, tau, 1.0
    if tau > memory[2]:  # a new episode (tau went up): momentum restarts
        memory[0] = 0.0
    else:
        memory[0] = (1.0 - lam) * memory[0] + lam * (mid - memory[1])
    memory[1], memory[2] = mid, tau
    shift = beta * memory[0]
    out[0] = half - shift
    out[1] = half + shift


def table_params(
    bid: np.ndarray, ask: np.ndarray, dt: float, j_lo: int, q0: float, size: float, shift: int
) -> np.ndarray:
    """The parameters of :func:`table_policy` for depth tables ``bid``, ``ask`` (rows j = 0.., columns i)."""
    rows, cols = bid.shape
    head = [dt, float(j_lo), float(rows - 1), q0, size, float(shift), float(cols - 1), float(cols)]
    return np.concatenate([np.array(head), np.ravel(bid), np.ravel(ask)]).astype(np.float64)
