"""Real-data backtest: calibrate on the in-sample part of a tape, replay every strategy on the rest.

``mmenv backtest --lobster MSG BOOK``, ``--trades T --quotes Q`` (Binance) or ``--tape FILE`` (the generic
schema of :func:`mmenv.data.loaders.load_tape`; :mod:`mmenv.studies.sources`) run this study instead of the
synthetic-tick backtest; the report runs it on the shared samples (section VI):

1. The tape is split in time: the first ``--in-sample`` fraction (default 0.5) calibrates A, k (MLE of
   lambda(d) = A exp(-k d)) and sigma with the project's calibration
   (:func:`mmenv.studies.tapes.calibrate_tape`; another estimator can be passed as ``calibrator``).
2. Every strategy (AS, GLFT, the CJP optimum, naive, passive, trend by default; ``touch``, a fixed offset of
   ``--offset-ticks`` ticks behind the best bid and ask, when named by ``--strategy`` or
   ``--replay-strategies``; a trained PPO with ``--ppo-run``) is built from the calibrated parameters and
   replayed on the out-of-sample part by the queue-aware engine (:mod:`mmenv.replay.engine`; fill model,
   queue model, latency, tick and size grids, post-only rule and fees as configured and printed in the
   header). Scale: one lot (``--lot``, default the median in-sample trade size, on the tape's size step,
   ``--size-step`` or the loader's) per order, at most ``--max-lots`` lots of inventory; the policies see
   their inventory in lots; the AS risk aversion is ``gamma = risk_aversion / (k sigma^2 T)`` per lot, so
   that its inventory term moves the quotes by at most ``risk_aversion / k`` per lot held (T the AS horizon
   ``--replay-horizon-s``).
3. ``--walk-forward N`` cuts the tape into N windows and, for each window after the first, calibrates on
   the window before it and replays on it (each window starts flat). ``--calibrator rolling`` also
   calibrates each window with the rolling-window estimator (:class:`mmenv.calibration.intensity.online.RollingEstimator`:
   A, k and sigma of the last ``--rolling-window-s`` seconds before the window's start), replays every
   strategy with both calibrations and reports, per strategy, the mean over windows of the paired P&L
   difference rolling - fixed and its standard error (sd / sqrt(n windows)).
   When the intensity law selected out of sample on the in-sample part (:func:`mmenv.studies.tapes.select_law`)
   is not the exponential, its AS-style and GLFT-style quotes (:func:`mmenv.studies.strategies.law_policies`)
   are replayed too, as ``as-<law>`` and ``glft-<law>``, with the AS risk aversion of the exponential.
4. The fill-model and latency table re-runs every strategy with ``trade_through`` and ``queue`` fills (the
   configured queue model, and each of ``--table-queue-models`` as ``queue:<model>``) at each entry latency
   of ``--replay-latencies-ms`` (default 0, 1, 10, 100 ms).

Every amount is in the settlement currency of the tape's instrument (``--instrument``,
:mod:`mmenv.studies.sources`; :func:`mmenv.replay.accounting.settle`): the quote currency of a linear
contract, the coin of an inverse one (Binance COIN-M), whose P&L is also given in the quote currency at the
last mid (``total_pnl_quote``). The fees are the instrument's unless ``--maker-fee-bps`` / ``--taker-fee-bps``
give them.

Outputs in ``--out``: ``metrics.json`` (source, instrument and currency, loader report, calibration with
standard errors, the replay settings, each strategy's out-of-sample metrics: total P&L, liquidation P&L,
spread / inventory / fees attribution, markouts, fill ratio, time at the limit, drawdown; the table;
walk-forward windows).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.analytics.scores import markout_curve, summarize_backtest
from mmenv.instrument import Instrument
from mmenv.outdir import staged
from mmenv.replay.accounting import settle
from mmenv.replay.config import parse_queue_model
from mmenv.replay.engine import replay, tape_lot
from mmenv.replay.mlp_policy import mlp_features
from mmenv.studies import sources, tape_ppo
from mmenv.studies.common import fmt_value, write_json
from mmenv.studies.strategies import (
    SIGNAL_STRATEGIES,
    TAPE_DEFAULT,
    TAPE_STRATEGIES,
    gamma_per_lot,
    law_policies,
    signal_policies,
    tape_policies,
)
from mmenv.studies.tape_signals import TapeSignals, format_buckets, imbalance_breakdown, replay_policy
from mmenv.studies.tapes import (
    add_replay_settings,
    calibrate_tape,
    check_order_size,
    median_lot,
    queue_model_arg,
    replay_config,
    rolling_calibrations,
    select_law,
    with_size_step,
)

__all__ = [
    "CALIBRATORS",
    "add_replay_arguments",
    "default_args",
    "format_strategies",
    "format_table",
    "paired_difference",
    "run",
    "run_study",
    "strategy_names",
]

#: The walk-forward calibrators (``--calibrator``).
CALIBRATORS = ("fixed", "rolling")
#: What the fill-model x latency table keeps of each run.
TABLE_KEYS = ("total_pnl", "n_fills", "fill_ratio", "adverse_selection_pnl")


def add_replay_arguments(parser: argparse.ArgumentParser | Any) -> None:
    """The study's arguments on ``parser`` (a parser or a group): the replay's settings
    (:func:`mmenv.studies.tapes.add_replay_settings`), the strategies, the fill-model x latency table, the
    walk-forward windows and a trained PPO run to score. The tape is given by :mod:`mmenv.studies.sources`."""
    g = parser
    add_replay_settings(g)
    g.add_argument(
        "--ppo-run", type=Path, default=None, help="a run of mmenv train --market replay to score too"
    )
    g.add_argument(
        "--walk-forward", type=int, default=0, metavar="N", help="also walk forward over N windows"
    )
    g.add_argument(
        "--calibrator",
        choices=CALIBRATORS,
        default="fixed",
        help="walk-forward calibration: fixed (default) refits A, k, sigma on the whole previous window; rolling "
        "also uses the rolling-window estimator as of each window's start and reports the paired P&L difference",
    )
    g.add_argument(
        "--rolling-window-s",
        type=float,
        default=None,
        help="window of the rolling estimator in seconds (default: half a walk-forward window)",
    )
    g.add_argument(
        "--replay-strategies",
        nargs="+",
        choices=TAPE_STRATEGIES,
        default=None,
        metavar="S",
        help=f"strategies replayed on the tape, among {', '.join(TAPE_STRATEGIES)} (default: "
        f"{' '.join(TAPE_DEFAULT)})",
    )
    g.add_argument(
        "--offset-ticks",
        type=int,
        default=0,
        metavar="N",
        help="the touch strategy quotes N ticks behind the best bid and ask (0: joins them)",
    )
    g.add_argument(
        "--size-step",
        type=float,
        default=None,
        help="size step of the tape (units; default: the loader's, else the common divisor of its sizes)",
    )
    g.add_argument(
        "--table-queue-models",
        type=queue_model_arg,
        nargs="*",
        default=[],
        metavar="MODEL",
        help="more queue models for the fill-model x latency table (as --queue-model), e.g. risk_averse "
        "power:2 log",
    )
    g.add_argument(
        "--replay-latencies-ms",
        type=float,
        nargs="*",
        default=[0.0, 1.0, 10.0, 100.0],
        metavar="MS",
        help="entry latencies of the fill-model x latency table (none: no table)",
    )


def default_args(quick: bool = False) -> argparse.Namespace:
    """The study's default arguments (``quick``: AS, GLFT and naive; latencies 0, 10, 100 ms)."""
    p = argparse.ArgumentParser()
    add_replay_arguments(p)
    p.add_argument("--markouts", type=float, nargs="+", default=[1.0, 10.0, 60.0])
    args = p.parse_args([])
    args.strategy = None
    if quick:
        args.replay_strategies = ["as", "glft", "naive"]
        args.replay_latencies_ms = [0.0, 10.0, 100.0]
    return args


