"""Trend-following market maker: quotes skewed toward recent momentum of the mid."""

from __future__ import annotations

import numpy as np

from agents.base import BasePolicy, QuoteState
from agents.compiled import trend_policy
from mmenv.config import check_positive
from mmenv.replay.jit_policy import JitPolicy

__all__ = ["TrendFollowingAgent"]


class TrendFollowingAgent(BasePolicy):
    """Centre the quotes at s + beta * m, with m an EWMA of the mid's recent changes.

    m_t = (1 - lam) m_{t-1} + lam (s_t - s_{t-1}) (price units per step); the quotes are
    bid = s + beta m - half_spread and ask = s + beta m + half_spread, so after a rise the bid moves up
    (buys more readily) and the ask moves away (sells less): the book leans with the trend.

    Args:
        half_spread: half of the quoted spread (price units), >= 0.
        beta: skew per unit of momentum (steps), >= 0. lam: EWMA weight in (0, 1].
    """

    name = "trend"

    def __init__(
        self, half_spread: float = 0.7, beta: float = 5.0, lam: float = 0.2, s0: float = 100.0
    ) -> None:
        super().__init__(s0)
        check_positive("half_spread", half_spread, allow_zero=True)
        check_positive("beta", beta, allow_zero=True)
        if not 0.0 < lam <= 1.0:
            raise ValueError(f"lam must lie in (0, 1], got {lam!r}")
        self.half_spread, self.beta, self.lam = float(half_spread), float(beta), float(lam)
        self.reset(1)

    def jit_policy(self) -> JitPolicy | None:
        """This strategy as a compiled policy (:func:`agents.compiled.trend_policy`, its momentum in the
        policy's memory); None for a subclass that changes ``quote``."""
        if type(self).quote is not TrendFollowingAgent.quote:
            return None
        p = [self.half_spread, self.beta, self.lam]
        return JitPolicy(trend_policy, params=p, memory_size=4, name=self.name)

    def reset(self, num_paths: int = 1) -> None:
        """Forget the momentum and the last mid of every path."""
        self._m = np.zeros(num_paths)
        self._last: np.ndarray | None = None
        self._last_tau: np.ndarray | None = None

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Depths after updating the momentum with the new mid.

        A path whose time remaining went up since the last call has started a new episode: its momentum
        restarts at 0.
        """
        mid = np.asarray(state.mid, dtype=float)
        tau = np.asarray(state.tau, dtype=float)
        if self._last is None or self._last.shape != mid.shape:
            self._m = np.zeros(mid.shape)
            self._last, self._last_tau = mid.copy(), tau.copy()
        restart = tau > self._last_tau
        change = np.where(restart, 0.0, mid - self._last)
        self._m = np.where(restart, 0.0, (1.0 - self.lam) * self._m + self.lam * change)
        self._last, self._last_tau = mid.copy(), tau.copy()
        shift = self.beta * self._m
        return self.half_spread - shift, self.half_spread + shift
