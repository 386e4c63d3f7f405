"""Maximum-likelihood calibration of the order-arrival intensity lambda(d) = A exp(-k d), and sigma.

The model is the fill model of Avellaneda & Stoikov (2008), "High-frequency trading in a limit order
book", Quantitative Finance 8(3), eq. (2.10)-(2.12): on each side of the book, market orders that
reach depth ``d`` (price units from the mid) arrive as a Poisson process of intensity ``lambda(d) =
A exp(-k d)`` (orders per second), so the *reach* ``D`` of one market order is a mark with tail
``P(D >= d) = exp(-k d)`` and the market orders form a marked Poisson process on time x depth with
intensity ``A k exp(-k D)``.

What a trade record shows is the deepest price level the order executed at, measured from the mid
that was quoted just before it (see :mod:`mmenv.trade_loaders`). An order is only visible if it
reached the touch, ``D >= c(t)`` with ``c(t)`` the quoted half-spread at time ``t``, so the data are
left-truncated at ``c(t)``; on a tick grid of size ``h`` the reach is also interval-censored: a
trade at depth ``d_i`` says ``D_i in [d_i, d_i + h)``. Everything the likelihood needs is in
:class:`DepthSample`.

Log-likelihood (point process on [0, T] x depth, Daley & Vere-Jones 2003, eq. 7.1.2), in A and k::

    l(A, k) = n log A + sum_i log g(k) - k S - A * sides * E(k)

    S    = sum_i d_i                                   (sum of observed depths)
    E(k) = sum_s tau_s exp(-k c_s)                     (exposure: tau_s seconds spent at
    half-spread c_s) g(k) = k                   (continuous depths)     -> the density A k exp(-k
    d) of each point g(k) = 1 - exp(-k h)       (tick size h)           -> P(D in [d, d+h)) /
    exp(-k d)

up to a constant free of (A, k). It is maximised by :func:`scipy.optimize.minimize`
(``trust-exact``) over the log-parameters ``(a, kappa) = (log A, log k)``, so that A, k > 0, with
the analytic gradient and Hessian. Standard errors come from the observed information ``-H`` at the
optimum, mapped to (A, k) by the delta method (``cov(A, k) = J (-H)^-1 J``, ``J = diag(A, k)``).
With one constant threshold c and continuous depths the maximum has the closed form
``k = n / (S - n c)``, ``A = n exp(k c) / (sides T)``, which the tests check the optimiser against.

Goodness of fit: Pearson's chi-square of observed against expected counts in depth bins
(equal-probability bins of the fitted law, or tick levels), adjacent bins merged until each expects
>= 5 orders; degrees of freedom = bins - 2 (two fitted parameters, the total count being matched by
A).

Units: depths in price units, times in seconds, A in orders per second per side, k per price unit,
sigma in price units per sqrt(second).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import optimize, stats

if TYPE_CHECKING:
    import gymnasium

    from mmenv.config import MarketParams

__all__ = [
    "CalibrationError",
    "CalibrationResult",
    "DepthSample",
    "IntensityFit",
    "LeastSquaresFit",
    "SigmaEstimate",
    "calibrate",
    "empirical_intensity",
    "estimate_sigma",
    "fit_intensity",
    "fit_intensity_ls",
    "make_env_from_calibration",
    "simulate_depth_sample",
]

MIN_TRADES_DEFAULT = 20


class CalibrationError(RuntimeError):
    """The data cannot identify the parameters, or the optimiser failed."""


def _as_1d(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be finite: {int(bad.sum())} non-finite values, "
            f"first {name}[{i}] = {arr[i]!r}"
        )
    return arr


@dataclass(frozen=True)
class DepthSample:
    """Market orders with their reach depth, and the exposure under which they were observed.

    Attributes:
        depths: (n,) reach depth of each market order from the mid quoted before it (price units,
            >= 0).
        thresholds: (n,) half-spread (touch depth) c(t_i) in force for each order (price units);
            every order satisfies ``depths >= thresholds``.
        levels: (m,) distinct half-spread levels c_s of the exposure (price units).
        seconds: (m,) time spent at each level (seconds, summed over the observation window, one
            side).
        sides: how many book sides the orders pool (2: bid and ask pooled, each with intensity
            lambda).
        tick: price tick h (price units) when depths are on a tick grid (interval-censored); None
            for
            continuous depths.
        times: (n,) optional order times (seconds from the start of the window), for the report.
        side: (n,) optional aggressor side (+1 buyer-initiated, -1 seller-initiated), for the
            report.
        n_excluded: orders removed while building the sample (e.g. below the touch), already warned
            about.
    """

    depths: np.ndarray
    thresholds: np.ndarray
    levels: np.ndarray
    seconds: np.ndarray
    sides: int = 1
    tick: float | None = None
    times: np.ndarray | None = None
    side: np.ndarray | None = None
    n_excluded: int = 0

    def __post_init__(self) -> None:
        d = _as_1d("depths", self.depths)
        c = _as_1d("thresholds", self.thresholds)
        lv = _as_1d("levels", self.levels)
        sec = _as_1d("seconds", self.seconds)
        if c.shape != d.shape:
            raise ValueError(f"thresholds must have the shape of depths {d.shape}, got {c.shape}")
        if lv.shape != sec.shape or lv.size == 0:
            raise ValueError(
                "levels and seconds must be non-empty and of one shape, "
                f"got {lv.shape}, {sec.shape}"
            )
        if (sec < 0).any() or sec.sum() <= 0:
            raise ValueError(f"seconds must be >= 0 with a positive total, got total {sec.sum()!r}")
        if (lv < 0).any():
            raise ValueError(f"levels must be >= 0, got min {lv.min()!r}")
        if (c < 0).any():
            raise ValueError(f"thresholds must be >= 0, got min {c.min()!r}")
        below = d < c - 1e-12 * np.maximum(1.0, np.abs(c))
        if below.any():
            i = int(np.flatnonzero(below)[0])
            raise ValueError(
                f"depths must be >= thresholds: {int(below.sum())} orders below their touch, first "
                f"depths[{i}] = {d[i]!r} < thresholds[{i}] = {c[i]!r}; build the sample with "
                "DepthSample.build(...), which excludes them with a warning"
            )
        if not isinstance(self.sides, (int, np.integer)) or self.sides < 1:
            raise ValueError(f"sides must be a positive integer, got {self.sides!r}")
        if self.tick is not None and not (math.isfinite(self.tick) and self.tick > 0):
            raise ValueError(f"tick must be > 0 or None, got {self.tick!r}")
        for name in ("times", "side"):
            v = getattr(self, name)
            if v is not None:
                v = _as_1d(name, v)
                if v.shape != d.shape:
                    raise ValueError(
                        f"{name} must have the shape of depths {d.shape}, got {v.shape}"
                    )
                object.__setattr__(self, name, v)
        if self.n_excluded < 0:
            raise ValueError(f"n_excluded must be >= 0, got {self.n_excluded!r}")
        for name, v in (("depths", d), ("thresholds", c), ("levels", lv), ("seconds", sec)):
            object.__setattr__(self, name, v)

    @classmethod
    def build(
        cls,
        depths: Any,
        duration_s: float | None = None,
        *,
        thresholds: Any = None,
        min_depth: float = 0.0,
        exposure: tuple[Any, Any] | None = None,
        sides: int = 1,
        tick: float | None = None,
        times: Any = None,
        side: Any = None,
    ) -> DepthSample:
        """Build a sample, excluding (with a warning that gives the count) orders below their
        threshold.

        Args:
            depths: reach depth of each order (price units).
            duration_s: observation time (seconds); with ``exposure`` it must equal its total.
            thresholds: per-order touch depth; default ``min_depth`` for all.
            min_depth: the constant threshold c when neither ``thresholds`` nor ``exposure`` is
                given.
            exposure: ``(levels, seconds)``: half-spread levels and the time spent at each.
            sides: number of book sides pooled.
            tick: tick size for interval-censored depths, or None.
            times, side: optional per-order arrays kept for the report.
        """
        d = _as_1d("depths", depths)
        if exposure is None:
            if duration_s is None:
                raise ValueError("duration_s is required when exposure is not given, got None")
            if not (math.isfinite(duration_s) and duration_s > 0):
                raise ValueError(f"duration_s must be > 0, got {duration_s!r}")
            if not (math.isfinite(min_depth) and min_depth >= 0):
                raise ValueError(f"min_depth must be >= 0, got {min_depth!r}")
            levels, seconds = np.array([float(min_depth)]), np.array([float(duration_s)])
        else:
            levels, seconds = (
                _as_1d("exposure levels", exposure[0]),
                _as_1d("exposure seconds", exposure[1]),
            )
            total = float(seconds.sum())
            if duration_s is not None and not math.isclose(total, duration_s, rel_tol=1e-6):
                raise ValueError(
                    f"duration_s must equal the exposure's total {total!r}, got {duration_s!r}"
                )
        c = (
            np.full_like(d, float(levels.min()))
            if thresholds is None
            else _as_1d("thresholds", thresholds)
        )
        if c.shape != d.shape:
            raise ValueError(f"thresholds must have the shape of depths {d.shape}, got {c.shape}")
        keep = d >= c - 1e-9 * np.maximum(1.0, np.abs(c))
        n_out = int(d.size - keep.sum())
        if n_out:
            warnings.warn(
                f"{n_out} of {d.size} orders lie below their threshold (depth < half-spread, "
                "e.g. hidden liquidity inside the spread or a stale quote) and are excluded "
                "from the fit",
                stacklevel=2,
            )
        extra = {}
        for name, v in (("times", times), ("side", side)):
            extra[name] = None if v is None else _as_1d(name, v)[keep]
        return cls(
            depths=np.maximum(d[keep], c[keep]),
            thresholds=c[keep],
            levels=levels,
            seconds=seconds,
            sides=int(sides),
            tick=tick,
            n_excluded=n_out,
            **extra,
        )

    @property
    def n(self) -> int:
        """Number of market orders."""
        return int(self.depths.size)

    @property
    def duration_s(self) -> float:
        """Observation time T (seconds)."""
        return float(self.seconds.sum())

    def exposure(self, k: float) -> tuple[float, float, float]:
        """E(k) = sum_s tau_s exp(-k c_s) and its first two derivatives in k (seconds, per side)."""
        w = self.seconds * np.exp(-k * self.levels)
        return float(w.sum()), float(-(w * self.levels).sum()), float((w * self.levels**2).sum())

    def expected_beyond(self, b: np.ndarray, A: float, k: float) -> np.ndarray:
        """Expected number of observed orders with reach >= b: sides * A * sum_s tau_s exp(-k
        max(b, c_s))."""
        b = np.asarray(b, dtype=np.float64)
        top = np.maximum(b[:, None], self.levels[None, :])
        return self.sides * A * (self.seconds[None, :] * np.exp(-k * top)).sum(axis=1)


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
            f"all {n} orders executed at the touch: k is not identified "
            "(no order reached a deeper level)"
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
            raise CalibrationError(
                f"the optimiser overflowed from start {np.exp(theta0)}: {exc}"
            ) from exc
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
    stat, df, pval = _chi_square(sample, A, k)
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


def _merge_bins(
    obs: np.ndarray, exp: np.ndarray, min_expected: float = 5.0
) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent bins (left to right, then the last into its neighbour) until each expects >=
    5."""
    o_out, e_out = [], []
    o_acc = e_acc = 0.0
    for o, e in zip(obs, exp, strict=True):
        o_acc += o
        e_acc += e
        if e_acc >= min_expected:
            o_out.append(o_acc)
            e_out.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 or o_acc > 0:
        if e_out:
            o_out[-1] += o_acc
            e_out[-1] += e_acc
        else:
            o_out.append(o_acc)
            e_out.append(e_acc)
    return np.asarray(o_out), np.asarray(e_out)


