"""Maximum-likelihood fit of the order-arrival intensity lambda(d) = A exp(-k d) (:func:`fit_intensity`).

The likelihood, its optimiser and the standard errors are described in :mod:`mmenv.calibration`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import optimize, stats

if TYPE_CHECKING:
    pass

from mmenv.calibration.gof import chi_square
from mmenv.calibration.samples import MIN_TRADES_DEFAULT, CalibrationError, DepthSample


@dataclass(frozen=True)
class IntensityFit:
    """Result of :func:`fit_intensity`: the MLE of lambda(d) = A exp(-k d) with its uncertainty.

    Attributes:
        A: intensity at depth 0 (orders per second per side).
        k: decay of the intensity with depth (1 / price unit).
        A_se, k_se: standard errors from the observed information (delta method from
            log-parameters).
        cov: 2x2 covariance of (A, k).
        cov_log: 2x2 covariance of (log A, log k), used for the asymmetric (log-scale) intervals.
        loglik: maximised log-likelihood (up to a constant free of A, k).
        n_trades: number of market orders used.
        duration_s: observation time (seconds).
        gof_stat, gof_df, gof_pvalue: Pearson chi-square of binned depth counts, its degrees of
            freedom and
            p-value (None when there are too few bins, with a warning).
        n_iter: optimiser iterations; method: the scipy method used.
        tick: the tick size if the depths were treated as interval-censored.
    """

    A: float
    k: float
    A_se: float
    k_se: float
    cov: np.ndarray
    cov_log: np.ndarray
    loglik: float
    n_trades: int
    duration_s: float
    gof_stat: float | None
    gof_df: int | None
    gof_pvalue: float | None
    n_iter: int = 0
    method: str = "trust-exact"
    tick: float | None = None
    sides: int = 1
    n_excluded: int = 0

    def __post_init__(self) -> None:
        for name in ("A", "k", "A_se", "k_se", "loglik", "duration_s"):
            v = getattr(self, name)
            if not math.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v!r}")
        if self.A <= 0 or self.k <= 0:
            raise ValueError(f"A and k must be > 0, got A={self.A!r}, k={self.k!r}")

    def conf_int(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Wald intervals on the log scale, exp(log theta +- z se_log): always positive,
        asymmetric."""
        if not 0 < level < 1:
            raise ValueError(f"level must lie in (0, 1), got {level!r}")
        z = float(stats.norm.ppf(0.5 + level / 2))
        out = {}
        for i, (name, v) in enumerate((("A", self.A), ("k", self.k))):
            s = math.sqrt(self.cov_log[i, i])
            out[name] = (v * math.exp(-z * s), v * math.exp(z * s))
        return out

    def intensity(self, d: Any) -> np.ndarray:
        """lambda(d) = A exp(-k d) (orders per second per side)."""
        return self.A * np.exp(-self.k * np.asarray(d, dtype=np.float64))

    def fill_probability(self, d: Any, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """P(at least one order reaches d within dt) = 1 - exp(-lambda(d) dt), and its delta-method
        SE.

        The gradient in (log A, log k) is exp(-lambda dt) lambda dt * (1, -k d) (AS 2008 eq. 2.12).
        """
        d = np.asarray(d, dtype=np.float64)
        lam_dt = self.intensity(d) * dt
        p = -np.expm1(-lam_dt)
        g = np.stack([np.exp(-lam_dt) * lam_dt, -np.exp(-lam_dt) * lam_dt * self.k * d], axis=-1)
        var = np.einsum("...i,ij,...j->...", g, self.cov_log, g)
        return p, np.sqrt(np.maximum(var, 0.0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "A": self.A,
            "k": self.k,
            "A_se": self.A_se,
            "k_se": self.k_se,
            "cov": self.cov.tolist(),
            "loglik": self.loglik,
            "n_trades": self.n_trades,
            "duration_s": self.duration_s,
            "gof_chi2": self.gof_stat,
            "gof_df": self.gof_df,
            "gof_pvalue": self.gof_pvalue,
            "tick": self.tick,
            "sides": self.sides,
            "n_excluded": self.n_excluded,
        }


def _log_g(k: float, tick: float | None) -> tuple[float, float, float]:
    """log g(k) and its first two derivatives; g = k (continuous) or 1 - exp(-k h) (tick h)."""
    if tick is None:
        return math.log(k), 1.0 / k, -1.0 / k**2
    kh = k * tick
    em1 = math.expm1(kh)  # e^{kh} - 1
    return math.log(-math.expm1(-kh)), tick / em1, -(tick**2) * (em1 + 1.0) / em1**2


def _loglik_parts(
    theta: np.ndarray, n: int, S: float, sample: DepthSample
) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood, gradient and Hessian in theta = (log A, log k) (see the module docstring)."""
    a, kappa = float(theta[0]), float(theta[1])
    A, k = math.exp(a), math.exp(kappa)
    E, E1, E2 = sample.exposure(k)
    E, E1, E2 = sample.sides * E, sample.sides * E1, sample.sides * E2
    lg, lg1, lg2 = _log_g(k, sample.tick)
    ll = n * a + n * lg - k * S - A * E
    dk = n * lg1 - S - A * E1  # dl/dk
    dkk = n * lg2 - A * E2  # d2l/dk2
    grad = np.array([n - A * E, k * dk])
    hess = np.array([[-A * E, -A * k * E1], [-A * k * E1, k * dk + k * k * dkk]])
    return ll, grad, hess


def _start(sample: DepthSample) -> np.ndarray:
    """A crude start: k from the mean depth beyond the lowest level, A from the rate at that
    level."""
    c0 = float(sample.levels.min())
    excess = float(np.mean(sample.depths - c0))
    if sample.tick is not None:
        excess += 0.5 * sample.tick
    k0 = 1.0 / max(excess, 1e-12)
    A0 = sample.n / (sample.sides * sample.duration_s) * math.exp(min(k0 * c0, 50.0))
    return np.array([math.log(A0), math.log(k0)])


def fit_intensity(
    data: DepthSample | Any,
    duration_s: float | None = None,
    *,
    sides: int = 1,
    min_depth: float = 0.0,
    tick: float | None = None,
    min_trades: int = MIN_TRADES_DEFAULT,
    x0: tuple[float, float] | None = None,
) -> IntensityFit:
    """Maximum-likelihood estimate of A and k in lambda(d) = A exp(-k d) (AS 2008, eq. 2.10-2.12).

    Maximises ``l(A, k) = n log A + n log g(k) - k sum_i d_i - A sides sum_s tau_s exp(-k c_s)``
    (the marked-Poisson log-likelihood of the module docstring) over (log A, log k) with
    ``scipy.optimize.minimize(method="trust-exact")`` and the analytic gradient and Hessian.

    Args:
        data: a :class:`DepthSample`, or an array of reach depths (price units) with ``duration_s``.
        duration_s: observation time in seconds (with an array of depths).
        sides: number of book sides pooled in the depths (with an array).
        min_depth: constant threshold c: orders are observed when they reach c (with an array).
        tick: tick size for interval-censored depths (with an array).
        min_trades: fewer orders than this raise :class:`ValueError`.
        x0: optional start (A, k); default a crude moment start.

    Returns:
        IntensityFit with A, k, standard errors, covariance, log-likelihood and chi-square fit test.

    Raises:
        ValueError: too few orders, or non-finite / inconsistent inputs.
        CalibrationError: k is not identified (every order at its threshold with continuous
            depths), or
            the optimiser did not converge to a maximum.
    """
    if isinstance(data, DepthSample):
        sample = data
    else:
        sample = DepthSample.build(data, duration_s, min_depth=min_depth, sides=sides, tick=tick)
    n = sample.n
    if n < min_trades:
        raise ValueError(f"n_trades must be >= min_trades={min_trades} to fit A and k, got {n}")
    excess = sample.depths - sample.thresholds
    if sample.tick is None and not (excess > 0).any():
        raise CalibrationError(
            f"all {n} depths equal their threshold (max depth {sample.depths.max()!r}): "
            "k is not identified from continuous depths; pass tick=... if prices lie on a tick grid"
        )
    if sample.tick is not None and not (excess >= 0.5 * sample.tick).any():
        raise CalibrationError(
            f"all {n} orders executed at the touch: k is not identified (no order reached a deeper level)"
        )
    S = float(sample.depths.sum())
    theta0 = _start(sample) if x0 is None else np.log(np.asarray(x0, dtype=np.float64))
    if not np.isfinite(theta0).all():
        raise ValueError(f"x0 must be positive and finite, got {x0!r}")

    def fun(th: np.ndarray) -> float:
        return -_loglik_parts(th, n, S, sample)[0]

    def jac(th: np.ndarray) -> np.ndarray:
        return -_loglik_parts(th, n, S, sample)[1]

    def hess(th: np.ndarray) -> np.ndarray:
        return -_loglik_parts(th, n, S, sample)[2]

    with np.errstate(over="raise", invalid="raise"):
        try:
            res = optimize.minimize(
                fun, theta0, jac=jac, hess=hess, method="trust-exact", options={"gtol": 1e-9}
            )
        except (FloatingPointError, OverflowError) as exc:
            raise CalibrationError(f"the optimiser overflowed from start {np.exp(theta0)}: {exc}") from exc
    ll, grad, H = _loglik_parts(res.x, n, S, sample)
    scale = max(1.0, float(n))
    if not (np.isfinite(res.x).all() and math.isfinite(ll)) or np.abs(grad).max() > 1e-5 * scale:
        raise CalibrationError(
            f"the optimiser did not converge (success={res.success}, message={res.message!r}, "
            f"gradient={grad.tolist()})"
        )
    info = -H
    eig = np.linalg.eigvalsh(info)
    if eig.min() <= 0:
        raise CalibrationError(
            f"the observed information is not positive definite (eigenvalues {eig.tolist()})"
        )
    cov_log = np.linalg.inv(info)
    A, k = float(math.exp(res.x[0])), float(math.exp(res.x[1]))
    J = np.diag([A, k])
    cov = J @ cov_log @ J
    stat, df, pval = chi_square(sample, A, k)
    return IntensityFit(
        A=A,
        k=k,
        A_se=float(math.sqrt(cov[0, 0])),
        k_se=float(math.sqrt(cov[1, 1])),
        cov=cov,
        cov_log=cov_log,
        loglik=float(ll),
        n_trades=n,
        duration_s=sample.duration_s,
        gof_stat=stat,
        gof_df=df,
        gof_pvalue=pval,
        n_iter=int(res.nit),
        method="trust-exact",
        tick=sample.tick,
        sides=sample.sides,
        n_excluded=sample.n_excluded,
    )
