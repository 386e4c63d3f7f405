"""Report section III: maximum-likelihood A and k on the synthetic ticks, where the truth is known.

(The real tapes' intensity laws, the rest of section III, are :mod:`mmenv.studies.report.intensity`.)
"""

from __future__ import annotations

from mmenv.calibration import calibrate
from mmenv.calibration import trades as tl
from mmenv.calibration.report import format_table, plot_calibration
from mmenv.studies.report.document import Report
from mmenv.studies.report.inputs import run_ticks

__all__ = ["sec_calibration"]


def sec_calibration(rep: Report, cfg: dict) -> None:
    """III: maximum-likelihood A and k on the synthetic ticks (truth known), with the fit figure."""
    ticks = run_ticks(cfg)
    src = tl.TickSource(ticks, source="synthetic ticks")
    res = calibrate(src)
    sample = src.depth_sample()
    rep.metrics["calibration"] = {**res.to_dict(), "truth": {"A": float(ticks.A), "k": float(ticks.k)}}
    fit = res.intensity
    z_a = abs(fit.A - ticks.A) / fit.A_se
    z_k = abs(fit.k - ticks.k) / fit.k_se
    rep.add(
        "Maximum-likelihood fit of $\\lambda(d) = A e^{-kd}$ to the synthetic trades, where the true values "
        "are known:\n\n```text\n"
        + format_table(res, {"A": float(ticks.A), "k": float(ticks.k)})
        + "\n```\n\n"
        f"$\\hat A$ = {fit.A:.4g} ± {fit.A_se:.2g} trades/s/side ({z_a:.1f} standard errors from the truth "
        f"{ticks.A:.4g}) and $\\hat k$ = {fit.k:.4g} ± {fit.k_se:.2g} per price unit ({z_k:.1f} standard "
        f"errors from {ticks.k:.4g}): the estimator recovers the law that generated the trades."
    )
    rep.figure(
        plot_calibration(res, sample, rep.out / "calibration.png"),
        "The empirical intensity beyond the touch on the likelihood's truncation basis (left, log scale) and "
        "the probability that an order walks x or more past the touch (right), with 95% intervals, against "
        "the fitted exponential",
        "a straight line on the log scale is what the exponential law predicts; here the goodness-of-fit "
        f"test gives Pearson χ² p = {res.to_dict().get('gof_pvalue', float('nan')):.3g} (a small p would mean "
        "the points leave the line)",
    )
