"""Tick backtest of market-making strategies on synthetic, downloaded or CSV bars (``mmenv backtest``).

The bars (the embedded synthetic NVDA-like market, yfinance 1-minute bars of ``--ticker``, or a CSV file) are
turned into a trade stream by :func:`mmenv.data.ticks.synthesize_ticks` (a model of the trades inside each bar,
with ``lambda(d) = A exp(-k d)`` by construction), and every strategy is replayed through the event-driven
backtester (:mod:`mmenv.backtest`) on the same stream. Time unit: hours of trading clock (so sigma is in
price / sqrt(hour) and the AS horizon ``--horizon-seconds`` is an episode of inventory management; inventory
is carried over between episodes). sigma is the realised intrabar volatility of the stream's mid (estimated
on the whole stream: in-sample), k the stream's depth decay.

Event order (see :mod:`mmenv.backtest`): each synthetic tick is a quote update (the mid ``m_i``) followed by
the trade at ``m_i +- depth``; by default the strategies reprice on every quote update, before the trade, and
with ``--latency-seconds 0`` their quotes are live for that trade. ``--reprice-on-trades`` gives the older
behaviour (quotes decided after each trade, live from the next one: one trade stale). The latency table
re-runs every strategy at each ``--latency-table`` latency (and once repricing on trades only) on the same
stream: in this stream the mid changes only at the quote update that comes with each trade, at the same
timestamp, so any latency > 0 leaves the live quotes at least one mid move behind.

Outputs in ``--out``: ``metrics.json`` ({strategy: mean_pnl, std_pnl (per episode), sharpe (mean / std of the
episode P&L, not annualised), max_drawdown, inventory_std, spread_pnl, inventory_pnl, adverse_selection_pnl
(markout at the first ``--markouts`` horizon), fees, n_fills, ..., latency: {"0s": {...}, "1s": {...},
"5s": {...}, "on_trades": {...}}: total_pnl, mean_pnl, spread_pnl, inventory_pnl, adverse_selection_pnl,
max_drawdown, n_fills of the same strategy at each latency}), ``backtest_config.json`` (the run's
settings; ``figure_sampling``: which states the figures show), ``equity.png``, ``inventory.png``,
``attribution_<strategy>.png``, ``markouts.png``. Every number is computed from all the records, scored as
the backtest produces them (:mod:`mmenv.analytics.stream`); the figures show a sample of the states.

With a tape (``--lobster MSG BOOK``, ``--trades T --quotes Q`` or ``--tape F``, :mod:`mmenv.studies.sources`)
the command runs the real-tape backtest instead (:mod:`mmenv.studies.tape_backtest`).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mmenv import data
from mmenv.analytics.stream import StreamingSummary
from mmenv.backtest import BacktestConfig, TickStream, backtest
from mmenv.calibration.streaming import CHUNK_BARS, iter_tick_chunks
from mmenv.data.ticks import synthesize_ticks
from mmenv.outdir import staged
from mmenv.studies import sources, tape_backtest
from mmenv.studies.common import write_json
from mmenv.studies.strategies import BACKTEST_STRATEGIES, SIGNAL_STRATEGIES, make_strategy
from mmenv.viz import plots

__all__ = [
    "BACKTEST_DEFAULTS",
    "ChunkedStream",
    "configure_parser",
    "default_gamma",
    "intrabar_sigma",
    "latency_effect",
    "load_stream",
    "run",
    "run_backtests",
    "settings_line",
    "synthetic_strategies",
]

#: The defaults of ``mmenv backtest`` and of the report's backtest section (one set, printed in both):
#: order size (units per fill), hard inventory limit q_max (units), the naive strategy's depth (price units)
#: and the scale c of the AS risk aversion gamma = c / (k sigma^2) (the skew per unit of inventory,
#: gamma sigma^2 T, is then c / k times the horizon: scale-free across price levels).
BACKTEST_DEFAULTS: dict[str, float] = {
    "order_size": 1.0,
    "q_max": 25.0,
    "naive_depth": 0.01,
    "gamma_scale": 0.6,
}


def default_gamma(k: float, sigma: float) -> float:
    """AS risk aversion gamma = gamma_scale / (k sigma^2) (1 / price unit), :data:`BACKTEST_DEFAULTS`."""
    return BACKTEST_DEFAULTS["gamma_scale"] / (k * sigma * sigma) if k * sigma > 0 else 1e-4


def settings_line(order_size: float, q_max: float, gamma: float, naive_depth: float) -> str:
    """The run header's statement of the strategy settings (the same words in the command and the report)."""
    return (
        f"order size {order_size:g} units, hard inventory limit q_max {q_max:g} units, AS gamma {gamma:.4g} / "
        f"price unit, naive depth {naive_depth:g} price units"
    )


