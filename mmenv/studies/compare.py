"""Strategy comparison: AS, symmetric, naive, passive, trend, GLFT and the CJP optimum on common market paths.

Every strategy runs on the same market paths (common random numbers: one seed, draws independent of the
policy) on up to three markets: the Avellaneda-Stoikov model market, the synthetic tick market (ticks
synthesized from the embedded synthetic 1-minute bars) and bars from ``--ticker`` / ``--bars-csv``. The
strategies' parameters come from the market (A, k, sigma, T, dt) with one dimensionless risk aversion
gamma k sigma^2 T (``--risk``; 0.6 is gamma = 0.1 in the AS paper's market), so the comparison is fair
across price scales (:func:`mmenv.studies.strategies.strategies_for`). Scores:
:func:`mmenv.studies.simulation.score` (mmenv.analytics plus the attribution).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from agents.ppo import PPOAgent
from mmenv.outdir import staged
from mmenv.studies import sources
from mmenv.studies.common import fmt_pm, write_json
from mmenv.studies.simulation import (
    MODEL_MARKET,
    TICK_MARKET,
    bars_for_tick_market,
    market_info,
    score,
    simulate,
)
from mmenv.studies.strategies import COMPARE_STRATEGIES, strategies_for
from mmenv.viz.style import label_points, pyplot, save_figure, strategy_color

__all__ = [
    "build_markets",
    "configure_parser",
    "describe_reduction",
    "format_table",
    "inventory_variance_reduction",
    "markdown_table",
    "plot_compare",
    "reduction",
    "run",
    "run_compare",
]


def build_markets(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Market name -> env keyword arguments, from the CLI arguments."""
    markets: dict[str, dict[str, Any]] = {"model": dict(MODEL_MARKET)}
    if not getattr(args, "no_ticks", False):
        markets["synthetic_ticks"] = {**TICK_MARKET, "synthetic_days": getattr(args, "days", 5)}
    bars = bars_for_tick_market(sources.load_bars(args))
    if bars is not None:
        markets["bars"] = {**TICK_MARKET, "bars": bars}
    return markets


def run_compare(
    markets: dict[str, dict[str, Any]],
    paths: int,
    seed: int,
    risk: float = 0.6,
    ppo: str | None = None,
    progress: bool = False,
    names=COMPARE_STRATEGIES,
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, dict[str, np.ndarray]], dict[str, dict]]:
    """Score every strategy on every market with common random numbers.

    Returns:
        (metrics, pnl, infos): metrics[market][strategy] (dict of floats), the per-path P&L samples, and
        each market's parameters as the strategies see them. ``progress``: one tqdm bar over the
        (market, strategy) runs, the current one in its postfix.
    """
    metrics: dict[str, dict[str, dict[str, Any]]] = {}
    pnl: dict[str, dict[str, np.ndarray]] = {}
    infos: dict[str, dict] = {}
    bar = None
    if progress:  # one bar for the whole command: a step per (market, strategy), named in the postfix
        bar = tqdm(total=0, desc="compare", unit="run")
    for mname, kw in markets.items():
        info = market_info(kw)
        infos[mname] = info
        naive_depth = 0.01 if kw.get("market") == "ticks" else None  # one cent on bar data
        pols = strategies_for(info, risk, naive_depth, names)
        if ppo is not None and mname == "model":
            pols["ppo"] = PPOAgent(ppo, s0=info["s0"])
        metrics[mname], pnl[mname] = {}, {}
        inv: dict[str, np.ndarray] = {}
        if bar is not None:
            bar.total += len(pols)
            bar.refresh()
        for sname, pol in pols.items():
            if bar is not None:
                bar.set_postfix_str(f"{mname}: {sname}")
            ro = simulate(pol, paths, seed, **kw)
            if bar is not None:
                bar.update(1)
            metrics[mname][sname] = score(ro)
            pnl[mname][sname] = ro.equity[:, -1] - ro.equity[:, 0]
            if sname in ("as", "naive"):
                inv[sname] = ro.inventory
        m = metrics[mname]
        if "as" in m and "naive" in m:
            m["_summary"] = {"undefined": {}}
            for name, key in (
                ("inventory_variance_reduction_as_vs_naive", "inventory_var"),
                ("pnl_std_reduction_as_vs_naive", "std_pnl"),
            ):
                value, why = reduction(m["as"], m["naive"], key)
                m["_summary"][name] = value
                if why is not None:
                    m["_summary"]["undefined"][name] = why
            iv = inventory_variance_reduction(inv["as"], inv["naive"], seed=seed)
            why = m["_summary"]["undefined"].get("inventory_variance_reduction_as_vs_naive")
            if why is not None:  # no finding: a ratio with an empty or zero base
                for d in iv.values():
                    d.update(reduction=float("nan"), se=float("nan"), undefined=why)
            m["_summary"]["inventory_variance"] = iv
    if bar is not None:
        bar.close()
    return metrics, pnl, infos


