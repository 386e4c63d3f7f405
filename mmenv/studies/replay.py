"""Real-data backtest: calibrate on the in-sample part of a tape, replay every strategy on the rest.

``mmenv backtest --lobster MSG BOOK``, ``--trades T --quotes Q`` (Binance) or ``--tape FILE`` (the generic
schema of :func:`mmenv.data.loaders.load_tape`) run this study instead of the synthetic-tick backtest:

1. The tape is split in time: the first ``--in-sample`` fraction (default 0.5) calibrates A, k (MLE of
   lambda(d) = A exp(-k d)) and sigma with the project's calibration (:func:`calibrate_tape`; another
   estimator can be passed as ``calibrator``).
2. Every strategy (AS, GLFT, the CJP optimum, naive, passive, trend; a trained PPO with ``--ppo-run``) is
   built from the calibrated parameters and replayed on the out-of-sample part by the queue-aware engine
   (:mod:`mmenv.replay.engine`; fill model, latency, tick grid, post-only rule and fees as configured and
   printed in the header). Scale: one lot (``--lot``, default the median in-sample trade size) per order,
   at most ``--max-lots`` lots of inventory; the policies see their inventory in lots; the AS risk
   aversion is ``gamma = risk_aversion / (k sigma^2 T)`` per lot, so that its inventory term moves the
   quotes by at most ``risk_aversion / k`` per lot held (T the AS horizon ``--replay-horizon-s``).
3. ``--walk-forward N`` cuts the tape into N windows and, for each window after the first, calibrates on
   the window before it and replays on it (each window starts flat). ``--calibrator rolling`` also
   calibrates each window with the rolling-window estimator (:class:`mmenv.calibration.intensity.online.RollingEstimator`:
   A, k and sigma of the last ``--rolling-window-s`` seconds before the window's start), replays every
   strategy with both calibrations and reports, per strategy, the mean over windows of the paired P&L
   difference rolling - fixed and its standard error (sd / sqrt(n windows)).
   When the intensity law selected out of sample on the in-sample part (:func:`mmenv.calibration.intensity.selection.
   select_model`) is not the exponential, its AS-style and GLFT-style quotes (:mod:`agents.intensity_quotes`)
   are replayed too, as ``as-<law>`` and ``glft-<law>``, with the AS risk aversion of the exponential.
4. The fill-model and latency table re-runs every strategy with ``trade_through`` and ``queue`` fills at
   each entry latency of ``--replay-latencies-ms`` (default 0, 1, 10, 100 ms).

Outputs in ``--out``: ``metrics.json`` (source, loader report, calibration with standard errors, the replay
settings, each strategy's out-of-sample metrics: total P&L, liquidation P&L, spread / inventory / fees
attribution, markouts, fill ratio, time at the limit, drawdown; the table; walk-forward windows).
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

__all__ = [
    "REPLAY_STRATEGIES",
    "add_replay_arguments",
    "calibrate_tape",
    "law_policies",
    "load_replay_tape",
    "make_policies",
    "paired_difference",
    "replay_requested",
    "rolling_calibrations",
    "run",
    "run_study",
    "select_law",
]

REPLAY_STRATEGIES = ("as", "glft", "optimal", "naive", "passive", "trend")
CALIBRATORS = ("fixed", "rolling")
TABLE_KEYS = ("total_pnl", "n_fills", "fill_ratio", "adverse_selection_pnl")


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    """The real-data arguments of ``mmenv backtest`` (any of the sources switches to this study)."""
    g = parser.add_argument_group("real data (replay of trades and top-of-book quotes)")
    g.add_argument("--lobster", nargs=2, type=Path, metavar=("MESSAGE", "ORDERBOOK"), help="LOBSTER files")
    g.add_argument("--trades", type=Path, help="Binance trades CSV (with --quotes)")
    g.add_argument("--quotes", type=Path, help="Binance best bid/ask (bookTicker) CSV (with --trades)")
    g.add_argument("--tape", type=Path, help="a tape in the generic schema (CSV or .parquet)")
    g.add_argument("--tick", type=float, default=None, help="price tick (default: inferred)")
    g.add_argument(
        "--fill-model",
        choices=("queue", "trade_through"),
        default="queue",
        help="queue: a print at our price fills only after the queue ahead of us; trade_through: any print at or "
        "through our price fills (queue ignored)",
    )
    g.add_argument("--cancel-ahead", default="proportional", help="'proportional' or a share in [0, 1]")
    g.add_argument(
        "--deep-queue", type=float, default=1.0, help="queue ahead at an unseen level, x displayed"
    )
    g.add_argument("--feed-latency-ms", type=float, default=0.0, help="market data to policy (ms)")
    g.add_argument("--entry-latency-ms", type=float, default=0.0, help="order to book (ms)")
    g.add_argument("--maker-fee-bps", type=float, default=0.0, help="maker fee, bps of notional (<0: rebate)")
    g.add_argument("--maker-fee-per-unit", type=float, default=0.0, help="maker fee per unit (<0: rebate)")
    g.add_argument("--taker-fee-bps", type=float, default=0.0, help="taker fee of the final liquidation, bps")
    g.add_argument(
        "--cross", choices=("reprice", "withdraw"), default="reprice", help="post-only crossing rule"
    )
    g.add_argument("--in-sample", type=float, default=0.5, help="in-sample fraction of the tape (0.5)")
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
        "--lot", type=float, default=None, help="units per order (default: median in-sample trade)"
    )
    g.add_argument("--max-lots", type=float, default=10.0, help="inventory limit in lots (10)")
    g.add_argument(
        "--risk-aversion", type=float, default=1.0, help="AS/GLFT/CJP risk aversion, scale-free (1)"
    )
    g.add_argument("--replay-horizon-s", type=float, default=60.0, help="AS/CJP horizon T in seconds (60)")
    g.add_argument(
        "--replay-strategies",
        nargs="+",
        choices=REPLAY_STRATEGIES,
        default=list(REPLAY_STRATEGIES),
        metavar="S",
        help=f"strategies replayed on the tape, among {', '.join(REPLAY_STRATEGIES)}",
    )
    g.add_argument(
        "--replay-latencies-ms",
        type=float,
        nargs="*",
        default=[0.0, 1.0, 10.0, 100.0],
        metavar="MS",
        help="entry latencies of the fill-model x latency table (none: no table)",
    )


def replay_requested(args: argparse.Namespace) -> bool:
    """Whether a real-data source was given."""
    return any(getattr(args, a, None) is not None for a in ("lobster", "trades", "quotes", "tape"))


def load_replay_tape(args: argparse.Namespace):
    """The :class:`mmenv.data.tape.Tape` of the given source."""
    from mmenv.data import loaders

    if args.lobster is not None:
        return loaders.load_lobster(*args.lobster, tick=args.tick)
    if args.tape is not None:
        return loaders.load_tape(args.tape, tick=args.tick)
    if args.trades is None or args.quotes is None:
        raise ValueError("--trades and --quotes must be given together")
    return loaders.load_binance(args.trades, args.quotes, tick=args.tick)


def calibrate_tape(tape) -> Any:
    """The project's calibration of record on a tape: MLE of A, k and realised sigma (seconds)."""
    import warnings

    from mmenv.calibration import calibrate
    from mmenv.calibration.trades import TradesAndQuotes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exclusions are counted in the result's notes
        return calibrate(TradesAndQuotes.from_tape(tape))


