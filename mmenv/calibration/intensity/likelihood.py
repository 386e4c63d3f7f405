"""Maximum likelihood of any intensity law on a truncated, tick-censored sample of market orders.

The likelihood is the one of :mod:`mmenv.calibration` (a marked Poisson process on time x reach,
Daley & Vere-Jones 2003, eq. 7.1.2) written for a general law ``lambda(d | c)`` of
:mod:`mmenv.calibration.intensity.models`. An order observed at depth ``d_i`` under the half-spread ``c_i``
contributes its mark measure ``m(d_i, c_i)``; the time ``tau_s`` spent at half-spread ``c_s``
contributes the expected number of visible orders::

    l(theta) = sum_i log m(d_i, c_i) - sides * sum_s tau_s lambda(c_s | c_s)

    m(d, c) = lambda(d | c) - lambda(d + h | c)      (tick h: the reach lies in [d, d + h))
            = -d/dd lambda(d | c)                     (continuous depths: the reach density)

For the exponential this is exactly the log-likelihood of :func:`mmenv.calibration.fit_intensity`
(same additive constant), so log-likelihoods and AICs of all laws are comparable. Orders are
grouped by distinct (depth, half-spread) pairs, so one evaluation costs O(distinct pairs + levels).

The maximum is found over the unconstrained theta of each law by a projected modified-Newton
ascent (analytic gradient, numerical Hessian with its eigenvalues made negative, step halving)
from a few starts derived from the exponential fit; wide bounds keep runaway directions finite
(e.g. d0 -> infinity of a power law that is really exponential), and a parameter that ends at a
bound is reported in ``at_bound`` with no standard error. Standard errors come from the observed information, the Hessian of l taken by central
differences of the analytic gradient, mapped to natural parameters by the delta method.

Goodness of fit: Pearson's chi-square of observed against expected counts in (half-spread level,
ticks past the touch) cells (quantile bins of the excess for continuous depths), consecutive cells
merged until each expects >= 5 orders, degrees of freedom = cells - parameters (approximate: the
merging looks at the fitted expectations).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from mmenv.calibration import CalibrationError, DepthSample, fit_intensity
from mmenv.calibration.intensity.models import FittedIntensity, IntensityLaw, TwoPart, make_law

__all__ = [
    "MODEL_NAMES",
    "LikelihoodData",
    "empirical_on_basis",
    "exponential_of_record",
    "fit_law",
    "fit_models",
    "gof_chi_square",
    "log_likelihood",
    "order_log_mass",
    "rate_on_basis",
    "typical_half_spread",
]

MODEL_NAMES: tuple[str, ...] = ("exponential", "power_law", "two_part")
MIN_ORDERS = 20


@dataclass(frozen=True)
class LikelihoodData:
    """A :class:`DepthSample` grouped for the likelihood.

    Attributes:
        d, c: (u,) distinct (depth, half-spread) pairs of the orders (price units).
        w: (u,) number of orders at each pair.
        levels, seconds: (m,) exposure: half-spread levels and seconds spent at each (one side).
        sides: book sides pooled; tick: tick size (None: continuous depths).
        depths: (n,) every order's depth (for the goodness-of-fit bins).
    """

    d: np.ndarray
    c: np.ndarray
    w: np.ndarray
    levels: np.ndarray
    seconds: np.ndarray
    sides: int
    tick: float | None
    depths: np.ndarray

    @classmethod
    def from_sample(cls, sample: DepthSample) -> LikelihoodData:
        o = np.lexsort((sample.depths, sample.thresholds))
        d, c = sample.depths[o], sample.thresholds[o]
        first = np.ones(d.size, dtype=bool)
        first[1:] = (d[1:] != d[:-1]) | (c[1:] != c[:-1])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, d.size))
        pos = sample.seconds > 0
        return cls(
            d=d[starts],
            c=c[starts],
            w=counts.astype(np.float64),
            levels=sample.levels[pos],
            seconds=sample.seconds[pos],
            sides=sample.sides,
            tick=sample.tick,
            depths=sample.depths,
        )

    @property
    def n(self) -> int:
        return int(self.w.sum())

    @property
    def duration_s(self) -> float:
        return float(self.seconds.sum())


def _data(sample: DepthSample | LikelihoodData) -> LikelihoodData:
    return sample if isinstance(sample, LikelihoodData) else LikelihoodData.from_sample(sample)


def typical_half_spread(levels: np.ndarray, seconds: np.ndarray) -> float:
    """Time-weighted median of the quoted half-spread (price units)."""
    o = np.argsort(levels, kind="stable")
    cum = np.cumsum(seconds[o])
    return float(levels[o][np.searchsorted(cum, 0.5 * cum[-1])])


def _log_mass(law: IntensityLaw, theta: np.ndarray, data: LikelihoodData) -> tuple[np.ndarray, np.ndarray]:
    l0, g0 = law.log_lambda(data.d, data.c, theta)
    if data.tick is None:
        ls, gs = law.log_neg_slope(data.d, theta)
        return l0 + ls, g0 + gs
    l1, g1 = law.log_lambda(data.d + data.tick, data.c, theta)
    delta = np.minimum(l1 - l0, -1e-300)
    weight = np.exp(delta) / np.expm1(delta)  # d/d delta of log(1 - e^delta)
    return l0 + np.log(-np.expm1(delta)), g0 + weight[:, None] * (g1 - g0)


def order_log_mass(law: IntensityLaw, theta: Any, data: LikelihoodData) -> np.ndarray:
    """log m(d, c) of each distinct (depth, half-spread) pair of ``data`` (weights ``data.w``)."""
    return _log_mass(law, np.asarray(theta, dtype=np.float64), data)[0]


def log_likelihood(
    law: IntensityLaw, theta: Any, sample: DepthSample | LikelihoodData
) -> tuple[float, np.ndarray]:
    """l(theta) and its gradient (see the module docstring)."""
    data = _data(sample)
    theta = np.asarray(theta, dtype=np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        lm, gm = _log_mass(law, theta, data)
        lt, gt = law.log_lambda(data.levels, data.levels, theta)
        e = data.sides * data.seconds * np.exp(lt)
        ll = float(data.w @ lm - e.sum())
        grad = data.w @ gm - e @ gt
    return ll, grad


def _hessian(law: IntensityLaw, theta: np.ndarray, data: LikelihoodData) -> np.ndarray:
    """Central differences of the analytic gradient, symmetrised."""
    p = theta.size
    H = np.empty((p, p))
    for j in range(p):
        s = 1e-5 * max(1.0, abs(theta[j]))
        e = np.zeros(p)
        e[j] = s
        H[:, j] = (log_likelihood(law, theta + e, data)[1] - log_likelihood(law, theta - e, data)[1]) / (
            2 * s
        )
    return 0.5 * (H + H.T)


def _depth_scale(data: LikelihoodData) -> float:
    excess = float(np.average(data.d - data.c, weights=data.w))
    return max(excess, data.tick or 0.0, 1e-3 * float(np.average(data.d, weights=data.w)), 1e-12)


def _bounds(law: IntensityLaw, data: LikelihoodData) -> list[tuple[float | None, float | None]]:
    ls = math.log(_depth_scale(data))
    k_range = (-ls - math.log(1e6), -ls + math.log(1e6))
    if law.name == "exponential":
        return [(None, None), k_range]
    if law.name == "power_law":
        return [(None, None), (ls + math.log(1e-4), ls + math.log(1e4)), (math.log(1e-3), math.log(1e4))]
    return [(None, None), (None, None), (-30.0, 30.0), k_range]


def _exponential_start(data: LikelihoodData, sample: DepthSample | None) -> np.ndarray:
    """(log A, log k) of the fit of record when it converges, else a moment start."""
    if sample is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = fit_intensity(sample, min_trades=1)
            return np.log([f.A, f.k])
        except (CalibrationError, ValueError):
            pass
    c0 = float(data.levels.min())
    k0 = 1.0 / _depth_scale(data)
    rate = data.n / (data.sides * data.duration_s)
    return np.array([math.log(max(rate, 1e-300)) + min(k0 * c0, 50.0), math.log(k0)])


def _starts(law: IntensityLaw, data: LikelihoodData, exp_theta: np.ndarray) -> list[np.ndarray]:
    """Candidate starts of each law, derived from the exponential fit."""
    a, k = float(exp_theta[0]), math.exp(exp_theta[1])
    cbar = typical_half_spread(data.levels, data.seconds)
    if law.name == "exponential":
        return [exp_theta.copy()]
    if law.name == "power_law":
        out = []
        scale = _depth_scale(data)
        for mult in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0):
            d0 = mult * scale
            alpha = min(max(k * (d0 + cbar), 2e-3), 5e3)
            out.append(
                np.array([a - k * cbar + alpha * math.log1p(cbar / d0), math.log(d0), math.log(alpha)])
            )
        return out
    h = float(law.tick)  # type: ignore[attr-defined]
    j = np.rint((data.d - data.c) / h)
    n_past = float(data.w[j >= 1].sum())
    p = min(max(n_past / data.n, 1e-3), 1 - 1e-3)
    m = float(np.average(j[j >= 1] - 1, weights=data.w[j >= 1])) if n_past else 0.0
    k_tail = -math.log(m / (1 + m)) / h if m > 0 else 10.0 / h
    lam = a - k * law.c_ref  # type: ignore[attr-defined]
    return [
        np.array([lam, k, math.log(p / (1 - p)), math.log(k_tail)]),
        np.array([lam, 0.0, math.log(p / (1 - p)), math.log(k_tail)]),
    ]


def _box(law: IntensityLaw, data: LikelihoodData) -> tuple[np.ndarray, np.ndarray]:
    bounds = _bounds(law, data)
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    return lo, hi


def _maximise(law: IntensityLaw, data: LikelihoodData, starts: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Best of a projected modified-Newton ascent from each start."""
    lo, hi = _box(law, data)
    best: tuple[np.ndarray, float] | None = None
    for x0 in starts:
        x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
        if not math.isfinite(log_likelihood(law, x0, data)[0]):
            continue
        th = _newton_ascent(law, data, x0, lo, hi)
        ll = log_likelihood(law, th, data)[0]
        if math.isfinite(ll) and (best is None or ll > best[1]):
            best = (th, ll)
    if best is None:
        raise CalibrationError(f"no start of the {law.name} fit has a finite log-likelihood")
    return best


