"""Report sections VII and VIII: the P&L attribution and risk of every strategy, and each assumption of the
AS model switched off (the model's weaknesses, measured)."""

from __future__ import annotations

import math

import numpy as np

from mmenv.studies.report.document import Report
from mmenv.studies.robustness import SCENARIOS, markdown_table, plot_robustness, run_robustness
from mmenv.viz.style import pyplot, save_figure, strategy_color

__all__ = ["sec_attribution", "sec_weaknesses"]


def sec_attribution(rep: Report, cfg: dict) -> None:
    """VII: attribution and risk, from the comparison on the model market (section IX)."""
    cmp = rep.metrics.get("compare", {}).get("metrics", {}).get("model")
    if cmp is None:
        raise RuntimeError("the strategy comparison (section IX) did not run, and this section reads it")
    strat = {s: r for s, r in cmp.items() if not s.startswith("_")}
    lines = [
        "| strategy | P&L | = spread | + inventory | − fees | adverse sel. (5 steps) | max drawdown | Sharpe |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s, r in strat.items():
        lines.append(
            f"| {s} | {r['mean_pnl']:.2f} | {r['spread_pnl']:.2f} | {r['inventory_pnl']:.2f} | {r['fees']:.2f} | "
            f"{r['adverse_selection_pnl']:.2f} | {r['max_drawdown']:.2f} | {r['sharpe']:.2f} |"
        )
    rep.add(
        "P&L attribution on the model market (per episode, mean over paths; spread + inventory − fees = P&L "
        "exactly). Adverse selection is the markout of the fills 5 steps after the quote; in the AS model it "
        "is zero up to noise because the flow is uninformed. Sharpe: mean / std of the episode P&L, not "
        "annualised.\n\n" + "\n".join(lines)
    )
    rep.figure(
        _plot_attribution(strat, rep.out / "attribution.png"),
        "Mean P&L per episode split into spread capture and inventory P&L, per strategy, with the maximum "
        "drawdown beside it (model market)",
        f"spread capture makes {_share(strat):.0%} or more of every strategy's mean P&L here; the inventory "
        f"P&L averages between {min(r['inventory_pnl'] for r in strat.values()):+.2f} and "
        f"{max(r['inventory_pnl'] for r in strat.values()):+.2f}; the strategies differ in the risk they run "
        f"for it: max drawdown from {min(r['max_drawdown'] for r in strat.values()):.2f} "
        f"({min(strat, key=lambda s: strat[s]['max_drawdown'])}) to "
        f"{max(r['max_drawdown'] for r in strat.values()):.2f} ({max(strat, key=lambda s: strat[s]['max_drawdown'])})",
    )


def _share(strat: dict[str, dict]) -> float:
    """Smallest ratio of spread capture to total mean P&L over the strategies with a positive P&L."""
    ratios = [r["spread_pnl"] / r["mean_pnl"] for r in strat.values() if r["mean_pnl"] > 0]
    return min(ratios) if ratios else float("nan")


def _plot_attribution(strat: dict[str, dict], path):
    plt = pyplot()
    names = list(strat)
    x = np.arange(len(names))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.6), gridspec_kw={"width_ratios": [2, 1]})
    sp = np.array([strat[s]["spread_pnl"] for s in names])
    inv = np.array([strat[s]["inventory_pnl"] for s in names])
    fees = np.array([strat[s]["fees"] for s in names])
    ax1.bar(x, sp, 0.6, color="tab:green", alpha=0.75, label="spread capture")
    ax1.bar(x, inv, 0.6, bottom=np.where(inv < 0, 0, sp), color="tab:blue", alpha=0.75, label="inventory P&L")
    if np.any(fees):
        ax1.bar(x, -fees, 0.6, color="tab:red", alpha=0.75, label="− fees")
    ax1.plot(x, [strat[s]["mean_pnl"] for s in names], "k_", ms=18, mew=2, label="total P&L")
    ax1.set_xticks(x, names, rotation=20)
    ax1.set_ylabel("P&L per episode (price units)")
    ax1.axhline(0, color="k", lw=0.6)
    ax1.legend(ncol=4, loc="lower left", bbox_to_anchor=(0.0, 1.02), frameon=False)
    ax2.bar(x, [strat[s]["max_drawdown"] for s in names], 0.6, color=[strategy_color(s) for s in names])
    ax2.set_xticks(x, names, rotation=20)
    ax2.set_ylabel("max drawdown (price units)")
    fig.tight_layout()
    return save_figure(fig, path)


def sec_weaknesses(rep: Report, cfg: dict) -> None:
    """VIII: each assumption of the AS model switched off, the change against the base case."""
    res = run_robustness(cfg["paths"], cfg["seed"], progress=False)
    rep.metrics["robustness"] = res
    rep.metrics["robustness_scenarios"] = {s: SCENARIOS[s][1] for s in res}
    desc = "\n".join(f"- **{s}**: {SCENARIOS[s][1]}" for s in res)
    ranked = sorted((sc for sc in res if sc != "base"), key=lambda sc: res[sc]["as"]["d_mean_pnl"])
    worst = ranked[0]
    w = res[worst]["as"]
    rep.add(
        "Each assumption of the AS model switched off one at a time (`mmenv.markets.variants`), same seeds:\n\n"
        + desc
        + "\n\n"
        + markdown_table(res)
        + f"\n\nThe largest loss of AS in this run comes from **{worst}** ({w['d_mean_pnl']:+.2f} "
        f"± {_d_se(res, worst, 'as'):.2f} per episode against the base case; adverse selection "
        f"{w['adverse_selection_pnl']:.2f}), then **{ranked[1]}** ({res[ranked[1]]['as']['d_mean_pnl']:+.2f}). "
        "Informed flow and trade-driven prices show up as negative adverse selection, which no inventory skew "
        "removes: the loss is in the fills themselves, not in the inventory they leave."
    )
    rep.figure(
        plot_robustness(res, rep.out / "robustness.png"),
        "Change of the mean episode P&L (top) and of its std (bottom) against the base model market, per "
        "scenario and strategy (variant minus base, ±2 SE)",
        _robustness_reading(res),
    )


def _robustness_reading(res: dict) -> str:
    """Which scenarios cost every strategy alike (mean) and which mostly widen one strategy's risk (std)."""
    scen = [sc for sc in res if sc != "base"]
    worst = sorted(scen, key=lambda sc: min(r["d_mean_pnl"] for r in res[sc].values()))[:3]
    means = "; ".join(
        f"{sc} {min(r['d_mean_pnl'] for r in res[sc].values()):+.2f} to "
        f"{max(r['d_mean_pnl'] for r in res[sc].values()):+.2f}"
        for sc in worst
    )
    widest = max(scen, key=lambda sc: max(r["d_std_pnl"] for r in res[sc].values()))
    who = max(res[widest], key=lambda s: res[widest][s]["d_std_pnl"])
    return (
        f"bars below zero on top are losses caused by the broken assumption; the three costliest scenarios "
        f"change the mean by (range over strategies) {means}; the largest rise in risk is {who}'s under "
        f"{widest} ({res[widest][who]['d_std_pnl']:+.2f} in std)"
    )


def _d_se(res: dict, sc: str, strat: str) -> float:
    """SE of the change of mean P&L against base: the paired one when the study gives it, else unpaired."""
    r, b = res[sc][strat], res["base"][strat]
    if r.get("d_mean_pnl_se") is not None:
        return float(r["d_mean_pnl_se"])
    return math.hypot(r["mean_pnl_se"], b["mean_pnl_se"])