def _gamma(risk_aversion: float, k: float, sigma: float, horizon: float) -> float:
    return risk_aversion / (k * sigma * sigma * horizon) if sigma > 0 else risk_aversion / k


def make_policies(
    names, cal, *, lot_size: float, max_lots: float, risk_aversion: float, horizon: float, s0: float
) -> dict[str, Any]:
    """Fresh policies for ``names`` from a calibration (time in seconds, inventory in lots)."""
    from types import SimpleNamespace

    from agents import CJPAgent, GLFTAgent
    from mmenv.studies.backtest import make_strategy

    A, k, sigma = float(cal.A), float(cal.k), float(cal.sigma)
    gamma = _gamma(risk_aversion, k, sigma, horizon)
    ns = SimpleNamespace(gamma=gamma, order_size=1.0)
    out: dict[str, Any] = {}
    for name in names:
        if name == "glft":
            out[name] = GLFTAgent(gamma=gamma, A=A, k=k, sigma=sigma, q_max=max_lots, order_size=1.0, s0=s0)
        elif name == "optimal":
            out[name] = CJPAgent(
                gamma=gamma,
                sigma=sigma,
                A=A,
                k=k,
                T=horizon,
                dt=horizon / 600.0,
                q_max=max_lots,
                order_size=1.0,
                s0=s0,
            )
        else:
            out[name] = make_strategy(name, ns, k, s0)
    return out


