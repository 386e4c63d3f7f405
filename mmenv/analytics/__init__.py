"""Scores of every strategy, computed one way, from the records of env rollouts and backtests.

:mod:`~mmenv.analytics.scores` (P&L, Sharpe, drawdown, inventory, fills, P&L attribution and markouts) and
:mod:`~mmenv.analytics.stream` (the same backtest scores computed batch by batch while a backtest runs).
"""

from __future__ import annotations

from mmenv.analytics.scores import (
    Attribution,
    attribute,
    attribute_rollout,
    drawdown,
    episode_pnl,
    episode_pnls,
    markout_curve,
    markouts,
    max_drawdown,
    mid_at,
    risk_metrics,
    rollout_records,
    sharpe_from_grid,
    sharpe_ratio,
    summarize,
    summarize_backtest,
    summarize_rollout,
    summarize_totals,
)

__all__ = [
    "Attribution",
    "attribute",
    "attribute_rollout",
    "drawdown",
    "episode_pnl",
    "episode_pnls",
    "markout_curve",
    "markouts",
    "max_drawdown",
    "mid_at",
    "risk_metrics",
    "rollout_records",
    "sharpe_from_grid",
    "sharpe_ratio",
    "summarize",
    "summarize_backtest",
    "summarize_rollout",
    "summarize_totals",
]
