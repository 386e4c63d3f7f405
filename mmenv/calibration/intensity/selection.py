"""Choice of the intensity law out of sample, the intensity table and per-window (per-hour) fits.

Model choice: the tape is split in time; every law is fitted on the first part (``fit_fraction``
of the time) and scored by its log-likelihood per order on the rest (the held-out part, its own
exposure and orders). The selected law is the one with the best held-out log-likelihood per order,
except that a law with fewer parameters is preferred when the best beats it by less than two
standard errors of the paired per-order difference (an approximate Vuong 1989 test: the
difference is then noise, e.g. a power law whose d0 ran off to infinity is the exponential).
AIC on the fit part (2 p - 2 l) is reported beside it. Parameters, standard errors and the
goodness of fit reported for each law come from the fit on the whole tape.

The intensity table compares, on a grid of depths from the typical half-spread outwards, the
empirical intensity on the truncation basis of the likelihood (orders observed at depth >= delta
per second of the time delta was at or beyond the touch, per side, with an exact Poisson 95%
interval) with each fitted law's rate on the same basis
(:func:`mmenv.calibration.intensity.likelihood.rate_on_basis`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmenv.calibration import CalibrationError, DepthSample
from mmenv.calibration.intensity.likelihood import (
    MODEL_NAMES,
    LikelihoodData,
    empirical_on_basis,
    fit_law,
    fit_models,
    log_likelihood,
    order_log_mass,
    rate_on_basis,
    typical_half_spread,
)
from mmenv.calibration.intensity.models import FittedIntensity
from mmenv.calibration.intensity.tape import IntensityTape

__all__ = [
    "ModelChoice",
    "default_depth_grid",
    "exponential_misfit",
    "heldout_loglik_per_order",
    "intensity_table",
    "paired_difference_se",
    "per_window_fits",
    "select_model",
]


def heldout_loglik_per_order(fit: FittedIntensity, sample: DepthSample) -> float:
    """Log-likelihood of the fitted law (its parameters and constants as fitted) on another sample,
    per order of that sample."""
    if sample.n == 0:
        raise ValueError("the held-out sample has no orders")
    return log_likelihood(fit.law, fit.theta, sample)[0] / sample.n


def paired_difference_se(a: FittedIntensity, b: FittedIntensity, sample: DepthSample) -> float:
    """Standard error of the mean per-order difference of log mark measures, log m_a - log m_b, on
    a sample (the exposure terms are the same for every order and do not add variance)."""
    data = LikelihoodData.from_sample(sample)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        diff = order_log_mass(a.law, a.theta, data) - order_log_mass(b.law, b.theta, data)
    mean = float(np.average(diff, weights=data.w))
    var = float(np.average((diff - mean) ** 2, weights=data.w))
    return math.sqrt(var / max(data.n, 1))


@dataclass(frozen=True)
class ModelChoice:
    """Result of :func:`select_model`.

    Attributes:
        fits: law name -> fit on the whole tape (parameters, SEs, GoF).
        fits_split: law name -> fit on the fit part.
        heldout: law name -> held-out log-likelihood per order.
        heldout_se: law name -> standard error of its held-out difference to the best law.
        aic_fit: law name -> AIC on the fit part.
        best_heldout: the law with the best held-out log-likelihood per order.
        selected: ``best_heldout``, or the law with the fewest parameters within two standard
            errors of it.
        split_s: time (s from the tape start) where the held-out part begins.
        n_fit, n_heldout: orders in each part.
        skipped: law name -> reason it was not fitted.
    """

    fits: dict[str, FittedIntensity]
    fits_split: dict[str, FittedIntensity]
    heldout: dict[str, float]
    heldout_se: dict[str, float]
    aic_fit: dict[str, float]
    best_heldout: str
    selected: str
    split_s: float
    n_fit: int
    n_heldout: int
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``models`` entry of calibration.json: per law its whole-tape fit plus the split
        scores."""
        out: dict[str, Any] = {}
        for name, f in self.fits.items():
            d = f.to_dict()
            d.update(
                heldout_loglik_per_order=self.heldout.get(name),
                heldout_diff_se=self.heldout_se.get(name),
                aic_fit=self.aic_fit.get(name),
                n_fit=self.n_fit,
                n_heldout=self.n_heldout,
                split_s=self.split_s,
            )
            out[name] = d
        for name, why in self.skipped.items():
            out[name] = {"skipped": why}
        return out


def select_model(
    tape: IntensityTape, models: tuple[str, ...] = MODEL_NAMES, *, fit_fraction: float = 0.7
) -> ModelChoice:
    """Fit every law on the whole tape and on its first ``fit_fraction`` of time, score each on the
    rest, and select the best held-out log-likelihood per order.

    Raises:
        ValueError: fit_fraction outside (0, 1), or no law could be fitted on the fit part.
    """
    if not 0 < fit_fraction < 1:
        raise ValueError(f"fit_fraction must lie in (0, 1), got {fit_fraction!r}")
    full = tape.window()
    fits, skipped = fit_models(full, models)
    split = tape.seg_t[0] + fit_fraction * (tape.end_s - tape.seg_t[0])
    first, rest = tape.window(tape.seg_t[0], split), tape.window(split, tape.end_s)
    c_ref = typical_half_spread(first.levels, first.seconds)
    split_fits: dict[str, FittedIntensity] = {}
    heldout: dict[str, float] = {}
    aic: dict[str, float] = {}
    for name in fits:
        try:
            f = fit_law(first, name, c_ref=c_ref, gof=False)
        except (CalibrationError, ValueError) as exc:
            skipped[name] = f"fit part: {exc}"
            continue
        split_fits[name] = f
        aic[name] = f.aic
        if rest.n:
            heldout[name] = heldout_loglik_per_order(f, rest)
    fits = {k: v for k, v in fits.items() if k in split_fits}
    if not fits:
        raise ValueError(f"no intensity law could be fitted: {skipped}")
    score = heldout if heldout else {k: -v for k, v in aic.items()}
    best = max(score, key=lambda k: score[k])
    se = {
        k: 0.0 if k == best else paired_difference_se(split_fits[k], split_fits[best], rest) for k in heldout
    }
    close = [k for k in score if k == best or (k in se and score[best] - score[k] < 2.0 * se[k])]
    selected = min(close, key=lambda k: (split_fits[k].n_params, -score[k]))
    return ModelChoice(
        fits=fits,
        fits_split=split_fits,
        heldout=heldout,
        heldout_se=se,
        aic_fit=aic,
        best_heldout=best,
        selected=selected,
        split_s=float(split),
        n_fit=first.n,
        n_heldout=rest.n,
        skipped=skipped,
    )