HOURS_PER_YEAR = 252 * 6.5  # regular-session hours in a trading year (annualisation of the hourly Sharpe)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv backtest``."""
    parser.add_argument(
        "--strategy",
        nargs="+",
        choices=(*BACKTEST_STRATEGIES, "touch", *SIGNAL_STRATEGIES, "all"),
        default=None,
        help="strategies to backtest (several allowed; 'all' for every one; default as); with a tape, the "
        "strategies replayed on it (or --replay-strategies), touch among them: quotes --offset-ticks ticks "
        "behind the best bid and ask; as-micro, glft-micro and imbalance quote from the order-book signals",
    )
    parser.add_argument(
        "--market",
        choices=("synthetic", "ticker", "bars-csv"),
        default="synthetic",
        help="where the 1-minute bars come from: the embedded synthetic NVDA-like market, yfinance bars of "
        "--ticker, or the CSV file --bars-csv",
    )
    sources.add_bars_arguments(parser, "the bars of --market ticker / bars-csv", ticker_default="NVDA")
    parser.add_argument("--days", type=int, default=5, help="sessions of synthetic bars")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic bars and of the ticks")
    parser.add_argument(
        "--ticks-per-bar",
        type=int,
        nargs=2,
        default=(10, 20),
        metavar=("LO", "HI"),
        help="trades synthesized inside each bar: uniform between LO and HI",
    )
    parser.add_argument("--tick-k", type=float, default=50.0, help="depth decay k of the ticks (1 / price)")
    parser.add_argument(
        "--gamma",
        type=float,
        default=None,
        help="AS risk aversion (1 / price unit); default: "
        f"{BACKTEST_DEFAULTS['gamma_scale']:g} / (k sigma^2) of the stream",
    )
    parser.add_argument(
        "--order-size", type=float, default=BACKTEST_DEFAULTS["order_size"], help="units per quote"
    )
    parser.add_argument(
        "--q-max", type=float, default=BACKTEST_DEFAULTS["q_max"], help="hard inventory limit (units)"
    )
    parser.add_argument(
        "--naive-depth",
        type=float,
        default=BACKTEST_DEFAULTS["naive_depth"],
        help="depth of the naive strategy's quotes on each side (price units)",
    )
    parser.add_argument("--share", type=float, default=0.5, help="share of each trade we may take, (0, 1]")
    parser.add_argument("--fee-per-unit", type=float, default=0.0, help="fee per unit; negative: rebate")
    parser.add_argument("--decision-seconds", type=float, default=0.0, help="quote refresh; 0: every tick")
    parser.add_argument("--latency-seconds", type=float, default=0.0, help="decision-to-live delay")
    parser.add_argument(
        "--reprice-on-trades",
        action="store_true",
        help="decide after each trade (quotes live from the next trade) instead of on the quote update before it",
    )
    parser.add_argument(
        "--latency-table",
        type=float,
        nargs="*",
        default=[0.0, 1.0, 5.0],
        metavar="SECONDS",
        help="latencies of the latency table (plus one run repricing on trades only); none: no table",
    )
    parser.add_argument("--horizon-seconds", type=float, default=3600.0, help="AS episode length T")
    parser.add_argument(
        "--markouts",
        type=float,
        nargs="+",
        default=[1.0, 10.0, 60.0],
        help="markout horizons in seconds (the first gives adverse_selection_pnl)",
    )
    parser.add_argument("--out", type=Path, default=Path("out/backtest"), help="output directory")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    g = parser.add_argument_group("real data (replay of trades and top-of-book quotes)")
    sources.add_tape_arguments(g, "calibrate on its first part, replay every strategy on the rest")
    tape_backtest.add_replay_arguments(g)


