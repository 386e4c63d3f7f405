"""Report section IX: every strategy on the model market and the synthetic tick market (and bars when given)."""

from __future__ import annotations

import math

from mmenv.studies.compare import markdown_table, plot_compare, run_compare
from mmenv.studies.report.document import Report
from mmenv.studies.report.inputs import RISK
from mmenv.studies.simulation import MODEL_MARKET, TICK_MARKET

__all__ = ["sec_compare"]


def sec_compare(rep: Report, cfg: dict) -> None:
    """IX: every strategy on the model market and the synthetic tick market (and bars when given)."""
    markets = {"model": dict(MODEL_MARKET), "synthetic_ticks": {**TICK_MARKET, "synthetic_days": cfg["days"]}}
    if cfg["bars"] is not None:
        markets["bars"] = {**TICK_MARKET, "bars": cfg["bars"]}
    metrics, pnl, infos = run_compare(markets, cfg["paths"], cfg["seed"], RISK, ppo=cfg.get("ppo"))
    rep.metrics["compare"] = {"metrics": metrics, "markets": infos}
    titles = {"model": "The AS model market", "synthetic_ticks": "The synthetic tick market", "bars": "Bars"}
    for m, d in metrics.items():
        i = infos[m]
        rep.add(
            f"### {titles.get(m, m)} (A = {i['A']:.4g}, k = {i['k']:.4g}, σ = {i['sigma']:.4g}, T = {i['T']:.4g}, "
            f"dt = {i['dt']:.4g})\n\n" + markdown_table(d)
        )
        summ = d.get("_summary", {})
        if "inventory_variance" in summ:
            rep.add(_variance_table(summ["inventory_variance"]))
        if m != "model" and "as" in d:
            move = i["sigma"] * math.sqrt(i["dt"] * 2.0 / math.pi)
            rep.add(
                f"Here the env decides once per interval dt = {i['dt']:.4g} (time unit of the market): quotes "
                f"rest while the mid moves by E|Δs| = σ√(2dt/π) = {move:.3g} per interval, against a mean "
                f"trade depth 1/k = {1.0 / i['k']:.3g}. Resting quotes are picked off: AS's adverse selection "
                f"is {d['as']['adverse_selection_pnl']:.2f} per episode against a spread capture of "
                f"{d['as']['spread_pnl']:.2f}. Repricing on every quote update (section VI, latency 0) is what "
                "makes market making pay on this stream."
            )
    files = plot_compare(metrics, pnl, rep.out)
    captions = {
        "compare_risk_return": (
            "Mean against std of the episode P&L per strategy and market (±2 SE bars)",
            "up and to the left is better; " + _risk_return_reading(metrics),
        ),
        "compare_pnl_hist": (
            "Distribution of the episode P&L of AS, naive, GLFT and the optimum per market",
            _hist_reading(metrics),
        ),
    }
    for f in files:
        shows, read = captions.get(f.stem, (f.stem.replace("_", " "), "see the tables above"))
        rep.figure(f, shows, read)


def _risk_return_reading(metrics: dict) -> str:
    """Where AS and naive sit in each market's risk-return plane, and the best mean per market."""
    parts = []
    for m, d in metrics.items():
        strat = {s: r for s, r in d.items() if not s.startswith("_")}
        best = max(strat, key=lambda s: strat[s]["mean_pnl"])
        text = f"{m.replace('_', ' ')}: best mean {strat[best]['mean_pnl']:.2f} ({best})"
        if "as" in strat and "naive" in strat:
            a, n = strat["as"], strat["naive"]
            text += f", AS at std {a['std_pnl']:.2f} against naive's {n['std_pnl']:.2f}"
        parts.append(text)
    return "; ".join(parts)


def _hist_reading(metrics: dict) -> str:
    """The width of each shown strategy's P&L distribution (interquantile range is not stored: the std)."""
    parts = []
    for m, d in metrics.items():
        widths = ", ".join(f"{s} {d[s]['std_pnl']:.2f}" for s in ("as", "glft", "optimal", "naive") if s in d)
        parts.append(f"{m.replace('_', ' ')}: std {widths}")
    return "the narrower a histogram, the less the episode P&L depends on where the price went; " + "; ".join(
        parts
    )


def _variance_table(v: dict[str, dict]) -> str:
    labels = {
        "pooled": "pooled over paths and times (headline)",
        "terminal": "terminal inventory $q_T$ across paths",
        "within": "within paths (variance over time, averaged over paths)",
    }
    lines = ["| inventory variance | AS | naive | cut by AS |", "|---|---|---|---|"]
    for key, label in labels.items():
        if key in v:
            r = v[key]
            ok = all(x is not None and math.isfinite(x) for x in (r["reduction"], r["se"]))
            cut = (
                f"{r['reduction']:.1%} ± {r['se']:.1%}"
                if ok
                else r.get("undefined", "undefined: naive's variance is zero")
            )
            lines.append(f"| {label} | {r['as']:.3g} | {r['naive']:.3g} | {cut} |")
    return (
        "How much AS cuts the inventory variance against the naive strategy, under three definitions (± a "
        "bootstrap SE over paths; the same paths for both):\n\n" + "\n".join(lines)
    )
