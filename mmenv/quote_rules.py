"""Quote rules as one numba function: the AS strategy and the baselines built on its formulas.

:func:`rule_depths` is the per-decision rule that every compiled loop inlines (the backtester's kernel, the
replay engine, the fused rollout of :mod:`mmenv.rollout`) and whose ``.py_func`` the reference loop calls:
one source for the rule. :class:`mmenv.backtest.QuoteRule` is its validated parameter set.

* RULE_AS (0): r = s - q gamma sigma^2 tau (AS 2008 eq. 3.17), spread = gamma sigma^2 tau + (2/gamma)
  ln(1 + gamma/k) (eq. 3.18); depths (s - r + spread/2, r + spread/2 - s).
* RULE_SYMMETRIC (1): spread/2 on each side of the mid (tau = 0 in the spread if not ``time_term``).
* RULE_NAIVE (2): ``depth`` on each side.

Parameters ``rp``: (gamma, k, sigma (NaN: the market's), depth, time_term (0/1), liquidity term
(2/gamma) ln(1 + gamma/k), computed once by :func:`mmenv.engine.liquidity_term`).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba.extending import register_jitable

from mmenv import engine as _engine

__all__ = ["RULE_AS", "RULE_CODES", "RULE_NAIVE", "RULE_SYMMETRIC", "rule_depths"]

# One source for the AS formulas: compile mmenv.engine's own functions (the helper it calls is registered
# as jitable in place, so numba resolves the call inside optimal_spread).
register_jitable(_engine._liquidity_term)
register_jitable(_engine.spread_given_liquidity)

_reservation_price = nb.njit(cache=False)(_engine.reservation_price)

_spread = nb.njit(cache=False)(_engine.spread_given_liquidity)

RULE_AS, RULE_SYMMETRIC, RULE_NAIVE = 0, 1, 2
#: Rule name -> code.
RULE_CODES = {"as": RULE_AS, "symmetric": RULE_SYMMETRIC, "naive": RULE_NAIVE}


@nb.njit(cache=True, inline="always")
def rule_depths(
    code: int, rp: np.ndarray, q: float, tau: float, mid: float, sigma: float
) -> tuple[float, float]:
    """Depths of a quote rule (same operations, same order, as the agents in :mod:`agents`)."""
    if code == 0:
        skew = mid - _reservation_price(mid, q, tau, rp[0], sigma)
        tt = tau if rp[4] != 0.0 else 0.0 * tau
        half = 0.5 * _spread(tt, rp[0], sigma, rp[5])
        return half + skew, half - skew
    if code == 1:
        tt = tau if rp[4] != 0.0 else 0.0 * tau
        half = 0.5 * _spread(tt, rp[0], sigma, rp[5])
        return half, half
    return rp[3], rp[3]
