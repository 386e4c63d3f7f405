"""The model's weaknesses as experiments: each switch of mmenv.markets.variants against the AS base case.

Scenarios (common random numbers; every scenario keeps the base market's sigma, A and k on average):
stochastic volatility (GARCH(1,1)) with AS fed the constant sigma, the true conditional sigma and the EWMA
estimate; a trending mid; asymmetric arrivals; toxic flow; market impact of our own fills; the information
effect of all trades. For AS, naive, GLFT and the CJP optimum: mean P&L, its std and the adverse selection
(5-step markout of the fills), and their change from the base case.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from mmenv.outdir import staged
from mmenv.studies.common import write_json
from mmenv.studies.simulation import MODEL_MARKET, market_info, score, simulate
from mmenv.studies.strategies import strategies_for
from mmenv.viz.style import pyplot, save_figure, strategy_color

__all__ = ["SCENARIOS", "configure_parser", "run", "run_robustness"]

#: scenario -> (env keyword arguments, description).
SCENARIOS: dict[str, tuple[dict[str, Any], str]] = {
    "base": ({"market": "model"}, "the AS model market"),
    "garch": (
        {"market": "garch", "sigma_estimate": "constant"},
        "GARCH(1,1) volatility, AS uses the constant sigma",
    ),
    "garch_true": (
        {"market": "garch", "sigma_estimate": "true"},
        "GARCH(1,1), AS fed the true conditional sigma",
    ),
    "garch_ewma": ({"market": "garch", "sigma_estimate": "ewma"}, "GARCH(1,1), AS fed the EWMA estimate"),
    "trend": ({"market": "trend", "trend": 4.0}, "drift +-4 per unit time (2 sigma), sign unknown"),
    "asymmetric": ({"market": "asymmetric", "A_bid": 180.0, "A_ask": 100.0}, "A_bid = 180, A_ask = 100"),
    "toxic": ({"market": "toxic", "toxic_share": 0.5}, "50% of the flow informed of the next move"),
    "impact": (
        {"market": "impact", "perm_impact": 0.05, "temp_impact": 0.1, "decay": 20.0},
        "our fills move the mid (permanent 0.05, transient 0.1 per unit)",
    ),
    "information": (
        {"market": "information", "info_share": 0.5},
        "all trades move the mid (50% of variance)",
    ),
}
STRATS = ("as", "naive", "glft", "optimal")
KEYS = (
    "mean_pnl",
    "mean_pnl_se",
    "std_pnl",
    "std_pnl_se",
    "adverse_selection_pnl",
    "inventory_std",
    "n_fills",
)


def run_robustness(
    paths: int, seed: int, scenarios=tuple(SCENARIOS), strategies=STRATS, progress: bool = False
) -> dict[str, dict[str, dict[str, float]]]:
    """metrics[scenario][strategy]: the KEYS, and each effect with its paired standard error.

    Every scenario runs on the same seed, and every draw is addressed by (seed, path, step, purpose)
    (:mod:`mmenv.counter_rng`), so path i of a scenario and path i of the base case share their random
    numbers (the mid shocks and the order flow) and differ only through the broken assumption. Effects are
    therefore paired: for the change against the base case, d_i = P&L_i(scenario) - P&L_i(base), and
    ``d_mean_pnl`` = mean(d), ``d_mean_pnl_se`` = std(d) / sqrt(P); ``corr_with_base`` is the correlation of
    the two P&L samples that makes the paired SE smaller than the unpaired one (``d_mean_pnl_se_unpaired``,
    sqrt(SE_a^2 + SE_b^2)). For AS against the naive strategy in the same scenario (same paths):
    ``as_minus_naive``, ``as_minus_naive_se`` and ``as_naive_corr`` on the "as" entry.
    """
    info = market_info(MODEL_MARKET)
    out: dict[str, dict[str, dict[str, float]]] = {}
    pnl: dict[str, dict[str, np.ndarray]] = {}
    it = scenarios
    if progress:
        it = tqdm(scenarios, desc="scenarios", leave=False)
    for sc in it:
        kw = {**MODEL_MARKET, **SCENARIOS[sc][0]}
        pols = strategies_for(info, names=strategies)
        if "as" in pols and SCENARIOS[sc][0].get("market") == "garch":
            pols["as"].sigma = None  # read sigma from the market's estimate (constant / true / EWMA)
        out[sc], pnl[sc] = {}, {}
        for s, pol in pols.items():
            ro = simulate(pol, paths, seed, **kw)
            r = score(ro)
            out[sc][s] = {k: r[k] for k in KEYS}
            pnl[sc][s] = ro.equity[:, -1] - ro.equity[:, 0]
    base = out.get("base")
    for sc, d in out.items():
        for s, r in d.items():
            if base is not None:
                r["d_mean_pnl"] = r["mean_pnl"] - base[s]["mean_pnl"]
                r["d_std_pnl"] = r["std_pnl"] - base[s]["std_pnl"]
                if sc != "base":
                    eff = paired_effect(pnl[sc][s], pnl["base"][s])
                    r["d_mean_pnl_se"], r["corr_with_base"] = eff["se"], eff["corr"]
                    r["d_mean_pnl_se_unpaired"] = eff["se_unpaired"]
        if "as" in d and "naive" in d:
            eff = paired_effect(pnl[sc]["as"], pnl[sc]["naive"])
            d["as"]["as_minus_naive"], d["as"]["as_minus_naive_se"] = eff["mean"], eff["se"]
            d["as"]["as_naive_corr"] = eff["corr"]
    return out


def paired_effect(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean of a - b over common paths, its paired SE std(a - b) / sqrt(P), the correlation of a and b, and
    the SE the same samples would give unpaired, sqrt(var a / P + var b / P)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(
            f"paired samples must be two 1-D arrays of one length >= 2, got {a.shape}, {b.shape}"
        )
    n = a.size
    d = a - b
    sa, sb = a.std(ddof=1), b.std(ddof=1)
    corr = float(np.corrcoef(a, b)[0, 1]) if sa > 0 and sb > 0 else float("nan")
    return {
        "mean": float(d.mean()),
        "se": float(d.std(ddof=1) / math.sqrt(n)),
        "corr": corr,
        "se_unpaired": float(math.sqrt((sa**2 + sb**2) / n)),
    }


def _effect(r: dict) -> str:
    """``change ± paired SE (corr)`` of a scenario entry ("-" for the base case)."""
    if r.get("d_mean_pnl_se") is None:
        return "-"
    return f"{r['d_mean_pnl']:+.2f} ± {r['d_mean_pnl_se']:.2f} ({r['corr_with_base']:.2f})"


def _as_vs_naive(r: dict) -> str:
    if r.get("as_minus_naive") is None:
        return ""
    return f"{r['as_minus_naive']:+.2f} ± {r['as_minus_naive_se']:.2f} ({r['as_naive_corr']:.2f})"


def format_table(res: dict) -> str:
    """Text table: scenario x strategy; changes against the base case with their paired SE and correlation."""
    head = (
        f"{'scenario':<12} {'strategy':<8} | {'mean P&L':>15} | {'change vs base ± SE (corr)':>27} | "
        f"{'std':>6} | {'d std':>6} | {'adv.sel.':>8} | {'inv std':>7} | {'AS - naive ± SE (corr)':>24}"
    )
    out = [head, "-" * len(head)]
    for sc, d in res.items():
        for s, r in d.items():
            out.append(
                f"{sc:<12} {s:<8} | {r['mean_pnl']:7.2f} ± {r['mean_pnl_se']:5.2f} | {_effect(r):>27} | "
                f"{r['std_pnl']:6.2f} | {r.get('d_std_pnl', 0):6.2f} | {r['adverse_selection_pnl']:8.2f} | "
                f"{r['inventory_std']:7.2f} | {_as_vs_naive(r):>24}"
            )
    return "\n".join(out)


def markdown_table(res: dict) -> str:
    """GitHub markdown table: scenario x strategy."""
    out = [
        "| scenario | strategy | mean P&L | change vs base ± paired SE (corr.) | std P&L | change vs base | "
        "adverse sel. | inventory std | AS - naive ± paired SE (corr.) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sc, d in res.items():
        for s, r in d.items():
            out.append(
                f"| {sc} | {s} | {r['mean_pnl']:.2f} ± {r['mean_pnl_se']:.2f} | {_effect(r)} | "
                f"{r['std_pnl']:.2f} | {r.get('d_std_pnl', 0):+.2f} | {r['adverse_selection_pnl']:.2f} | "
                f"{r['inventory_std']:.2f} | {_as_vs_naive(r)} |"
            )
    return "\n".join(out)


def _diff_se(res: dict, sc: str, s: str, key: str) -> float:
    """SE of ``key`` (variant minus base): the study's paired ``d_<key>_se`` when present, else unpaired."""
    r, b = res[sc][s], res["base"][s]
    if r.get(f"d_{key}_se") is not None:
        return float(r[f"d_{key}_se"])
    return float(np.hypot(r.get(f"{key}_se", 0.0), b.get(f"{key}_se", 0.0)))