def _newton_ascent(
    law: IntensityLaw,
    data: LikelihoodData,
    theta: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    max_iter: int = 200,
) -> np.ndarray:
    """Projected Newton ascent on the box [lo, hi]: the Hessian's eigenvalues are made negative
    (|.|) so every step goes uphill, step halving until the log-likelihood improves; a parameter at
    a bound with the gradient pointing out of the box is held there."""
    th = theta.copy()
    ll, g = log_likelihood(law, th, data)
    tol = 1e-9 * max(1.0, float(data.n))
    for _ in range(max_iter):
        at_lo, at_hi = th <= lo + 1e-9, th >= hi - 1e-9
        free = ~((at_lo & (g < 0)) | (at_hi & (g > 0)))
        if not free.any() or np.abs(g[free]).max() < tol:
            break
        H = _hessian(law, th, data)[np.ix_(free, free)]
        if not np.isfinite(H).all():
            break
        ev, V = np.linalg.eigh(H)
        mag = np.maximum(np.abs(ev), 1e-12 * max(float(np.abs(ev).max()), 1.0))
        step = V @ ((V.T @ g[free]) / mag)  # ascent direction (-H_mod)^-1 g
        t, moved = 1.0, False
        while t > 1e-10:
            cand = th.copy()
            cand[free] = np.clip(th[free] + t * step, lo[free], hi[free])
            ll_c, g_c = log_likelihood(law, cand, data)
            if math.isfinite(ll_c) and ll_c > ll:
                moved = True
                break
            t *= 0.5
        if not moved:
            break
        gain = ll_c - ll
        th, ll, g = cand, ll_c, g_c
        if gain < 1e-13 * max(1.0, abs(ll)):
            break
    return th