def paired_difference(a: list[float], b: list[float]) -> dict[str, float]:
    """Mean of the paired differences a - b, its standard error (sample sd / sqrt(n)) and n."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    n = int(d.size)
    se = float(d.std(ddof=1) / math.sqrt(n)) if n >= 2 else math.nan
    return {"mean_diff": float(d.mean()) if n else math.nan, "se": se, "n_windows": n}


def strategy_names(args: argparse.Namespace) -> list[str]:
    """The strategies to replay: ``--strategy`` (the command's, when given), else ``--replay-strategies``,
    else :data:`mmenv.studies.strategies.TAPE_DEFAULT`.

    Raises:
        ValueError: both flags given, a name that is not replayed on tapes, or ``--offset-ticks`` (negative,
            or without the touch strategy).
    """
    given, listed = getattr(args, "strategy", None), getattr(args, "replay_strategies", None)
    if given is not None and listed is not None:
        raise ValueError("--strategy and --replay-strategies both name the strategies to replay: give one")
    names = list(dict.fromkeys(given or listed or TAPE_DEFAULT))
    if "all" in names:
        names = list(TAPE_STRATEGIES)
    bad = [n for n in names if n not in TAPE_STRATEGIES]
    if bad:
        raise ValueError(
            f"--strategy {' '.join(bad)}: not replayed on tapes; the tape strategies are "
            f"{', '.join(TAPE_STRATEGIES)}"
        )
    off = getattr(args, "offset_ticks", 0)
    if off < 0:
        raise ValueError(f"--offset-ticks must be an integer >= 0, got {off}")
    if off != 0 and "touch" not in names:
        raise ValueError(f"--offset-ticks {off} applies to the touch strategy: add --strategy touch")
    return names


def _score(res, horizons: tuple[float, ...], episode: float, instrument: Instrument) -> dict[str, Any]:
    """The study's metrics of one replay in the instrument's settlement currency (P&L and its attribution,
    fills, risk, markouts per size unit; :func:`mmenv.replay.accounting.settle`), and the P&L converted to
    the quote currency at the last mid (``total_pnl_quote``)."""
    mark = float(res.states["mid"][-1])
    res = settle(res, instrument)
    m = summarize_backtest(res, horizons, episode=episode)
    keep = (
        "total_pnl",
        "spread_pnl",
        "inventory_pnl",
        "fees",
        "adverse_selection_pnl",
        "n_fills",
        "fill_ratio",
        "time_at_limit",
        "max_drawdown",
        "inventory_std",
        "max_abs_q",
        "turnover_units",
        "n_events",
    )
    out = {k: m[k] for k in keep}
    out["pnl_liquidated"] = res.extra["pnl_liquidated"]
    out["total_pnl_quote"] = instrument.to_quote(out["total_pnl"], mark)
    out["markouts_per_unit"] = dict(
        zip(
            [f"{h:g}s" for h in horizons],
            markout_curve(res.fills, res.states, horizons).tolist(),
            strict=True,
        )
    )
    out["n_orders"], out["n_repriced"] = res.extra["n_orders"], res.extra["n_repriced"]
    return out


def _pnl(res, instrument: Instrument) -> float:
    """Total P&L of one replay in the instrument's settlement currency."""
    return settle(res, instrument).pnl


def ppo_replay(run_dir: Path, tape, cfg) -> Any:
    """Replay a saved PPO agent (``run_dir``: a run of ``mmenv train --market replay`` or an agent folder of
    ``mmenv rl-study``, :func:`mmenv.studies.tape_ppo.load_agent`) on ``tape``, deterministic actions: its
    MLP compiled into the replay's loop (:func:`mmenv.studies.tape_ppo.compiled_agent`, the event-clock
    env's observation and action map), else (a policy the compiled form does not cover) through the
    event-clock env. The env is built as the agent was trained: with its order-book signals
    (:data:`mmenv.studies.tape_ppo.SIGNALS_FILE`; the compiled loop reads them as feature columns,
    :func:`mmenv.replay.mlp_policy.mlp_features`) and its action map
    (:data:`mmenv.studies.tape_ppo.ACTION_FILE`: the depth box, and actions in [-1, 1]^2 rescaled onto it)."""
    model, venv, spec = tape_ppo.load_agent(run_dir, tape, cfg)
    action = tape_ppo.load_action(run_dir)
    extra = {} if action["max_depth_ticks"] is None else {"max_depth_ticks": action["max_depth_ticks"]}
    env = tape_ppo.replay_env(
        tape,
        cfg,
        action["rescale_action"],
        episode_s=tape.duration_s + 1.0,
        start="first",
        signals=spec,
        **extra,
    )
    try:
        tape_ppo.check_action_box(model, env)
    except ValueError as exc:
        raise ValueError(f"--ppo-run {run_dir}: {exc}") from None
    try:
        pol = tape_ppo.compiled_agent(model, venv, env)
    except ValueError:
        tape_ppo.play(model, venv, env)
        return env.unwrapped.result("ppo")
    return replay(pol, tape, env.unwrapped.config, features=mlp_features(env))


def _calibration_dict(cal) -> dict[str, float]:
    """A, k and sigma of a calibration with their standard errors (units in the keys)."""
    return {
        "A_per_s": float(cal.A),
        "A_se": float(cal.intensity.A_se),
        "k_per_price": float(cal.k),
        "k_se": float(cal.intensity.k_se),
        "sigma_per_sqrt_s": float(cal.sigma),
        "sigma_se": float(cal.sigma_se),
    }


def run_study(
    tape,
    args: argparse.Namespace,
    *,
    instrument: Instrument | None = None,
    calibrator: Callable[[Any], Any] = calibrate_tape,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Calibrate in sample, replay every strategy out of sample, the table and the walk-forward windows.

    Every amount is in the ``instrument``'s settlement currency (:mod:`mmenv.replay.accounting`; default: a
    linear instrument on the tape's tick and size step), its fees used unless given by flags."""
    say = progress or (lambda _m: None)
    names = strategy_names(args)
    tape = with_size_step(tape, args)
    inst = instrument or Instrument.linear(tape.source or "tape", float(tape.tick), tape_lot(tape))
    cur = inst.settlement_currency
    ins, oos = tape.split(args.in_sample)
    cal = calibrator(ins)
    lot = check_order_size(float(args.lot), tape) if args.lot is not None else median_lot(ins)
    cfg = replay_config(args, lot=lot, sigma=float(cal.sigma), instrument=inst)
    offset = int(getattr(args, "offset_ticks", 0))
    horizons = tuple(float(h) for h in args.markouts)
    s0 = float(oos.mid[0])
    kw = {
        "max_lots": args.max_lots,
        "risk_aversion": args.risk_aversion,
        "horizon": args.replay_horizon_s,
        "s0": s0,
    }
    law = select_law(ins) if {"as", "glft"} & set(names) else None
    law_notes: list[str] = []
    sig = TapeSignals.build(tape, ins, oos, fit=bool(set(SIGNAL_STRATEGIES) & set(names)))

    def policies(c: Any, **over: Any) -> dict[str, Any]:
        pols = tape_policies(names, c, **{**kw, **over}, offset_ticks=offset)
        if sig.fit is not None:
            pols.update(signal_policies(names, c, sig.fit, sig.features, **{**kw, **over}, tick=tape.tick))
        pols = {n: pols[n] for n in names if n in pols}
        try:
            extra = law_policies(law, c, **{**kw, **over})
        except ValueError as exc:  # a law that does not decay where the quotes would sit
            law_notes.append(f"{law.name}: no quotes ({exc})")
            extra = {}
        return {**pols, **{n: p for n, p in extra.items() if n.split("-")[0] in names}}

    strategies: dict[str, Any] = {}
    results: dict[str, Any] = {}
    # built once (the CJP tables, the law's grids): every replay starts a policy afresh (reset, or the
    # compiled policy's zeroed memory), so the table's cells reuse them
    pols_cal = policies(cal)
    for name, pol in pols_cal.items():
        t = time.perf_counter()
        res = replay_policy(pol, oos, cfg)
        wall = time.perf_counter() - t
        m = _score(res, horizons, args.replay_horizon_s, inst)
        m["events_per_second"] = res.n_events / wall if wall > 0 else float("nan")
        m["imbalance_buckets"] = imbalance_breakdown(res, sig.features, sig.names, horizons[0])
        strategies[name], results[name] = m, res
        say(f"{name}: {m['total_pnl']:.4g} {cur} over {res.n_events:,} events ({wall:.2f} s)")
    if getattr(args, "ppo_run", None) is not None:
        res = ppo_replay(Path(args.ppo_run), oos, cfg)
        strategies["ppo"], results["ppo"] = _score(res, horizons, args.replay_horizon_s, inst), res
        strategies["ppo"]["imbalance_buckets"] = imbalance_breakdown(
            res, sig.features, sig.names, horizons[0]
        )
        say(f"ppo: {strategies['ppo']['total_pnl']:.4g} {cur}")
    table: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    columns = {"trade_through": {"fill_model": "trade_through"}, "queue": {"fill_model": "queue"}}
    for spec in dict.fromkeys(getattr(args, "table_queue_models", None) or []):
        columns[f"queue:{spec}"] = {"fill_model": "queue", **parse_queue_model(spec)}
    for model, over in columns.items():
        table[model] = {}
        for lat in args.replay_latencies_ms:
            c = replace(cfg, **over, entry_latency_s=lat * 1e-3, feed_latency_s=0.0)
            row = {}
            for name, pol in pols_cal.items():
                m = _score(replay_policy(pol, oos, c), horizons, args.replay_horizon_s, inst)
                row[name] = {key: m[key] for key in TABLE_KEYS}
            table[model][f"{lat:g}ms"] = row
        say(f"table: {model} done")
    walk = []
    comparison: dict[str, Any] = {}
    if args.walk_forward and args.walk_forward >= 2:
        wins = tape.windows(args.walk_forward)
        rolling = getattr(args, "calibrator", "fixed") == "rolling"
        span = tape.duration_s / args.walk_forward
        roll_w = float(getattr(args, "rolling_window_s", None) or 0.5 * span)
        rolls = rolling_calibrations(wins, roll_w, tape.tick) if rolling else [None] * (len(wins) - 1)
        for j in range(1, len(wins)):
            cal_j = calibrator(wins[j - 1])
            c = replace(cfg, sigma=float(cal_j.sigma))
            pols = tape_policies(names, cal_j, **{**kw, "s0": float(wins[j].mid[0])}, offset_ticks=offset)
            sig_j = (
                TapeSignals.build(tape, wins[j - 1], wins[j]) if set(SIGNAL_STRATEGIES) & set(names) else None
            )
            if sig_j is not None:
                kw_j = {**kw, "s0": float(wins[j].mid[0])}
                pols.update(signal_policies(names, cal_j, sig_j.fit, sig_j.features, **kw_j, tick=tape.tick))
            row = {"window": j, "calibration": _calibration_dict(cal_j), "n_events": len(wins[j])}
            row["total_pnl"] = {n: _pnl(replay_policy(p, wins[j], c), inst) for n, p in pols.items()}
            e = rolls[j - 1]
            if rolling:
                row["rolling_calibration"] = None
            if e is not None:
                row["rolling_calibration"] = {
                    "A_per_s": e.A,
                    "k_per_price": e.k,
                    "sigma_per_sqrt_s": e.sigma,
                    "n_orders": e.n_orders,
                    "window_s": e.window_s,
                }
                c = replace(cfg, sigma=float(e.sigma))
                pols = tape_policies(names, e, **{**kw, "s0": float(wins[j].mid[0])}, offset_ticks=offset)
                if sig_j is not None:
                    kw_j = {**kw, "s0": float(wins[j].mid[0])}
                    pols.update(signal_policies(names, e, sig_j.fit, sig_j.features, **kw_j, tick=tape.tick))
                row["total_pnl_rolling"] = {
                    n: _pnl(replay_policy(p, wins[j], c), inst) for n, p in pols.items()
                }
            walk.append(row)
        if rolling:
            paired = [r for r in walk if "total_pnl_rolling" in r]
            comparison = {
                "rolling_window_s": roll_w,
                "n_windows_without_estimate": len(walk) - len(paired),
                "rolling_minus_fixed": {
                    n: paired_difference(
                        [r["total_pnl_rolling"][n] for r in paired], [r["total_pnl"][n] for r in paired]
                    )
                    for n in names
                },
            }
        say(f"walk-forward: {len(walk)} windows")
    return {
        "source": tape.source,
        "instrument": inst.to_dict(),
        "currency": cur,
        "tick": tape.tick,
        "size_step": tape_lot(tape),
        "tape_report": tape.report,
        "tape_validation": sources.tape_validation(tape),
        "n_events": len(tape),
        "n_quotes": len(tape) - tape.n_trades,
        "n_trades": tape.n_trades,
        "in_sample": {"fraction": args.in_sample, "n_events": len(ins), "duration_s": ins.duration_s},
        "out_of_sample": {"n_events": len(oos), "duration_s": oos.duration_s, "n_trades": oos.n_trades},
        "calibration": _calibration_dict(cal),
        "calibration_notes": list(cal.notes),
        "lot": lot,
        "gamma_per_lot": gamma_per_lot(
            args.risk_aversion, float(cal.k), float(cal.sigma), args.replay_horizon_s
        ),
        "replay": cfg.to_dict(),
        "header": cfg.describe(),
        "strategies": strategies,
        "fill_latency_table": table,
        "walk_forward": walk,
        "walk_forward_calibrator": getattr(args, "calibrator", "fixed"),
        "walk_forward_comparison": comparison,
        "signal_fit": None if sig.fit is None else sig.fit.to_dict(),
        "signal_power": sig.predictive(ins, oos, horizons),
        "selected_law": None
        if law is None
        else {"model": law.name, "params": law.params, "se": law.se, "notes": sorted(set(law_notes))},
        "_results": results,
    }


def _at_mark_note(metrics: dict[str, Any], inst: Instrument) -> str:
    """For an inverse instrument: each strategy's P&L in the quote currency at the last mid."""
    if not inst.inverse:
        return ""
    return (
        "; at the last mid, in "
        + inst.quote_currency
        + ": "
        + ", ".join(f"{n} {fmt_value(m['total_pnl_quote'])}" for n, m in metrics["strategies"].items())
    )


def format_strategies(metrics: dict[str, Any]) -> str:
    """One row per strategy: out-of-sample P&L, attribution, markout, fills."""
    cols = (
        ("total_pnl", "pnl"),
        ("pnl_liquidated", "pnl liq."),
        ("spread_pnl", "spread"),
        ("inventory_pnl", "inventory"),
        ("fees", "fees"),
        ("adverse_selection_pnl", "markout"),
        ("n_fills", "fills"),
        ("fill_ratio", "fill%"),
        ("time_at_limit", "limit"),
    )
    line = f"{'strategy':<16}" + "".join(f" {h:>10}" for _, h in cols)
    out = [line, "-" * len(line)]
    for name, m in metrics["strategies"].items():
        out.append(f"{name:<16}" + "".join(f" {fmt_value(m[k]):>10}" for k, _ in cols))
    return "\n".join(out)


def format_table(metrics: dict[str, Any]) -> str:
    """Total P&L (fills) per strategy for each fill model and entry latency."""
    table = metrics["fill_latency_table"]
    if not table or not next(iter(table.values())):
        return ""
    cols = [(m, lat) for m, rows in table.items() for lat in rows]
    head = f"{'strategy':<16}" + "".join(
        f" {(m.replace('trade_through', 'through') + ' ' + lat):>18}" for m, lat in cols
    )
    out = [head, "-" * len(head)]
    for name in metrics["strategies"]:
        cells = [table[m][lat][name] for m, lat in cols]
        out.append(
            f"{name:<16}"
            + "".join(
                f" {fmt_value(c['total_pnl']) + ' (' + str(int(c['n_fills'])) + ')':>18}" for c in cells
            )
        )
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    """Load the tape, run the study, print the header and tables, write metrics.json."""
    t0 = time.perf_counter()
    src = sources.one_tape_source(args)
    tape = src.load()
    inst = src.instrument_of(tape)
    with staged(args.out, getattr(args, "force", False), "backtest") as out:
        metrics = run_study(tape, args, instrument=inst, progress=None if args.no_progress else print)
        metrics.pop("_results")
        write_json(metrics, out / "metrics.json")
    rep = metrics["tape_report"]
    excl = {
        k: v
        for k, v in rep.items()
        if (k.startswith("excluded") or k in ("trades_outside_book", "gaps")) and v
    }
    c = metrics["calibration"]
    print(
        f"Replay backtest on {metrics['source']} (tick {metrics['tick']:g}, size step {metrics['size_step']:g}): "
        f"{metrics['n_events']:,} events "
        f"({metrics['n_quotes']:,} quotes, {metrics['n_trades']:,} trades)"
    )
    print("loader exclusions and anomalies: " + (", ".join(f"{k} {v}" for k, v in excl.items()) or "none"))
    print(
        f"in sample: first {args.in_sample:g} of the time ({metrics['in_sample']['n_events']:,} events): "
        f"A = {c['A_per_s']:.4g} +- {c['A_se']:.2g} /s, k = {c['k_per_price']:.4g} +- {c['k_se']:.2g} /price, "
        f"sigma = {c['sigma_per_sqrt_s']:.4g} +- {c['sigma_se']:.2g} price/sqrt(s)"
    )
    unit = "contracts" if inst.inverse else "units"
    print(
        f"out of sample: {metrics['out_of_sample']['n_events']:,} events over "
        f"{metrics['out_of_sample']['duration_s']:.1f} s; lot {metrics['lot']:g} {unit}, limit "
        f"{args.max_lots:g} lots"
    )
    print(inst.describe())
    print(metrics["header"])
    print(f"P&L, attribution and fees in {metrics['currency']}" + _at_mark_note(metrics, inst))
    print(format_strategies(metrics))
    buckets = format_buckets(metrics["strategies"])
    if buckets:
        h = args.markouts[0]
        print(
            f"\nMarkout per unit at {h:g} s by the touch imbalance at fill time, seen from our side "
            "(side x imbalance; negative: against us) (fills)"
        )
        print(buckets)
    tab = format_table(metrics)
    if tab:
        print(f"\nFill model x entry latency: total P&L out of sample in {metrics['currency']} (fills)")
        print(tab)
    for row in metrics["walk_forward"]:
        print(
            f"walk-forward window {row['window']}: "
            + ", ".join(f"{n} {fmt_value(v)}" for n, v in row["total_pnl"].items())
            + (
                "; rolling: " + ", ".join(f"{n} {fmt_value(v)}" for n, v in row["total_pnl_rolling"].items())
                if "total_pnl_rolling" in row
                else ""
            )
        )
    cmp_ = metrics["walk_forward_comparison"]
    if cmp_:
        print(
            f"\nWalk-forward P&L, rolling ({cmp_['rolling_window_s']:g} s window) - fixed calibration, "
            f"paired by window ({cmp_['n_windows_without_estimate']} windows without a rolling estimate):"
        )
        for n, d in cmp_["rolling_minus_fixed"].items():
            print(
                f"  {n:<9} mean difference {fmt_value(d['mean_diff'])} +- {fmt_value(d['se'])} (SE) over {d['n_windows']} windows"
            )
    law = metrics["selected_law"]
    if law is not None:
        print(
            f"intensity law selected in sample: {law['model']} "
            + ", ".join(f"{k} = {v:.4g}" for k, v in law["params"].items())
        )
    print(f"wrote {Path(args.out) / 'metrics.json'} ({time.perf_counter() - t0:.1f} s)")
    return 0
