"""Parameters of the market model, validated at construction.

The model is the one of Avellaneda & Stoikov (2008), "High-frequency trading in a limit order book",
Quantitative Finance 8(3), section 4 (numerical simulations): the mid-price s follows an arithmetic
Brownian motion ds = sigma dW (or the paper's binomial step s +- sigma sqrt(dt)), and market orders reach a
quote at depth delta from the mid with Poisson intensity lambda(delta) = A exp(-k delta) (paper eq. 2.10-2.12).

Units: prices in price units (e.g. dollars), time in the model's time unit (the paper uses T = 1),
sigma in price units per square root of time unit, A in orders per time unit, k per price unit,
inventory q in units of the traded asset.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np

MidModel = Literal["brownian", "binomial"]
FillModel = Literal["exponential", "linear"]
EventOrder = Literal["fill_then_move", "move_then_fill"]

__all__ = [
    "MAX_MAGNITUDE",
    "EventOrder",
    "FillModel",
    "MarketParams",
    "MidModel",
    "as_real",
    "check_finite",
    "check_positive",
]


#: Largest magnitude accepted for a real parameter: beyond it prices, notionals and intensities overflow or
#: lose all precision in float64 accounting (s0 = 1e308 makes the first step's equity inf).
MAX_MAGNITUDE = 1e12


def as_real(name: str, value: object) -> float:
    """``value`` as a float, refusing what is not a real number: ValueError naming ``name``.

    Accepts int, float and numpy integer / floating scalars; refuses bools (``True`` is not a price), strings
    (``'2'``: parse your input first) and anything else.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number (int or float), got {type(value).__name__} {value!r}")
    return float(value)


def check_positive(name: str, value: float, *, allow_zero: bool = False, allow_inf: bool = False) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a positive (or non-negative) real number.

    Finite values must not exceed :data:`MAX_MAGNITUDE` (1e12).
    """
    value = as_real(name, value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if math.isinf(value) and not (allow_inf and value > 0):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if allow_zero:
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    elif value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if math.isfinite(value) and value > MAX_MAGNITUDE:
        raise ValueError(
            f"{name} must be <= {MAX_MAGNITUDE:g} (larger values overflow float64 accounting), got {value!r}"
        )


def check_finite(name: str, value: float) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a finite real number of magnitude <= 1e12."""
    v = as_real(name, value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if abs(v) > MAX_MAGNITUDE:
        raise ValueError(
            f"{name} must lie in [-{MAX_MAGNITUDE:g}, {MAX_MAGNITUDE:g}] (larger values overflow float64 "
            f"accounting), got {value!r}"
        )


@dataclass(frozen=True)
class MarketParams:
    """Parameters of the Avellaneda-Stoikov market (AS 2008, section 4).

    Attributes:
        s0: initial mid-price s_0 (price units). Paper: 100.
        sigma: mid-price volatility (price units / sqrt(time unit)); ds = mu dt + sigma dW. Paper: 2.
        T: horizon (time units). Paper: 1.
        dt: decision interval (time units); T / dt must be an integer. Paper: 0.005.
        A: arrival intensity scale of market orders at depth 0 (orders / time unit). Paper: 140.
        k: decay of the intensity with depth (1 / price unit): lambda(d) = A exp(-k d). Paper: 1.5.
        mu: drift of the mid (price units / time unit); 0 in the paper.
        q0: initial inventory (units). Paper: 0.
        q_max: hard inventory limit (units): no bid is quoted when q + order_size > q_max, no ask when
            q - order_size < -q_max. ``math.inf`` disables it (the paper has no limit).
        order_size: units bought or sold by one fill.
        fee_per_unit: fee paid per unit traded (price units); negative for a maker rebate.
        fee_rate: fee as a fraction of the traded notional; negative for a maker rebate.
        mid_model: "brownian" (s += mu dt + sigma sqrt(dt) Z) or "binomial" (the paper's
            s += +-sigma sqrt(dt) with probability 1/2 each, plus mu dt).
        fill_model: "exponential": a quote at depth d is hit within dt with probability
            1 - exp(-lambda(d) dt) (at least one Poisson arrival); "linear": the paper's lambda(d) dt,
            clipped at 1 with a warning when it exceeds 1.
        event_order: within a step, "fill_then_move" (default: the quotes meet the order flow around the
            mid they were set at, then the mid moves) or "move_then_fill" (the mid moves first and the flow
            around the new mid meets the stale quotes, as in AS 2008's simulation); see
            :mod:`mmenv.sim.market_kernels`. Same random numbers and mid path under both.
    """

    s0: float = 100.0
    sigma: float = 2.0
    T: float = 1.0
    dt: float = 0.005
    A: float = 140.0
    k: float = 1.5
    mu: float = 0.0
    q0: float = 0.0
    q_max: float = 25.0
    order_size: float = 1.0
    fee_per_unit: float = 0.0
    fee_rate: float = 0.0
    mid_model: MidModel = "brownian"
    fill_model: FillModel = "exponential"
    event_order: EventOrder = "fill_then_move"

    def __post_init__(self) -> None:
        check_positive("s0", self.s0)
        check_positive("sigma", self.sigma, allow_zero=True)
        check_positive("T", self.T)
        check_positive("dt", self.dt)
        check_positive("A", self.A)
        check_positive("k", self.k)
        check_finite("mu", self.mu)
        check_finite("q0", self.q0)
        check_positive("q_max", self.q_max, allow_inf=True)
        if self.q_max < 1:
            raise ValueError(f"q_max must be >= 1, got {self.q_max!r}")
        check_positive("order_size", self.order_size)
        if self.order_size > self.q_max:
            raise ValueError(f"order_size must be <= q_max ({self.q_max!r}), got {self.order_size!r}")
        if abs(self.q0) > self.q_max:
            raise ValueError(
                f"q0 must lie in [-q_max, q_max] = [-{self.q_max}, {self.q_max}], got {self.q0!r}"
            )
        check_finite("fee_per_unit", self.fee_per_unit)
        check_finite("fee_rate", self.fee_rate)
        if self.mid_model not in ("brownian", "binomial"):
            raise ValueError(f"mid_model must be 'brownian' or 'binomial', got {self.mid_model!r}")
        if self.fill_model not in ("exponential", "linear"):
            raise ValueError(f"fill_model must be 'exponential' or 'linear', got {self.fill_model!r}")
        if self.event_order not in ("fill_then_move", "move_then_fill"):
            raise ValueError(
                f"event_order must be 'fill_then_move' or 'move_then_fill', got {self.event_order!r}"
            )
        if self.dt > self.T:
            raise ValueError(f"dt must be <= T ({self.T!r}), got {self.dt!r}")
        n = self.T / self.dt
        if abs(n - round(n)) > 1e-9 * max(1.0, n):
            raise ValueError(f"T / dt must be an integer number of steps, got T={self.T!r}, dt={self.dt!r}")
        if self.fill_model == "linear" and self.A * self.dt > 1.0:
            warnings.warn(
                f"A*dt = {self.A * self.dt:.3g} > 1: with fill_model='linear' the fill probability "
                "lambda(d)*dt exceeds 1 (and is clipped) for quotes at depth < ln(A*dt)/k; use a smaller dt "
                "or fill_model='exponential'.",
                stacklevel=3,
            )

    @property
    def n_steps(self) -> int:
        """Number of decision steps in an episode, T / dt."""
        return round(self.T / self.dt)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the fields, for splitting keyword arguments."""
        return tuple(f.name for f in fields(cls))
