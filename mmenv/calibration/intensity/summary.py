"""The intensity-model analysis of one source, for ``mmenv calibrate`` and the report.

:func:`analyse` runs, on the trades and quotes of a source: the fit of every law on the whole tape,
the out-of-sample choice (:func:`mmenv.calibration.intensity.selection.select_model`), the intensity table on
the truncation basis, the exponential's error at the depths that matter for quoting, per-hour fits
(tapes of two hours or more) and the walk-forward comparison of the rolling estimator with the fixed
in-sample fit (:func:`mmenv.calibration.intensity.online.walk_forward`). :meth:`IntensityAnalysis.to_dict` is what
calibration.json adds to the exponential's fields; :func:`format_models` and :func:`markdown_models`
print the model table and the computed sentences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmenv.calibration import DepthSample
from mmenv.calibration.intensity.likelihood import typical_half_spread
from mmenv.calibration.intensity.online import WalkForward, walk_forward
from mmenv.calibration.intensity.selection import (
    ModelChoice,
    exponential_misfit,
    intensity_table,
    per_window_fits,
    select_model,
)
from mmenv.calibration.intensity.tape import IntensityTape

__all__ = ["IntensityAnalysis", "analyse", "format_models", "markdown_models", "summary_sentences"]

PER_HOUR_MIN_S = 7200.0


def _clean(x: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


@dataclass(frozen=True)
class IntensityAnalysis:
    """Everything :func:`analyse` computed for one source (see the module docstring)."""

    source: str
    tape: IntensityTape
    sample: DepthSample
    choice: ModelChoice
    table: list[dict[str, float | None]]
    misfit: list[dict[str, Any]]
    per_hour: list[dict[str, Any]] | None
    walk_forward: dict[str, WalkForward]
    typical_half_spread: float

    @property
    def selected(self) -> str:
        return self.choice.selected

    def to_dict(self) -> dict[str, Any]:
        """The calibration.json additions: models, selected_model, intensity_table and the rest."""
        ch = self.choice
        return _clean(
            {
                "models": ch.to_dict(),
                "selected_model": ch.selected,
                "intensity_table": self.table,
                "typical_half_spread": self.typical_half_spread,
                "model_choice": {
                    "split_s": ch.split_s,
                    "n_fit": ch.n_fit,
                    "n_heldout": ch.n_heldout,
                    "best_heldout": ch.best_heldout,
                    "rule": "best held-out log-likelihood per order; a law with fewer parameters within "
                    "two paired standard errors of it is preferred",
                },
                "exponential_misfit": self.misfit,
                "per_hour": self.per_hour,
                "walk_forward": {k: v.to_dict() for k, v in self.walk_forward.items()},
            }
        )


def _tape_of(data: Any, aggregate: bool, sides: int, censor: bool) -> IntensityTape:
    if hasattr(data, "quotes") and hasattr(data, "window"):
        return IntensityTape.from_trades_and_quotes(data, aggregate=aggregate, sides=sides, censor=censor)
    sample = data.depth_sample(aggregate=aggregate, sides=sides, censor=censor)
    _, mid = data.mid_path()
    return IntensityTape.from_sample(sample, mid=float(mid[0]), source=getattr(data, "source", ""))


def analyse(
    data: Any,
    *,
    aggregate: bool = True,
    sides: int = 2,
    censor: bool = True,
    fit_fraction: float = 0.7,
) -> IntensityAnalysis:
    """The intensity-model analysis of a source (a :class:`mmenv.calibration.trades.TradesAndQuotes`, or
    any object with ``depth_sample`` and ``mid_path`` whose sample has one half-spread level)."""
    tape = _tape_of(data, aggregate, sides, censor)
    sample = tape.window()
    choice = select_model(tape, fit_fraction=fit_fraction)
    table = intensity_table(sample, choice.fits)
    misfit = exponential_misfit(table, choice.selected, sample.tick)
    span = tape.end_s - float(tape.seg_t[0])
    per_hour = None
    if span >= PER_HOUR_MIN_S:
        models = tuple(dict.fromkeys(("exponential", choice.selected)))
        c_ref = choice.fits[choice.selected].law.constants().get("c_ref")
        per_hour = per_window_fits(tape, 3600.0, models, c_ref=c_ref)
    wf: dict[str, WalkForward] = {}
    for name in dict.fromkeys(("exponential", choice.selected)):
        try:
            wf[name] = walk_forward(tape, model=name, fit_fraction=fit_fraction)
        except ValueError:
            continue
    return IntensityAnalysis(
        source=tape.source,
        tape=tape,
        sample=sample,
        choice=choice,
        table=table,
        misfit=misfit,
        per_hour=per_hour,
        walk_forward=wf,
        typical_half_spread=typical_half_spread(sample.levels, sample.seconds),
    )


def _params_text(a: IntensityAnalysis, name: str) -> str:
    f = a.choice.fits[name]
    parts = []
    for p, v in f.params.items():
        se = f.se[p]
        parts.append(f"{p}={v:.4g}" + (f"±{se:.2g}" if math.isfinite(se) else " (at bound)"))
    return ", ".join(parts)


def _rows(a: IntensityAnalysis) -> list[tuple[str, str, str, str, str, str]]:
    ch = a.choice
    out = []
    for name, f in ch.fits.items():
        gof = "-" if f.gof_stat is None else f"{f.gof_stat:.4g}/{f.gof_df}"
        ho = ch.heldout.get(name)
        out.append(
            (
                name + (" *" if name == ch.selected else ""),
                _params_text(a, name),
                f"{f.loglik:.6g}",
                f"{ch.aic_fit[name]:.6g}",
                "-" if ho is None else f"{ho:.4f}",
                gof,
            )
        )
    return out


HEADERS = ("law", "parameters (± SE)", "loglik", "AIC (fit part)", "held-out loglik/order", "chi2/df")


def format_models(a: IntensityAnalysis) -> str:
    """Plain-text model table and the computed sentences (for the CLI)."""
    rows = _rows(a)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    line = "  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    units = "units: A orders/s/side; k, beta, 1/d0 per price unit (* = selected)"
    return "\n".join([line, *body, units, *summary_sentences(a)])


def markdown_models(a: IntensityAnalysis) -> str:
    """Markdown model table and the computed sentences (for the report)."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in _rows(a)]
    return "\n".join(lines) + "\n\n" + " ".join(summary_sentences(a))


