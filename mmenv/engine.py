"""The Avellaneda-Stoikov market-making engine: reservation price, optimal spread, quotes, inventory.

Reference: M. Avellaneda and S. Stoikov (2008), "High-frequency trading in a limit order book",
Quantitative Finance 8(3), 217-224. Equation numbers below are the paper's.

Units: prices in price units, t and T in time units, sigma in price units / sqrt(time unit), gamma (risk
aversion) in 1 / price unit, k in 1 / price unit, q in units of the asset.

Bit for bit on every CPU: the logarithms (the liquidity term ln(1 + gamma/k), the infinite-horizon
reservation prices) are :func:`mmenv.counter_rng.det_log1p` (IEEE basic operations only, no libm, no
CPU-dispatched SIMD), so the quotes, and the fills and P&L they lead to, do not depend on the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from mmenv.config import check_finite, check_positive

__all__ = [
    "MarketMakingEngine",
    "liquidity_term",
    "optimal_spread",
    "reservation_price",
    "spread_given_liquidity",
]

ArrayLike = float | np.ndarray


def liquidity_term_formula(gamma: float, k: float) -> float:
    """(2/gamma) ln(1 + gamma/k), with its gamma -> 0 limit 2/k (AS eq. 3.18, second term)."""
    if gamma == 0.0:
        return 2.0 / k
    from mmenv.counter_rng import det_log1p  # lazy: numba stays out of `import mmenv`

    return 2.0 * float(det_log1p(gamma / k)) / gamma


def liquidity_term(gamma: float, k: float) -> float:
    """(2/gamma) ln(1 + gamma/k), the spread's second term (AS eq. 3.18), with its gamma -> 0 limit 2/k."""
    return liquidity_term_formula(gamma, k)


def reservation_price(s: ArrayLike, q: ArrayLike, tau: ArrayLike, gamma: float, sigma: float) -> ArrayLike:
    """Finite-horizon reservation (indifference) price, AS eq. (3.17) / (2.8)-(2.9) averaged.

    r(s, q, t) = s - q gamma sigma^2 (T - t), with ``tau = T - t``. gamma = 0 gives r = s.
    """
    return s - q * gamma * sigma * sigma * tau


def optimal_spread(tau: ArrayLike, gamma: float, sigma: float, k: float) -> ArrayLike:
    """Optimal total bid-ask spread, AS eq. (3.18).

    delta_a + delta_b = gamma sigma^2 (T - t) + (2/gamma) ln(1 + gamma/k), with ``tau = T - t``;
    the gamma -> 0 limit is 2/k.
    """
    return spread_given_liquidity(tau, gamma, sigma, liquidity_term_formula(gamma, k))


def spread_given_liquidity(tau: ArrayLike, gamma: float, sigma: float, liquidity: float) -> ArrayLike:
    """:func:`optimal_spread` from its second term ``liquidity`` = (2/gamma) ln(1 + gamma/k), computed once:
    gamma sigma^2 (T - t) + liquidity (the same operations, so the same bits)."""
    return gamma * sigma * sigma * tau + liquidity


