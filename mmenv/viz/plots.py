"""Figures of backtest records and analytics (the house style of :mod:`mmenv.viz.style`, atomic saves).

Each function takes records or analytics results, draws one figure and writes it to ``path`` through a
temporary file moved into place (a crash never leaves a half-written image). Long series are thinned to at
most ``max_points`` points for drawing (every n-th point plus the last; the numbers are not changed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.viz.style import pyplot as _pyplot
from mmenv.viz.style import save_figure, strategy_color

__all__ = ["plot_attribution", "plot_equity", "plot_inventory", "plot_markouts", "save_figure"]


def _thin(n: int, max_points: int) -> np.ndarray:
    step = max(1, n // max_points)
    idx = np.arange(0, n, step)
    if n and idx[-1] != n - 1:
        idx = np.append(idx, n - 1)
    return idx


def plot_equity(
    results: Mapping[str, Any], path: str | os.PathLike, time_label: str = "time", max_points: int = 5000
) -> Path:
    """Mark-to-market P&L (equity minus initial equity) against time, one line per strategy.

    Args:
        results: {strategy: :class:`mmenv.backtest.BacktestResult`}. path: output image.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, res in results.items():
        st = res.states
        i = _thin(len(st), max_points)
        ax.plot(
            np.asarray(st["time"])[i],
            np.asarray(st["equity"])[i] - st["equity"][0],
            lw=1,
            label=name,
            color=strategy_color(name),
        )
    ax.set_xlabel(time_label)
    ax.set_ylabel("P&L (price units)")
    ax.set_title("Equity curve (mark-to-market)")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.legend()
    return save_figure(fig, path)


def plot_inventory(
    results: Mapping[str, Any], path: str | os.PathLike, time_label: str = "time", max_points: int = 5000
) -> Path:
    """Inventory q against time, one line per strategy, with the hard limit +-q_max dashed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    q_max = None
    for name, res in results.items():
        st = res.states
        i = _thin(len(st), max_points)
        ax.step(
            np.asarray(st["time"])[i],
            np.asarray(st["inventory"])[i],
            where="post",
            lw=0.8,
            label=name,
            color=strategy_color(name),
        )
        q_max = res.q_max
    if q_max is not None and np.isfinite(q_max):
        for s in (1, -1):
            ax.axhline(s * q_max, color="k", ls="--", lw=0.7)
    ax.set_xlabel(time_label)
    ax.set_ylabel("inventory q (units)")
    ax.set_title("Inventory")
    ax.legend()
    return save_figure(fig, path)


def plot_attribution(
    attribution: Any,
    path: str | os.PathLike,
    title: str = "",
    time_label: str = "time",
    max_points: int = 5000,
) -> Path:
    """Cumulative P&L attribution, stacked: spread capture, inventory P&L and minus fees; total on top.

    Args:
        attribution: a :class:`mmenv.analytics.Attribution`.
    """
    plt = _pyplot()
    a = attribution
    i = _thin(len(a.cum_time), max_points)
    t = a.cum_time[i]
    parts = [a.cum_spread[i], a.cum_inventory[i], -a.cum_fees[i]]
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = ["spread capture", "inventory P&L", "- fees"]
    colors = ["tab:green", "tab:blue", "tab:red"]
    # Stack positives upwards and negatives downwards so that the areas do not cancel visually.
    pos_base = np.zeros_like(t)
    neg_base = np.zeros_like(t)
    for y, lab, c in zip(parts, labels, colors, strict=True):
        up = np.clip(y, 0, None)
        dn = np.clip(y, None, 0)
        ax.fill_between(t, pos_base, pos_base + up, color=c, alpha=0.5, lw=0, label=lab, step="post")
        ax.fill_between(t, neg_base, neg_base + dn, color=c, alpha=0.5, lw=0, step="post")
        pos_base = pos_base + up
        neg_base = neg_base + dn
    ax.plot(t, parts[0] + parts[1] + parts[2], color="k", lw=1, label="total")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel(time_label)
    ax.set_ylabel("cumulative P&L (price units)")
    ax.set_title(title or "Cumulative P&L attribution")
    ax.legend(loc="best")
    return save_figure(fig, path)


def plot_markouts(
    curves: Mapping[str, Sequence[float]],
    horizons: Sequence[float],
    path: str | os.PathLike,
    horizon_label: str = "horizon",
) -> Path:
    """Mean markout per unit filled against the horizon, one line per strategy (negative: adverse selection).

    Args:
        curves: {strategy: markout per unit at each horizon} (e.g. :func:`mmenv.analytics.markout_curve`).
        horizons: the horizons (x axis). path: output image.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, y in curves.items():
        ax.plot(horizons, y, marker="o", label=name, color=strategy_color(name))
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xscale("log" if min(horizons) > 0 else "linear")
    ax.set_xlabel(horizon_label)
    ax.set_ylabel("markout per unit (price units)")
    ax.set_title("Markouts of fills (adverse selection < 0)")
    ax.legend()
    return save_figure(fig, path)
