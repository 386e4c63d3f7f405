"""Quote rules the compiled loop evaluates (:class:`QuoteRule`) and the same rule as a Python policy.

``_rule_depths`` is the per-decision rule, a numba function; the kernel inlines it compiled and
:class:`RulePolicy` (the reference loop's view of a rule) calls its ``.py_func``: one source for the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmenv import quote_rules as _qr
from mmenv.config import check_positive
from mmenv.engine import liquidity_term
from mmenv.policy import QuoteState, state_from_obs

__all__ = ["RULE_AS", "RULE_NAIVE", "RULE_SYMMETRIC", "QuoteRule", "RulePolicy"]


RULE_AS, RULE_SYMMETRIC, RULE_NAIVE = _qr.RULE_AS, _qr.RULE_SYMMETRIC, _qr.RULE_NAIVE
_RULE_CODES = _qr.RULE_CODES
#: The rule function (:func:`mmenv.quote_rules.rule_depths`), under the name the kernels import.
_rule_depths = _qr.rule_depths


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
        if self.kind not in _RULE_CODES:
            raise ValueError(f"kind must be one of {sorted(_RULE_CODES)}, got {self.kind!r}")
        check_positive("gamma", self.gamma, allow_zero=True)
        check_positive("k", self.k)
        if self.sigma is not None:
            check_positive("sigma", self.sigma, allow_zero=True)
        check_positive("depth", self.depth, allow_zero=True)

    @property
    def name(self) -> str:
        """The strategy's short name."""
        return self.kind

    def _params(self) -> np.ndarray:
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

    ``quote`` calls ``_rule_depths.py_func`` (the very function the compiled loop inlines) path by path, so
    the reference loop and the kernel share one source for the rule.
    """

    def __init__(self, rule: QuoteRule, s0: float = 100.0) -> None:
        self.rule, self.s0 = rule, float(s0)
        self.name = rule.name
        self._code, self._rp = _RULE_CODES[rule.kind], rule._params()

    def reset(self, num_paths: int = 1) -> None:
        """Stateless."""

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Depths (N,) each, from ``(q, tau, mid, sigma)`` (the rule's own sigma when it has one)."""
        rule_depths = _rule_depths.py_func
        q, tau, mid = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (state.q, state.tau, state.mid))
        sig = np.broadcast_to(np.asarray(state.sigma, dtype=np.float64), q.shape)
        own = self._rp[2]
        out = np.array(
            [
                rule_depths(self._code, self._rp, q[i], tau[i], mid[i], sig[i] if own != own else own)
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