def select_law(tape, fit_fraction: float = 0.7) -> Any:
    """The intensity law chosen out of sample on ``tape`` (:func:`mmenv.calibration.intensity.selection.select_model`:
    fit on the first ``fit_fraction`` of the time, best held-out log-likelihood per order) and its fit on
    the whole tape (a :class:`mmenv.calibration.intensity.models.FittedIntensity`); None when no law can be fitted."""
    import warnings

    from mmenv.calibration.intensity.selection import select_model
    from mmenv.calibration.intensity.tape import IntensityTape
    from mmenv.calibration.trades import TradesAndQuotes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            itape = IntensityTape.from_trades_and_quotes(TradesAndQuotes.from_tape(tape))
            choice = select_model(itape, fit_fraction=fit_fraction)
        except ValueError:
            return None
    return choice.fits[choice.selected]


def law_policies(
    fit, cal, *, lot_size: float, max_lots: float, risk_aversion: float, horizon: float, s0: float
) -> dict[str, Any]:
    """``as-<law>`` and ``glft-<law>``: the AS-style and GLFT-style quotes of
    :func:`agents.intensity_quotes.policies_for` for a fitted non-exponential law (rates per second), with
    the exponential calibration's risk aversion per lot and sigma; empty for the exponential."""
    if fit is None or fit.name == "exponential":
        return {}
    from agents.intensity_quotes import IntensityASAgent, IntensityGLFTAgent

    gamma = _gamma(risk_aversion, float(cal.k), float(cal.sigma), horizon)
    sigma = float(cal.sigma)
    # the law is fitted beyond the touch c_ref: the GLFT search starts half a tick past it, the AS grid at it
    consts = fit.law.constants()
    touch = float(consts.get("c_ref", 0.0) or 0.0)
    start = touch + 0.5 * float(consts.get("tick", 0.0) or 0.0)
    glft = IntensityGLFTAgent(
        fit.intensity,
        gamma=gamma,
        sigma=sigma,
        q_max=max_lots,
        order_size=1.0,
        s0=s0,
        start_depth=start,
        min_depth=start,
    )
    asp = IntensityASAgent(
        fit.intensity, gamma=gamma, sigma=sigma, min_depth=touch, max_depth=start + 20.0 / glft.k, s0=s0
    )
    return {f"as-{fit.name}": asp, f"glft-{fit.name}": glft}


