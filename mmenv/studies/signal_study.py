"""Do order-book signals cut adverse selection? The signal-aware strategies against AS on every shared tape.

``mmenv signal-study`` (and the report's real-tape section) replays, on each shared real tape (LOBSTER AMZN,
Binance USD-M BTCUSDT, Binance COIN-M BTCUSD_PERP and ETHUSD_PERP), AS and GLFT beside their signal-aware
versions (:mod:`agents.signal_quotes`: ``as-micro``, ``glft-micro``, ``imbalance``), out of sample only:

* **single split**: every parameter (A, k, sigma; the micro-price table, the drift slope and the withdrawal
  threshold of :func:`mmenv.signals.fit.fit_signals`) fitted on the first half, the strategies replayed on
  the second;
* **walk-forward**: the tape cut into ``--windows`` windows of equal duration; each window after the first
  replayed with everything fitted on the window before it (each window starts flat).

Per strategy and window: P&L net of the maker fee (the instrument's: 2 bps of notional on Binance, none on
the LOBSTER sample, :data:`mmenv.instrument.KNOWN_INSTRUMENTS`; ``--maker-fee-bps`` overrides it), spread
capture, the markout of the fills over ``--horizon-s`` (total and per fill: ``side x size x (M(t + h) -
M_fill)``, negative: adverse selection), fills, and the markout by touch-imbalance bucket at fill time.
Paired by walk-forward window: the mean difference strategy - AS and its standard error (sample sd / sqrt(n
windows)). Amounts are in the settlement currency: quote currency for the linear tapes; for the inverse
COIN-M contracts, coins, exactly: every replay is accounted by :func:`mmenv.replay.accounting.settle` (a
contract's value in coins is ``-face / M``, so cash flows, the fee, the marks and the markouts are all taken
in coins at their own prices) before it is scored.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.analytics.scores import markouts, summarize_backtest
from mmenv.data.samples import SAMPLES
from mmenv.instrument import KNOWN_INSTRUMENTS
from mmenv.outdir import staged
from mmenv.replay.accounting import settle
from mmenv.studies.common import fmt_value, write_json
from mmenv.studies.sources import TapeSource, study_samples
from mmenv.studies.strategies import signal_policies, tape_policies
from mmenv.studies.tape_backtest import default_args, paired_difference
from mmenv.studies.tape_signals import TapeSignals, imbalance_breakdown, replay_policy
from mmenv.studies.tapes import calibrate_tape, median_lot, replay_config

__all__ = [
    "BASELINE",
    "COMPARED",
    "SIGNAL_SAMPLES",
    "configure_parser",
    "format_study",
    "run",
    "run_signal_study",
    "signal_samples",
    "tape_study",
]

#: The shared samples of the study, in reporting order.
SIGNAL_SAMPLES = ("lobster", "binance", "binance_cm_btcusd", "binance_cm_ethusd")
#: The strategies compared, and the one every paired difference is taken against.
COMPARED = ("as", "glft", "as-micro", "glft-micro", "imbalance")
BASELINE = "as"
#: The per-window scores that are paired against the baseline.
PAIRED = ("pnl_net", "markout_total", "markout_per_fill", "spread_pnl", "n_fills")


def signal_samples(root: str | Path | None = None) -> list[TapeSource]:
    """The :data:`SIGNAL_SAMPLES` whose files are all present (:func:`mmenv.studies.sources.study_samples`)."""
    return study_samples(root, SIGNAL_SAMPLES)[1]


def _args(quick: bool, fee_bps: float) -> argparse.Namespace:
    a = default_args(quick)
    a.replay_strategies, a.replay_latencies_ms = list(COMPARED), []
    a.maker_fee_bps = fee_bps
    return a


def window_scores(
    tape, ins, part, args: argparse.Namespace, horizon_s: float, instrument: Any
) -> dict[str, dict[str, Any]]:
    """Every strategy of :data:`COMPARED` fitted on ``ins`` and replayed on ``part`` (views of ``tape``)."""
    cal = calibrate_tape(ins)
    sig = TapeSignals.build(tape, ins, part)
    lot = median_lot(ins)
    cfg = replay_config(args, lot=lot, sigma=float(cal.sigma))
    kw = {
        "max_lots": args.max_lots,
        "risk_aversion": args.risk_aversion,
        "horizon": args.replay_horizon_s,
        "s0": float(part.mid[0]),
    }
    pols = tape_policies(COMPARED, cal, **kw)
    pols.update(signal_policies(COMPARED, cal, sig.fit, sig.features, **kw, tick=tape.tick))
    out: dict[str, dict[str, Any]] = {}
    for name in COMPARED:
        res = replay_policy(pols[name], part, cfg)
        if instrument is not None:
            res = settle(res, instrument)
        s = summarize_backtest(res, (horizon_s,), episode=args.replay_horizon_s)
        mk = markouts(res.fills, res.states, (horizon_s,))[:, 0] if len(res.fills) else np.zeros(0)
        n = len(res.fills)
        out[name] = {
            "pnl_net": float(res.pnl),
            "fees": float(s["fees"]),
            "spread_pnl": float(s["spread_pnl"]),
            "markout_total": float(mk.sum()),
            "markout_per_fill": float(mk.sum()) / n if n else math.nan,
            "n_fills": n,
            "imbalance_buckets": imbalance_breakdown(res, sig.features, sig.names, horizon_s),
        }
    out["_window"] = {
        "n_events": len(part),
        "duration_s": part.duration_s,
        "lot": lot,
        "calibration": {
            "A_per_s": float(cal.A),
            "k_per_price": float(cal.k),
            "sigma_per_sqrt_s": float(cal.sigma),
        },
        "signal_fit": sig.fit.to_dict() if sig.fit is not None else None,
    }
    return out


def tape_study(
    src: TapeSource,
    *,
    windows: int = 6,
    horizon_s: float = 1.0,
    maker_fee_bps: float | None = None,
    quick: bool = False,
    progress=None,
) -> dict[str, Any]:
    """The single split and the walk-forward of one tape (module docstring)."""
    say = progress or (lambda _m: None)
    tape = src.load()
    instrument = KNOWN_INSTRUMENTS.get(SAMPLES[src.key].instrument) if src.key in SAMPLES else None
    fee = maker_fee_bps if maker_fee_bps is not None else (instrument.maker_fee_bps if instrument else 0.0)
    args = _args(quick, float(fee))
    ins, oos = tape.split(0.5)
    single = window_scores(tape, ins, oos, args, horizon_s, instrument)
    sig = TapeSignals.build(tape, ins, oos, fit=True)
    power = sig.predictive(ins, oos, (horizon_s,))
    say(f"{src.label}: single split done")
    walk, skipped = [], []
    wins = tape.windows(windows)
    for j in range(1, len(wins)):
        try:
            walk.append(
                {"window": j, **window_scores(tape, wins[j - 1], wins[j], args, horizon_s, instrument)}
            )
        except ValueError as exc:  # a window too thin to calibrate or fit: counted, never silently dropped
            skipped.append({"window": j, "reason": str(exc)})
    say(f"{src.label}: walk-forward {len(walk)} of {len(wins) - 1} windows")
    paired = {
        name: {
            key: paired_difference([w[name][key] for w in walk], [w[BASELINE][key] for w in walk])
            for key in PAIRED
        }
        for name in COMPARED
        if name != BASELINE
    }
    return {
        "title": src.title,
        "unit": instrument.settlement_currency if instrument else "price units",
        "maker_fee_bps": float(fee),
        "horizon_s": horizon_s,
        "n_events": len(tape),
        "single_split": single,
        "signal_power": {n: v[f"{horizon_s:g}s"] for n, v in power.items()},
        "walk_forward": walk,
        "walk_forward_skipped": skipped,
        "paired_vs_as": paired,
    }


def run_signal_study(
    sources_: list[TapeSource],
    *,
    windows: int = 6,
    horizon_s: float = 1.0,
    quick: bool = False,
    progress=None,
) -> dict[str, Any]:
    """:func:`tape_study` of every tape, by label."""
    return {
        s.label: tape_study(s, windows=windows, horizon_s=horizon_s, quick=quick, progress=progress)
        for s in sources_
    }


def _cell(d: dict[str, float]) -> str:
    return f"{fmt_value(d['mean_diff'])} ± {fmt_value(d['se'])}"


def format_study(results: dict[str, Any]) -> str:
    """Markdown: per tape, the single split's scores per strategy and the walk-forward paired differences."""
    out = []
    for label, r in results.items():
        u, h = r["unit"], r["horizon_s"]
        out.append(
            f"**{label}** ({r['title']}; amounts in {u}, maker fee {r['maker_fee_bps']:g} bps; "
            f"markout over {h:g} s)\n"
        )
        out.append("| strategy | P&L net | spread | markout | markout / fill | fills |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for name in COMPARED:
            s = r["single_split"][name]
            out.append(
                f"| {name} | {fmt_value(s['pnl_net'])} | {fmt_value(s['spread_pnl'])} | "
                f"{fmt_value(s['markout_total'])} | {fmt_value(s['markout_per_fill'])} | {s['n_fills']} |"
            )
        n = len(r["walk_forward"])
        out.append(
            f"\nWalk-forward, {n} windows, strategy - AS paired by window (mean ± SE)"
            + (f"; {len(r['walk_forward_skipped'])} windows skipped" if r["walk_forward_skipped"] else "")
            + ":\n"
        )
        out.append("| strategy | P&L net | markout | markout / fill | fills |")
        out.append("|---|---:|---:|---:|---:|")
        for name, p in r["paired_vs_as"].items():
            out.append(
                f"| {name} | {_cell(p['pnl_net'])} | {_cell(p['markout_total'])} | "
                f"{_cell(p['markout_per_fill'])} | {_cell(p['n_fills'])} |"
            )
        out.append("")
    return "\n".join(out)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv signal-study``."""
    parser.add_argument(
        "--shared-data", type=Path, default=None, help="the shared-data folder (default: ../shared/data)"
    )
    parser.add_argument("--windows", type=int, default=6, help="walk-forward windows per tape (>= 2)")
    parser.add_argument("--horizon-s", type=float, default=1.0, help="markout horizon (seconds)")
    parser.add_argument("--quick", action="store_true", help="3 walk-forward windows")
    parser.add_argument("--out", type=Path, default=Path("out/signal-study"), help="output directory")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    """Run the study on every shared tape found, print the tables, write metrics.json."""
    t0 = time.perf_counter()
    if args.windows < 2:
        raise ValueError(f"--windows must be an integer >= 2, got {args.windows}")
    if not (math.isfinite(args.horizon_s) and args.horizon_s > 0):
        raise ValueError(f"--horizon-s must be a number > 0 (seconds), got {args.horizon_s}")
    srcs = signal_samples(args.shared_data)
    if not srcs:
        raise ValueError("no shared real-data sample was found; give the folder with --shared-data")
    windows = 3 if args.quick else args.windows
    with staged(args.out, getattr(args, "force", False), "signal-study") as out:
        res = run_signal_study(
            srcs, windows=windows, horizon_s=args.horizon_s, progress=None if args.no_progress else print
        )
        write_json(res, out / "metrics.json")
    print(format_study(res))
    print(f"wrote {Path(args.out) / 'metrics.json'} ({time.perf_counter() - t0:.1f} s)")
    return 0