@dataclass
class MarketMakingEngine:
    """Avellaneda-Stoikov quoting engine with inventory and cash bookkeeping.

    All quoting methods work on scalars and on numpy arrays (broadcast over paths).

    Args:
        gamma: risk aversion (1 / price unit), >= 0; gamma = 0 is the risk-neutral limit.
        sigma: mid-price volatility (price units / sqrt(time unit)), >= 0.
        k: order-book liquidity parameter of lambda(d) = A exp(-k d) (1 / price unit), > 0.
        T: terminal time (time units), > 0.
        horizon: "finite" (AS section 3, eqs. 3.17-3.18) or "infinite" (AS section 2.3, eqs. 2.12 with
            the discount omega of eq. 2.11; the quotes no longer depend on t).
        omega: discount rate of the infinite-horizon objective (1 / time unit); defaults to the paper's
            choice omega = gamma^2 sigma^2 (q_max + 1)^2 / 2, which keeps the reservation prices bounded
            for |q| <= q_max.
        q_max: inventory bound used by the default omega (units).
        q: current inventory (units); cash: current cash (price units). Updated by ``update_inventory``.
    """

    gamma: float = 0.1
    sigma: float = 2.0
    k: float = 1.5
    T: float = 1.0
    horizon: Literal["finite", "infinite"] = "finite"
    omega: float | None = None
    q_max: float = 25.0
    q: float = 0.0
    cash: float = 0.0
    _omega: float = field(init=False, repr=False, default=0.0)

    def __post_init__(self) -> None:
        check_positive("gamma", self.gamma, allow_zero=True)
        check_positive("sigma", self.sigma, allow_zero=True)
        check_positive("k", self.k)
        check_positive("T", self.T)
        check_finite("q", self.q)
        check_finite("cash", self.cash)
        if self.horizon not in ("finite", "infinite"):
            raise ValueError(f"horizon must be 'finite' or 'infinite', got {self.horizon!r}")
        if self.horizon == "infinite":
            if self.gamma == 0.0:
                raise ValueError("gamma must be > 0 for the infinite-horizon engine, got 0.0")
            check_positive("q_max", self.q_max)
            default = 0.5 * self.gamma**2 * self.sigma**2 * (self.q_max + 1.0) ** 2
            omega = default if self.omega is None else self.omega
            check_positive("omega", omega)
            self._omega = float(omega)

    # ---------------------------------------------------------------- formulas
    def calculate_reservation_price(self, s: ArrayLike, q: ArrayLike, t: ArrayLike) -> ArrayLike:
        """Reservation price (price units).

        Finite horizon, AS eq. (3.17): r = s - q gamma sigma^2 (T - t).
        Infinite horizon: the mid-point of the reservation ask and bid of AS eq. (2.12), see
        :meth:`infinite_horizon_reservation_prices`.
        """
        if self.horizon == "infinite":
            r_a, r_b = self.infinite_horizon_reservation_prices(s, q)
            return 0.5 * (r_a + r_b)
        return reservation_price(s, q, self.T - t, self.gamma, self.sigma)

    def calculate_optimal_spread(self, t: ArrayLike) -> ArrayLike:
        """Optimal total spread delta_a + delta_b (price units), AS eq. (3.18).

        gamma sigma^2 (T - t) + (2/gamma) ln(1 + gamma/k); the limit gamma -> 0 is 2/k. In the infinite
        horizon the time term is dropped and only (2/gamma) ln(1 + gamma/k) remains around the
        reservation prices (AS eq. 2.12 with 3.15).
        """
        if self.horizon == "infinite":
            return liquidity_term_formula(self.gamma, self.k) + 0.0 * np.asarray(t, dtype=float)
        return optimal_spread(self.T - t, self.gamma, self.sigma, self.k)

    def infinite_horizon_reservation_prices(self, s: ArrayLike, q: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """Reservation ask and bid prices of the infinite-horizon problem, AS eq. (2.12).

        r_a = s + (1/gamma) ln(1 + (1 - 2q) gamma^2 sigma^2 / (2 omega - gamma^2 q^2 sigma^2))
        r_b = s + (1/gamma) ln(1 + (-1 - 2q) gamma^2 sigma^2 / (2 omega - gamma^2 q^2 sigma^2))
        """
        if self.horizon != "infinite":
            raise ValueError(f"horizon must be 'infinite' for this method, got {self.horizon!r}")
        g2s2 = self.gamma**2 * self.sigma**2
        q = np.asarray(q, dtype=float) if np.ndim(q) else float(q)
        denom = 2.0 * self._omega - g2s2 * q * q
        if np.any(np.asarray(denom) <= 0):
            raise ValueError(
                f"q must satisfy |q| < sqrt(2 omega)/(gamma sigma) = {np.sqrt(2 * self._omega / g2s2):.4g}, got {q!r}"
            )
        from mmenv.counter_rng import det_log1p_array  # lazy: numba stays out of `import mmenv`

        r_a = s + det_log1p_array((1.0 - 2.0 * q) * g2s2 / denom) / self.gamma
        r_b = s + det_log1p_array((-1.0 - 2.0 * q) * g2s2 / denom) / self.gamma
        return r_a, r_b

    def quotes(self, s: ArrayLike, q: ArrayLike, t: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """Optimal bid and ask prices (price units).

        Finite horizon: bid = r - spread/2, ask = r + spread/2 (AS eqs. 3.17-3.18).
        Infinite horizon: bid = r_b - (1/gamma) ln(1 + gamma/k), ask = r_a + (1/gamma) ln(1 + gamma/k).
        """
        half = 0.5 * liquidity_term_formula(self.gamma, self.k)
        if self.horizon == "infinite":
            r_a, r_b = self.infinite_horizon_reservation_prices(s, q)
            return r_b - half, r_a + half
        tau = self.T - t
        r = reservation_price(s, q, tau, self.gamma, self.sigma)
        half_spread = 0.5 * optimal_spread(tau, self.gamma, self.sigma, self.k)
        return r - half_spread, r + half_spread

    def depths(self, s: ArrayLike, q: ArrayLike, t: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """Optimal quote depths (delta_b, delta_a) = (s - bid, ask - s) in price units."""
        bid, ask = self.quotes(s, q, t)
        return s - bid, ask - s

    # ---------------------------------------------------------------- bookkeeping
    def update_inventory(self, side: str | int, qty: float, price: float) -> tuple[float, float]:
        """Record a fill and return the new (q, cash).

        Args:
            side: "buy" / +1 (our bid was hit: q += qty, cash -= qty * price) or "sell" / -1 (our ask was
                lifted: q -= qty, cash += qty * price).
            qty: units filled, > 0.
            price: fill price (price units), finite and > 0.
        """
        check_positive("qty", qty)
        check_positive("price", price)
        if side in ("buy", "bid", 1):
            sign = 1.0
        elif side in ("sell", "ask", -1):
            sign = -1.0
        else:
            raise ValueError(f"side must be 'buy'/+1 or 'sell'/-1, got {side!r}")
        self.q += sign * qty
        self.cash -= sign * qty * price
        return self.q, self.cash

    def mark_to_market(self, s: float) -> float:
        """Wealth X + q s at mid ``s`` (price units)."""
        return self.cash + self.q * s
