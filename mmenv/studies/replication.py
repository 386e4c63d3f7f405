"""Replication of Avellaneda & Stoikov (2008), section 4: inventory strategy vs symmetric strategy.

The paper's simulation: s0 = 100, T = 1, sigma = 2, dt = 0.005, q0 = 0, A = 140, k = 1.5, the mid on a
binomial tree s +- sigma sqrt(dt), fills with probability lambda(delta) dt = A exp(-k delta) dt, no inventory
limit, 1000 paths, gamma in {0.1, 0.01, 0.5} (Tables 1-3). The inventory strategy quotes around the
reservation price (eq. 3.17) with the optimal spread (eq. 3.18); the symmetric strategy quotes the same
spread centred on the mid. Both strategies see the same market paths (common random numbers).

Two further runs explain the known differences with the published tables (printed as diagnostics):
* the paper's "spread" column equals the liquidity term (2/gamma) ln(1 + gamma/k) alone, while eq. (3.18)
  adds gamma sigma^2 (T - t), on average gamma sigma^2 T / 2: we report the spread actually quoted and the
  liquidity term side by side;
* the symmetric strategy re-run with the liquidity-term spread only (the spread the tables print) shows how
  much of the profit gap comes from the spread definition.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.outdir import staged
from mmenv.studies.common import write_json
from mmenv.viz.style import pyplot, save_figure, strategy_color

__all__ = ["PAPER_TABLES", "configure_parser", "run", "run_replication"]

#: Published values, AS 2008 Tables 1-3: (spread, profit, std(profit), final q, std(final q)).
PAPER_TABLES: dict[float, dict[str, tuple[float, float, float, float, float]]] = {
    0.1: {
        "inventory": (1.29, 62.94, 5.89, 0.10, 2.80),
        "symmetric": (1.29, 67.21, 13.43, -0.018, 8.66),
    },
    0.01: {
        "inventory": (1.33, 66.78, 8.76, -0.02, 4.70),
        "symmetric": (1.33, 67.36, 13.40, -0.31, 8.65),
    },
    0.5: {
        "inventory": (1.15, 33.92, 4.72, -0.02, 1.88),
        "symmetric": (1.15, 66.20, 14.53, 0.25, 9.06),
    },
}
PAPER_MARKET = dict(
    s0=100.0,
    T=1.0,
    sigma=2.0,
    dt=0.005,
    q0=0.0,
    A=140.0,
    k=1.5,
    q_max=math.inf,
    mid_model="binomial",
    fill_model="linear",
)
GAMMAS = (0.1, 0.01, 0.5)


def _row(gamma: float, strategy: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "gamma": gamma,
        "strategy": strategy,
        "spread": summary["mean_spread"],
        "mean_pnl": summary["mean_pnl"],
        "mean_pnl_se": summary["mean_pnl_se"],
        "std_pnl": summary["std_pnl"],
        "std_pnl_se": summary["std_pnl_se"],
        "mean_q": summary["final_q_mean"],
        "mean_q_se": summary["final_q_std"] / math.sqrt(summary["n_paths"]),
        "std_q": summary["final_q_std"],
        "std_q_se": summary["final_q_std"] / math.sqrt(2.0 * (summary["n_paths"] - 1)),
        "n_fills": summary["n_fills"],
        "n_paths": summary["n_paths"],
    }


def run_replication(
    paths: int = 1000,
    seed: int = 0,
    gammas: tuple[float, ...] = GAMMAS,
    progress: bool = False,
    event_order: str = "fill_then_move",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[float, dict[str, np.ndarray]]]:
    """Simulate both strategies for every gamma on common paths.

    ``event_order``: the market's order of events within a step (:class:`mmenv.config.MarketParams`):
    "fill_then_move" (the env's default) or "move_then_fill" (quotes set at s_t, the mid moves to
    s_{t+dt}, then the flow meets the stale quotes, as in the paper's simulation). Same random numbers under
    both: the difference between the two runs is the event order alone.

    Returns:
        (rows, diagnostics, pnl): the table rows (keys gamma, strategy, spread, mean_pnl, std_pnl,
        mean_q, std_q, n_paths and their standard errors), the diagnostic rows (liquidity-term spread and
        the symmetric strategy at that spread), and the P&L samples per gamma and strategy for the figure.
    """
    # The simulation stack (numba) is imported here, not with the module: `mmenv replicate` starts in well
    # under a second, and its --help and argument errors do not wait for it.
    from agents import AvellanedaStoikovAgent, SymmetricAgent
    from mmenv.analytics.scores import summarize_totals
    from mmenv.engine import optimal_spread
    from mmenv.envs.rollout import rollout_many

    m = {**PAPER_MARKET, "event_order": event_order}
    rows: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []
    pnl: dict[float, dict[str, np.ndarray]] = {}
    policies: dict[tuple[float, str], Any] = {}
    for gamma in gammas:
        by_name = {
            "inventory": AvellanedaStoikovAgent(gamma=gamma, k=m["k"], sigma=m["sigma"]),
            "symmetric": SymmetricAgent(gamma=gamma, k=m["k"], sigma=m["sigma"]),
            "inventory_liquidity_spread": AvellanedaStoikovAgent(
                gamma=gamma, k=m["k"], sigma=m["sigma"], spread_time_term=False
            ),
            "symmetric_liquidity_spread": SymmetricAgent(
                gamma=gamma, k=m["k"], sigma=m["sigma"], time_term=False
            ),
        }
        policies.update({(gamma, name): pol for name, pol in by_name.items()})
    with warnings.catch_warnings():
        # the paper's rule clips lambda dt at 1 for deep-inside quotes; counted below instead
        warnings.filterwarnings("ignore", message="fill_model='linear'")
        # every strategy and gamma on the same paths, in one simulation (common random numbers)
        # per-path totals only (no per-step records): memory O(paths), whatever the number of paths
        rollouts = rollout_many(policies, paths, seed, progress=progress, records=False, **m)
    for gamma in gammas:
        pnl[gamma] = {}
        for (g, name), ro in rollouts.items():
            if g != gamma:
                continue
            summary = summarize_totals(ro)
            pnl[gamma][name] = ro.pnl
            row = _row(gamma, name, summary)
            row["clipped_quote_share"] = summary["clipped_quote_share"]
            if name.endswith("_liquidity_spread"):
                diagnostics.append(row)
            else:
                rows.append(row)
        diagnostics.append(
            {
                "gamma": gamma,
                "strategy": "liquidity_term",
                "spread": float(optimal_spread(0.0, gamma, m["sigma"], m["k"])),
                "time_term_mean": gamma * m["sigma"] ** 2 * m["T"] / 2.0,
            }
        )
    return rows, diagnostics, pnl


EVENT_ORDERS = ("fill_then_move", "move_then_fill")


def compare_event_orders(by_order: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, Any], str]:
    """Which event order the paper's Tables 1-3 support, from the rows of both runs.

    For each order: chi2 = sum over the (gamma, strategy) cells of ((profit - paper) / SE)^2 (the
    Monte-Carlo SE of our mean), the mean |profit - paper| and the mean |std(profit) - paper|. The decision
    uses the gamma = 0.1 and 0.01 cells: at gamma = 0.5 the quoted spread (eq. 3.18 with its time term)
    differs from the paper's by 1.0 on average, which dominates any event-order effect there (the chi2 over
    all six cells is reported too). The order with the smaller chi2 is the one the published profits
    support. Returns (numbers, text).
    """
    stats: dict[str, Any] = {}
    for order, rows in by_order.items():
        chi2, chi2_all, dprof, dstd, cells = 0.0, 0.0, [], [], 0
        for r in rows:
            paper = PAPER_TABLES.get(r["gamma"], {}).get(r["strategy"])
            if paper is None:
                continue
            z2 = ((r["mean_pnl"] - paper[1]) / r["mean_pnl_se"]) ** 2
            chi2_all += z2
            if r["gamma"] == 0.5:
                continue
            cells += 1
            chi2 += z2
            dprof.append(abs(r["mean_pnl"] - paper[1]))
            dstd.append(abs(r["std_pnl"] - paper[2]))
        stats[order] = {
            "chi2_profit": chi2,
            "chi2_profit_all_cells": chi2_all,
            "cells": cells,
            "mean_abs_profit_gap": float(np.mean(dprof)) if dprof else float("nan"),
            "mean_abs_std_gap": float(np.mean(dstd)) if dstd else float("nan"),
        }
    best = min(stats, key=lambda o: stats[o]["chi2_profit"])
    other = next(o for o in stats if o != best) if len(stats) > 1 else best
    lines = [
        f"{o}: chi2 of the profits against the paper {v['chi2_profit']:.1f} over the {v['cells']} cells of "
        f"gamma 0.1 and 0.01 ({v['chi2_profit_all_cells']:.1f} with gamma 0.5), mean |profit - paper| "
        f"{v['mean_abs_profit_gap']:.2f}, mean |std(profit) - paper| {v['mean_abs_std_gap']:.2f}"
        for o, v in stats.items()
    ]
    lines.append(
        f"The paper's profits support {best} (chi2 {stats[best]['chi2_profit']:.1f} against "
        f"{stats[other]['chi2_profit']:.1f} for {other})."
    )

    def cell(order: str, gamma: float, strategy: str) -> dict[str, Any] | None:
        return next((r for r in by_order[order] if r["gamma"] == gamma and r["strategy"] == strategy), None)

    for gamma, strategy in ((0.1, "inventory"), (0.5, "inventory"), (0.5, "symmetric")):
        paper = PAPER_TABLES.get(gamma, {}).get(strategy)
        got = {o: cell(o, gamma, strategy) for o in by_order}
        if paper is None or any(v is None for v in got.values()):
            continue
        parts = ", ".join(
            f"{o} {v['mean_pnl']:.2f} ± {v['mean_pnl_se']:.2f} (std {v['std_pnl']:.2f})"
            for o, v in got.items()
        )
        lines.append(f"gamma={gamma:g} {strategy}: paper {paper[1]:.2f} (std {paper[2]:.2f}); {parts}.")
    stats["supported"] = best
    return stats, "\n".join(lines)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Side-by-side text table of our rows and the paper's Tables 1-3, with Monte-Carlo standard errors."""
    head = (
        f"{'gamma':>6} {'strategy':<10} | {'spread':>6} {'paper':>6} | {'profit':>15} {'paper':>6} | "
        f"{'std(profit)':>13} {'paper':>6} | {'final q':>13} {'paper':>6} | {'std(q)':>12} {'paper':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        p = PAPER_TABLES.get(r["gamma"], {}).get(r["strategy"])
        ps = [f"{v:6.2f}" for v in p] if p else ["   n/a"] * 5
        lines.append(
            f"{r['gamma']:>6g} {r['strategy']:<10} | {r['spread']:6.2f} {ps[0]} | "
            f"{r['mean_pnl']:7.2f} ± {r['mean_pnl_se']:5.2f} {ps[1]} | "
            f"{r['std_pnl']:6.2f} ± {r['std_pnl_se']:4.2f} {ps[2]} | "
            f"{r['mean_q']:+6.2f} ± {r['mean_q_se']:4.2f} {ps[3]} | "
            f"{r['std_q']:5.2f} ± {r['std_q_se']:4.2f} {ps[4][1:]}"
        )
    return "\n".join(lines)


def explain(rows: list[dict[str, Any]], diagnostics: list[dict[str, Any]]) -> str:
    """Computed notes on where the replication differs from the paper, from this run's numbers."""
    out = []
    for d in (x for x in diagnostics if x["strategy"] == "liquidity_term"):
        g = d["gamma"]
        inv = next(r for r in rows if r["gamma"] == g and r["strategy"] == "inventory")
        sym = next(r for r in rows if r["gamma"] == g and r["strategy"] == "symmetric")
        inv_l = next(
            x for x in diagnostics if x["gamma"] == g and x["strategy"] == "inventory_liquidity_spread"
        )
        sym_l = next(
            x for x in diagnostics if x["gamma"] == g and x["strategy"] == "symmetric_liquidity_spread"
        )
        paper = PAPER_TABLES.get(g, {})
        out.append(
            f"gamma={g:g}: the paper's spread {paper.get('inventory', (float('nan'),))[0]:.2f} is the liquidity "
            f"term (2/gamma)ln(1+gamma/k) = {d['spread']:.3f}; eq. (3.18) adds gamma sigma^2 (T-t), "
            f"{d['time_term_mean']:.3f} on average, and the spread we quote averages {inv['spread']:.3f}. "
            f"Symmetric at the full spread: profit {sym['mean_pnl']:.2f}, std {sym['std_pnl']:.2f}; at the "
            f"liquidity-term spread: profit {sym_l['mean_pnl']:.2f}, std {sym_l['std_pnl']:.2f} "
            f"(paper {paper.get('symmetric', (0, float('nan'), float('nan')))[1]:.2f}, "
            f"{paper.get('symmetric', (0, 0, float('nan')))[2]:.2f}). Inventory strategy at the "
            f"liquidity-term spread: profit {inv_l['mean_pnl']:.2f}, std {inv_l['std_pnl']:.2f} (paper "
            f"{paper.get('inventory', (0, float('nan'), float('nan')))[1]:.2f}, "
            f"{paper.get('inventory', (0, 0, float('nan')))[2]:.2f})."
        )
    return "\n".join(out)


def plot_pnl(pnl: dict[float, dict[str, np.ndarray]], path: Path) -> None:
    """Histograms of terminal P&L, inventory vs symmetric strategy, one panel per gamma (cf. AS Fig. 2)."""
    plt = pyplot()

    fig, axes = plt.subplots(1, len(pnl), figsize=(4.5 * len(pnl), 3.5), squeeze=False)
    for ax, (gamma, d) in zip(axes[0], pnl.items(), strict=True):
        lo = min(v.min() for v in d.values())
        hi = max(v.max() for v in d.values())
        bins = np.linspace(lo, hi, 50)
        ax.hist(d["inventory"], bins=bins, alpha=0.6, label="inventory (AS)", color=strategy_color("as"))
        ax.hist(d["symmetric"], bins=bins, alpha=0.6, label="symmetric", color=strategy_color("symmetric"))
        ax.set_title(f"gamma = {gamma:g}")
        ax.set_xlabel("terminal P&L")
    axes[0][0].set_ylabel("paths")
    axes[0][0].legend()
    fig.tight_layout()
    save_figure(fig, path)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv replicate``."""
    parser.add_argument("--paths", type=int, default=1000, help="Monte-Carlo paths per strategy (1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the market paths (0)")
    parser.add_argument("--out", type=Path, default=Path("out/replicate"), help="output directory")
    parser.add_argument("--no-plot", action="store_true", help="skip the P&L histogram figure")


def run(args: argparse.Namespace) -> int:
    """Run the replication, print the table and the diagnostics, write as2008.json and the figure."""
    if args.paths < 2:
        raise SystemExit(f"--paths must be >= 2, got {args.paths}")
    with staged(args.out, getattr(args, "force", False), "replicate") as stage:
        t0 = time.perf_counter()
        by_order: dict[str, list[dict[str, Any]]] = {}
        for order in EVENT_ORDERS:
            r, d, p = run_replication(args.paths, args.seed, progress=args.paths >= 20000, event_order=order)
            by_order[order] = r
            if order == "fill_then_move":  # the env's default order: main table, diagnostics and figure
                rows, diagnostics, pnl = r, d, p
        support, support_text = compare_event_orders(by_order)
        elapsed = time.perf_counter() - t0
        run_info = {"paths": args.paths, "seed": args.seed, "event_order": "fill_then_move"}
        write_json({**run_info, "rows": rows}, stage / "as2008.json")
        write_json({**run_info, "rows": diagnostics}, stage / "as2008_diagnostics.json")
        write_json({"rows": by_order, "support": support}, stage / "as2008_event_order.json")
        if not args.no_plot:
            plot_pnl(pnl, stage / "as2008_pnl.png")
    print(
        f"Avellaneda-Stoikov (2008) replication: {args.paths} paths, seed {args.seed}, both event orders "
        f"simulated in {elapsed:.2f} s; first table: fills then move (the env's default order)"
    )
    print(format_table(rows))
    print()
    print(
        "The same paths with the paper's event order (the mid moves, then the flow meets the stale quotes):"
    )
    print(format_table(by_order["move_then_fill"]))
    print()
    print("Event order against the paper (computed in this run):")
    print(support_text)
    print()
    print("Where the replication differs from the paper (computed in this run):")
    print(explain(rows, diagnostics))
    clipped = max(r["clipped_quote_share"] for r in rows)
    print(
        f"The paper's fill rule lambda(d) dt exceeds 1 (clipped to 1) for at most {100 * clipped:.3f}% of quotes."
    )
    print(f"\nwrote {args.out / 'as2008.json'}")
    return 0