class ChunkedStream:
    """The synthetic ticks of a long bar file as a re-iterable stream of :class:`mmenv.backtest.TickStream`
    chunks, drawn again on each pass by :func:`mmenv.calibration.streaming.iter_tick_chunks` (one chunk of
    bars at a time, each with its own generator), so memory is proportional to one chunk, not to the file.

    A first pass computes what the run settings need: ``k``, ``A`` (the tick model's), the intrabar ``sigma``
    (:func:`intrabar_sigma`, summed over chunks: no bar spans two chunks, so the sums are those of the whole
    stream), the first mid ``s0``, the number of events and the duration (hours).
    """

    def __init__(
        self, bars, ticks_per_bar: tuple[int, int], seed: int, k: float, chunk_bars: int = 0
    ) -> None:
        self._kw = {
            "seed": seed,
            "ticks_per_bar": ticks_per_bar,
            "k": k,
            "chunk_bars": chunk_bars or CHUNK_BARS,
        }
        self._bars = bars
        ss = dt = 0.0
        n, first, last, s0, A = 0, None, 0.0, float("nan"), float("nan")
        for tk, off in self._chunks():
            a, b = _intrabar_sums(tk)
            ss, dt, n, A = ss + a, dt + b, n + len(tk), float(tk.A)
            if first is None and len(tk):
                first, s0 = float(tk.clock[0] + off), float(tk.mid[0])
            if len(tk):
                last = float(tk.clock[-1] + off)
        self.k, self.A, self.s0, self.n_events = float(k), A, s0, n
        self.sigma = float(math.sqrt(ss / dt)) if dt > 0 else 0.0
        self.duration_hours = (last - (first or 0.0)) / 3600.0

    def _chunks(self):
        return iter_tick_chunks(self._bars, **self._kw)

    def __iter__(self):
        for tk, off in self._chunks():
            yield TickStream((tk.clock + off) / 3600.0, tk.price, tk.side, tk.size, tk.mid)


def load_stream(args: argparse.Namespace):
    """The bars of ``--market`` turned into ticks; returns (stream in hours, summary, description, validation
    report of bars read from a file or downloaded, printed; None for synthetic bars).

    Up to :data:`mmenv.calibration.streaming.CHUNK_BARS` bars (the default synthetic market among them) the
    ticks are drawn at once with the generator of ``--seed`` and the stream is one :class:`TickStream`. Longer
    files are drawn chunk by chunk (:class:`ChunkedStream`, one generator per chunk spawned from ``--seed``):
    the same tick model, but other random draws than one draw of the whole file, in memory proportional to one
    chunk. The summary has ``k``, ``A``, ``sigma``, ``s0``, ``n_events`` and ``duration_hours``.
    """
    if args.market == "synthetic":
        bars = data.synthetic_bars(args.days, args.seed)
        what = f"synthetic NVDA-like bars, {args.days} sessions, seed {args.seed}"
    elif args.market == "ticker":
        bars = sources.read_bars(ticker=args.ticker, offline=args.offline)
        what = f"{args.ticker} 1-minute bars (yfinance)"
    else:
        if args.bars_csv is None:
            raise ValueError("--market bars-csv needs --bars-csv PATH")
        bars = sources.read_bars(bars_csv=args.bars_csv)
        what = f"bars from {args.bars_csv}"
    validation = sources.bars_validation(bars, what)
    if len(bars) > CHUNK_BARS:
        stream = ChunkedStream(bars, tuple(args.ticks_per_bar), args.seed, args.tick_k)
        return stream, stream, what, validation
    ticks = synthesize_ticks(bars, tuple(args.ticks_per_bar), args.seed, k=args.tick_k)
    stream = TickStream.from_ticks(ticks, time_unit_seconds=3600.0)
    summary = argparse.Namespace(
        k=ticks.k,
        A=ticks.A,
        sigma=intrabar_sigma(ticks),
        s0=float(stream.mid[0]),
        n_events=len(stream),
        duration_hours=float(stream.time[-1] - stream.time[0]),
    )
    return stream, summary, what, validation


