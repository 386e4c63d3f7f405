"""The MLE report: fill probability against depth with delta-method bands, intensity per depth, table.

Panel 1 compares, for windows of length dt, the empirical probability that the most aggressive order on
a side reached depth d with the fitted ``P(fill at d within dt) = 1 - exp(-lambda(d) dt)`` (Avellaneda &
Stoikov 2008, eq. 2.12), with a 95% band from the MLE covariance by the delta method
(:meth:`mmenv.calibration.IntensityFit.fill_probability`). Panel 2 shows the empirical intensity per depth
(:func:`mmenv.calibration.empirical_intensity`) on a log scale with the MLE and least-squares lines.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.calibration import CalibrationResult, DepthSample, empirical_intensity

__all__ = ["default_window", "empirical_reach_probability", "format_table", "plot_calibration"]


def default_window(result: CalibrationResult, sample: DepthSample) -> float:
    """A window dt (s) in which about one order per side reaches the lowest threshold."""
    lam0 = result.intensity.intensity(float(sample.levels.min()))
    return float(1.0 / max(float(lam0), 1e-12))


def empirical_reach_probability(sample: DepthSample, dt: float, grid: Any) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of (window, side) cells whose deepest order reached >= d, and its binomial SE.

    Windows are [j dt, (j+1) dt) over the observation time; needs ``sample.times`` and ``sample.side``.

    Raises:
        ValueError: the sample has no times or sides, or dt is not positive.
    """
    if sample.times is None or sample.side is None:
        raise ValueError("sample.times and sample.side are required for reach probabilities, got None")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be > 0, got {dt!r}")
    n_win = max(int(sample.duration_s // dt), 1)
    w = np.minimum((sample.times // dt).astype(np.int64), n_win - 1)
    cell = 2 * w + (sample.side > 0)
    deepest = np.full(2 * n_win, -np.inf)
    np.maximum.at(deepest, cell, sample.depths)
    grid = np.asarray(grid, dtype=np.float64)
    p = (deepest[None, :] >= grid[:, None]).mean(axis=1)
    return p, np.sqrt(p * (1 - p) / deepest.size)


def plot_calibration(
    result: CalibrationResult, sample: DepthSample, path: str | Path, *, dt: float | None = None
) -> Path:
    """Write the two-panel calibration figure to ``path`` (PNG) and return the path."""
    from mmenv.plot_style import pyplot, save_figure

    plt = pyplot()

    fit = result.intensity
    dt = default_window(result, sample) if dt is None else dt
    lo = float(sample.levels.min())
    hi = float(np.quantile(sample.depths, 0.995))
    grid = np.linspace(lo, max(hi, lo + 1e-9), 60)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    if sample.times is not None and sample.side is not None:
        p_emp, p_se = empirical_reach_probability(sample, dt, grid)
        ax1.errorbar(grid, p_emp, yerr=1.96 * p_se, fmt="o", ms=3, color="k", label="empirical (95% CI)")
    p_fit, p_fit_se = fit.fill_probability(grid, dt)
    ax1.plot(grid, p_fit, color="C0", label=r"MLE $1-e^{-\lambda(d)\,dt}$")
    ax1.fill_between(
        grid,
        p_fit - 1.96 * p_fit_se,
        p_fit + 1.96 * p_fit_se,
        color="C0",
        alpha=0.3,
        label="95% band (delta method)",
    )
    ax1.set_xlabel("depth d from the mid (price units)")
    ax1.set_ylabel(f"P(an order reaches d within dt = {dt:.3g} s)")
    ax1.legend(fontsize=8)
    ax1.set_title("fill probability by depth")
    g, rate, counts = empirical_intensity(sample)
    ax2.errorbar(g, rate, yerr=1.96 * rate / np.sqrt(counts), fmt="o", ms=3, color="k", label="empirical")
    ax2.plot(grid, fit.intensity(grid), color="C0", label=f"MLE A={fit.A:.3g}, k={fit.k:.3g}")
    if result.least_squares is not None:
        ls = result.least_squares
        ax2.plot(grid, ls.A * np.exp(-ls.k * grid), "--", color="C1", label=f"LS A={ls.A:.3g}, k={ls.k:.3g}")
    ax2.set_yscale("log")
    if rate.size:
        ax2.set_ylim(0.3 * float(rate.min()), 3.0 * float(rate.max()))
    ax2.set_xlabel("depth d from the mid (price units)")
    ax2.set_ylabel(r"$\lambda(d)$ (orders / s / side)")
    ax2.set_title("intensity by depth")
    ax2.legend(fontsize=8)
    fig.suptitle(result.source, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def format_table(result: CalibrationResult, truth: dict[str, float] | None = None) -> str:
    """A plain-text table of the estimates (MLE with SE and 95% CI, LS, sigma, fit statistics)."""
    f = result.intensity
    ci = f.conf_int(0.95)
    truth = truth or {}

    def row(name: str, est: float, se: float, lo: float, hi: float, ls: float | None) -> str:
        t = truth.get(name)
        return (
            f"{name:6s} {est:12.5g} {se:11.3g} [{lo:10.5g}, {hi:10.5g}] "
            f"{'' if ls is None else f'{ls:11.5g}':>11s} {'' if t is None else f'{t:10.5g}':>10s}"
        )

    ls = result.least_squares
    lines = [
        f"source: {result.source}",
        f"{'param':6s} {'MLE':>12s} {'SE':>11s} {'95% CI (log-scale Wald)':>25s} {'LS':>11s} {'truth':>10s}",
        row("A", f.A, f.A_se, *ci["A"], None if ls is None else ls.A),
        row("k", f.k, f.k_se, *ci["k"], None if ls is None else ls.k),
        row(
            "sigma",
            result.sigma,
            result.sigma_se,
            result.sigma - 1.96 * result.sigma_se,
            result.sigma + 1.96 * result.sigma_se,
            None,
        ),
        f"units: A orders/s/side, k 1/price unit, sigma price/sqrt(s); s0 = {result.s0:.6g}",
        f"n_trades = {f.n_trades:,} over {f.duration_s:,.1f} s ({f.sides} sides pooled"
        f"{'' if f.tick is None else f', tick {f.tick:g} interval-censored'}); "
        f"excluded {f.n_excluded}; loglik = {f.loglik:.6g}",
    ]
    if f.gof_stat is not None:
        lines.append(
            f"goodness of fit: Pearson chi2 = {f.gof_stat:.4g} on {f.gof_df} df, p = {f.gof_pvalue:.3g}"
        )
    return "\n".join(lines)