def fit_law(
    sample: DepthSample,
    model: str | IntensityLaw,
    *,
    c_ref: float | None = None,
    x0: Any = None,
    min_orders: int = MIN_ORDERS,
    gof: bool = True,
) -> FittedIntensity:
    """Maximum-likelihood fit of one law to a sample.

    Args:
        sample: the orders (depths, half-spreads) and the exposure.
        model: a name in :data:`MODEL_NAMES` or a law instance (with its constants).
        c_ref: reference half-spread of the two-part law (default: the sample's time-weighted
            median half-spread).
        x0: optional start in natural parameters.
        min_orders: fewer orders raise ValueError.
        gof: compute the chi-square goodness of fit.

    Raises:
        ValueError: too few orders; the two-part law on continuous depths.
        CalibrationError: the information matrix is not positive definite at the optimum.
    """
    data = LikelihoodData.from_sample(sample)
    if data.n < min_orders:
        raise ValueError(f"n_orders must be >= min_orders={min_orders} to fit, got {data.n}")
    if isinstance(model, IntensityLaw):
        law = model
    else:
        cr = typical_half_spread(data.levels, data.seconds) if c_ref is None else c_ref
        law = make_law(model, tick=sample.tick, c_ref=cr)
    if law.requires_tick and sample.tick is None:
        raise ValueError(f"the {law.name} model needs a tick grid, the sample has tick=None")
    exp_theta = _exponential_start(data, sample)
    starts = [law.to_theta(x0)] if x0 is not None else _starts(law, data, exp_theta)
    theta, ll = _maximise(law, data, starts)
    return _finish(law, theta, ll, data, sample, gof)