def _chi_square(
    sample: DepthSample, A: float, k: float
) -> tuple[float | None, int | None, float | None]:
    """Pearson chi-square of depth-bin counts against sides*A*sum tau exp(-k max(b, c))
    differences."""
    c0 = float(sample.levels.min())
    if sample.tick is None:
        m = int(np.clip(sample.n // 25, 3, 40))
        q = np.arange(m) / m
        edges = c0 - np.log1p(-q) / k  # equal-probability bins of Exp(k) beyond c0
        idx = np.maximum(np.searchsorted(edges, sample.depths, side="right") - 1, 0)
    else:
        h = sample.tick
        top = int(min(np.ceil((sample.depths.max() - c0) / h) + 1, 10_000))
        edges = c0 + h * np.arange(top + 1)
        idx = np.floor((sample.depths - c0) / h + 0.5).astype(np.int64)  # nearest level
        idx = np.clip(idx, 0, edges.size - 1)
    obs = np.bincount(idx, minlength=edges.size)[: edges.size].astype(np.float64)
    tail = sample.expected_beyond(edges, A, k)
    exp = tail - np.append(tail[1:], 0.0)
    o, e = _merge_bins(obs, exp)
    df = o.size - 2
    if df < 1:
        warnings.warn(
            "the chi-square goodness-of-fit test needs >= 3 bins expecting >= 5 orders, "
            f"got {o.size}; gof_stat is None",
            stacklevel=3,
        )
        return None, None, None
    stat = float(((o - e) ** 2 / e).sum())
    return stat, int(df), float(stats.chi2.sf(stat, df))


@dataclass(frozen=True)
class LeastSquaresFit:
    """Log-linear least-squares fit log lambda_hat(delta_j) = log A - k delta_j (the second
    estimator).

    Attributes:
        A, k: estimates; A_se, k_se: naive weighted-least-squares standard errors (the counts
            N(delta_j)
            are nested, so these understate the uncertainty; compare with the MLE's).
        grid: (J,) depths delta_j (price units); rate: (J,) empirical intensities (orders / s /
            side);
        counts: (J,) N(delta_j), orders that reached delta_j while it was at or beyond the touch.
    """

    A: float
    k: float
    A_se: float
    k_se: float
    grid: np.ndarray
    rate: np.ndarray
    counts: np.ndarray


def empirical_intensity(
    sample: DepthSample, grid: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lambda_hat(delta) = N(delta) / (sides * T_obs(delta)) on a grid of depths.

    ``N(delta)`` counts orders with reach >= delta among those whose threshold was <= delta, and
    ``T_obs(delta) = sum_s tau_s [c_s <= delta]`` is the time during which reaching delta was
    observable. Grid points with fewer than 5 orders are left out (they would dominate a log fit).

    Returns:
        (grid, rate, counts).
    """
    if grid is None:
        lo = float(sample.levels.min())
        hi = float(np.quantile(sample.depths, 0.99))
        if sample.tick is not None:
            grid = lo + sample.tick * np.arange(round((hi - lo) / sample.tick) + 1)
        else:
            grid = np.linspace(lo, hi, 20)
    grid = _as_1d("grid", grid)
    eps = 1e-9 * max(1.0, float(np.abs(grid).max(initial=0.0)))
    d_sorted = np.sort(sample.depths)
    counts = np.empty(grid.size)
    t_obs = np.empty(grid.size)
    for j, g in enumerate(grid):
        ok = sample.thresholds <= g + eps
        counts[j] = (
            np.count_nonzero(sample.depths[ok] >= g - eps)
            if not ok.all()
            else (d_sorted.size - np.searchsorted(d_sorted, g - eps))
        )
        t_obs[j] = sample.seconds[sample.levels <= g + eps].sum()
    keep = (counts >= 5) & (t_obs > 0)
    return grid[keep], counts[keep] / (sample.sides * t_obs[keep]), counts[keep]


def fit_intensity_ls(
    data: DepthSample | Any,
    duration_s: float | None = None,
    *,
    grid: Any = None,
    sides: int = 1,
    min_depth: float = 0.0,
    tick: float | None = None,
) -> LeastSquaresFit:
    """Second estimator: weighted least squares of log lambda_hat(delta_j) = log A - k delta_j.

    The empirical intensities come from :func:`empirical_intensity`; the weights are the counts
    N(delta_j) (var log lambda_hat ~ 1 / N). This is the usual practitioner fit (e.g. the
    hftbacktest tutorials, Gueant 2016 section 4.6); the MLE uses the same data without binning.

    Raises:
        ValueError: fewer than 3 usable grid points.
    """
    sample = (
        data
        if isinstance(data, DepthSample)
        else DepthSample.build(data, duration_s, min_depth=min_depth, sides=sides, tick=tick)
    )
    g, rate, counts = empirical_intensity(sample, grid)
    if g.size < 3:
        raise ValueError(
            f"the least-squares fit needs >= 3 grid depths with >= 5 orders each, got {g.size}"
        )
    X = np.column_stack([np.ones_like(g), -g])
    w = counts
    XtW = X.T * w
    beta = np.linalg.solve(XtW @ X, XtW @ np.log(rate))
    resid = np.log(rate) - X @ beta
    s2 = float((w * resid**2).sum() / max(g.size - 2, 1))
    cov = np.linalg.inv(XtW @ X) * max(s2, 1.0)
    A, k = float(math.exp(beta[0])), float(beta[1])
    if k <= 0:
        warnings.warn(
            f"the least-squares slope gives k = {k!r} <= 0: the intensity does not decay",
            stacklevel=2,
        )
    return LeastSquaresFit(
        A=A,
        k=k,
        A_se=float(A * math.sqrt(cov[0, 0])),
        k_se=float(math.sqrt(cov[1, 1])),
        grid=g,
        rate=rate,
        counts=counts,
    )


@dataclass(frozen=True)
class SigmaEstimate:
    """Volatility of an arithmetic Brownian mid, sigma (price units per sqrt(second)).

    Attributes:
        sigma: sqrt(sum (Delta m)^2 / T) (realised variance over the window).
        sigma_se: its asymptotic standard error sigma / sqrt(2 n) (Gaussian increments).
        n_increments: number of increments used; sampling_s: grid step (None: every quote change).
    """

    sigma: float
    sigma_se: float
    n_increments: int
    sampling_s: float | None


def estimate_sigma(times_s: Any, mid: Any, *, sampling_s: float | None = None) -> SigmaEstimate:
    """Realised-variance estimate of sigma for ds = sigma dW (AS 2008 eq. 2.1), in price / sqrt(s).

    ``sigma^2 = sum_j (m_{j+1} - m_j)^2 / (t_end - t_start)``. With ``sampling_s`` the mid is first
    sampled on a regular grid by the previous-tick rule, which damps the bid-ask bounce of
    tick-by-tick mids.

    Raises:
        ValueError: unsorted times, fewer than 2 distinct times, or non-positive sampling_s.
    """
    t = _as_1d("times_s", times_s)
    m = _as_1d("mid", mid)
    if t.shape != m.shape:
        raise ValueError(f"mid must have the shape of times_s {t.shape}, got {m.shape}")
    if t.size < 2 or t[-1] <= t[0]:
        raise ValueError(f"times_s must span a positive time with >= 2 points, got {t.size} points")
    if (np.diff(t) < 0).any():
        raise ValueError("times_s must be sorted in increasing order")
    if sampling_s is not None:
        if not (math.isfinite(sampling_s) and sampling_s > 0):
            raise ValueError(f"sampling_s must be > 0, got {sampling_s!r}")
        grid = t[0] + sampling_s * np.arange(int((t[-1] - t[0]) // sampling_s) + 1)
        if grid.size < 2:
            raise ValueError(
                f"sampling_s={sampling_s!r} leaves fewer than 2 grid points in the window"
            )
        m = m[np.searchsorted(t, grid, side="right") - 1]
        span = float(grid[-1] - grid[0])
    else:
        span = float(t[-1] - t[0])
    inc = np.diff(m)
    sigma = math.sqrt(float((inc**2).sum()) / span)
    return SigmaEstimate(
        sigma=sigma,
        sigma_se=sigma / math.sqrt(2 * inc.size),
        n_increments=int(inc.size),
        sampling_s=sampling_s,
    )


def simulate_depth_sample(
    A: float,
    k: float,
    duration_s: float,
    rng: np.random.Generator,
    *,
    sides: int = 2,
    half_spread: float = 0.0,
    tick: float | None = None,
) -> DepthSample:
    """Draw market orders from the AS model: per side Poisson(A exp(-k c) T) orders, reach c +
    Exp(k).

    With ``tick`` the reach is floored to the grid c + j h (what a trade print at a price level
    shows). Times are uniform on [0, T] and sorted; ``side`` alternates +1 / -1 by side.
    """
    if A <= 0 or k <= 0 or duration_s <= 0:
        raise ValueError(
            f"A, k and duration_s must be > 0, got A={A!r}, k={k!r}, duration_s={duration_s!r}"
        )
    rate = A * math.exp(-k * half_spread) * duration_s
    counts = rng.poisson(rate, size=sides)
    n = int(counts.sum())
    depth = half_spread + rng.exponential(1.0 / k, size=n)
    if tick is not None:
        depth = half_spread + tick * np.floor((depth - half_spread) / tick)
    times = rng.uniform(0.0, duration_s, size=n)
    side = np.repeat(np.where(np.arange(sides) % 2 == 0, 1.0, -1.0), counts)
    order = np.argsort(times, kind="stable")
    return DepthSample.build(
        depth[order],
        duration_s,
        min_depth=half_spread,
        sides=sides,
        tick=tick,
        times=times[order],
        side=side[order],
    )


@dataclass(frozen=True)
class CalibrationResult:
    """A complete calibrated market: the intensity fit, sigma and the starting mid.

    Attributes:
        intensity: the MLE of A and k (A per second per side).
        sigma: mid volatility (price units per sqrt(second)); sigma_se its standard error.
        s0: mid at the end of the window (price units), the natural start of a simulated episode.
        source: where the data came from (for the report).
        least_squares: the second estimator on the same data, if computed.
        notes: free-text remarks (exclusions, conventions) for the report.
    """

    intensity: IntensityFit
    sigma: float
    sigma_se: float
    s0: float
    source: str = ""
    least_squares: LeastSquaresFit | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be >= 0 and finite, got {self.sigma!r}")
        if not (math.isfinite(self.s0) and self.s0 > 0):
            raise ValueError(f"s0 must be > 0, got {self.s0!r}")

    @property
    def A(self) -> float:
        return self.intensity.A

    @property
    def k(self) -> float:
        return self.intensity.k

    def market_kwargs(self, time_unit_s: float = 1.0) -> dict[str, float]:
        """A, k, sigma, s0 with time measured in units of ``time_unit_s`` seconds.

        A scales with the unit (orders per unit), sigma with its square root, k and s0 do not.
        """
        if not (math.isfinite(time_unit_s) and time_unit_s > 0):
            raise ValueError(f"time_unit_s must be > 0, got {time_unit_s!r}")
        return {
            "A": self.A * time_unit_s,
            "k": self.k,
            "sigma": self.sigma * math.sqrt(time_unit_s),
            "s0": self.s0,
        }

    def to_market_params(self, time_unit_s: float = 1.0, **overrides: Any) -> MarketParams:
        """MarketParams with the calibrated A, k, sigma, s0 (time in ``time_unit_s`` seconds);
        overrides win.

        Example: ``result.to_market_params(time_unit_s=60.0, T=30.0, dt=0.1)`` gives a 30-minute
            episode with
        a decision every 6 seconds.
        """
        from mmenv.config import MarketParams

        return MarketParams(**{**self.market_kwargs(time_unit_s), **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The calibration.json content: A, k, A_se, k_se, sigma, loglik, n_trades, duration_s, and
        more."""
        out = self.intensity.to_dict()
        out.update(
            sigma=self.sigma,
            sigma_se=self.sigma_se,
            s0=self.s0,
            source=self.source,
            notes=list(self.notes),
        )
        if self.least_squares is not None:
            ls = self.least_squares
            out["least_squares"] = {"A": ls.A, "k": ls.k, "A_se": ls.A_se, "k_se": ls.k_se}
        return out


def calibrate(
    data: Any,
    *,
    aggregate: bool = True,
    sides: int = 2,
    censor: bool = True,
    sampling_s: float | None = 1.0,
    least_squares: bool = True,
) -> CalibrationResult:
    """Calibrate A, k (MLE), sigma and s0 from a :class:`mmenv.trade_loaders.TradesAndQuotes`.

    Args:
        data: trades and quotes (any loader of :mod:`mmenv.trade_loaders`).
        aggregate: merge the prints of one market order (same time and side) into one order.
        sides: 2 pools buys and sells, each side with intensity lambda (AS 2008 eq. 2.11-2.12).
        censor: treat depths as interval-censored on the tick grid when the data have a tick.
        sampling_s: grid step (s) for the realised volatility of the mid (None: every quote).
        least_squares: also compute the log-linear least-squares estimate for comparison.
    """
    sample = data.depth_sample(aggregate=aggregate, sides=sides, censor=censor)
    fit = fit_intensity(sample)
    t, mid = data.mid_path()
    sig = estimate_sigma(t, mid, sampling_s=sampling_s)
    ls = None
    if least_squares:
        try:
            ls = fit_intensity_ls(sample)
        except ValueError as exc:
            warnings.warn(f"least-squares comparison skipped: {exc}", stacklevel=2)
    notes = [f"{k}: {v}" for k, v in getattr(data, "report", {}).items()]
    if sample.n_excluded:
        notes.append(f"orders below their touch excluded: {sample.n_excluded}")
    return CalibrationResult(
        intensity=fit,
        sigma=sig.sigma,
        sigma_se=sig.sigma_se,
        s0=float(mid[-1]),
        source=getattr(data, "source", ""),
        least_squares=ls,
        notes=tuple(notes),
    )


def make_env_from_calibration(
    result: CalibrationResult, *, time_unit_s: float = 1.0, **env_kwargs: Any
) -> gymnasium.Env:
    """``gymnasium.make("mmenv/MarketMaking-v0", A=..., k=..., sigma=..., s0=..., **env_kwargs)``.

    Time in the env is measured in units of ``time_unit_s`` seconds (see
    :meth:`CalibrationResult.market_kwargs`); ``env_kwargs`` (T, dt, gamma, ...) override.
    """
    import gymnasium

    import mmenv  # noqa: F401  (registers the env)

    return gymnasium.make(
        "mmenv/MarketMaking-v0", **{**result.market_kwargs(time_unit_s), **env_kwargs}
    )
