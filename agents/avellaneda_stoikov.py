"""The Avellaneda-Stoikov inventory strategy and the paper's symmetric benchmark (AS 2008, section 4)."""

from __future__ import annotations

import numpy as np

from agents.base import BasePolicy, QuoteState
from mmenv.config import check_positive
from mmenv.engine import MarketMakingEngine, optimal_spread, reservation_price
from mmenv.sim.quote_rules import QuoteRule

__all__ = ["AvellanedaStoikovAgent", "SymmetricAgent"]


class AvellanedaStoikovAgent(BasePolicy):
    """Quotes r -+ spread/2 with r = s - q gamma sigma^2 (T - t) and the optimal spread (AS eqs. 3.17-3.18).

    Args:
        gamma: risk aversion (1 / price unit), >= 0.
        k: order-book liquidity (1 / price unit), > 0.
        sigma: volatility to use (price / sqrt(time)); None reads it from the state (the env's observation).
        horizon: "finite" (uses tau = T - t from the state) or "infinite" (AS eq. 2.12).
        q_max: inventory bound of the infinite-horizon discount; s0: see :class:`BasePolicy`.
        spread_time_term: include gamma sigma^2 (T - t) in the spread (True, eq. 3.18); False keeps only the
            liquidity term (2/gamma) ln(1 + gamma/k), the spread the paper's tables print (a diagnostic).
    """

    name = "as"

    def __init__(
        self,
        gamma: float = 0.1,
        k: float = 1.5,
        sigma: float | None = None,
        horizon: str = "finite",
        q_max: float = 25.0,
        s0: float = 100.0,
        spread_time_term: bool = True,
    ) -> None:
        super().__init__(s0)
        self.spread_time_term = bool(spread_time_term)
        check_positive("gamma", gamma, allow_zero=True)
        check_positive("k", k)
        if sigma is not None:
            check_positive("sigma", sigma, allow_zero=True)
        self.gamma, self.k, self.sigma, self.horizon = float(gamma), float(k), sigma, horizon
        self.q_max = q_max
        self._engine_inf = (
            MarketMakingEngine(gamma=gamma, sigma=sigma or 1.0, k=k, horizon="infinite", q_max=q_max)
            if horizon == "infinite"
            else None
        )

    def quote_rule(self):
        """The equivalent :class:`mmenv.backtest.QuoteRule` (the backtester's compiled path), or None.

        Only the finite-horizon AS agent itself has one (not a subclass, whose ``quote`` may differ).
        """
        if type(self) is not AvellanedaStoikovAgent or self.horizon != "finite":
            return None
        return QuoteRule("as", gamma=self.gamma, k=self.k, sigma=self.sigma, time_term=self.spread_time_term)

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """(delta_b, delta_a) = (s - r + spread/2, r + spread/2 - s)."""
        sigma = state.sigma if self.sigma is None else self.sigma
        if self._engine_inf is not None:
            if self.sigma is None:
                raise ValueError("sigma must be given for horizon='infinite'")
            bid, ask = self._engine_inf.quotes(state.mid, state.q, 0.0)
            return state.mid - bid, ask - state.mid
        skew = state.mid - reservation_price(state.mid, state.q, state.tau, self.gamma, sigma)
        tau_spread = state.tau if self.spread_time_term else 0.0 * state.tau
        half = 0.5 * optimal_spread(tau_spread, self.gamma, sigma, self.k)
        return half + skew, half - skew


class SymmetricAgent(BasePolicy):
    """The paper's symmetric benchmark: the AS optimal spread (eq. 3.18) centred on the mid, whatever q.

    delta_b = delta_a = [gamma sigma^2 (T - t) + (2/gamma) ln(1 + gamma/k)] / 2 (AS 2008 section 4).

    Args:
        gamma, k, sigma: as :class:`AvellanedaStoikovAgent`.
        time_term: include gamma sigma^2 (T - t) in the spread (True, eq. 3.18) or use only the
            liquidity term (2/gamma) ln(1 + gamma/k), the spread the paper's tables report.
    """

    name = "symmetric"

    def __init__(
        self,
        gamma: float = 0.1,
        k: float = 1.5,
        sigma: float | None = None,
        time_term: bool = True,
        s0: float = 100.0,
    ) -> None:
        super().__init__(s0)
        check_positive("gamma", gamma, allow_zero=True)
        check_positive("k", k)
        self.gamma, self.k, self.sigma, self.time_term = (
            float(gamma),
            float(k),
            sigma,
            bool(time_term),
        )

    def quote_rule(self):
        """The equivalent :class:`mmenv.backtest.QuoteRule` (None for a subclass, whose ``quote`` may differ)."""
        if type(self) is not SymmetricAgent:
            return None
        return QuoteRule("symmetric", gamma=self.gamma, k=self.k, sigma=self.sigma, time_term=self.time_term)

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Half the optimal spread on each side of the mid."""
        sigma = state.sigma if self.sigma is None else self.sigma
        tau = state.tau if self.time_term else 0.0 * state.tau
        half = 0.5 * optimal_spread(tau, self.gamma, sigma, self.k)
        return half, half + 0.0  # a distinct array (or float) for the ask
