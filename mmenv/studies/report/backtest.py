"""Report section VI: the event-driven backtest of AS and naive quotes on the synthetic tick stream, and latency.

(The real tapes' replay, the rest of section VI, is :mod:`mmenv.studies.report.real_tapes`.)
"""

from __future__ import annotations

import math

import numpy as np

from agents import AvellanedaStoikovAgent, NaiveAgent
from mmenv.analytics.scores import summarize_backtest
from mmenv.backtest import BacktestConfig, TickStream, backtest
from mmenv.studies.backtest import BACKTEST_DEFAULTS, default_gamma, latency_effect, settings_line
from mmenv.studies.report.document import Report
from mmenv.studies.report.inputs import run_ticks
from mmenv.viz.plots import plot_equity

__all__ = ["sec_backtest"]


def sec_backtest(rep: Report, cfg: dict) -> None:
    """VI: the event-driven backtest of AS and naive on the synthetic tick stream, and latency."""
    ticks = run_ticks(cfg)
    stream = TickStream.from_ticks(ticks, time_unit_seconds=3600.0)
    sig = float(np.std(np.diff(ticks.mid)) / math.sqrt(max(np.mean(np.diff(ticks.clock)), 1e-9) / 3600.0))
    k = float(ticks.k)
    gamma = default_gamma(k, sig)  # the defaults of `mmenv backtest`: one set for the command and the report
    d = BACKTEST_DEFAULTS
    # Quotes decided on every quote update (the mid of each tick, before its trade), live at once (latency 0):
    # a quote refreshed only every 10 s rests stale while the mid moves several depths per trade: picked off.
    conf = BacktestConfig(
        q_max=d["q_max"],
        order_size=d["order_size"],
        horizon=1.0,
        sigma=sig,
        decision_interval=0.0,
        latency=0.0,
    )
    move = float(np.mean(np.abs(np.diff(ticks.mid))))  # mean mid move between consecutive ticks
    pols = {
        "as": lambda: AvellanedaStoikovAgent(gamma=gamma, k=k, sigma=sig),
        "naive": lambda: NaiveAgent(d["naive_depth"]),
    }
    rows, lat, results = {}, {}, {}
    for name, new_pol in pols.items():
        results[name] = backtest(new_pol(), stream, conf)
        rows[name] = summarize_backtest(results[name], horizons=(10.0 / 3600.0,), episode=conf.horizon)
        lat[name] = latency_effect(new_pol, stream, conf, (0.0, 1.0, 5.0), (10.0 / 3600.0,), conf.horizon)
    rep.metrics["backtest"] = {**rows, "_settings": {"sigma": sig, "gamma": gamma, "k": k, "mean_move": move}}
    rep.metrics["backtest_latency"] = lat
    names = {
        "mean_pnl": "mean P&L per 1-hour episode",
        "std_pnl": "std of the episode P&L",
        "sharpe": "Sharpe (per episode, not annualised)",
        "total_pnl": "total P&L over the run",
        "max_drawdown": "max drawdown",
        "inventory_std": "inventory std (units)",
        "spread_pnl": "spread capture",
        "inventory_pnl": "inventory P&L",
        "adverse_selection_pnl": "adverse selection (10 s markout)",
        "fees": "fees",
        "n_fills": "fills",
    }
    lines = ["| metric | AS | naive (1 cent) |", "|---|---|---|"]
    for kk, label in names.items():
        if kk in rows["as"]:
            lines.append(f"| {label} | {float(rows['as'][kk]):.4g} | {float(rows['naive'][kk]):.4g} |")
    labels = list(lat["as"])
    heads = [f"latency {x}" if x != "on_trades" else "repriced on trades only" for x in labels]
    lat_lines = ["| strategy | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for name in lat:
        cells = [f"{lat[name][x]['total_pnl']:.4g} ({lat[name][x]['spread_pnl']:.4g})" for x in labels]
        lat_lines.append(f"| {name} | " + " | ".join(cells) + " |")
    rep.add(
        f"Event-driven backtest over {len(ticks):,} synthetic ticks ({rows['as']['duration']:.1f} trading hours; "
        "each tick is a quote update, the new mid, followed by a trade; the quotes are decided on every quote "
        "update and are live for the trade that follows, latency 0; "
        + settings_line(d["order_size"], d["q_max"], gamma, d["naive_depth"])
        + f", the defaults of `mmenv backtest`; σ = {sig:.4g} per √hour measured on the stream). P&L in price units; the "
        "attribution is over the whole run: total = spread capture + inventory P&L − fees; adverse selection "
        "is the 10 s markout of the fills (negative: the mid moved against the fill).\n\n" + "\n".join(lines)
    )
    path = plot_equity(results, rep.out / "backtest_equity.png", time_label="time (hours)")
    a, n = rows["as"], rows["naive"]
    rep.figure(
        path,
        "Mark-to-market P&L of AS and the naive 1-cent quotes over the event-driven backtest (latency 0)",
        f"both earn the spread, but the naive curve carries its inventory's price swings (inventory std "
        f"{n['inventory_std']:.2f} against {a['inventory_std']:.2f} for AS; max drawdown "
        f"{n['max_drawdown']:.4g} against {a['max_drawdown']:.4g})",
    )
    rep.add(
        "**Latency.** Total P&L over the run (spread capture in brackets) when the quotes go live 1 s or 5 s "
        "after the decision, and when they are repriced after each trade only (live from the next one). In "
        "this stream the mid changes only at the quote update that comes with each trade, so any latency "
        f"leaves the live quotes at least one mid move behind (mean |move| {move:.3g} per trade against a mean "
        f"trade depth 1/k = {1.0 / k:.3g}): they are picked off. AS's spread capture goes from "
        f"{lat['as'][labels[0]]['spread_pnl']:.4g} at latency 0 to {lat['as'][labels[1]]['spread_pnl']:.4g} at "
        f"{labels[1]}.\n\n" + "\n".join(lat_lines)
    )
