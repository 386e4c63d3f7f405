"""Report part (section III): the intensity laws on the real samples, chosen out of sample.

On each real sample found (LOBSTER AMZN and Binance BTCUSDT, in ``cfg["shared_data"]`` or the shared-data
folder that the real-data backtest uses), :func:`mmenv.calibration.intensity.summary.analyse` fits the exponential of record,
the power law and the two-part law by the same truncated, tick-censored likelihood, chooses one out of
sample and measures the exponential's error at the depths that matter; the part prints the model table,
the computed sentences, the risk-neutral quoting depth of each law and the figure, and stores the numbers
under ``rep.metrics["intensity_models"]``. Absent samples are said so, not hidden.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mmenv.studies.report import Report

__all__ = ["SAMPLES", "find_samples", "risk_neutral_depth", "sec_intensity_models"]

#: name -> (title, loader, files relative to the samples folder)
SAMPLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "lobster": (
        "LOBSTER AMZN, 21 June 2012 (full trading day)",
        "load_lobster",
        (
            "lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv",
            "lobster/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv",
        ),
    ),
    "binance": (
        "Binance USD-M BTCUSDT, 8 August 2024 23:54-24:00",
        "load_trades_bbo",
        (
            "binance/usdm_btcusdt_2024-08-08T2354_to_2400_trades.csv",
            "binance/usdm_btcusdt_2024-08-08T2354_to_2400_bbo.csv",
        ),
    ),
}


def find_samples(root: str | Path | None = None) -> tuple[Path | None, dict[str, tuple[Path, ...]]]:
    """(folder, {name: files}) of the real samples present under ``root`` (default: the shared-data
    folder of :func:`mmenv.studies.replay.shared_data_dir`)."""
    if root is None:
        from mmenv.studies.replay import shared_data_dir

        root = shared_data_dir()
    if root is None:
        return None, {}
    root = Path(root)
    found = {}
    for name, (_, _, files) in SAMPLES.items():
        paths = tuple(root / f for f in files)
        if all(p.is_file() for p in paths):
            found[name] = paths
    return root, found


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
    """III (continued): the intensity laws on the real samples."""
    from mmenv.calibration import calibrate
    from mmenv.calibration import trades as tl
    from mmenv.calibration.intensity.summary import analyse, markdown_models
    from mmenv.calibration.report import plot_calibration

    root, found = find_samples(cfg.get("shared_data"))
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
    for name, paths in found.items():
        title, loader, _ = SAMPLES[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = tl.load_trades_and_quotes(name, *paths)
            result = calibrate(data)
            a = analyse(data)
        d = a.to_dict()
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
            plot_calibration(result, a.sample, rep.out / f"calibration_{name}.png", analysis=a),
            f"{title}: the intensity beyond the touch on the likelihood's truncation basis (left, log scale) "
            "and the probability that an order that reached the touch walks x or more past it (right), "
            "empirical with 95% intervals against the three fitted laws; the dashed line marks the typical "
            "half-spread",
            f"where the {sel} law's line follows the points and the exponential's leaves them, the "
            "exponential misprices quotes at those depths",
        )
    rep.metrics["intensity_models"] = out