def rolling_calibrations(wins, window_s: float, tick: float | None = None) -> list[Any]:
    """For each window after the first, the rolling-window estimate (exponential A, k and sigma) of the
    ``window_s`` seconds before its first event, fed the windows before it (a
    :class:`mmenv.calibration.intensity.online.OnlineEstimate`, or None when the window held too few orders or no
    sigma)."""
    import warnings

    from mmenv.calibration.intensity.online import RollingEstimator

    est = RollingEstimator(window_s=float(window_s), model="exponential", tick=tick)
    out: list[Any] = []
    for j in range(1, len(wins)):
        est.update_tape(wins[j - 1])
        e = None
        if len(wins[j]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                e = est.estimate(float(wins[j].time[0]) * 1e-9)
        out.append(e if e is not None and math.isfinite(e.sigma) and e.sigma > 0 else None)
    return out


def paired_difference(a: list[float], b: list[float]) -> dict[str, float]:
    """Mean of the paired differences a - b, its standard error (sample sd / sqrt(n)) and n."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    n = int(d.size)
    se = float(d.std(ddof=1) / math.sqrt(n)) if n >= 2 else math.nan
    return {"mean_diff": float(d.mean()) if n else math.nan, "se": se, "n_windows": n}


def replay_config(args: argparse.Namespace, *, lot: float, sigma: float) -> Any:
    """The :class:`mmenv.replay.engine.ReplayConfig` of the arguments."""
    from mmenv.replay.engine import ReplayConfig

    cancel = args.cancel_ahead if args.cancel_ahead == "proportional" else float(args.cancel_ahead)
    return ReplayConfig(
        fill_model=args.fill_model,
        cancel_ahead=cancel,
        deep_queue=args.deep_queue,
        order_size=lot,
        q_max=lot * args.max_lots,
        maker_fee_bps=args.maker_fee_bps,
        maker_fee_per_unit=args.maker_fee_per_unit,
        taker_fee_bps=args.taker_fee_bps,
        feed_latency_s=args.feed_latency_ms * 1e-3,
        entry_latency_s=args.entry_latency_ms * 1e-3,
        cross=args.cross,
        horizon_s=args.replay_horizon_s,
        sigma=sigma,
    )


def _score(res, horizons: tuple[float, ...], episode: float) -> dict[str, Any]:
    from mmenv.analytics.scores import markout_curve, summarize_backtest

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
    out["markouts_per_unit"] = dict(
        zip(
            [f"{h:g}s" for h in horizons],
            markout_curve(res.fills, res.states, horizons).tolist(),
            strict=True,
        )
    )
    out["n_orders"], out["n_repriced"] = res.extra["n_orders"], res.extra["n_repriced"]
    return out


def ppo_replay(run_dir: Path, tape, cfg) -> Any:
    """Replay a PPO agent trained by ``mmenv train --market replay`` (``run_dir``: ppo_replay.zip and
    vecnormalize.pkl) on ``tape`` through the event-clock env (the same engine), deterministic actions."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from mmenv.replay.env import ReplayEnv

    model_path, norm_path = run_dir / "ppo_replay.zip", run_dir / "vecnormalize.pkl"
    for p in (model_path, norm_path):
        if not p.exists():
            raise ValueError(
                f"--ppo-run {run_dir}: {p.name} is missing (a run of mmenv train --market replay)"
            )
    env = ReplayEnv(tape, cfg, episode_s=tape.duration_s + 1.0, start="first")
    venv = VecNormalize.load(str(norm_path), DummyVecEnv([lambda: ReplayEnv(tape, cfg, episode_s=1.0)]))
    venv.training = False
    model = PPO.load(str(model_path), device="cpu")
    obs, _ = env.reset(seed=0)
    done = False
    while not done:
        act, _ = model.predict(venv.normalize_obs(obs[None, :]), deterministic=True)
        obs, _, _, done, _ = env.step(act[0])
    return env.result("ppo")


def _calibration_dict(cal) -> dict[str, float]:
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
    calibrator: Callable[[Any], Any] = calibrate_tape,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Calibrate in sample, replay every strategy out of sample, the table and the walk-forward windows."""
    from mmenv.replay.engine import replay

    say = progress or (lambda _m: None)
    ins, oos = tape.split(args.in_sample)
    cal = calibrator(ins)
    tr = ins.kind == 1
    lot = float(args.lot) if args.lot is not None else float(np.median(ins.trade_qty[tr]))
    cfg = replay_config(args, lot=lot, sigma=float(cal.sigma))
    horizons = tuple(float(h) for h in args.markouts)
    s0 = float(oos.mid[0])
    kw = {
        "lot_size": lot,
        "max_lots": args.max_lots,
        "risk_aversion": args.risk_aversion,
        "horizon": args.replay_horizon_s,
        "s0": s0,
    }
    names = list(dict.fromkeys(args.replay_strategies))
    law = select_law(ins) if {"as", "glft"} & set(names) else None
    law_notes: list[str] = []

    def policies(c: Any, **over: Any) -> dict[str, Any]:
        pols = make_policies(names, c, **{**kw, **over})
        try:
            extra = law_policies(law, c, **{**kw, **over})
        except ValueError as exc:  # a law that does not decay where the quotes would sit
            law_notes.append(f"{law.name}: no quotes ({exc})")
            extra = {}
        return {**pols, **{n: p for n, p in extra.items() if n.split("-")[0] in names}}

    strategies: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for name, pol in policies(cal).items():
        t = time.perf_counter()
        res = replay(pol, oos, cfg)
        wall = time.perf_counter() - t
        m = _score(res, horizons, args.replay_horizon_s)
        m["events_per_second"] = res.n_events / wall if wall > 0 else float("nan")
        strategies[name], results[name] = m, res
        say(f"{name}: {m['total_pnl']:.4g} over {res.n_events:,} events ({wall:.2f} s)")
    if getattr(args, "ppo_run", None) is not None:
        res = ppo_replay(Path(args.ppo_run), oos, cfg)
        strategies["ppo"], results["ppo"] = _score(res, horizons, args.replay_horizon_s), res
        say(f"ppo: {strategies['ppo']['total_pnl']:.4g}")
    table: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for model in ("trade_through", "queue"):
        table[model] = {}
        for lat in args.replay_latencies_ms:
            c = replace(cfg, fill_model=model, entry_latency_s=lat * 1e-3, feed_latency_s=0.0)
            row = {}
            for name, pol in policies(cal).items():
                m = _score(replay(pol, oos, c), horizons, args.replay_horizon_s)
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
            pols = make_policies(names, cal_j, **{**kw, "s0": float(wins[j].mid[0])})
            row = {"window": j, "calibration": _calibration_dict(cal_j), "n_events": len(wins[j])}
            row["total_pnl"] = {n: replay(p, wins[j], c).pnl for n, p in pols.items()}
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
                pols = make_policies(names, e, **{**kw, "s0": float(wins[j].mid[0])})
                row["total_pnl_rolling"] = {n: replay(p, wins[j], c).pnl for n, p in pols.items()}
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
        "tick": tape.tick,
        "tape_report": tape.report,
        "n_events": len(tape),
        "n_quotes": len(tape) - tape.n_trades,
        "n_trades": tape.n_trades,
        "in_sample": {"fraction": args.in_sample, "n_events": len(ins), "duration_s": ins.duration_s},
        "out_of_sample": {"n_events": len(oos), "duration_s": oos.duration_s, "n_trades": oos.n_trades},
        "calibration": _calibration_dict(cal),
        "calibration_notes": list(cal.notes),
        "lot": lot,
        "gamma_per_lot": _gamma(args.risk_aversion, float(cal.k), float(cal.sigma), args.replay_horizon_s),
        "replay": cfg.to_dict(),
        "header": cfg.describe(),
        "strategies": strategies,
        "fill_latency_table": table,
        "walk_forward": walk,
        "walk_forward_calibrator": getattr(args, "calibrator", "fixed"),
        "walk_forward_comparison": comparison,
        "selected_law": None
        if law is None
        else {"model": law.name, "params": law.params, "se": law.se, "notes": sorted(set(law_notes))},
        "_results": results,
    }


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
        out.append(f"{name:<16}" + "".join(f" {_fmt(m[k]):>10}" for k, _ in cols))
    return "\n".join(out)


def _fmt(v: float) -> str:
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e9):
        return f"{int(v)}"
    return "undefined" if not math.isfinite(v) else f"{v:.4g}"


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
            + "".join(f" {_fmt(c['total_pnl']) + ' (' + str(int(c['n_fills'])) + ')':>18}" for c in cells)
        )
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    """Load the tape, run the study, print the header and tables, write metrics.json."""
    from mmenv.outdir import staged
    from mmenv.studies.common import write_json

    t0 = time.perf_counter()
    tape = load_replay_tape(args)
    with staged(args.out, getattr(args, "force", False), "backtest") as out:
        metrics = run_study(tape, args, progress=None if args.no_progress else print)
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
        f"Replay backtest on {metrics['source']} (tick {metrics['tick']:g}): {metrics['n_events']:,} events "
        f"({metrics['n_quotes']:,} quotes, {metrics['n_trades']:,} trades)"
    )
    print("loader exclusions and anomalies: " + (", ".join(f"{k} {v}" for k, v in excl.items()) or "none"))
    print(
        f"in sample: first {args.in_sample:g} of the time ({metrics['in_sample']['n_events']:,} events): "
        f"A = {c['A_per_s']:.4g} +- {c['A_se']:.2g} /s, k = {c['k_per_price']:.4g} +- {c['k_se']:.2g} /price, "
        f"sigma = {c['sigma_per_sqrt_s']:.4g} +- {c['sigma_se']:.2g} price/sqrt(s)"
    )
    print(
        f"out of sample: {metrics['out_of_sample']['n_events']:,} events over "
        f"{metrics['out_of_sample']['duration_s']:.1f} s; lot {metrics['lot']:g}, limit {args.max_lots:g} lots"
    )
    print(metrics["header"])
    print(format_strategies(metrics))
    tab = format_table(metrics)
    if tab:
        print("\nFill model x entry latency: total P&L out of sample (fills)")
        print(tab)
    for row in metrics["walk_forward"]:
        print(
            f"walk-forward window {row['window']}: "
            + ", ".join(f"{n} {_fmt(v)}" for n, v in row["total_pnl"].items())
            + (
                "; rolling: " + ", ".join(f"{n} {_fmt(v)}" for n, v in row["total_pnl_rolling"].items())
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
                f"  {n:<9} mean difference {_fmt(d['mean_diff'])} +- {_fmt(d['se'])} (SE) over {d['n_windows']} windows"
            )
    law = metrics["selected_law"]
    if law is not None:
        print(
            f"intensity law selected in sample: {law['model']} "
            + ", ".join(f"{k} = {v:.4g}" for k, v in law["params"].items())
        )
    print(f"wrote {Path(args.out) / 'metrics.json'} ({time.perf_counter() - t0:.1f} s)")
    return 0


def _money(v: float) -> str:
    return "undefined" if not math.isfinite(v) else f"{v:,.4g}"


def report_section(samples: dict[str, dict[str, Any]]) -> str:
    """Markdown of the real-data section: for each sample (name -> :func:`run_study` metrics), the calibration
    with standard errors, every strategy's out-of-sample scores, the fill-model x latency table and sentences
    computed from them."""
    if not samples:
        return (
            "No real-data sample was found (the LOBSTER AMZN and Binance BTCUSDT samples of "
            "`../shared/data`); `mmenv backtest --lobster MSG BOOK` or `--trades T --quotes Q` runs this study."
        )
    parts = []
    for name, m in samples.items():
        c, oos, strat = m["calibration"], m["out_of_sample"], m["strategies"]
        rep = m["tape_report"]
        excl = {
            k: v
            for k, v in rep.items()
            if (k.startswith("excluded") or k in ("trades_outside_book", "gaps")) and v
        }
        parts.append(f"### {name}\n")
        parts.append(
            f"{m['source']}, tick {m['tick']:g}: {m['n_events']:,} events ({m['n_quotes']:,} quotes, {m['n_trades']:,} "
            f"trades); loader exclusions and anomalies: "
            + (", ".join(f"{k.replace('_', ' ')} {v}" for k, v in excl.items()) or "none")
            + f". Calibrated on the first {m['in_sample']['fraction']:g} of the time "
            f"({m['in_sample']['n_events']:,} events): A = {c['A_per_s']:.4g} ± {c['A_se']:.2g} /s, "
            f"k = {c['k_per_price']:.4g} ± {c['k_se']:.2g} /price, sigma = {c['sigma_per_sqrt_s']:.4g} ± "
            f"{c['sigma_se']:.2g} price/√s. Out of sample: {oos['n_events']:,} events over {oos['duration_s']:,.1f} s, "
            f"one lot = {m['lot']:g} units, limit {m['replay']['q_max'] / m['lot']:g} lots. Settings: {m['header']}.\n"
        )
        h = next(iter(next(iter(strat.values()))["markouts_per_unit"]), "1s")
        parts.append(
            f"| strategy | P&L | P&L liquidated | spread | inventory | fees | markout {h} | fills | fill ratio | time at limit |"
        )
        parts.append("|---|---|---|---|---|---|---|---|---|---|")
        for s, v in strat.items():
            parts.append(
                f"| {s} | {_money(v['total_pnl'])} | {_money(v['pnl_liquidated'])} | {_money(v['spread_pnl'])} | "
                f"{_money(v['inventory_pnl'])} | {_money(v['fees'])} | {_money(v['adverse_selection_pnl'])} | "
                f"{int(v['n_fills']):,} | {_fmt(v['fill_ratio'])} | {_fmt(v['time_at_limit'])} |"
            )
        table = m["fill_latency_table"]
        cols = [(mod, lat) for mod, rows in table.items() for lat in rows]
        if cols:
            parts.append("\nTotal P&L out of sample (fills) by fill model and entry latency:\n")
            parts.append("| strategy | " + " | ".join(f"{mod} {lat}" for mod, lat in cols) + " |")
            parts.append("|---|" + "---|" * len(cols))
            for s in strat:
                parts.append(
                    f"| {s} | "
                    + " | ".join(
                        f"{_money(table[mod][lat][s]['total_pnl'])} ({int(table[mod][lat][s]['n_fills']):,})"
                        for mod, lat in cols
                    )
                    + " |"
                )
        parts.append("\n" + " ".join(_sentences(m)) + "\n")
    return "\n".join(parts)


def _sentences(m: dict[str, Any]) -> list[str]:
    strat = m["strategies"]
    pnl = {s: v["total_pnl"] for s, v in strat.items()}
    best = max(pnl, key=pnl.get)
    winners = [s for s, v in pnl.items() if v > 0]
    out = [
        f"{len(winners)} of {len(pnl)} strategies made money out of sample"
        + (f" ({', '.join(winners)})" if winners else "")
        + f"; the best was {best} with {_money(pnl[best])}."
    ]
    if "as" in strat:
        v = strat["as"]
        if v["spread_pnl"] > 0:
            share = -v["adverse_selection_pnl"] / v["spread_pnl"]
            out.append(
                f"AS earned {_money(v['spread_pnl'])} of spread over {int(v['n_fills']):,} fills and the "
                f"markout of its fills was {_money(v['adverse_selection_pnl'])}, {share:.0%} of that spread"
                + (" (adverse selection exceeded the spread)." if share > 1 else ".")
            )
        else:
            out.append(
                f"AS's {int(v['n_fills']):,} fills earned no spread ({_money(v['spread_pnl'])}: at its fills "
                "the mid was on average already beyond its quote, which the market went through) and "
                f"their markout was {_money(v['adverse_selection_pnl'])}."
            )
    table = m["fill_latency_table"]
    q = table.get("queue", {})
    t = table.get("trade_through", {})
    lats = list(q)
    if "as" in strat and len(lats) >= 2:
        a, b = q[lats[0]]["as"], q[lats[-1]]["as"]
        out.append(
            f"With the queue model, from {lats[0]} to {lats[-1]} of entry latency AS's fills go from "
            f"{int(a['n_fills']):,} to {int(b['n_fills']):,} and its P&L from {_money(a['total_pnl'])} to "
            f"{_money(b['total_pnl'])}"
            + (": the fills latency removes were losing ones." if b["total_pnl"] > a["total_pnl"] else ".")
        )
    if "as" in strat and lats and lats[0] in t:
        a, b = t[lats[0]]["as"], q[lats[0]]["as"]
        out.append(
            f"At {lats[0]}, trade_through gives AS {int(a['n_fills']):,} fills and {_money(a['total_pnl'])}, "
            f"the queue model {int(b['n_fills']):,} fills and {_money(b['total_pnl'])}."
        )
    return out


SAMPLES = (
    (
        "LOBSTER AMZN 2012-06-21",
        "lobster",
        (
            "AMZN_2012-06-21_34200000_57600000_message_1.csv",
            "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv",
        ),
    ),
    (
        "Binance BTCUSDT 2024-08-08",
        "binance",
        ("usdm_btcusdt_2024-08-08T2354_to_2400_trades.csv", "usdm_btcusdt_2024-08-08T2354_to_2400_bbo.csv"),
    ),
)


def shared_data_dir(cfg: dict[str, Any] | None = None) -> Path | None:
    """The folder of the shared real-data samples: ``cfg["shared_data"]``, ``$MMENV_SHARED_DATA``, or
    ``shared/data`` one or two folders above the working directory's parent or the repository."""
    import os

    import mmenv

    root = Path(mmenv.__file__).resolve().parents[1]  # the repository (or site-packages)
    cands = [
        (cfg or {}).get("shared_data"),
        os.environ.get("MMENV_SHARED_DATA"),
        Path.cwd().parent / "shared" / "data",
        root.parent / "shared" / "data",
        root.parent.parent / "shared" / "data",
    ]
    for c in cands:
        if c and Path(c).is_dir():
            return Path(c)
    return None


def default_args(quick: bool = False) -> argparse.Namespace:
    """The study's default arguments (``quick``: AS, GLFT and naive; latencies 0, 10, 100 ms)."""
    p = argparse.ArgumentParser()
    add_replay_arguments(p)
    p.add_argument("--markouts", type=float, nargs="+", default=[1.0, 10.0, 60.0])
    args = p.parse_args([])
    if quick:
        args.replay_strategies = ["as", "glft", "naive"]
        args.replay_latencies_ms = [0.0, 10.0, 100.0]
    return args


def report_part(rep, cfg: dict[str, Any]) -> None:
    """The report's real-data subsection: the study on each shared sample found (section VI)."""
    from mmenv.data import loaders as tape_loaders

    d = shared_data_dir(cfg)
    samples: dict[str, dict[str, Any]] = {}
    args = default_args(bool(cfg.get("quick")))
    for name, sub, files in SAMPLES:
        paths = [d / sub / f for f in files] if d is not None else []
        if not paths or not all(p.exists() for p in paths):
            continue
        tape = tape_loaders.load_lobster(*paths) if sub == "lobster" else tape_loaders.load_binance(*paths)
        m = run_study(tape, args)
        m.pop("_results")
        samples[name] = m
    rep.add(
        "### Real data: replay of trades and quotes with queue-aware fills\n\n"
        "The strategies calibrated on the first half of each real sample (A, k, sigma by maximum likelihood) and "
        "replayed on the second half by the queue-aware engine (`mmenv backtest --lobster` / `--trades --quotes`; "
        "fill models and assumptions in the README): their P&L, its attribution, the 1 s markout of their fills, "
        "fill ratio and time at the inventory limit, then the same runs with `trade_through` and `queue` fills "
        "at each entry latency.\n\n" + report_section(samples)
    )
    rep.metrics["real_data"] = samples