def summary_sentences(a: IntensityAnalysis) -> list[str]:
    """Which law the data choose, how far the exponential is off where it matters, the intraday
    pattern and the rolling estimator, in sentences whose numbers are computed here."""
    ch = a.choice
    sel = ch.selected
    out = []
    t0 = float(a.tape.seg_t[0])
    frac = (ch.split_s - t0) / (a.tape.end_s - t0)
    if ch.heldout:
        others = ", ".join(f"{k} {v:.4f}" for k, v in ch.heldout.items() if k != sel)
        aic_best = min(ch.aic_fit, key=lambda k: ch.aic_fit[k])
        out.append(
            f"The data choose the {sel} law: held-out log-likelihood {ch.heldout[sel]:.4f} per order "
            f"(against {others}; fitted on the {ch.n_fit:,} orders of the first {frac:.0%} of the time, "
            f"scored on the {ch.n_heldout:,} after); the lowest AIC on the fit part is the {aic_best} law's."
        )
        pv = {k: f.gof_pvalue for k, f in ch.fits.items() if f.gof_pvalue is not None}
        if pv:
            best_p = max(pv, key=lambda k: pv[k])
            verdict = "rejects every law" if pv[best_p] < 0.01 else "does not reject the " + best_p + " law"
            largest = (
                "every p-value below 1e-300"
                if pv[best_p] < 1e-300
                else f"largest p-value {pv[best_p]:.2g}, the {best_p} law's"
            )
            out.append(
                f"The chi-square test on (half-spread, ticks past the touch) cells {verdict} ({largest})."
            )
    for m in a.misfit:
        emp, ex = m["empirical"], m["exponential"]
        if emp is None or ex is None or emp <= 0:
            continue
        ratio = ex / emp
        how = (
            f"{ratio:.3g} times the observed rate"
            if ratio >= 1
            else f"1/{1 / ratio:.3g} of the observed rate"
        )
        sel_txt = (
            ""
            if sel == "exponential" or m["selected"] is None
            else f"; the {sel} law gives {m['selected']:.3g}"
        )
        out.append(
            f"At {m['label']} (depth {m['depth']:.4g}) the exponential gives {ex:.3g} orders/s/side against "
            f"{emp:.3g} observed: {how}{sel_txt}."
        )
    if a.per_hour:
        ok = [r for r in a.per_hour if r.get("exponential")]
        if ok:
            A = np.array([r["exponential"]["params"]["A"] for r in ok])
            k = np.array([r["exponential"]["params"]["k"] for r in ok])
            k_se = np.array([r["exponential"]["se"]["k"] for r in ok])
            full = ch.fits["exponential"]
            far = int((np.abs(k - full.params["k"]) > 3 * np.hypot(k_se, full.se["k"])).sum())
            i_max, i_min = int(A.argmax()), int(A.argmin())
            out.append(
                f"Hour by hour the exponential's A runs from {A[i_min]:.3g} ({ok[i_min]['label']}) to "
                f"{A[i_max]:.3g} orders/s/side ({ok[i_max]['label']}), and k from {k.min():.3g} to "
                f"{k.max():.3g} per price unit against {full.params['k']:.3g} ± {full.se['k']:.2g} on the whole "
                f"day: {far} of {len(ok)} hourly k lie more than 3 standard errors from it."
            )
    for name, wf in a.walk_forward.items():
        better = "better" if wf.loglik_rolling > wf.loglik_fixed else "worse"
        out.append(
            f"Re-estimated every {wf.step_s:.3g} s on the last {wf.window_s:.4g} s, the rolling {name} fit "
            f"scores {wf.loglik_rolling:.4f} per held-out order against {wf.loglik_fixed:.4f} for the fixed "
            f"in-sample fit ({better}, {wf.n_orders:,} orders)."
        )
    return out
