"""A passive constant-product liquidity pool (x y = L^2) quoting as a DeFi AMM does, with a fee."""

from __future__ import annotations

import numpy as np

from agents.base import BasePolicy, QuoteState
from agents.compiled import pool_policy
from mmenv.config import check_positive
from mmenv.replay.jit_policy import JitPolicy

__all__ = ["PassiveAgent"]


class PassiveAgent(BasePolicy):
    """Constant-product market maker: reserves x (asset) and y (cash) with x y = L^2 (Uniswap v2 rule).

    The pool starts at the episode's starting mid s0, x0 = L / sqrt(s0), y0 = L sqrt(s0). Its inventory is
    q = x - x0, so its state follows its own fills only. The fee is charged on the trader's input, as in
    Uniswap v2 (Adams, Zinsmeister and Robinson 2020, section 3.2.1: the invariant is checked on the input
    net of the fee): selling the pool ``size`` units (our bid is hit) credits size (1 - fee) against the
    curve and pays out y - L^2 / (x + size (1 - fee)); buying ``size`` units from it takes cash c with
    c (1 - fee) = L^2 / (x - size) - y. The quotes are these average prices:

        bid = (y - L^2 / (x + size (1 - fee))) / size,   ask = (L^2 / (x - size) - y) / (size (1 - fee)),

    with x = x0 + q and y = L^2 / x. One difference from v2: the fee leaves the pool (it is the market maker's
    spread income), while v2 adds it to the reserves so that L grows with every trade; here L stays fixed
    and the pool's state is its inventory alone. No inventory-risk management: the pool's price moves only through its
    own trades, not with the market mid. Depths are taken from the current mid (price units); a pool with
    x <= size cannot sell and withdraws its ask (+inf depth: no quote).

    Args:
        liquidity: L = sqrt(x y) (sqrt(units * price units)), > 0.
        fee: proportional fee (e.g. 0.003 for 30 bp), in [0, 1).
        size: order size (units), > 0.
        s0: starting mid (price units).
    """

    name = "passive"

    def __init__(
        self, liquidity: float = 100.0, fee: float = 0.003, size: float = 1.0, s0: float = 100.0
    ) -> None:
        super().__init__(s0)
        check_positive("liquidity", liquidity)
        check_positive("size", size)
        if not 0.0 <= fee < 1.0:
            raise ValueError(f"fee must lie in [0, 1), got {fee!r}")
        self.liquidity, self.fee, self.size = float(liquidity), float(fee), float(size)

    def jit_policy(self) -> JitPolicy | None:
        """This strategy as a compiled policy (:func:`agents.compiled.pool_policy`, the pool started at the
        replay's first mid); None for a subclass that changes ``quote`` or ``pool_prices``."""
        if (
            type(self).quote is not PassiveAgent.quote
            or type(self).pool_prices is not PassiveAgent.pool_prices
        ):
            return None
        p = [self.liquidity, self.liquidity**2, 1.0 - self.fee, self.size]
        return JitPolicy(pool_policy, params=p, name=self.name)

    def pool_prices(self, q: np.ndarray, s0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bid, ask) prices of the pool at inventory q for a pool started at s0 (price units)."""
        L2 = self.liquidity**2
        x = self.liquidity / np.sqrt(s0) + q
        y = L2 / x
        keep = 1.0 - self.fee  # the share of the trader's input that counts against the curve
        bid = (y - L2 / (x + self.size * keep)) / self.size
        with np.errstate(divide="ignore", invalid="ignore"):
            ask = np.where(x > self.size, (L2 / (x - self.size) - y) / (self.size * keep), np.inf)
        return bid, ask

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Depths of the pool's quotes from the market mid."""
        bid, ask = self.pool_prices(state.q, state.s0)
        return state.mid - bid, ask - state.mid
