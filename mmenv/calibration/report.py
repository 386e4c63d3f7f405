"""The MLE report: the intensity beyond the touch and the walk past it, fitted laws against the data; table.

The figure (:func:`plot_calibration`) draws only where orders are observable (at or beyond the touch), the
fitted laws and the empirical rates on the same truncation basis as the likelihood, and marks the typical
half-spread. :func:`empirical_reach_probability` gives, for windows of length dt, the empirical probability
that the most aggressive order on a side reached depth d, to compare with ``1 - exp(-lambda(d) dt)``
(Avellaneda & Stoikov 2008, eq. 2.12) where d is beyond the touch throughout.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.calibration import CalibrationResult, DepthSample
from mmenv.calibration.intensity.likelihood import empirical_on_basis, exponential_of_record, rate_on_basis
from mmenv.calibration.intensity.likelihood import typical_half_spread as typical

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


def _basis_grid(sample: DepthSample, max_points: int = 80) -> np.ndarray:
    """Depths from the smallest half-spread held >= 5% of the time to the 99.5% quantile of the
    order depths (every price level on a tick grid, thinned geometrically beyond max_points)."""
    o = np.argsort(sample.levels, kind="stable")
    cum = np.cumsum(sample.seconds[o]) / sample.seconds.sum()
    lo = float(sample.levels[o][np.searchsorted(cum, 0.05)])
    hi = max(float(np.quantile(sample.depths, 0.995)), lo)
    if sample.tick is None:
        return np.linspace(lo, hi, max_points)
    step = 0.5 * sample.tick
    n = round((hi - lo) / step)
    j = np.unique(np.rint(np.geomspace(1, n + 1, max_points)) - 1) if n > 0 else np.zeros(1)
    return lo + step * j


def _walk_past(
    sample: DepthSample, fits: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Empirical and fitted P(reach >= touch + x | the order reached the touch) on a grid of x."""
    x_obs = sample.depths - sample.thresholds
    top = float(np.quantile(x_obs, 0.995))
    if sample.tick is not None:
        n = round(top / sample.tick)
        x = sample.tick * (np.unique(np.rint(np.geomspace(1, n + 2, 60))) - 1)
    else:
        x = np.linspace(0.0, max(top, 1e-12), 60)
    eps = 1e-9 * max(1.0, top)
    emp = (x_obs[None, :] >= x[:, None] - eps).mean(axis=1)
    model = {}
    for name, f in fits.items():
        lv, cnt = np.unique(sample.thresholds, return_counts=True)
        xx, cc = np.broadcast_arrays(x[:, None], lv[None, :])
        surv = f.law.survival(xx.ravel(), cc.ravel(), f.theta).reshape(xx.shape)
        model[name] = (surv * cnt[None, :]).sum(axis=1) / cnt.sum()
    return x, emp, model


def plot_calibration(
    result: CalibrationResult, sample: DepthSample, path: str | Path, *, analysis: Any = None
) -> Path:
    """Write the two-panel calibration figure to ``path`` (PNG) and return the path.

    Left: the intensity beyond the touch on the truncation basis of the likelihood (orders observed at
    depth >= d per second during which d was at or beyond the touch, per side), empirical with its
    95% Poisson interval against every fitted law on the same basis
    (:func:`mmenv.calibration.intensity.likelihood.rate_on_basis`) and the least-squares line; the typical
    half-spread is marked. Right: the probability that an order that reached the touch walks x or
    more past it, empirical against the laws. ``analysis`` (:class:`mmenv.calibration.intensity.summary.
    IntensityAnalysis`) supplies the fitted laws; without it only the exponential of record is drawn.
    """
    from mmenv.viz.style import pyplot, save_figure

    plt = pyplot()

    if analysis is not None:
        fits, selected = dict(analysis.choice.fits), analysis.selected
    else:
        fits, selected = {"exponential": exponential_of_record(result.intensity)}, "exponential"
    c_med = typical(sample.levels, sample.seconds)
    grid = _basis_grid(sample)
    emp = empirical_on_basis(sample, grid)
    ok = emp["count"] > 0
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.errorbar(
        grid[ok],
        emp["rate"][ok],
        yerr=[emp["rate"][ok] - emp["lo"][ok], emp["hi"][ok] - emp["rate"][ok]],
        fmt="o",
        ms=3,
        color="k",
        label="empirical (95% CI)",
    )
    for i, (name, f) in enumerate(fits.items()):
        lw = 2.0 if name == selected else 1.2
        ax1.plot(
            grid,
            rate_on_basis(f, sample, grid),
            color=f"C{i}",
            lw=lw,
            label=name + (" (selected)" if name == selected else ""),
        )
    if result.least_squares is not None:
        ls = result.least_squares
        ax1.plot(grid, ls.A * np.exp(-ls.k * grid), ":", color="0.4", label=f"log-linear LS k={ls.k:.3g}")
    ax1.axvline(c_med, color="0.5", ls="--", lw=0.8, label=f"typical half-spread {c_med:.4g}")
    ax1.set_yscale("log")
    if ok.any():
        ax1.set_ylim(
            0.3 * float(emp["lo"][ok].clip(min=emp["rate"][ok].min() * 0.1).min()),
            3.0 * float(emp["hi"][ok].max()),
        )
    ax1.set_xlabel("depth d from the mid (price units)")
    ax1.set_ylabel(r"orders reaching d / s / side, while d $\geq$ touch")
    ax1.set_title("intensity beyond the touch")
    ax1.legend(fontsize=7)
    x, p_emp, p_mod = _walk_past(sample, fits)
    n = sample.n
    se = np.sqrt(p_emp * (1 - p_emp) / max(n, 1))
    pos = p_emp > 0
    ax2.errorbar(
        x[pos], p_emp[pos], yerr=1.96 * se[pos], fmt="o", ms=3, color="k", label="empirical (95% CI)"
    )
    for i, (name, p) in enumerate(p_mod.items()):
        ax2.plot(x, p, color=f"C{i}", lw=2.0 if name == selected else 1.2, label=name)
    ax2.set_yscale("log")
    if pos.any():
        ax2.set_ylim(0.3 * float(p_emp[pos].min()), 1.5)
    unit = "price units" if sample.tick is None else f"price units; tick {sample.tick:g}"
    ax2.set_xlabel(f"reach past the touch x = d - c ({unit})")
    ax2.set_ylabel("P(reach >= touch + x | reached the touch)")
    ax2.set_title("walking past the touch")
    ax2.legend(fontsize=7)
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
