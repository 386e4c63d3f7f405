"""Quote rules as one numba function: the AS strategy and the baselines built on its formulas.

:func:`rule_depths` is the per-decision rule that every compiled loop inlines (the backtester's kernel, the
replay engine, the fused rollout of :mod:`mmenv.envs.rollout`) and whose ``.py_func`` the reference loop calls:
one source for the rule. :class:`QuoteRule` is its validated parameter set and :class:`RulePolicy` the same
rule as a Python :class:`mmenv.policy.Policy` (it calls ``rule_depths.py_func``).

* RULE_AS (0): r = s - q gamma sigma^2 tau (AS 2008 eq. 3.17), spread = gamma sigma^2 tau + (2/gamma)
  ln(1 + gamma/k) (eq. 3.18); depths (s - r + spread/2, r + spread/2 - s).
* RULE_SYMMETRIC (1): spread/2 on each side of the mid (tau = 0 in the spread if not ``time_term``).
* RULE_NAIVE (2): ``depth`` on each side.

Parameters ``rp``: (gamma, k, sigma (NaN: the market's), depth, time_term (0/1), liquidity term
(2/gamma) ln(1 + gamma/k), computed once by :func:`mmenv.engine.liquidity_term`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np
from numba.extending import register_jitable

from mmenv import engine as _engine
from mmenv.config import check_positive
from mmenv.engine import liquidity_term
from mmenv.jit import njit
from mmenv.policy import QuoteState, state_from_obs

__all__ = ["RULE_AS", "RULE_CODES", "RULE_NAIVE", "RULE_SYMMETRIC", "QuoteRule", "RulePolicy", "rule_depths"]

# One source for the AS formulas: compile mmenv.engine's own functions (the helper it calls is registered
# as jitable in place, so numba resolves the call inside optimal_spread).
register_jitable(_engine.liquidity_term_formula)
register_jitable(_engine.spread_given_liquidity)

_reservation_price = nb.njit(cache=False)(_engine.reservation_price)

_spread = nb.njit(cache=False)(_engine.spread_given_liquidity)

RULE_AS, RULE_SYMMETRIC, RULE_NAIVE = 0, 1, 2
#: Rule name -> code.
RULE_CODES = {"as": RULE_AS, "symmetric": RULE_SYMMETRIC, "naive": RULE_NAIVE}


@njit(cache=True, inline="always")
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


@dataclass(frozen=True)
class QuoteRule:
    """A quote rule the compiled loop can evaluate (the AS strategy and the baselines built on its formulas).

    * "as": r = s - q gamma sigma^2 tau (AS eq. 3.17), spread = gamma sigma^2 tau + (2/gamma) ln(1 + gamma/k)
      (eq. 3.18); depths (s - r + spread/2, r + spread/2 - s). As :class:`agents.AvellanedaStoikovAgent`.
    * "symmetric": spread/2 on each side of the mid (tau = 0 in the spread if not ``time_term``). As
      :class:`agents.SymmetricAgent`.
    * "naive": ``depth`` on each side. As :class:`agents.NaiveAgent`.

    Attributes:
        kind: "as", "symmetric" or "naive".
        gamma: risk aversion (1 / price unit), >= 0. k: liquidity (1 / price unit), > 0.
        sigma: volatility (price / sqrt(time unit)); None: the backtest's ``sigma``.
        depth: naive depth (price units), >= 0.
        time_term: the spread keeps gamma sigma^2 tau (eq. 3.18); False: liquidity term only (the "as" and
            "symmetric" rules; the agents' ``spread_time_term`` / ``time_term``).
    """

    kind: str = "as"
    gamma: float = 0.1
    k: float = 1.5
    sigma: float | None = None
    depth: float = 0.0
    time_term: bool = True

    def __post_init__(self) -> None:
        if self.kind not in RULE_CODES:
            raise ValueError(f"kind must be one of {sorted(RULE_CODES)}, got {self.kind!r}")
        check_positive("gamma", self.gamma, allow_zero=True)
        check_positive("k", self.k)
        if self.sigma is not None:
            check_positive("sigma", self.sigma, allow_zero=True)
        check_positive("depth", self.depth, allow_zero=True)

    @property
    def name(self) -> str:
        """The strategy's short name."""
        return self.kind

    def packed(self) -> np.ndarray:
        s = math.nan if self.sigma is None else float(self.sigma)
        liquidity = liquidity_term(float(self.gamma), float(self.k))
        return np.array([self.gamma, self.k, s, self.depth, float(self.time_term), liquidity])

    @classmethod
    def from_policy(cls, policy: Any) -> QuoteRule | None:
        """The rule equivalent to a policy, or None if there is none.

        A policy that the compiled loop can run says so itself: its ``quote_rule()`` method returns the
        equivalent :class:`QuoteRule` (the AS finite-horizon, symmetric and naive agents do), or None.
        """
        if isinstance(policy, QuoteRule):
            return policy
        get = getattr(policy, "quote_rule", None)
        return get() if callable(get) else None

    def to_policy(self) -> RulePolicy:
        """This rule as a :class:`mmenv.policy.Policy` evaluated in Python (for the reference loop)."""
        return RulePolicy(self)


class RulePolicy:
    """A :class:`QuoteRule` as a :class:`mmenv.policy.Policy`: the kernel's rule function run uncompiled.

    ``quote`` calls ``rule_depths.py_func`` (the very function the compiled loop inlines) path by path, so
    the reference loop and the kernel share one source for the rule.
    """

    def __init__(self, rule: QuoteRule, s0: float = 100.0) -> None:
        self.rule, self.s0 = rule, float(s0)
        self.name = rule.name
        self._code, self._rp = RULE_CODES[rule.kind], rule.packed()

    def reset(self, num_paths: int = 1) -> None:
        """Stateless."""

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Depths (N,) each, from ``(q, tau, mid, sigma)`` (the rule's own sigma when it has one)."""
        rule = rule_depths.py_func
        q, tau, mid = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (state.q, state.tau, state.mid))
        sig = np.broadcast_to(np.asarray(state.sigma, dtype=np.float64), q.shape)
        own = self._rp[2]
        out = np.array(
            [
                rule(self._code, self._rp, q[i], tau[i], mid[i], sig[i] if own != own else own)
                for i in range(q.shape[0])
            ],
            dtype=np.float64,
        ).reshape(q.shape[0], 2)
        return out[:, 0], out[:, 1]

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Depths (N, 2) for env observations (N, 4), or (2,) for one observation (``s0``: the start mid)."""
        bid, ask = self.quote(state_from_obs(obs, self.s0))
        out = np.stack([bid, ask], axis=-1)
        return out[0] if np.ndim(obs) == 1 else out
