"""Sensitivity of the AS strategy to its risk aversion gamma: the mean-std frontier on common paths.

A log grid of gamma on the AS model market; per gamma the mean terminal P&L (with its Monte-Carlo standard
error), its standard deviation, the inventory standard deviation, the fill rate and the mean quoted spread.
Small gamma quotes tight and symmetric (aggressive: more P&L and more risk); large gamma skews the quotes
hard against inventory and widens the spread by (2/gamma) ln(1 + gamma/k) + gamma sigma^2 (T - t)
(AS 2008 eq. 3.18): defensive, less P&L and less risk. The frontier plots mean against std.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from agents import AvellanedaStoikovAgent
from mmenv.outdir import staged
from mmenv.studies.common import write_json
from mmenv.studies.simulation import MODEL_MARKET, market_info, score, simulate
from mmenv.viz.style import label_points, pyplot, save_figure, strategy_color, twin_lines

__all__ = ["ROW_KEYS", "configure_parser", "plot_frontier", "run", "run_sensitivity"]

#: The columns of a row of :func:`run_sensitivity`, in order.
ROW_KEYS = (
    "gamma",
    "mean_pnl",
    "mean_pnl_se",
    "std_pnl",
    "std_pnl_se",
    "inventory_std",
    "fill_rate",
    "mean_spread",
    "mean_abs_skew",
    "skew_per_unit",
    "sharpe",
)


def run_sensitivity(
    gammas: np.ndarray, paths: int, seed: int, market: dict[str, Any] | None = None, progress: bool = False
) -> list[dict[str, Any]]:
    """One row per gamma (common random numbers across gammas)."""
    kw = dict(MODEL_MARKET if market is None else market)
    info = market_info(kw)
    rows = []
    for g in gammas:
        ro = simulate(AvellanedaStoikovAgent(gamma=float(g), k=info["k"], s0=info["s0"]), paths, seed, **kw)
        s = score(ro)
        centre = 0.5 * (ro.bid + ro.ask) - ro.mid[:, :-1]  # r - s for AS (quotes symmetric around r)
        live = np.isfinite(centre)
        rows.append(
            {
                "gamma": float(g),
                "mean_pnl": s["mean_pnl"],
                "mean_pnl_se": s["mean_pnl_se"],
                "std_pnl": s["std_pnl"],
                "std_pnl_se": s["std_pnl_se"],
                "inventory_std": s["inventory_std"],
                "fill_rate": s["fill_rate"],
                "mean_spread": s["mean_spread"],
                "mean_abs_skew": float(np.abs(centre[live]).mean()) if live.any() else float("nan"),
                "skew_per_unit": float(g) * info["sigma"] ** 2 * info["T"],
                "sharpe": s["sharpe"],
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Text table of the rows."""
    head = f"{'gamma':>8} | {'mean P&L':>15} | {'std P&L':>7} | {'inv std':>7} | {'fill rate':>9} | {'spread':>6} | {'Sharpe':>6}"
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(
            f"{r['gamma']:8.4g} | {r['mean_pnl']:7.2f} ± {r['mean_pnl_se']:5.2f} | {r['std_pnl']:7.2f} | "
            f"{r['inventory_std']:7.2f} | {r['fill_rate']:9.3f} | {r['mean_spread']:6.3f} | {r['sharpe']:6.2f}"
        )
    return "\n".join(out)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """GitHub markdown table of the rows."""
    out = [
        "| gamma | mean P&L | std P&L | inventory std | fill rate | mean spread | mean skew abs(r - s) | Sharpe |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['gamma']:.4g} | {r['mean_pnl']:.2f} ± {r['mean_pnl_se']:.2f} | {r['std_pnl']:.2f} | "
            f"{r['inventory_std']:.2f} | {r['fill_rate']:.3f} | {r['mean_spread']:.3f} | "
            f"{r.get('mean_abs_skew', float('nan')):.3f} | {r['sharpe']:.2f} |"
        )
    return "\n".join(out)


def plot_frontier(rows: list[dict[str, Any]], path: Path) -> Path:
    """Left: mean P&L against its std, one point per gamma (labelled, 2 SE bars), aggressive to defensive.

    Right: inventory std (left axis) and mean quoted spread (right axis) against gamma, log scales.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    std = np.array([r["std_pnl"] for r in rows])
    mean = np.array([r["mean_pnl"] for r in rows])
    se = np.array([r["mean_pnl_se"] for r in rows])
    g = np.array([r["gamma"] for r in rows])
    ax = axes[0]
    ax.errorbar(std, mean, yerr=2 * se, fmt="-o", color=strategy_color("as"))
    ax.margins(x=0.15, y=0.12)
    ax.set_xlabel("std of episode P&L (price units)")
    ax.set_ylabel("mean episode P&L (±2 SE)")
    ax.set_title("mean-std frontier of AS (labels: γ)")
    twin_lines(
        axes[1],
        g,
        ([r["inventory_std"] for r in rows], "inventory std (units)", strategy_color("as")),
        ([r["mean_spread"] for r in rows], "mean quoted spread (price units)", "tab:red"),
        logy=True,
        legend_loc="center left",
    )
    axes[1].set_xlabel("risk aversion γ")
    axes[1].set_title("defensive quoting: wider spread, less inventory")
    fig.tight_layout()
    label_points(axes[0], std, mean, [f"{x:.3g}" for x in g], fontsize=8)
    return save_figure(fig, path)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv sensitivity``."""
    parser.add_argument("--paths", type=int, default=1000, help="Monte-Carlo paths per gamma (1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the market paths (0)")
    parser.add_argument("--gamma-min", type=float, default=1e-3, help="smallest gamma (1e-3)")
    parser.add_argument("--gamma-max", type=float, default=10.0, help="largest gamma (10)")
    parser.add_argument("--n-gamma", type=int, default=13, help="points of the log grid (13)")
    parser.add_argument("--out", type=Path, default=Path("out/sensitivity"), help="output directory")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")


def run(args: argparse.Namespace) -> int:
    """Run the grid, print the table, write metrics.json and the frontier figure."""
    if args.paths < 2 or args.n_gamma < 2 or not 0 < args.gamma_min < args.gamma_max:
        raise SystemExit("need --paths >= 2, --n-gamma >= 2 and 0 < --gamma-min < --gamma-max")
    t0 = time.perf_counter()
    gammas = np.geomspace(args.gamma_min, args.gamma_max, args.n_gamma)
    with staged(args.out, getattr(args, "force", False), "sensitivity") as out:
        rows = []
        for g in tqdm(gammas, desc="gamma", leave=False):
            rows += run_sensitivity(np.array([g]), args.paths, args.seed)
        write_json({"rows": rows, "paths": args.paths, "seed": args.seed}, out / "metrics.json")
        if not args.no_plot:
            plot_frontier(rows, out / "sensitivity_frontier.png")
    print(f"gamma sensitivity of AS: {args.paths} paths, seed {args.seed}, {time.perf_counter() - t0:.1f} s")
    print(format_table(rows))
    print(f"\nwrote {args.out / 'metrics.json'}")
    return 0
