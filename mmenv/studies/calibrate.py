"""Calibrate lambda(d) = A exp(-k d) and sigma by maximum likelihood, with the MLE report.

Sources (one of; :mod:`mmenv.studies.sources`): the synthetic market (default: synthetic NVDA-like bars turned
into ticks, where the true A and k are known and printed beside the estimates), ``--ticker`` (yfinance
1-minute bars -> ticks), ``--bars-csv`` (a bars CSV -> ticks), or a tape: ``--lobster MESSAGE ORDERBOOK``
(LOBSTER files), ``--trades FILE --quotes FILE`` (trades + best bid/ask CSVs in the Binance format) or
``--tape FILE`` (the generic schema). Writes
``DIR/calibration.json`` (keys A, k, A_se, k_se, sigma, loglik, n_trades, duration_s, ... of the exponential
of record, plus ``models``, ``selected_model`` and ``intensity_table`` of the intensity laws of
:mod:`mmenv.calibration.intensity`, chosen out of sample) and ``DIR/calibration.png``, and prints the tables.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

from mmenv import data
from mmenv.calibration import calibrate
from mmenv.calibration import trades as tl
from mmenv.calibration.intensity.summary import analyse, format_models
from mmenv.calibration.report import format_table, plot_calibration
from mmenv.calibration.streaming import CHUNK_BARS, StreamedTicks, calibrate_streamed, stream_ticks
from mmenv.data.ticks import synthesize_ticks
from mmenv.outdir import staged
from mmenv.studies import sources
from mmenv.studies.common import write_json

__all__ = ["configure_parser", "load_source", "run"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv calibrate``."""
    sources.add_bars_arguments(parser, "turned into synthetic ticks")
    sources.add_tape_arguments(parser, "fit its trades and quotes")
    parser.add_argument("--days", type=int, default=5, help="days of synthetic bars (5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic bars and ticks (0)")
    parser.add_argument(
        "--no-aggregate",
        action="store_true",
        help="do not merge the prints of one market order (same time and side)",
    )
    parser.add_argument("--sampling-s", type=float, default=1.0, help="grid step for sigma, seconds (1.0)")
    parser.add_argument(
        "--fit-fraction",
        type=float,
        default=0.7,
        help="share of the time the intensity laws are fitted on before scoring the rest (0.7)",
    )
    parser.add_argument("--out", type=Path, default=Path("out/calibrate"), help="output directory")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")


def load_source(args: argparse.Namespace) -> tuple[Any, dict[str, float] | None, dict[str, Any] | None]:
    """The data object for :func:`mmenv.calibration.calibrate`, the true (A, k) when known, and the
    validation report of bars read from a file or downloaded (printed)."""
    if sources.tape_requested(args):
        if args.ticker is not None or args.bars_csv is not None:
            raise ValueError("give one source: bars (--ticker, --bars-csv) or a tape, not both")
        return sources.one_tape_source(args).load_trades_and_quotes(), None, None
    bars = sources.read_bars(ticker=args.ticker, bars_csv=args.bars_csv, offline=args.offline)
    if bars is None:
        bars = data.synthetic_bars(days=args.days, seed=args.seed)
    validation = sources.bars_validation(bars, args.ticker or str(args.bars_csv or ""))
    if len(bars) > CHUNK_BARS:  # long files: drawn chunk by chunk, memory of one chunk
        st = stream_ticks(bars, seed=args.seed + 1, sampling_s=args.sampling_s)
        return st, {"A": st.A, "k": st.k}, validation
    ticks = synthesize_ticks(bars, seed=args.seed + 1)
    return (
        tl.TickSource(ticks, source=f"synthetic ticks from {len(bars):,} bars"),
        {"A": ticks.A, "k": ticks.k},
        validation,
    )


def run(args: argparse.Namespace) -> int:
    """Load the source, fit, print the table, write calibration.json and the figure."""
    t0 = time.perf_counter()
    with staged(args.out, getattr(args, "force", False), "calibrate") as stage:
        _run(args, stage)
    print(f"wrote {args.out / 'calibration.json'}" + ("" if args.no_plot else " and calibration.png"))
    print(f"done in {time.perf_counter() - t0:.2f} s")
    return 0


def _run(args: argparse.Namespace, stage: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            source, truth, validation = load_source(args)
            if isinstance(source, StreamedTicks):
                result = calibrate_streamed(source)
            else:
                result = calibrate(source, aggregate=not args.no_aggregate, sampling_s=args.sampling_s)
            sample = source.depth_sample(aggregate=not args.no_aggregate)
            analysis = analyse(source, aggregate=not args.no_aggregate, fit_fraction=args.fit_fraction)
        except ValueError as exc:  # the warnings often say why (trades excluded before the first quote, ...)
            notes = "; ".join(dict.fromkeys(str(w.message) for w in caught))
            if notes and exc.args:
                exc.args = (f"{exc.args[0]} ({notes})", *exc.args[1:])
            raise
    for w in {str(w.message) for w in caught}:
        print(f"warning: {w}")
    inst = sources.one_tape_source(args).spec() if sources.tape_requested(args) else None
    if inst is not None:
        print(
            f"{inst.describe()}; trade sizes in {inst.size_unit}, depths in {inst.quote_currency} "
            "(price units)"
        )
    print(format_table(result, truth))
    if truth:
        print("truth: the synthetic tick model draws reach ~ Exp(k) with A = mean trades / s / side")
    print("\nintensity laws (fitted by the same truncated, tick-censored likelihood):")
    print(format_models(analysis))
    out = result.to_dict()
    out.update(analysis.to_dict())
    if truth:
        out["truth"] = truth
    if inst is not None:
        out["instrument"] = inst.to_dict()
        out["units"] = {"size": inst.size_unit, "depth": f"{inst.quote_currency} (price units)"}
    if validation is not None:
        out["bars_validation"] = validation
    if getattr(source, "validation", None) is not None:
        out["tape_validation"] = source.validation
    write_json(out, stage / "calibration.json")
    if not args.no_plot:
        plot_calibration(result, sample, stage / "calibration.png", analysis=analysis)