def _intrabar_sums(ticks) -> tuple[float, float]:
    """(sum of squared mid changes, sum of their hours) over consecutive trades of the same bar."""
    same = ticks.bar[1:] == ticks.bar[:-1]
    dm = np.diff(ticks.mid)[same]
    dt = np.diff(ticks.clock)[same] / 3600.0
    return float(np.sum(dm * dm)), float(np.sum(dt))


def intrabar_sigma(ticks) -> float:
    """Realised volatility of the mid from tick-to-tick changes within bars (price / sqrt(hour)).

    sigma^2 = sum (dm)^2 / sum dt over consecutive trades of the same bar (gaps between bars excluded).
    """
    ss, dt = _intrabar_sums(ticks)
    return float(math.sqrt(ss / dt)) if dt > 0 else 0.0


LATENCY_KEYS = (
    "total_pnl",
    "mean_pnl",
    "spread_pnl",
    "inventory_pnl",
    "adverse_selection_pnl",
    "max_drawdown",
    "n_fills",
)


def _strategy(name: str, args: argparse.Namespace, k: float, s0: float):
    """The policy ``name`` with the run's settings (:func:`mmenv.studies.strategies.make_strategy`)."""
    return make_strategy(
        name, gamma=args.gamma, k=k, s0=s0, order_size=args.order_size, naive_depth=args.naive_depth
    )


def latency_effect(
    new_policy, stream, cfg, latencies_seconds, horizons: tuple[float, ...], episode: float
) -> dict[str, dict[str, float]]:
    """The strategy re-run at each latency (seconds), then repricing on trades only at latency 0.

    Everything else as ``cfg``; returns {"<L>s": {key: value for key in LATENCY_KEYS}, "on_trades": {...}}.
    ``new_policy()`` returns a fresh policy (stateful agents must not carry state between runs).
    """
    runs = {
        f"{lat:g}s": replace(cfg, latency=lat / 3600.0, reprice_on_quotes=True) for lat in latencies_seconds
    }
    runs["on_trades"] = replace(cfg, latency=0.0, reprice_on_quotes=False)
    out: dict[str, dict[str, float]] = {}
    for label, c in runs.items():
        summary = StreamingSummary(c, horizons, episode=episode)
        m = summary.summary(backtest(new_policy(), stream, c, sink=summary))
        out[label] = {key: float(m[key]) for key in LATENCY_KEYS}
    return out


def synthetic_strategies(given: list[str] | None) -> list[str]:
    """The strategies of the tick backtest: ``--strategy`` (default ``as``; ``all``: every one).

    Raises:
        ValueError: a strategy that needs a tape (``touch`` quotes from the top of the book).
    """
    if given is None:
        return ["as"]
    if "all" in given:
        return list(BACKTEST_STRATEGIES)
    bad = [n for n in dict.fromkeys(given) if n not in BACKTEST_STRATEGIES]
    if bad:
        raise ValueError(
            f"--strategy {' '.join(bad)} quotes from a real top of book: give a tape "
            f"({sources.TAPE_FLAGS}); on bars the strategies are {', '.join(BACKTEST_STRATEGIES)}"
        )
    return list(dict.fromkeys(given))


