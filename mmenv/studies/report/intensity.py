"""Report section III (continued): the intensity laws on the real tapes, chosen out of sample.

On each real tape of the run (the shared samples found, LOBSTER AMZN and Binance BTCUSDT, in
``cfg["shared_data"]`` or the default shared-data folder, :func:`mmenv.studies.sources.study_samples`; then
the tapes given to the report, ``cfg["tapes"]``), :func:`mmenv.calibration.intensity.summary.analyse` fits the
exponential of record, the power law and the two-part law by the same truncated, tick-censored likelihood,
chooses one out of sample and measures the exponential's error at the depths that matter; the part prints the
model table, the computed sentences, the risk-neutral quoting depth of each law and the figure, and stores the
numbers under ``rep.metrics["intensity_models"]`` (by sample key, or by label for a tape given to the report).
Absent samples are said so, not hidden.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from mmenv.calibration import calibrate
from mmenv.calibration.intensity.summary import analyse, markdown_models
from mmenv.calibration.report import plot_calibration
from mmenv.studies.report.document import Report
from mmenv.studies.report.inputs import real_tapes

__all__ = ["figure_name", "risk_neutral_depth", "sec_intensity_models"]


def figure_name(key: str) -> str:
    """A file-name-safe form of a tape's key (``"lobster"`` stays ``"lobster"``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)


def risk_neutral_depth(fit: Any, lo: float, hi: float, n: int = 20_001) -> tuple[float, float]:
    """argmax of delta lambda(delta) over [lo, hi] and the maximum (price units per second): the quote of
    a risk-neutral dealer at zero inventory, the gamma -> 0 limit of the AS and GLFT quotes (the first-order
    condition delta = -lambda / lambda')."""
    grid = np.linspace(lo, hi, n)
    income = grid * fit.intensity(grid)
    i = int(np.argmax(income))
    return float(grid[i]), float(income[i])


def _quote_sentence(quotes: dict[str, tuple[float, float]], sel: str, c: float) -> str:
    def where(d: float) -> str:
        return f"{d:.4g}" + (" (the touch)" if abs(d - c) <= 1e-9 * max(1.0, c) else "")

    head = (
        "A risk-neutral dealer at zero inventory quotes where $\\delta\\lambda(\\delta)$ peaks beyond the "
        "typical half-spread (the $\\gamma \\to 0$ limit of the AS and GLFT quotes): "
    )
    d_exp, d_sel = quotes["exponential"][0], quotes[sel][0]
    if sel == "exponential" or abs(d_sel - d_exp) <= 1e-9 * max(1.0, d_exp):
        return (
            head
            + f"at depth {where(d_exp)} with the exponential"
            + ("." if sel == "exponential" else f" and with the {sel} law alike.")
        )
    return (
        head + f"at depth {where(d_exp)} with the exponential, at {where(d_sel)} with the {sel} law "
        f"({d_sel / d_exp:.3g} times as deep)."
    )


def sec_intensity_models(rep: Report, cfg: dict) -> None:
    """III (continued): the intensity laws on the real tapes."""
    root, found = real_tapes(cfg)
    rep.add(
        "### Beyond the exponential: which intensity law real tapes support\n\n"
        "Three laws are fitted to real trades by the same likelihood as above (left truncation at the "
        "quoted half-spread, tick censoring): the exponential $A e^{-k\\delta}$, a power law "
        "$A(1+\\delta/d_0)^{-\\alpha}$ (Bouchaud, Mezard & Potters 2002) and a two-part law (an order that "
        "reached the touch walks past it with probability $p$, then decays as $e^{-k\\delta}$; the rate of "
        "touch-reaching orders varies with the half-spread $c$ as $A e^{-\\beta (c - c_{ref})}$). Each is "
        "fitted on the first 70% of the time and scored by its log-likelihood per order on the rest; the "
        "best held-out law is selected."
    )
    if not found:
        where = "no shared/data folder was found" if root is None else f"none was found under {root}"
        rep.add(f"The real samples are not part of this run ({where}); the comparison is not shown.")
        return
    out: dict[str, Any] = {}
    for src in found:
        name, title = src.key, src.title
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = src.load_trades_and_quotes()
            result = calibrate(data)
            a = analyse(data)
        d = a.to_dict()
        d["tape_validation"] = data.validation
        for wf in d["walk_forward"].values():
            wf.pop("path", None)
        c = a.typical_half_spread
        top = float(np.quantile(a.sample.depths, 0.995))
        quotes = {m: risk_neutral_depth(f, c, max(top, 2 * c)) for m, f in a.choice.fits.items()}
        d["risk_neutral_depth"] = {m: {"depth": q[0], "income_per_s": q[1]} for m, q in quotes.items()}
        out[name] = d
        sel = a.selected
        qtxt = _quote_sentence(quotes, sel, c)
        rep.add(f"**{title}** ({a.sample.n:,} market orders):\n\n" + markdown_models(a) + "\n\n" + qtxt)
        rep.figure(
            plot_calibration(result, a.sample, rep.out / f"calibration_{figure_name(name)}.png", analysis=a),
            f"{title}: the intensity beyond the touch on the likelihood's truncation basis (left, log scale) "
            "and the probability that an order that reached the touch walks x or more past it (right), "
            "empirical with 95% intervals against the three fitted laws; the dashed line marks the typical "
            "half-spread",
            f"where the {sel} law's line follows the points and the exponential's leaves them, the "
            "exponential misprices quotes at those depths",
        )
    rep.metrics["intensity_models"] = out
