"""Naive fixed-distance market maker: quotes a constant depth on both sides, ignoring inventory."""

from __future__ import annotations

import numpy as np

from agents.base import BasePolicy, QuoteState
from mmenv.config import check_positive
from mmenv.sim.quote_rules import QuoteRule

__all__ = ["NaiveAgent"]


class NaiveAgent(BasePolicy):
    """delta_b = delta_a = ``depth`` (price units), regardless of inventory and time.

    Args:
        depth: distance of each quote from the mid (price units), >= 0 (e.g. 0.01 for one cent on bar data).
    """

    name = "naive"

    def __init__(self, depth: float = 0.7, s0: float = 100.0) -> None:
        super().__init__(s0)
        check_positive("depth", depth, allow_zero=True)
        self.depth = float(depth)

    def quote_rule(self):
        """The equivalent :class:`mmenv.backtest.QuoteRule` (None for a subclass, whose ``quote`` may differ)."""
        if type(self) is not NaiveAgent:
            return None
        return QuoteRule("naive", depth=self.depth)

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Constant depths."""
        d = np.full(np.shape(state.q), self.depth)
        return d, d + 0.0