def _finish(
    law: IntensityLaw, theta: np.ndarray, ll: float, data: LikelihoodData, sample: DepthSample, gof: bool
) -> FittedIntensity:
    lo, hi = _box(law, data)
    free = (theta > lo + 1e-6) & (theta < hi - 1e-6)
    p = theta.size
    cov_theta = np.full((p, p), np.nan)
    H = _hessian(law, theta, data)
    info = -H[np.ix_(free, free)]
    if free.any():
        eig = np.linalg.eigvalsh(info)
        if eig.min() <= 0:
            raise CalibrationError(
                f"the observed information of the {law.name} fit is not positive definite "
                f"(eigenvalues {eig.tolist()})"
            )
        cov_theta[np.ix_(free, free)] = np.linalg.inv(info)
    J = law.natural_jacobian(theta)
    cov = cov_theta * np.outer(J, J)
    nat = law.natural(theta)
    stat = df = pval = None
    if gof:
        stat, df, pval = gof_chi_square(law, theta, data)
    return FittedIntensity(
        law=law,
        theta=theta,
        cov_theta=cov_theta,
        params=dict(zip(law.param_names, (float(v) for v in nat), strict=True)),
        se=dict(zip(law.param_names, (float(math.sqrt(v)) for v in np.diag(cov)), strict=True)),
        cov=cov,
        loglik=float(ll),
        n_orders=data.n,
        duration_s=data.duration_s,
        gof_stat=stat,
        gof_df=df,
        gof_pvalue=pval,
        at_bound=tuple(n for n, f in zip(law.param_names, free, strict=True) if not f),
    )