def run_backtests(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Run every strategy; returns (metrics per strategy, scores per strategy, run settings).

    Each run's records are scored as they are produced (:class:`mmenv.analytics.stream.StreamingSummary`,
    the same numbers as the full records) and not kept, so memory does not grow with the stream; the scores
    per strategy keep a sample of the states for the figures (``settings["figure_sampling"]`` says which).
    """
    stream, summary, what, validation = load_stream(args)
    sigma = summary.sigma
    if args.gamma is None:
        args = argparse.Namespace(**{**vars(args), "gamma": default_gamma(summary.k, sigma)})
    names = synthetic_strategies(args.strategy)
    horizon = args.horizon_seconds / 3600.0
    cfg = BacktestConfig(
        q_max=args.q_max,
        order_size=args.order_size,
        share=args.share,
        fee_per_unit=args.fee_per_unit,
        decision_interval=args.decision_seconds / 3600.0,
        latency=args.latency_seconds / 3600.0,
        horizon=horizon,
        sigma=sigma,
        allow_withdraw=True,
        reprice_on_quotes=not args.reprice_on_trades,
    )
    hz = tuple(h / 3600.0 for h in args.markouts)
    metrics: dict[str, Any] = {}
    results: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for name in names:
        policy = _strategy(name, args, summary.k, summary.s0)
        scores = StreamingSummary(cfg, hz, episode=horizon, periods_per_year=HOURS_PER_YEAR)
        t = time.perf_counter()
        res = backtest(policy, stream, cfg, progress=not args.no_progress, sink=scores)
        wall = time.perf_counter() - t
        m = scores.summary(res)
        m = {k: v for k, v in m.items() if not k.startswith("markout_")}
        m["markouts_per_unit"] = dict(
            zip([f"{s:g}s" for s in args.markouts], scores.markout_curve().tolist(), strict=True)
        )
        m["events_per_second"] = res.n_events / wall if wall > 0 else float("nan")
        m["engine"] = "fast" if type(policy).__name__ == "QuoteRule" else "reference"
        if args.latency_table:
            m["latency"] = latency_effect(
                lambda name=name: _strategy(name, args, summary.k, summary.s0),
                stream,
                cfg,
                args.latency_table,
                hz,
                horizon,
            )
        metrics[name] = m
        results[name] = scores
        extras[name] = scores.attribution()
    settings = {
        "market": what,
        "n_events": summary.n_events,
        "duration_hours": summary.duration_hours,
        "sigma_per_sqrt_hour": sigma,
        "k": summary.k,
        "A_per_second_per_side": summary.A,
        "time_unit": "hour (trading clock)",
        "markout_horizons_seconds": list(args.markouts),
        "bars_validation": validation,
        "figure_sampling": {
            n: f"equity, inventory and attribution figures: {r.sampling}" for n, r in results.items()
        },
        "config": {k: v for k, v in cfg.__dict__.items()},
        "strategies": names,
        "gamma": args.gamma,
        "naive_depth": args.naive_depth,
        "sharpe": "mean / std of the P&L of consecutive episodes of horizon_seconds, not annualised; "
        "sharpe_annualised: hourly equity increments x sqrt(252 * 6.5)",
    }
    settings["_attributions"] = extras
    return metrics, results, settings


#: What the columns of :func:`format_table` hold, printed under it.
TABLE_UNITS = (
    "P&L columns (mean/std pnl, max dd, spread, inventory, markout, fees) in price units; std q in units; "
    "markout: P&L of the fills marked to the mid at the first markout horizon (negative = adverse selection, "
    "a cost); fill% = fills per 100 quotes posted; limit% = % of the time at the inventory limit"
)


def format_table(metrics: dict[str, Any]) -> str:
    """Summary table, one row per strategy (units in :data:`TABLE_UNITS`)."""
    cols = [
        ("mean_pnl", 11, ".1f"),
        ("std_pnl", 10, ".1f"),
        ("sharpe", 7, ".2f"),
        ("max_drawdown", 12, ".1f"),
        ("inventory_std", 9, ".1f"),
        ("spread_pnl", 12, ".1f"),
        ("inventory_pnl", 12, ".1f"),
        ("adverse_selection_pnl", 12, ".1f"),
        ("fees", 9, ".1f"),
        ("n_fills", 8, "d"),
        ("fill_ratio", 6, ".1f"),
        ("time_at_limit", 6, ".1f"),
    ]
    heads = [
        "mean pnl",
        "std pnl",
        "sharpe",
        "max dd",
        "std q",
        "spread",
        "inventory",
        "markout",
        "fees",
        "fills",
        "fill%",
        "limit%",
    ]
    line = f"{'strategy':<10}" + "".join(f" {h:>{w}}" for h, (_, w, _) in zip(heads, cols, strict=True))
    out = [line, "-" * len(line)]
    for name, m in metrics.items():
        cells = []
        for key, w, fmt in cols:
            v = m[key] * 100.0 if key in ("fill_ratio", "time_at_limit") else m[key]
            cells.append(f" {int(v) if fmt == 'd' else v:>{w}{fmt}}")
        out.append(f"{name:<10}" + "".join(cells))
    return "\n".join(out)


def format_latency_table(metrics: dict[str, Any]) -> str:
    """Total P&L (spread capture) of every strategy at each latency of the latency table."""
    rows = {n: m["latency"] for n, m in metrics.items() if "latency" in m}
    if not rows:
        return ""
    labels = list(next(iter(rows.values())))
    heads = [f"latency {lab}" if lab != "on_trades" else "on trades only" for lab in labels]
    line = f"{'strategy':<10}" + "".join(f" {h:>22}" for h in heads)
    out = [line, "-" * len(line)]
    for name, lat in rows.items():
        cells = [f"{lat[lab]['total_pnl']:.1f} ({lat[lab]['spread_pnl']:.1f})" for lab in labels]
        out.append(f"{name:<10}" + "".join(f" {c:>22}" for c in cells))
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    """Run the study, print the table, write metrics.json and the figures (a tape: the real-tape backtest)."""
    if sources.tape_requested(args):
        return tape_backtest.run(args)
    t0 = time.perf_counter()
    with staged(args.out, getattr(args, "force", False), "backtest") as out:
        metrics, results, settings = run_backtests(args)
        attributions = settings.pop("_attributions")
        extra = (
            {} if settings["bars_validation"] is None else {"_bars_validation": settings["bars_validation"]}
        )
        write_json({**metrics, **extra}, out / "metrics.json")
        write_json(settings, out / "backtest_config.json")
        plots.plot_equity(results, out / "equity.png", time_label="trading hours")
        plots.plot_inventory(results, out / "inventory.png", time_label="trading hours")
        for name, att in attributions.items():
            plots.plot_attribution(
                att,
                out / f"attribution_{name}.png",
                title=f"P&L attribution: {name}",
                time_label="trading hours",
            )
        curves = {n: r.markout_curve() for n, r in results.items()}
        plots.plot_markouts(curves, list(args.markouts), out / "markouts.png", horizon_label="horizon (s)")
    out = Path(args.out)
    print(
        f"Backtest on {settings['market']}: {settings['n_events']:,} trades over "
        f"{settings['duration_hours']:.1f} trading hours; sigma = {settings['sigma_per_sqrt_hour']:.3f} "
        f"$/sqrt(h), k = {settings['k']:g} /$"
    )
    print(
        "Settings: "
        + settings_line(args.order_size, args.q_max, settings["gamma"], args.naive_depth)
        + f", share {args.share:g} of each trade, fee {args.fee_per_unit:g} per unit"
    )
    order = "after each trade" if args.reprice_on_trades else "on each quote update, before its trade"
    print(
        f"Quotes decided {order}, latency {args.latency_seconds:g} s. mean/std pnl and sharpe per episode of "
        f"{args.horizon_seconds:g} s; max dd, spread, inventory, markout (at {args.markouts[0]:g} s) and "
        "fees over the whole run: spread + inventory - fees = total P&L"
    )
    print(format_table(metrics))
    print(TABLE_UNITS)
    lat = format_latency_table(metrics)
    if lat:
        print(
            "\nLatency effect: total P&L over the run (spread capture), quotes decided on each quote update and "
            "live after the latency; 'on trades only': decided after each trade, live from the next one"
        )
        print(lat)
    print(f"wrote {out / 'metrics.json'} and figures in {out} ({time.perf_counter() - t0:.1f} s)")
    return 0
