"""Volatility forecasts for the quotes: GARCH(1,1) by MLE and HAR-RV against EWMA, rolling and constant sigma.

``mmenv vol-forecast --out DIR [--ticker T | --bars-csv F]`` (models in :mod:`mmenv.calibration.volforecast`):

1. Forecast losses on the GARCH market (:class:`mmenv.markets.variants.GarchMarket`, one long path of
   ``--steps`` mid changes): the variance of each block of 10 steps forecast out of sample, GARCH refitted by
   maximum likelihood on a rolling window of 400 blocks every 100 blocks, HAR-RV (lags 1, 5, 22 blocks)
   refitted with it; QLIKE and MSE against the block's realised variance, each with its SE and the paired
   difference to GARCH. The market's true conditional variance gives an "oracle" forecast (true parameters).
2. The same on 1-minute bars: synthetic bars (a seeded model with day-level GARCH, an intraday U shape and
   persistent log-volatility, :func:`mmenv.data.synthetic_bars`) by default, or real bars (``--ticker``,
   ``--bars-csv``). Intraday log returns of the close (the overnight change excluded); blocks of 30 minutes,
   HAR lags 1, 13 and 65 blocks (half an hour, a session, a week), a rolling window of 20 sessions refitted
   every session.
3. AS quoting (gamma 0.1, the P&L reward) on ``--paths`` episodes of the GARCH market with each sigma:
   constant (the long-run value), rolling (last 20 changes) and EWMA (RiskMetrics 0.94), the market's own
   estimates; GARCH (fitted by MLE on a separate training path, run as a filter) and HAR-RV (on per-step
   squared changes, lags 1, 5, 22 steps, fitted on the same training path) through
   :class:`agents.forecast_sigma.ForecastSigmaAgent`; and the true conditional sigma (oracle). All on the same
   paths: mean P&L, std P&L, mean |q|, std of q_T, and the paired P&L difference to the constant sigma.

4. Real 1-minute bars from a tape (``--lobster MSG BOOK``, ``--trades T --quotes Q``, ``--tape F``; any of
   them, each studied in turn, :mod:`mmenv.studies.sources`): the mid's bars of
   :func:`mmenv.data.tape_bars.tape_bars`, checked by the bar validator, their log returns ln(close / open) and,
   as the target, each minute's realised variance from the 5-second returns of the mid (a genuine
   measurement, not the squared return). Horizon one minute (the AS window below), rolling window
   :data:`TAPE_WINDOW` minutes refitted every :data:`TAPE_REFIT`, HAR lags 1, 5 and 15 minutes (on the
   realised variances): the forecasts cover every minute after the first window. QLIKE and MSE as above.
   Then the replay backtest of AS on the same tape, one window per forecast minute from a flat start, the
   policy's sigma (price / sqrt(s)) that minute being mid x sqrt(forecast / 60 s) of each forecaster, all
   else equal: A, k, the lot (median trade) and gamma = 1 / (k sigma_0^2 T) (T = 60 s, the replay study's
   risk aversion 1) calibrated on the first window; "realised" uses the minute's own realised variance
   (look-ahead, a bound). Per sigma: mean P&L per minute with its SE, std of the P&L, mean |q| and std of
   the final q (lots), fills, and the paired differences to the constant and to GARCH (SE over minutes).
   A tape with fewer than :data:`TAPE_WINDOW` + 30 bars is reported as too short.

Writes DIR/metrics.json (read by ``mmenv report --vol-forecast DIR``) and prints the tables.
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from agents import AvellanedaStoikovAgent
from agents.forecast_sigma import ForecastSigmaAgent
from mmenv import data
from mmenv.calibration.volforecast import (
    GarchFilter,
    HarFilter,
    fit_garch,
    fit_har,
    forecast_losses,
    rolling_forecasts,
)
from mmenv.config import MarketParams
from mmenv.data import validate_bars
from mmenv.data.tape_bars import bar_windows, tape_bars
from mmenv.envs.rollout import rollout
from mmenv.markets.registry import make_market
from mmenv.replay.engine import ReplayConfig, replay
from mmenv.studies import sources
from mmenv.studies.common import write_json
from mmenv.studies.strategies import tape_policies
from mmenv.studies.tapes import calibrate_tape, median_lot

__all__ = [
    "bar_returns",
    "configure_parser",
    "garch_market_series",
    "quoting_study",
    "report_markdown",
    "run",
    "tape_markdown",
    "tape_study",
]

GARCH_BLOCK, GARCH_WINDOW, GARCH_REFIT = 10, 400, 100
BAR_BLOCK, BAR_LAGS = 30, (1, 13, 65)
SIGMAS = ("constant", "rolling", "ewma", "garch", "har", "true")
#: Real bars: rolling window and refit interval (minutes), HAR lags (minutes), RV sampling step (seconds).
TAPE_WINDOW, TAPE_REFIT, TAPE_LAGS, TAPE_RV_SAMPLE_S = 120, 5, (1, 5, 15), 5.0


def garch_market_series(steps: int, seed: int, dt: float = 0.005, **garch: Any) -> dict[str, Any]:
    """One path of ``steps`` mid changes of the GARCH market and the true one-step variance before each.

    Returns {"changes", "true_variance", "params": (omega, alpha, beta) per step}.
    """
    params = MarketParams(T=steps * dt, dt=dt)
    m = make_market("garch", params, 1, **garch)
    m.reset(np.random.default_rng(seed))
    changes, tv = np.empty(steps), np.empty(steps)
    for t in range(steps):
        before = float(m.mid[0])
        tv[t] = float(m.true_sigma[0]) ** 2 * dt
        m.advance()
        changes[t] = float(m.mid[0]) - before
    v_long = params.sigma**2 * dt
    a, b = m.garch_alpha, m.garch_beta
    return {"changes": changes, "true_variance": tv, "params": (v_long * (1 - a - b), a, b)}


def bar_returns(bars) -> np.ndarray:
    """Intraday log returns of the close, session by session (the overnight change is not a 1-minute change)."""
    close = np.log(bars["close"].to_numpy(dtype=float))
    day = bars.index.normalize().asi8
    r = np.diff(close)
    same = day[1:] == day[:-1]
    return r[same]


def _loss_table(losses: dict[str, dict]) -> str:
    lines = [f"{'forecast':<10}{'QLIKE':>10}{'SE':>8}{'vs GARCH':>10}{'SE':>8}{'MSE':>12}{'vs GARCH':>12}"]
    for name, s in losses.items():
        if name.startswith("_"):
            continue
        d = s.get("vs_garch")
        lines.append(
            f"{name:<10}{s['qlike']['mean']:>10.4f}{s['qlike']['se']:>8.4f}"
            + (f"{d['qlike']['mean']:>+10.4f}{d['qlike']['se']:>8.4f}" if d else f"{'':>18}")
            + f"{s['mse']['mean']:>12.4g}"
            + (f"{d['mse']['mean']:>+12.3g}" if d else "")
        )
    return "\n".join(lines)


def quoting_study(paths: int, seed: int, train_steps: int) -> dict[str, Any]:
    """Step 3 of the module docstring; JSON-ready metrics per sigma."""
    dt = 0.005
    train = garch_market_series(train_steps, seed + 7_000_000, dt=dt)
    gfit = fit_garch(train["changes"])
    hfit = fit_har(train["changes"] ** 2, (1, 5, 22))
    v_long = float(np.mean(train["changes"] ** 2))
    as_agent = dict(gamma=0.1, k=1.5, q_max=25.0)
    runs = {}
    for name in SIGMAS:
        env = {"market": "garch", "reward": "pnl", "dt": dt}
        if name in ("constant", "rolling", "ewma", "true"):
            pol = AvellanedaStoikovAgent(**as_agent)
            env["sigma_estimate"] = name
        else:
            filt = GarchFilter(gfit) if name == "garch" else HarFilter(hfit, v_long)
            pol = ForecastSigmaAgent(AvellanedaStoikovAgent(**as_agent), filt, dt, name=name)
        runs[name] = rollout(pol, paths, seed, **env)
    base = runs["constant"]
    out: dict[str, Any] = {
        "garch_fit": {"omega": gfit.omega, "alpha": gfit.alpha, "beta": gfit.beta, "se": gfit.se},
        "har_coef": hfit.coef.tolist(),
        "train_steps": train_steps,
        "paths": paths,
        "policies": {},
    }
    for name, ro in runs.items():
        pnl = ro.equity[:, -1] - ro.equity[:, 0]
        d = pnl - (base.equity[:, -1] - base.equity[:, 0])
        out["policies"][name] = {
            "mean_pnl": float(pnl.mean()),
            "se_pnl": float(pnl.std(ddof=1) / math.sqrt(paths)),
            "std_pnl": float(pnl.std(ddof=1)),
            "mean_abs_q": float(np.abs(ro.inventory[:, 1:]).mean()),
            "std_q_final": float(ro.inventory[:, -1].std(ddof=1)),
            "vs_constant": {"diff": float(d.mean()), "se": float(d.std(ddof=1) / math.sqrt(paths))},
        }
    return out


def _quoting_table(q: dict[str, Any]) -> str:
    lines = [
        f"{'sigma':<10}{'mean P&L':>10}{'SE':>7}{'std P&L':>9}{'mean |q|':>10}{'std q_T':>9}{'- constant':>12}{'SE':>7}"
    ]
    for name, s in q["policies"].items():
        v = s["vs_constant"]
        lines.append(
            f"{name:<10}{s['mean_pnl']:>10.3f}{s['se_pnl']:>7.3f}{s['std_pnl']:>9.3f}{s['mean_abs_q']:>10.3f}"
            f"{s['std_q_final']:>9.3f}{v['diff']:>+12.3f}{v['se']:>7.3f}"
        )
    return "\n".join(lines)


def tape_study(
    tape,
    label: str,
    *,
    window: int = TAPE_WINDOW,
    refit: int = TAPE_REFIT,
    lags: tuple[int, ...] = TAPE_LAGS,
    risk_aversion: float = 1.0,
    max_lots: float = 10.0,
) -> dict[str, Any]:
    """Step 4 of the module docstring on ``tape``: forecast losses on its real 1-minute bars and the paired
    replay of AS with each forecaster's sigma; JSON-ready."""
    bars = tape_bars(tape, 60.0, sample_s=TAPE_RV_SAMPLE_S)
    clean, rep = validate_bars(bars)
    out: dict[str, Any] = {
        "source": label,
        "tape_validation": sources.tape_validation(tape),
        "bars": len(bars),
        "bars_valid": len(clean),
        "validation": {
            "dropped": rep.n_dropped,
            "zero_volume": rep.n_zero_volume,
            "missing_bars": rep.n_missing_bars,
        },
        "first_bar": str(bars.index[0]),
        "last_bar": str(bars.index[-1]),
        "rv_sample_s": TAPE_RV_SAMPLE_S,
    }
    if len(clean) != len(bars) or len(bars) < window + 30:
        out["too_short"] = (
            f"{len(bars)} one-minute bars ({len(clean)} valid): fewer than the {window} of one "
            f"fitting window plus 30 to score"
        )
        return out
    r = np.log(bars["close"].to_numpy() / bars["open"].to_numpy())
    rv = bars["rv"].to_numpy()
    f = rolling_forecasts(r, 1, window, refit, lags=lags, realized=rv)
    out.update(
        window_minutes=window,
        refit_minutes=refit,
        lags_minutes=list(lags),
        horizon_minutes=1,
        scored_minutes=int(f["realized"].size),
        losses=forecast_losses(f),
    )
    # the replay of AS with each sigma, one window per scored minute, flat start
    wins = bar_windows(tape, 60.0)
    fit_part = tape.slice(0, int(np.searchsorted(tape.time, wins[window].time[0], side="left")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate_tape(fit_part)
    lot = median_lot(fit_part)
    sigmas = {n: f[n] for n in ("constant", "rolling", "ewma", "garch", "har")}
    sigmas["realised"] = f["realized"]
    mids = bars["open"].to_numpy()[window:]
    per: dict[str, dict[str, list]] = {n: {"pnl": [], "absq": [], "qT": [], "fills": []} for n in sigmas}
    kept = []
    for j, w in enumerate(wins[window:]):
        if len(w) < 2:
            continue
        kept.append(j)
        pol = tape_policies(
            ["as"],
            cal,
            max_lots=max_lots,
            risk_aversion=risk_aversion,
            horizon=60.0,
            s0=float(w.mid[0]),
        )["as"]
        for name, h in sigmas.items():
            sig = float(mids[j] * math.sqrt(max(h[j], 0.0) / 60.0))
            cfg = ReplayConfig(order_size=lot, q_max=lot * max_lots, horizon_s=60.0, sigma=sig)
            res = replay(pol, w, cfg)
            q = np.asarray(res.states["inventory"]) / lot
            per[name]["pnl"].append(res.pnl)
            per[name]["absq"].append(float(np.abs(q).mean()))
            per[name]["qT"].append(float(q[-1]))
            per[name]["fills"].append(len(res.fills))
    n = len(kept)

    def se(x) -> float:
        return float(np.std(x, ddof=1) / math.sqrt(len(x)))

    quoting: dict[str, Any] = {}
    base = {k: np.asarray(per[k]["pnl"]) for k in ("constant", "garch")}
    for name, d in per.items():
        pnl = np.asarray(d["pnl"])
        quoting[name] = {
            "mean_pnl": float(pnl.mean()),
            "se_pnl": se(pnl),
            "std_pnl": float(pnl.std(ddof=1)),
            "mean_abs_q": float(np.mean(d["absq"])),
            "std_q_final": float(np.std(d["qT"], ddof=1)),
            "fills_per_minute": float(np.mean(d["fills"])),
            "mean_sigma": float(np.mean(mids * np.sqrt(np.maximum(sigmas[name], 0.0) / 60.0))),
            "vs_constant": {"diff": float((pnl - base["constant"]).mean()), "se": se(pnl - base["constant"])},
            "vs_garch": {"diff": float((pnl - base["garch"]).mean()), "se": se(pnl - base["garch"])},
            "pnl_per_minute": pnl.tolist(),
        }
    out["quoting"] = {
        "minutes": n,
        "lot": lot,
        "max_lots": max_lots,
        "risk_aversion": risk_aversion,
        "calibration": {
            "A_per_s": float(cal.A),
            "k_per_price": float(cal.k),
            "sigma_per_sqrt_s": float(cal.sigma),
        },
        "policies": quoting,
    }
    return out


def _tape_quoting_table(q: dict[str, Any]) -> str:
    lines = [
        f"{'sigma':<10}{'mean sigma':>11}{'P&L/min':>10}{'SE':>8}{'std P&L':>9}{'mean |q|':>10}{'std q_T':>9}"
        f"{'fills':>7}{'- const':>10}{'SE':>8}{'- GARCH':>10}{'SE':>8}"
    ]
    for name, s in q["policies"].items():
        a, b = s["vs_constant"], s["vs_garch"]
        lines.append(
            f"{name:<10}{s['mean_sigma']:>11.4g}{s['mean_pnl']:>10.4f}{s['se_pnl']:>8.4f}{s['std_pnl']:>9.3f}"
            f"{s['mean_abs_q']:>10.3f}{s['std_q_final']:>9.3f}{s['fills_per_minute']:>7.2f}{a['diff']:>+10.4f}"
            f"{a['se']:>8.4f}{b['diff']:>+10.4f}{b['se']:>8.4f}"
        )
    return "\n".join(lines)


def _print_tape(t: dict[str, Any]) -> None:
    if "too_short" in t:
        print(f"\n{t['source']}: {t['too_short']}; no forecast scored")
        return
    print(
        f"\n{t['source']}: {t['bars']} real 1-minute bars of the mid ({t['first_bar']} to {t['last_bar']}), "
        f"horizon 1 minute, window {t['window_minutes']} minutes refitted every {t['refit_minutes']}, "
        f"{t['scored_minutes']} minutes scored against the realised variance of {t['rv_sample_s']:g}-second returns:"
    )
    print(_loss_table(t["losses"]))
    q = t["quoting"]
    print(
        f"\nAS replayed on the tape, one window per scored minute ({q['minutes']}), sigma from each forecast:"
    )
    print(_tape_quoting_table(q))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv vol-forecast``."""
    parser.add_argument("--out", type=Path, default=Path("out/vol-forecast"), help="output directory")
    sources.add_bars_arguments(parser, "forecast them instead of the synthetic bars")
    parser.add_argument("--days", type=int, default=60, help="sessions of synthetic bars (60)")
    parser.add_argument("--steps", type=int, default=40_000, help="GARCH-market changes for the losses")
    parser.add_argument("--paths", type=int, default=2000, help="episodes of the quoting comparison")
    parser.add_argument("--seed", type=int, default=0, help="seed")
    sources.add_tape_arguments(
        parser, "also forecast its real 1-minute bars and replay AS on it with each sigma (several allowed)"
    )


def run(args: argparse.Namespace) -> int:
    """Run the parts, print, write DIR/metrics.json."""
    # the tapes are read (and checked) before anything runs; the output folder is made when there is a result
    given = {src.key: (src.label, src.load()) for src in sources.tape_sources(args)}
    out = Path(args.out)
    metrics: dict[str, Any] = {}
    s = garch_market_series(args.steps, args.seed)
    f = rolling_forecasts(
        s["changes"],
        GARCH_BLOCK,
        GARCH_WINDOW,
        GARCH_REFIT,
        true_variance=s["true_variance"],
        true_garch=s["params"],
    )
    metrics["garch_market"] = {
        "steps": args.steps,
        "block": GARCH_BLOCK,
        "window_blocks": GARCH_WINDOW,
        "refit_blocks": GARCH_REFIT,
        "true_params": list(s["params"]),
        "losses": forecast_losses(f),
    }
    print(f"GARCH market, {args.steps:,} changes, blocks of {GARCH_BLOCK} steps:")
    print(_loss_table(metrics["garch_market"]["losses"]))
    bars = sources.load_bars(args)
    source = args.ticker or (
        str(args.bars_csv) if args.bars_csv else f"synthetic bars ({args.days} sessions)"
    )
    if bars is None:
        bars = data.synthetic_bars(days=args.days, seed=args.seed)
    r = bar_returns(bars)
    per_day = 390 // BAR_BLOCK
    fb = rolling_forecasts(r, BAR_BLOCK, 20 * per_day, per_day, lags=BAR_LAGS)
    metrics["bars"] = {
        "source": source,
        "returns": int(r.size),
        "block_minutes": BAR_BLOCK,
        "lags_blocks": list(BAR_LAGS),
        "window_blocks": 20 * per_day,
        "refit_blocks": per_day,
        "losses": forecast_losses(fb),
    }
    print(f"\n{source}, {r.size:,} 1-minute returns, blocks of {BAR_BLOCK} minutes:")
    print(_loss_table(metrics["bars"]["losses"]))
    metrics["quoting"] = quoting_study(args.paths, args.seed, args.steps)
    print(f"\nAS (gamma 0.1) on {args.paths} GARCH-market episodes with each sigma (same paths):")
    print(_quoting_table(metrics["quoting"]))
    tapes = {key: tape_study(tape, label) for key, (label, tape) in given.items()}
    for t in tapes.values():
        _print_tape(t)
    if tapes:
        metrics["tapes"] = tapes
    out.mkdir(parents=True, exist_ok=True)
    write_json(metrics, out / "metrics.json")
    print(f"wrote {out / 'metrics.json'}")
    return 0


def report_markdown(metrics: dict[str, Any]) -> str:
    """The report's subsection from a study's metrics.json (computed sentences and the tables)."""
    g, b, q = metrics["garch_market"], metrics["bars"], metrics["quoting"]

    def best(losses: dict) -> str:
        names = [n for n in losses if not n.startswith("_") and n != "oracle"]
        return min(names, key=lambda n: losses[n]["qlike"]["mean"])

    def vs(losses: dict, name: str) -> str:
        d = losses[name].get("vs_garch", {}).get("qlike")
        return f"{d['mean']:+.4f} ± {d['se']:.4f}" if d else "0"

    qp = q["policies"]
    gq, cq = qp["garch"], qp["constant"]
    lines = [
        "### Volatility forecasts for the quotes",
        "",
        f"GARCH(1,1) fitted by maximum likelihood (arch), refitted on a rolling window, against HAR-RV, EWMA, "
        f"a rolling mean and a constant. On the simulated GARCH market ({g['steps']:,} changes, blocks of {g['block']} "
        f"steps, window {g['window_blocks']} blocks refitted every {g['refit_blocks']}) the lowest QLIKE is "
        f"{best(g['losses'])}'s; HAR - GARCH: {vs(g['losses'], 'har')}, constant - GARCH: "
        f"{vs(g['losses'], 'constant')} (paired, ± 1 SE); the oracle with the true parameters - GARCH: "
        f"{vs(g['losses'], 'oracle')}. On {b['source']}{' (simulated)' if 'synthetic' in b['source'] else ''}: "
        f"{b['returns']:,} one-minute returns, blocks of "
        f"{b['block_minutes']} minutes, the lowest QLIKE is {best(b['losses'])}'s; HAR - GARCH: "
        f"{vs(b['losses'], 'har')}, EWMA - GARCH: {vs(b['losses'], 'ewma')}.",
        "",
        "```text",
        _loss_table(g["losses"]),
        "```",
        "",
        "```text",
        _loss_table(b["losses"]),
        "```",
        "",
        f"AS (gamma 0.1) quoting on {q['paths']} GARCH-market episodes with each sigma, same paths: with the GARCH "
        f"forecast the P&L differs from the constant sigma by {gq['vs_constant']['diff']:+.3f} ± "
        f"{gq['vs_constant']['se']:.3f}, its std is {gq['std_pnl']:.3f} against {cq['std_pnl']:.3f} and the "
        f"std of the final inventory {gq['std_q_final']:.3f} against {cq['std_q_final']:.3f}.",
        "",
        "```text",
        _quoting_table(q),
        "```",
    ]
    for t in metrics.get("tapes", {}).values():
        lines += ["", *tape_markdown(t)]
    return "\n".join(lines)


def tape_markdown(t: dict[str, Any]) -> list[str]:
    """The report's lines on one real tape (step 4 of the module docstring)."""
    if "too_short" in t:
        return [f"Real bars of {t['source']}: {t['too_short']}, so no forecast is scored on it."]
    loss, q = t["losses"], t["quoting"]
    qp = q["policies"]
    names = [n for n in loss if not n.startswith("_")]
    best = min(names, key=lambda n: loss[n]["qlike"]["mean"])

    def d(name: str) -> str:
        x = loss[name]["vs_garch"]["qlike"]
        return f"{x['mean']:+.4f} ± {x['se']:.4f}"

    g, c, h = qp["garch"], qp["constant"], qp["har"]
    sig = [
        n
        for n in names
        if n != "garch" and abs(loss[n]["vs_garch"]["qlike"]["mean"]) > 2 * loss[n]["vs_garch"]["qlike"]["se"]
    ]
    forecasters = [n for n in qp if n not in ("constant", "realised")]
    moved = [n for n in forecasters if abs(qp[n]["vs_constant"]["diff"]) > 2 * qp[n]["vs_constant"]["se"]]
    r = qp.get("realised")
    verdict = (
        (
            "No forecaster's QLIKE differs from GARCH's by more than 2 SE on these minutes"
            if not sig
            else f"QLIKE differences beyond 2 SE from GARCH: {', '.join(sig)}"
        )
        + "; in the replay, "
        + (
            "no forecast sigma changes AS's P&L per minute by more than 2 SE from the constant"
            if not moved
            else f"the forecasts that change AS's P&L by more than 2 SE: {', '.join(moved)}"
        )
        + (
            f", while the look-ahead realised sigma changes it by {r['vs_constant']['diff']:+.4g} ± "
            f"{r['vs_constant']['se']:.2g}: what a perfect one-minute forecast would be worth on this tape."
            if r
            else "."
        )
    )
    return [
        f"**Real 1-minute bars ({t['source']}).** Measured on the recorded tape, not on a model: {t['bars']} "
        f"one-minute bars of the mid built from the tape ({t['first_bar']} to {t['last_bar']}; the bar validator "
        f"dropped {t['validation']['dropped']}), log returns ln(close / open), and as the target each minute's "
        f"realised variance from the {t['rv_sample_s']:g}-second returns of the mid. Horizon one minute, rolling "
        f"window of {t['window_minutes']} minutes refitted every {t['refit_minutes']}, HAR lags "
        f"{', '.join(str(x) for x in t['lags_minutes'])} minutes; {t['scored_minutes']} minutes scored. The "
        f"lowest QLIKE is {best}'s; HAR - GARCH: {d('har')}, EWMA - GARCH: {d('ewma')}, constant - GARCH: "
        f"{d('constant')} (paired by minute, ± 1 SE).",
        "",
        "```text",
        _loss_table(loss),
        "```",
        "",
        f"AS replayed on the same tape (queue-aware fills, zero latency), one window per scored minute "
        f"({q['minutes']}) from a flat start, with everything but sigma fixed (A, k, lot {q['lot']:g} and gamma "
        f"calibrated on the first {t['window_minutes']} minutes, risk aversion {q['risk_aversion']:g}): with "
        f"the GARCH sigma the P&L per minute differs from the constant sigma by {g['vs_constant']['diff']:+.4g} ± "
        f"{g['vs_constant']['se']:.2g}, with HAR by {h['vs_constant']['diff']:+.4g} ± {h['vs_constant']['se']:.2g} "
        f"(paired by minute); the std of the P&L is {g['std_pnl']:.4g} (GARCH) against {c['std_pnl']:.4g} "
        f"(constant) and the std of the final inventory {g['std_q_final']:.3f} against {c['std_q_final']:.3f} lots. "
        '"realised" quotes with the minute\'s own realised variance (look-ahead: a bound, not a forecast).',
        "",
        "```text",
        _tape_quoting_table(q),
        "```",
        "",
        verdict,
    ]
