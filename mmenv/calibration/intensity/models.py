"""Intensity laws lambda(d | c): the rate (orders per second per side) of market orders that reach
depth ``d`` from the mid while the quoted half-spread (the touch) is ``c``, for ``d >= c``.

Three laws, each on an unconstrained parameter vector ``theta`` (so that the optimiser needs no
bounds for positivity) with its natural parameters:

* ``exponential``: ``lambda(d) = A exp(-k d)`` (Avellaneda & Stoikov 2008, eq. 2.10-2.12), theta =
  (log A, log k). It does not depend on c.
* ``power_law``: ``lambda(d) = A (1 + d / d0)^-alpha`` (the power-law decay of order flow with the
  distance to the best price reported by Bouchaud, Mezard & Potters 2002, "Statistical properties
  of stock order books: empirical results and models", Quantitative Finance 2(4)), theta = (log A,
  log d0, log alpha). It does not depend on c.
* ``two_part``: an order that reaches the touch walks past it with probability ``p``; beyond the
  touch its reach decays exponentially. On a tick grid of size h, with ``j = (d - c) / h`` ticks
  past the touch::

      lambda(c + j h | c) = L(c)                          j = 0  (the touch)
                          = L(c) p exp(-k (j - 1) h)      j >= 1
      L(c) = A exp(-beta (c - c_ref))                     (rate of orders reaching the touch)

  with theta = (log A, beta, logit p, log k) and the fixed reference half-spread ``c_ref`` (the
  typical half-spread of the sample), so A is the touch rate at the typical spread. It nests the
  exponential (beta = k, p = exp(-k h)) and needs a tick grid ("past the touch" is one level
  deeper). As a function of the quoting depth delta (the :meth:`IntensityLaw.curve` handed to
  quote optimisers) it is taken at the typical touch c_ref: ``L(delta)`` for a quote inside the
  spread (delta <= c_ref: the quote becomes the touch), ``L(c_ref) p exp(-k (delta - c_ref - h))``
  beyond the first level behind the touch (delta >= c_ref + h), log-linear in between.

Every law gives ``log lambda(d | c)`` and its gradient in theta (the likelihood of
:mod:`mmenv.calibration.intensity.likelihood` is built from it), ``log(-d/dd log lambda)`` for continuous
depths (the density of the reach), a sampler of the reach beyond the touch (synthetic tapes) and
the delta-method map to natural parameters.

Units: depths and half-spreads in price units, rates in orders per second per side, k, beta and
1/d0 per price unit, p and alpha dimensionless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "LAWS",
    "Exponential",
    "FittedIntensity",
    "IntensityLaw",
    "PowerLaw",
    "TwoPart",
    "make_law",
]


def _excess_ticks(d: np.ndarray, c: np.ndarray, tick: float) -> np.ndarray:
    """Whole ticks j = round((d - c) / h) past the touch (depth and touch lie on the tick lattice)."""
    return np.maximum(np.rint((d - c) / tick), 0.0)


@dataclass(frozen=True)
class IntensityLaw:
    """Base of the laws: a name, parameter names and the maps between theta and natural
    parameters."""

    name: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()
    requires_tick: ClassVar[bool] = False

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def natural(self, theta: np.ndarray) -> np.ndarray:
        """Natural parameters (see the module docstring) from theta."""
        raise NotImplementedError

    def natural_jacobian(self, theta: np.ndarray) -> np.ndarray:
        """Diagonal of d natural / d theta (each natural parameter depends on its own theta)."""
        raise NotImplementedError

    def to_theta(self, natural: Any) -> np.ndarray:
        """Inverse of :meth:`natural`."""
        raise NotImplementedError

    def log_lambda(self, d: np.ndarray, c: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log lambda(d | c) (n,) and its gradient in theta (n, p), for depths d >= c."""
        raise NotImplementedError

    def log_neg_slope(self, d: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log(-d/dd log lambda(d)) and its theta-gradient: with log lambda it gives the log density
        of a continuous reach, log(-lambda'(d))."""
        raise NotImplementedError

    def curve(self, depth: Any, theta: np.ndarray) -> np.ndarray:
        """lambda(delta) against the quoting depth delta (orders / s / side), vectorised."""
        d = np.asarray(depth, dtype=np.float64)
        return np.exp(self.log_lambda(d.ravel(), d.ravel(), theta)[0]).reshape(d.shape)

    def survival(self, x: np.ndarray, c: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """P(reach >= c + x | reach >= c) = lambda(c + x | c) / lambda(c | c) for x >= 0."""
        return np.exp(self.log_lambda(c + x, c, theta)[0] - self.log_lambda(c, c, theta)[0])

    def sample_excess(
        self, rng: np.random.Generator, c: np.ndarray, theta: np.ndarray, tick: float | None
    ) -> np.ndarray:
        """Reach beyond the touch, d - c, of orders that reached c (floored to the tick grid)."""
        raise NotImplementedError

    def constants(self) -> dict[str, float]:
        """Fixed (not fitted) constants of the law, for the record."""
        return {}


@dataclass(frozen=True)
class _LogScaleLaw(IntensityLaw):
    """A law whose theta is the log of its (positive) natural parameters."""

    def natural(self, theta: np.ndarray) -> np.ndarray:
        return np.exp(np.asarray(theta, dtype=np.float64))

    def natural_jacobian(self, theta: np.ndarray) -> np.ndarray:
        return self.natural(theta)

    def to_theta(self, natural: Any) -> np.ndarray:
        return np.log(np.asarray(natural, dtype=np.float64))


@dataclass(frozen=True)
class Exponential(_LogScaleLaw):
    """lambda(d) = A exp(-k d); theta = (log A, log k)."""

    name: ClassVar[str] = "exponential"
    param_names: ClassVar[tuple[str, ...]] = ("A", "k")

    def log_lambda(self, d: np.ndarray, c: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = math.exp(theta[1])
        grad = np.empty((d.size, 2))
        grad[:, 0] = 1.0
        grad[:, 1] = -k * d
        return theta[0] - k * d, grad

    def log_neg_slope(self, d: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad = np.zeros((d.size, 2))
        grad[:, 1] = 1.0
        return np.full(d.size, float(theta[1])), grad

    def sample_excess(
        self, rng: np.random.Generator, c: np.ndarray, theta: np.ndarray, tick: float | None
    ) -> np.ndarray:
        x = rng.exponential(1.0 / math.exp(theta[1]), size=c.size)
        return x if tick is None else tick * np.floor(x / tick)


@dataclass(frozen=True)
class PowerLaw(_LogScaleLaw):
    """lambda(d) = A (1 + d / d0)^-alpha; theta = (log A, log d0, log alpha)."""

    name: ClassVar[str] = "power_law"
    param_names: ClassVar[tuple[str, ...]] = ("A", "d0", "alpha")

    def log_lambda(self, d: np.ndarray, c: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d0, alpha = math.exp(theta[1]), math.exp(theta[2])
        lg = np.log1p(d / d0)
        grad = np.empty((d.size, 3))
        grad[:, 0] = 1.0
        grad[:, 1] = alpha * d / (d0 + d)
        grad[:, 2] = -alpha * lg
        return theta[0] - alpha * lg, grad

    def log_neg_slope(self, d: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d0 = math.exp(theta[1])
        grad = np.zeros((d.size, 3))
        grad[:, 1] = -d0 / (d0 + d)
        grad[:, 2] = 1.0
        return theta[2] - np.log(d0 + d), grad

    def sample_excess(
        self, rng: np.random.Generator, c: np.ndarray, theta: np.ndarray, tick: float | None
    ) -> np.ndarray:
        d0, alpha = math.exp(theta[1]), math.exp(theta[2])
        u = rng.uniform(size=c.size)
        # (1 + (c + x)/d0) / (1 + c/d0) = u^(-1/alpha)
        x = (d0 + c) * np.expm1(-np.log(u) / alpha)
        return x if tick is None else tick * np.floor(x / tick)


@dataclass(frozen=True)
class TwoPart(IntensityLaw):
    """Touch rate L(c) = A exp(-beta (c - c_ref)), walk-past probability p, tail decay k beyond;
    theta = (log A, beta, logit p, log k). Needs the tick h."""

    name: ClassVar[str] = "two_part"
    param_names: ClassVar[tuple[str, ...]] = ("A", "beta", "p", "k")
    requires_tick: ClassVar[bool] = True
    tick: float = 1.0
    c_ref: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tick) and self.tick > 0):
            raise ValueError(f"tick must be > 0 for the two-part law, got {self.tick!r}")
        if not (math.isfinite(self.c_ref) and self.c_ref >= 0):
            raise ValueError(f"c_ref must be >= 0, got {self.c_ref!r}")

    def natural(self, theta: np.ndarray) -> np.ndarray:
        t = np.asarray(theta, dtype=np.float64)
        return np.array([math.exp(t[0]), t[1], 1.0 / (1.0 + math.exp(-t[2])), math.exp(t[3])])

    def natural_jacobian(self, theta: np.ndarray) -> np.ndarray:
        nat = self.natural(theta)
        return np.array([nat[0], 1.0, nat[2] * (1.0 - nat[2]), nat[3]])

    def to_theta(self, natural: Any) -> np.ndarray:
        A, beta, p, k = (float(v) for v in natural)
        if not 0 < p < 1:
            raise ValueError(f"p must lie in (0, 1), got {p!r}")
        return np.array([math.log(A), beta, math.log(p / (1 - p)), math.log(k)])

    def log_lambda(self, d: np.ndarray, c: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = self.tick
        beta, k = float(theta[1]), math.exp(theta[3])
        log_p = -math.log1p(math.exp(-theta[2]))
        one_m_p = 1.0 / (1.0 + math.exp(theta[2]))
        j = _excess_ticks(d, c, h)
        past = j >= 1
        tail = np.where(past, (j - 1.0) * h, 0.0)
        grad = np.empty((d.size, 4))
        grad[:, 0] = 1.0
        grad[:, 1] = -(c - self.c_ref)
        grad[:, 2] = np.where(past, one_m_p, 0.0)
        grad[:, 3] = -k * tail
        val = theta[0] - beta * (c - self.c_ref) + np.where(past, log_p, 0.0) - k * tail
        return val, grad

    def log_neg_slope(self, d: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise ValueError("the two-part law needs a tick grid: its reach has an atom at the touch")

    def curve(self, depth: Any, theta: np.ndarray) -> np.ndarray:
        d = np.asarray(depth, dtype=np.float64)
        A, beta, p, k = self.natural(theta)
        c, h = self.c_ref, self.tick
        inside = A * np.exp(-beta * (np.minimum(d, c) - c))
        frac = np.clip((d - c) / h, 0.0, 1.0)
        log_step = frac * math.log(p) - k * np.maximum(d - c - h, 0.0)
        return inside * np.exp(log_step)

    def sample_excess(
        self, rng: np.random.Generator, c: np.ndarray, theta: np.ndarray, tick: float | None
    ) -> np.ndarray:
        _, _, p, k = self.natural(theta)
        h = self.tick
        past = rng.uniform(size=c.size) < p
        beyond = rng.geometric(-math.expm1(-k * h), size=c.size) - 1  # extra whole ticks ~ Geom
        return np.where(past, h * (1.0 + beyond), 0.0)

    def constants(self) -> dict[str, float]:
        return {"tick": self.tick, "c_ref": self.c_ref}


LAWS: dict[str, type[IntensityLaw]] = {
    Exponential.name: Exponential,
    PowerLaw.name: PowerLaw,
    TwoPart.name: TwoPart,
}


def make_law(name: str, *, tick: float | None = None, c_ref: float = 0.0) -> IntensityLaw:
    """The law called ``name`` (one of :data:`LAWS`), with its fixed constants.

    Raises:
        ValueError: unknown name, or the two-part law without a tick.
    """
    if name not in LAWS:
        raise ValueError(f"model must be one of {sorted(LAWS)}, got {name!r}")
    if name == TwoPart.name:
        if tick is None:
            raise ValueError("the two_part model needs a tick grid (tick=None given)")
        return TwoPart(tick=float(tick), c_ref=float(c_ref))
    return LAWS[name]()


@dataclass(frozen=True)
class FittedIntensity:
    """A fitted law: parameters, standard errors, fit statistics and the ``intensity`` callable.

    Attributes:
        law: the :class:`IntensityLaw` (with its fixed constants).
        theta: (p,) MLE on the unconstrained scale; cov_theta: (p, p) its covariance (inverse
            observed information, numerical Hessian of the analytic gradient).
        params, se: natural parameters and their standard errors (delta method).
        cov: (p, p) covariance of the natural parameters.
        loglik: maximised log-likelihood (same additive constant for every law, so comparable).
        n_orders, duration_s: sample size and observation time (s).
        gof_stat, gof_df, gof_pvalue: Pearson chi-square on depth bins (None if < 1 df).
        at_bound: names of parameters that ended at a search bound (their SE is not meaningful).
    """

    law: IntensityLaw
    theta: np.ndarray
    cov_theta: np.ndarray
    params: dict[str, float]
    se: dict[str, float]
    cov: np.ndarray
    loglik: float
    n_orders: int
    duration_s: float
    gof_stat: float | None = None
    gof_df: int | None = None
    gof_pvalue: float | None = None
    at_bound: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.law.name

    @property
    def n_params(self) -> int:
        return self.law.n_params

    @property
    def aic(self) -> float:
        """Akaike information criterion 2 p - 2 loglik."""
        return 2.0 * self.n_params - 2.0 * self.loglik

    def intensity(self, depth: Any) -> np.ndarray:
        """lambda(delta) (orders per second per side) at quoting depths delta (price units),
        vectorised: the ``intensity`` callable of the quote optimisers."""
        return self.law.curve(depth, self.theta)

    __call__ = intensity

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN standard errors become None)."""

        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "params": {k: float(v) for k, v in self.params.items()},
            "se": {k: num(v) for k, v in self.se.items()},
            "constants": self.law.constants(),
            "n_params": self.n_params,
            "loglik": self.loglik,
            "aic": self.aic,
            "n_orders": self.n_orders,
            "duration_s": self.duration_s,
            "gof_chi2": self.gof_stat,
            "gof_df": self.gof_df,
            "gof_pvalue": self.gof_pvalue,
            "at_bound": list(self.at_bound),
        }
