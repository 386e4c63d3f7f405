"""Scores for every strategy, computed one way: terminal P&L, Sharpe, drawdown, inventory, fills, spread.

Inputs are the struct-of-arrays records of :class:`mmenv.rollout.Rollout` (env episodes) or of the
backtester. Conventions (they change the numbers, so they are stated):

* P&L of a path: terminal mark-to-market wealth minus initial, X_T + q_T S_T - (X_0 + q_0 S_0) (price units).
* Sharpe ratio (``sharpe``): mean / std of the per-episode P&L across paths, one episode = one sample,
  not annualised (the paper's "profit / std(profit)"). ``sharpe_per_step`` uses per-step P&L increments
  pooled over paths, and ``annualised_sharpe`` scales it by sqrt(steps per year) when given.
* Max drawdown: per path, the largest fall of the equity curve from its running peak (price units),
  averaged over paths. A drawdown relative to the peak is ill-defined for P&L curves that start at 0, so
  ``max_drawdown_rel`` divides by the path's equity range, max_dd / (max W - min W), in [0, 1].
* Standard errors are Monte-Carlo: std / sqrt(P) for means; for the std, std / sqrt(2 (P - 1)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["drawdown", "episode_pnl", "summarize", "summarize_rollout"]


def episode_pnl(equity: np.ndarray) -> np.ndarray:
    """Terminal minus initial equity per path (price units); ``equity`` is (P, S + 1)."""
    return equity[:, -1] - equity[:, 0]


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Per-path maximum drawdown max_t (max_{u <= t} W_u - W_t) (price units), shape (P,)."""
    peak = np.maximum.accumulate(equity, axis=1)
    return (peak - equity).max(axis=1)


def summarize(
    equity: np.ndarray,
    inventory: np.ndarray,
    bought: np.ndarray,
    sold: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    steps_per_year: float | None = None,
) -> dict[str, Any]:
    """Scores of a set of episodes.

    Args:
        equity: (P, S + 1) mark-to-market wealth (price units). inventory: (P, S + 1) q (units).
        bought, sold: (P, S) units filled at the bid / ask. bid, ask: (P, S) quotes (NaN: not quoted).
        steps_per_year: if given, also report the per-step Sharpe annualised by sqrt(steps_per_year).

    Returns:
        A flat dict of floats: n_paths, mean_pnl, mean_pnl_se, std_pnl, std_pnl_se, sharpe,
        sharpe_per_step, [annualised_sharpe], max_drawdown, max_drawdown_rel, final_q_mean, final_q_std,
        inventory_mean, inventory_std, max_abs_q, n_fills, mean_spread, spread_quoted_share.
    """
    pnl = episode_pnl(equity)
    p = pnl.shape[0]
    std = float(pnl.std(ddof=1)) if p > 1 else 0.0
    mean = float(pnl.mean())
    inc = np.diff(equity, axis=1)
    inc_std = float(inc.std())
    dd = drawdown(equity)
    rng = equity.max(axis=1) - equity.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dd_rel = np.where(rng > 0, dd / rng, 0.0)
    spread = ask - bid
    live = np.isfinite(spread)
    out: dict[str, Any] = {
        "n_paths": int(p),
        "mean_pnl": mean,
        "mean_pnl_se": std / np.sqrt(p) if p > 1 else float("nan"),
        "std_pnl": std,
        "std_pnl_se": std / np.sqrt(2.0 * (p - 1)) if p > 1 else float("nan"),
        "sharpe": mean / std if std > 0 else float("nan"),
        "sharpe_per_step": float(inc.mean() / inc_std) if inc_std > 0 else float("nan"),
        "max_drawdown": float(dd.mean()),
        "max_drawdown_rel": float(dd_rel.mean()),
        "final_q_mean": float(inventory[:, -1].mean()),
        "final_q_std": float(inventory[:, -1].std(ddof=1)) if p > 1 else 0.0,
        "inventory_mean": float(inventory.mean()),
        "inventory_std": float(inventory.std()),
        "max_abs_q": float(np.abs(inventory).max()),
        "n_fills": float((np.count_nonzero(bought, axis=1) + np.count_nonzero(sold, axis=1)).mean()),
        "mean_spread": float(spread[live].mean()) if live.any() else float("nan"),
        "spread_quoted_share": float(live.mean()),
    }
    if steps_per_year is not None:
        out["annualised_sharpe"] = out["sharpe_per_step"] * float(np.sqrt(steps_per_year))
    return out


def summarize_rollout(ro, steps_per_year: float | None = None) -> dict[str, Any]:
    """:func:`summarize` on a :class:`mmenv.rollout.Rollout`."""
    return summarize(ro.equity, ro.inventory, ro.bought, ro.sold, ro.bid, ro.ask, steps_per_year)