def reduction(new: dict[str, Any], base: dict[str, Any], key: str) -> tuple[float, str | None]:
    """``1 - new[key] / base[key]`` (the share of ``base``'s risk measure that ``new`` removes).

    Undefined (NaN and the reason) when it would not be a finding: either strategy made no fill (its
    inventory never moved, so its risk is zero by abstention), or the base is zero or not finite.
    """
    for who, m in (("AS", new), ("naive", base)):
        if not m.get("n_fills", 1) > 0:
            return float("nan"), f"undefined: {who} made no fills"
    b, a = float(base[key]), float(new[key])
    if not (math.isfinite(b) and b > 0 and math.isfinite(a)):
        return float("nan"), f"undefined: {key} of naive is {b:g} (no base to compare with)"
    return 1.0 - a / b, None


def describe_reduction(
    summary: dict[str, Any], name: str = "inventory_variance_reduction_as_vs_naive"
) -> str:
    """'AS reduces it by 93.8% against naive', '... increases it by ...', or why the ratio is undefined."""
    why = summary.get("undefined", {}).get(name)
    value = summary.get(name, float("nan"))
    if why is not None or value is None or not math.isfinite(value):
        return why or "undefined"
    return f"AS {'reduces' if value > 0 else 'increases'} it by {abs(value):.1%} against naive"


