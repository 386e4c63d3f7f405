"""The least-squares cross-check of the intensity fit: a line through the log empirical intensity."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass

from mmenv.calibration.samples import DepthSample, as_1d


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


#: Most depths of the default grid of :func:`empirical_intensity` (its loop is sized by them, not by the data).
MAX_GRID = 1000


def empirical_intensity(sample: DepthSample, grid: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lambda_hat(delta) = N(delta) / (sides * T_obs(delta)) on a grid of depths.

    ``N(delta)`` counts orders with reach >= delta among those whose threshold was <= delta, and
    ``T_obs(delta) = sum_s tau_s [c_s <= delta]`` is the time during which reaching delta was
    observable. Grid points with fewer than 5 orders are left out (they would dominate a log fit).

    The default grid runs from the smallest half-spread to the 99% quantile of the depths, every tick (or 20
    points for continuous depths); when that is more than :data:`MAX_GRID` depths (a tick far below the
    data's grid), every ``ceil(n / MAX_GRID)`` ticks, so that the work is bounded whatever the data.

    Returns:
        (grid, rate, counts).
    """
    if grid is None:
        lo = float(sample.levels.min())
        hi = float(np.quantile(sample.depths, 0.99))
        if sample.tick is not None:
            n = round((hi - lo) / sample.tick) + 1
            step = sample.tick * max(1, math.ceil(n / MAX_GRID))
            grid = lo + step * np.arange(min(n, MAX_GRID))
        else:
            grid = np.linspace(lo, hi, 20)
    grid = as_1d("grid", grid)
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
        raise ValueError(f"the least-squares fit needs >= 3 grid depths with >= 5 orders each, got {g.size}")
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