def exponential_of_record(fit: Any) -> FittedIntensity:
    """The exponential fit of :func:`mmenv.calibration.fit_intensity` (an ``IntensityFit``) as a
    :class:`FittedIntensity` (same parameters, covariance and log-likelihood)."""
    law = make_law("exponential")
    theta = np.log([fit.A, fit.k])
    return FittedIntensity(
        law=law,
        theta=theta,
        cov_theta=np.asarray(fit.cov_log, dtype=np.float64),
        params={"A": float(fit.A), "k": float(fit.k)},
        se={"A": float(fit.A_se), "k": float(fit.k_se)},
        cov=np.asarray(fit.cov, dtype=np.float64),
        loglik=float(fit.loglik),
        n_orders=int(fit.n_trades),
        duration_s=float(fit.duration_s),
        gof_stat=fit.gof_stat,
        gof_df=fit.gof_df,
        gof_pvalue=fit.gof_pvalue,
    )


def fit_models(
    sample: DepthSample, models: tuple[str, ...] = MODEL_NAMES, *, c_ref: float | None = None
) -> tuple[dict[str, FittedIntensity], dict[str, str]]:
    """Fit each law; returns (fits, skipped) where ``skipped`` maps a law to the reason it was not
    fitted (the two-part law on continuous depths, a failed fit)."""
    fits: dict[str, FittedIntensity] = {}
    skipped: dict[str, str] = {}
    for name in models:
        if name == TwoPart.name and sample.tick is None:
            skipped[name] = "needs a tick grid (continuous depths)"
            continue
        try:
            fits[name] = fit_law(sample, name, c_ref=c_ref)
        except (CalibrationError, ValueError) as exc:
            skipped[name] = str(exc)
    return fits, skipped


def _tail_on_lattice(
    law: IntensityLaw, theta: np.ndarray, x: np.ndarray, c: np.ndarray, tick: float | None
) -> np.ndarray:
    """lambda of 'observed depth >= x' under half-spread c: lambda(c + h ceil((x - c)/h) | c) on a
    tick grid, lambda(max(x, c) | c) for continuous depths; broadcasts x against c."""
    x, c = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(c, dtype=np.float64))
    if tick is None:
        top = np.maximum(x, c)
    else:
        top = c + tick * np.maximum(np.ceil((x - c) / tick - 1e-9), 0.0)
    shape = top.shape
    return np.exp(law.log_lambda(top.ravel(), c.ravel(), theta)[0]).reshape(shape)