def default_depth_grid(sample: DepthSample, max_rows: int = 30) -> np.ndarray:
    """Depths from the typical (time-weighted median) half-spread outwards to the 99.5% quantile of
    the order depths: every tick first, then geometrically spaced ticks (about ``max_rows``)."""
    c = typical_half_spread(sample.levels, sample.seconds)
    top = max(float(np.quantile(sample.depths, 0.995)), c)
    if sample.tick is not None:
        n_ticks = math.floor((top - c) / sample.tick + 1e-9)
        j = np.unique(np.rint(np.geomspace(1, n_ticks + 1, max_rows)) - 1) if n_ticks > 0 else np.zeros(1)
        return c + sample.tick * j
    return c + (top - c) * np.linspace(0.0, 1.0, max_rows)


def intensity_table(
    sample: DepthSample, fits: dict[str, FittedIntensity], grid: Any = None
) -> list[dict[str, float | None]]:
    """Rows {depth, empirical, empirical_lo, empirical_hi, n_orders, <law>: rate} (rates per second
    per side on the truncation basis; None where the depth was never observable)."""
    g = default_depth_grid(sample) if grid is None else np.asarray(grid, dtype=np.float64)
    emp = empirical_on_basis(sample, g)
    rates = {name: rate_on_basis(f, sample, g) for name, f in fits.items()}

    def num(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    rows = []
    for i, d in enumerate(g):
        row: dict[str, float | None] = {
            "depth": float(d),
            "empirical": num(emp["rate"][i]),
            "empirical_lo": num(emp["lo"][i]),
            "empirical_hi": num(emp["hi"][i]),
            "n_orders": float(emp["count"][i]),
        }
        row.update({name: num(r[i]) for name, r in rates.items()})
        rows.append(row)
    return rows


def exponential_misfit(
    table: list[dict[str, float | None]], selected: str, tick: float | None
) -> list[dict[str, Any]]:
    """At the depths that matter for quoting (the typical touch, one and five ticks past it, and the
    deepest row with >= 20 orders), the exponential's rate against the empirical and the selected
    law's: rows {depth, label, empirical, exponential, selected, ratio_exp_to_empirical}."""
    if not table or "exponential" not in table[0]:
        return []
    depths = np.array([r["depth"] for r in table])
    c = depths[0]
    picks: list[tuple[str, float]] = [("the typical touch", c)]
    if tick is not None:
        picks += [("one tick past the touch", c + tick), ("five ticks past the touch", c + 5 * tick)]
    deep = [r["depth"] for r in table if r["n_orders"] is not None and r["n_orders"] >= 20]
    if deep and deep[-1] > picks[-1][1] + 1e-12:
        picks.append(("the deepest depth with >= 20 orders", deep[-1]))
    out = []
    for label, d in picks:
        i = int(np.argmin(np.abs(depths - d)))
        if abs(depths[i] - d) > 1e-9 * max(1.0, abs(d)):
            continue
        r = table[i]
        emp, ex = r["empirical"], r["exponential"]
        out.append(
            {
                "depth": r["depth"],
                "label": label,
                "empirical": emp,
                "exponential": ex,
                "selected": r.get(selected),
                "ratio_exp_to_empirical": (ex / emp) if (emp and ex is not None) else None,
            }
        )
    return out


def per_window_fits(
    tape: IntensityTape,
    window_s: float = 3600.0,
    models: tuple[str, ...] = ("exponential",),
    *,
    min_orders: int = 50,
    c_ref: float | None = None,
) -> list[dict[str, Any]]:
    """Fits on consecutive windows of ``window_s`` seconds (hours by default): rows {start_s,
    end_s, label, n_orders, <law>: {params, se} or None}, for the intraday pattern of A and the
    stability of k. A window with fewer than ``min_orders`` orders, or whose fit fails, gives None.
    The two-part law's reference half-spread is ``c_ref`` in every window (default: the whole tape's
    typical half-spread), so its A is comparable across windows."""
    if c_ref is None:
        lv, sec = tape.exposure(float(tape.seg_t[0]), tape.end_s)
        c_ref = typical_half_spread(lv, sec)
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    rows = []
    a = float(tape.seg_t[0])
    while a < tape.end_s - 1e-9:
        b = min(a + window_s, tape.end_s)
        s = tape.window(a, b)
        row: dict[str, Any] = {
            "start_s": a,
            "end_s": b,
            "label": f"{tape.clock_label(a)}-{tape.clock_label(b)}",
            "n_orders": s.n,
        }
        for name in models:
            entry = None
            if s.n >= min_orders:
                try:
                    f = fit_law(s, name, gof=False, c_ref=c_ref)
                    entry = {"params": f.params, "se": f.se}
                except (CalibrationError, ValueError):
                    entry = None
            row[name] = entry
        rows.append(row)
        a = b
    return rows