def plot_robustness(res: dict, path: Path) -> Path:
    """Change of the mean P&L (top) and of the P&L std (bottom) against the base case, per scenario and
    strategy: variant minus base with ±2 SE bars (paired SEs when the study provides them)."""
    plt = pyplot()
    scen = [c for c in res if c != "base"]
    strats = list(next(iter(res.values())))
    x = np.arange(len(scen))
    w = 0.8 / len(strats)
    fig, axes = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    for i, s in enumerate(strats):
        off = x + (i - (len(strats) - 1) / 2) * w
        for ax, key in zip(axes, ("mean_pnl", "std_pnl"), strict=True):
            d = [res[c][s][key] - res["base"][s][key] for c in scen]
            err = [2 * _diff_se(res, c, s, key) for c in scen]
            ax.bar(off, d, w, yerr=err, label=s, color=strategy_color(s), error_kw={"lw": 0.9})
    for ax in axes:
        ax.axhline(0.0, color="k", lw=0.7)
    axes[0].set_ylabel("Δ mean P&L vs base (±2 SE)")
    axes[1].set_ylabel("Δ std of P&L vs base (±2 SE)")
    axes[1].set_xticks(x, scen, rotation=20)
    axes[0].legend(ncol=len(strats), loc="lower left", bbox_to_anchor=(0.0, 1.02), frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv robustness``."""
    parser.add_argument("--paths", type=int, default=1000, help="Monte-Carlo paths per run (1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the market paths (0)")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=list(SCENARIOS),
        choices=list(SCENARIOS),
        help="model assumptions to switch off, one run each (default: all)",
    )
    parser.add_argument("--out", type=Path, default=Path("out/robustness"), help="output directory")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")


def run(args: argparse.Namespace) -> int:
    """Run every scenario, print the table, write metrics.json and the figure."""
    if args.paths < 2:
        raise SystemExit(f"--paths must be >= 2, got {args.paths}")
    scen = list(dict.fromkeys(["base", *args.scenarios]))
    t0 = time.perf_counter()
    with staged(args.out, getattr(args, "force", False), "robustness") as out:
        res = run_robustness(args.paths, args.seed, scen, progress=True)
        write_json(
            {
                "scenarios": {s: SCENARIOS[s][1] for s in scen},
                "metrics": res,
                "paths": args.paths,
                "seed": args.seed,
            },
            out / "metrics.json",
        )
        if not args.no_plot:
            plot_robustness(res, out / "robustness.png")
    print(f"Robustness: {args.paths} paths, seed {args.seed}, {time.perf_counter() - t0:.1f} s")
    for s in scen:
        print(f"  {s}: {SCENARIOS[s][1]}")
    print(format_table(res))
    print(f"\nwrote {args.out / 'metrics.json'}")
    return 0