def _merge_low_expected(
    obs: np.ndarray, exp: np.ndarray, min_expected: float = 5.0
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy merge of consecutive cells to >= min_expected; a short remainder joins the last group."""
    groups = np.zeros(exp.size, dtype=np.int64)
    g, acc = 0, 0.0
    for i, e in enumerate(exp):
        groups[i] = g
        acc += e
        if acc >= min_expected:
            g, acc = g + 1, 0.0
    if acc < min_expected and g > 0:
        groups[groups == g] = g - 1
    return np.bincount(groups, weights=obs), np.bincount(groups, weights=exp)


def gof_chi_square(
    law: IntensityLaw, theta: np.ndarray, sample: DepthSample | LikelihoodData
) -> tuple[float | None, int | None, float | None]:
    """Pearson chi-square on (half-spread level, reach past the touch) cells: (stat, df, p-value), or
    Nones when fewer than 1 degree of freedom remains.

    Cells are the whole ticks j = 0, 1, ... past the touch at each half-spread level (the last cell
    of each level open-ended), or for continuous depths quantile bins of the excess d - c. The
    expected count of cell [x_j, x_{j+1}) at level c_s is ``sides tau_s (lambda(c_s + x_j | c_s) -
    lambda(c_s + x_{j+1} | c_s))``. Cells are taken level by level in order of depth and merged
    until each expects >= 5 orders; degrees of freedom = cells - parameters.
    """
    data = _data(sample)
    levels, seconds = data.levels, data.seconds
    extra = np.setdiff1d(data.c, levels)  # half-spreads met by orders but never held for a second
    if extra.size:
        levels = np.concatenate([levels, extra])
        seconds = np.concatenate([seconds, np.zeros(extra.size)])
        o = np.argsort(levels, kind="stable")
        levels, seconds = levels[o], seconds[o]
    lvl = np.searchsorted(levels, data.c)
    x = data.d - data.c
    if data.tick is not None:
        j = np.rint(x / data.tick)
        n_edges = int(min(j.max(), 4000)) + 2
        edges = data.tick * np.arange(n_edges)
        col = np.minimum(j, n_edges - 1).astype(np.int64)
    else:
        m = int(np.clip(data.n // 25, 3, 40))
        edges = np.unique(np.concatenate([[0.0], np.quantile(x, np.arange(1, m) / m)]))
        col = np.searchsorted(edges, x, side="right") - 1
    obs = np.zeros((levels.size, edges.size))
    np.add.at(obs, (lvl, col), data.w)
    tail = _tail_on_lattice(law, theta, levels[:, None] + edges[None, :], levels[:, None], data.tick)
    tail = data.sides * seconds[:, None] * tail
    exp = tail - np.concatenate([tail[:, 1:], np.zeros((levels.size, 1))], axis=1)
    o, e = _merge_low_expected(obs.ravel(), exp.ravel())
    df = o.size - law.n_params
    if df < 1:
        return None, None, None
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(np.where(e > 0, (o - e) ** 2 / e, np.where(o > 0, np.inf, 0.0)).sum())
    return stat, int(df), float(stats.chi2.sf(stat, df))


def rate_on_basis(fit: FittedIntensity, sample: DepthSample | LikelihoodData, grid: Any) -> np.ndarray:
    """The fitted rate of orders observed at depth >= delta, per second of the time delta was at or
    beyond the touch and per side: ``sum_{c_s <= delta} tau_s lambda(delta | c_s) / sum_{c_s <=
    delta} tau_s`` (on a tick grid, delta is rounded up to each level's price lattice). This is
    what :func:`empirical_on_basis` estimates; NaN where delta was never observable."""
    data = _data(sample)
    g = np.asarray(grid, dtype=np.float64)
    eps = 1e-9 * max(1.0, float(np.abs(g).max(initial=0.0)))
    ok = data.levels[None, :] <= g[:, None] + eps
    tail = _tail_on_lattice(fit.law, fit.theta, g[:, None], data.levels[None, :], data.tick)
    t_obs = (data.seconds[None, :] * ok).sum(axis=1)
    num = (tail * data.seconds[None, :] * ok).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(t_obs > 0, num / t_obs, np.nan)


def empirical_on_basis(sample: DepthSample, grid: Any, level: float = 0.95) -> dict[str, np.ndarray]:
    """Empirical intensity ``N(delta) / (sides T_obs(delta))`` with an exact Poisson interval.

    ``N(delta)`` counts the orders observed at depth >= delta among those whose half-spread was <=
    delta, ``T_obs(delta)`` the seconds during which the half-spread was <= delta (the truncation
    basis of the likelihood, as :func:`mmenv.calibration.empirical_intensity`, keeping every grid
    point). The interval is Garwood's: chi2 quantiles of 2N and 2N + 2 degrees of freedom.

    Returns:
        dict of (J,) arrays: depth, rate, lo, hi, count, seconds.
    """
    g = np.asarray(grid, dtype=np.float64)
    eps = 1e-9 * max(1.0, float(np.abs(g).max(initial=0.0)))
    counts = np.array(
        [np.count_nonzero((sample.thresholds <= x + eps) & (sample.depths >= x - eps)) for x in g],
        dtype=np.float64,
    )
    t_obs = np.array([sample.seconds[sample.levels <= x + eps].sum() for x in g])
    a = 1.0 - level
    lo = np.where(counts > 0, 0.5 * stats.chi2.ppf(a / 2, 2 * counts), 0.0)
    hi = 0.5 * stats.chi2.ppf(1 - a / 2, 2 * counts + 2)
    denom = np.where(t_obs > 0, sample.sides * t_obs, np.nan)
    return {
        "depth": g,
        "rate": counts / denom,
        "lo": lo / denom,
        "hi": hi / denom,
        "count": counts,
        "seconds": t_obs,
    }