def _inventory_variances(m1: np.ndarray, m2: np.ndarray, qt: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(pooled, terminal, within) variances from per-path features; leading axes are bootstrap draws."""
    pooled = m2.mean(-1) - m1.mean(-1) ** 2
    n = qt.shape[-1]
    terminal = (qt**2).mean(-1) * n / (n - 1) - qt.mean(-1) ** 2 * n / (n - 1)
    return np.stack([pooled, terminal, w.mean(-1)])


def inventory_variance_reduction(
    inv_a: np.ndarray, inv_b: np.ndarray, n_boot: int = 400, seed: int = 0
) -> dict[str, dict[str, float]]:
    """How much strategy a cuts the inventory variance of strategy b, under three definitions, with SEs.

    Definitions (q: (P, S + 1) inventory paths, the same market paths for a and b):
    ``pooled``: variance of q over all paths and times (``inventory_std ** 2`` of :func:`score`);
    ``terminal``: variance of the terminal inventory q_T across paths (ddof 1);
    ``within``: variance of q over time within each path, averaged over paths.
    Each gives ``{"a", "b", "reduction" = 1 - a / b, "se"}``; the SE is the std of the reduction over
    ``n_boot`` paired bootstrap resamples of the paths (fixed ``seed``: the same numbers every run).
    """
    if inv_a.shape != inv_b.shape or inv_a.ndim != 2 or inv_a.shape[0] < 2:
        raise ValueError(
            f"inventory arrays must share a (P >= 2, S + 1) shape, got {inv_a.shape}, {inv_b.shape}"
        )

    def feats(q: np.ndarray) -> tuple[np.ndarray, ...]:
        return q.mean(1), (q**2).mean(1), q[:, -1].astype(np.float64), q.var(axis=1)

    fa, fb = feats(inv_a), feats(inv_b)
    va, vb = _inventory_variances(*fa), _inventory_variances(*fb)
    idx = np.random.default_rng(seed).integers(0, inv_a.shape[0], size=(n_boot, inv_a.shape[0]))
    ba = _inventory_variances(*(f[idx] for f in fa))
    bb = _inventory_variances(*(f[idx] for f in fb))
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = 1.0 - ba / bb
    out = {}
    for i, name in enumerate(("pooled", "terminal", "within")):
        out[name] = {
            "as": float(va[i]),
            "naive": float(vb[i]),
            "reduction": float(1.0 - va[i] / vb[i]) if vb[i] > 0 else float("nan"),
            "se": float(np.nanstd(boot[i], ddof=1)),
        }
    return out


COLUMNS = (
    ("mean P&L", "mean_pnl", "mean_pnl_se"),
    ("std P&L", "std_pnl", "std_pnl_se"),
)


#: What the columns of :func:`format_table` hold, printed under it.
TABLE_UNITS = (
    "per episode, mean over paths: P&L, max DD, spread, inventory and markout in price units, inv var in "
    "units^2, fills a count; markout: P&L of the fills marked to the mid 5 steps later (negative = adverse "
    "selection, a cost)"
)


def format_table(metrics: dict[str, dict[str, Any]]) -> str:
    """Text table of one market's strategies (units in :data:`TABLE_UNITS`)."""
    head = (
        f"{'strategy':<10} | {'mean P&L':>15} | {'std P&L':>15} | {'Sharpe':>6} | {'max DD':>7} | "
        f"{'inv var':>8} | {'spread':>8} | {'inventory':>9} | {'markout':>8} | {'fills':>6}"
    )
    lines = [head, "-" * len(head)]
    for s, r in metrics.items():
        if s.startswith("_"):
            continue
        lines.append(
            f"{s:<10} | {fmt_pm(r['mean_pnl'], r['mean_pnl_se'])} | {fmt_pm(r['std_pnl'], r['std_pnl_se'])} | "
            f"{r['sharpe']:6.2f} | {r['max_drawdown']:7.2f} | {r['inventory_var']:8.2f} | "
            f"{r['spread_pnl']:8.2f} | {r['inventory_pnl']:9.2f} | {r['adverse_selection_pnl']:8.2f} | "
            f"{r['n_fills']:6.1f}"
        )
    return "\n".join(lines)


def markdown_table(metrics: dict[str, dict[str, Any]]) -> str:
    """GitHub markdown table of one market's strategies."""
    lines = [
        "| strategy | mean P&L | std P&L | Sharpe | max drawdown | inventory var | spread P&L | inventory P&L "
        "| adverse sel. (5 steps) | fills |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s, r in metrics.items():
        if s.startswith("_"):
            continue
        lines.append(
            f"| {s} | {r['mean_pnl']:.3f} ± {r['mean_pnl_se']:.3f} | {r['std_pnl']:.3f} ± {r['std_pnl_se']:.3f} "
            f"| {r['sharpe']:.2f} | {r['max_drawdown']:.3f} | {r['inventory_var']:.2f} | {r['spread_pnl']:.3f} "
            f"| {r['inventory_pnl']:.3f} | {r['adverse_selection_pnl']:.3f} | {r['n_fills']:.1f} |"
        )
    return "\n".join(lines)


def plot_compare(metrics: dict, pnl: dict, out: Path) -> list[Path]:
    """Per market: mean P&L with 2 SE bars against P&L std (the risk-return plane), and P&L histograms."""
    plt = pyplot()
    files = []
    nm = len(pnl)
    fig, axes = plt.subplots(1, nm, figsize=(5.0 * nm, 4.0), squeeze=False)
    for ax, (mname, d) in zip(axes[0], metrics.items(), strict=True):
        names = [s for s in d if not s.startswith("_")]
        xs = [d[s]["std_pnl"] for s in names]
        ys = [d[s]["mean_pnl"] for s in names]
        for s in names:
            r = d[s]
            ax.errorbar(
                r["std_pnl"], r["mean_pnl"], yerr=2 * r["mean_pnl_se"], fmt="o", color=strategy_color(s)
            )
        ax.margins(x=0.25, y=0.2)
        ax.set_xlabel("std of episode P&L (price units)")
        ax.set_ylabel("mean episode P&L (±2 SE)")
        ax.set_title(mname.replace("_", " "))
        fig.tight_layout()
        label_points(ax, xs, ys, names, fontsize=8)
    fig.tight_layout()
    files.append(save_figure(fig, out / "compare_risk_return.png"))
    fig, axes = plt.subplots(1, nm, figsize=(5.0 * nm, 3.6), squeeze=False)
    for ax, (mname, d) in zip(axes[0], pnl.items(), strict=True):
        lo = np.percentile(np.concatenate(list(d.values())), 0.5)
        hi = np.percentile(np.concatenate(list(d.values())), 99.5)
        bins = np.linspace(lo, hi, 50)
        for s in ("as", "naive", "optimal", "glft"):
            if s in d:
                ax.hist(d[s], bins=bins, histtype="step", label=s, color=strategy_color(s), lw=1.4)
        ax.set_title(mname.replace("_", " "))
        ax.set_xlabel("episode P&L (price units)")
        ax.set_ylabel("paths")
    axes[0][0].legend()
    fig.tight_layout()
    files.append(save_figure(fig, out / "compare_pnl_hist.png"))
    return files


def add_market_args(parser: argparse.ArgumentParser) -> None:
    """--ticker / --bars-csv / --offline (:mod:`mmenv.studies.sources`), --no-ticks, --days."""
    sources.add_bars_arguments(parser, "also run on them (a tick market)")
    parser.add_argument("--no-ticks", action="store_true", help="skip the synthetic tick market")
    parser.add_argument(
        "--days", type=int, default=5, help="sessions of synthetic bars for the tick market (5)"
    )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv compare``."""
    parser.add_argument("--paths", type=int, default=1000, help="Monte-Carlo paths per strategy (1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the market paths (0)")
    parser.add_argument(
        "--risk", type=float, default=0.6, help="dimensionless risk aversion gamma k sigma^2 T"
    )
    parser.add_argument("--ppo", default=None, help="path of a trained PPO model (agents.ppo.PPOAgent)")
    parser.add_argument("--out", type=Path, default=Path("out/compare"), help="output directory")
    parser.add_argument("--no-plot", action="store_true", help="skip the figures")
    add_market_args(parser)


def run(args: argparse.Namespace) -> int:
    """Run the comparison, print the tables, write metrics.json and the figures."""
    if args.paths < 2:
        raise SystemExit(f"--paths must be >= 2, got {args.paths}")
    t0 = time.perf_counter()
    with staged(args.out, getattr(args, "force", False), "compare") as out:
        markets = build_markets(args)
        metrics, pnl, infos = run_compare(markets, args.paths, args.seed, args.risk, args.ppo, progress=True)
        data = {"markets": infos, "metrics": metrics, "paths": args.paths, "seed": args.seed}
        if "bars" in markets and "validation" in markets["bars"]["bars"].attrs:
            data["bars_validation"] = markets["bars"]["bars"].attrs["validation"]
        write_json(data, out / "metrics.json")
        if not args.no_plot:
            plot_compare(metrics, pnl, out)
    print(f"Strategy comparison: {args.paths} paths, seed {args.seed}, {time.perf_counter() - t0:.1f} s")
    for mname, m in metrics.items():
        i = infos[mname]
        print(
            f"\n[{mname}] A={i['A']:.4g} k={i['k']:.4g} sigma={i['sigma']:.4g} T={i['T']:.4g} dt={i['dt']:.4g} "
            f"(mean ± SE over paths; P&L in price units)"
        )
        print(format_table(m))
        print(TABLE_UNITS)
        if "_summary" in m:
            print(f"inventory variance: {describe_reduction(m['_summary'])}")
    print(f"\nwrote {args.out / 'metrics.json'}")
    return 0
