"""What the studies of real tapes share: the replay's settings, the in-sample calibration, the lot, the windows.

Used by the real-tape backtest (``mmenv backtest --lobster ...``, :mod:`mmenv.studies.tape_backtest`), PPO on a
tape (``mmenv train --market replay``, :mod:`mmenv.studies.tape_training`), PPO against tuned AS on the shared
samples (:mod:`mmenv.studies.rl_tapes`) and the volatility forecasts on a tape
(:mod:`mmenv.studies.vol_forecast`):

* :func:`add_replay_settings` and :func:`replay_config`: the queue-aware engine's settings (fill model, queue
  model, through-fill and partial-fill rules, latency, fees, post-only rule, the lot and inventory limit, the
  AS horizon), as flags and as the engine's :class:`mmenv.replay.engine.ReplayConfig`;
* :func:`calibrate_tape` (A, k by maximum likelihood and sigma, per second), :func:`select_law` (the intensity
  law chosen out of sample) and :func:`rolling_calibrations` (the rolling-window estimate before each window);
* :func:`median_lot` (one lot: the median trade size on the tape's size grid), :func:`with_size_step` (the
  size step given by ``--size-step``) and :func:`episode_windows` (consecutive windows).
"""

from __future__ import annotations

import argparse
import math
import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from mmenv.calibration import calibrate
from mmenv.calibration.intensity.online import RollingEstimator
from mmenv.calibration.intensity.selection import select_model
from mmenv.calibration.intensity.tape import IntensityTape
from mmenv.calibration.trades import TradesAndQuotes
from mmenv.data.tape import TRADE
from mmenv.instrument import Instrument
from mmenv.replay.config import THROUGH_FILLS, parse_queue_model
from mmenv.replay.engine import ReplayConfig, check_grid_step, tape_lot

__all__ = [
    "add_replay_settings",
    "calibrate_tape",
    "check_order_size",
    "episode_windows",
    "median_lot",
    "queue_model_arg",
    "replay_config",
    "rolling_calibrations",
    "select_law",
    "with_size_step",
]


def add_replay_settings(parser: argparse.ArgumentParser | Any) -> None:
    """The replay's settings on ``parser`` (a parser or an argument group): fill model, queue model,
    through-fill, partial-fill and in-flight rules, latencies, fees, post-only rule, the in-sample fraction,
    the lot, the inventory limit and the AS risk aversion and horizon. The tape itself is given by the flags of :func:`mmenv.studies.sources.add_tape_arguments`."""
    g = parser
    g.add_argument(
        "--fill-model",
        choices=("queue", "trade_through"),
        default="queue",
        help="queue: a print at our price fills only after the queue ahead of us; trade_through: any print at or "
        "through our price fills (queue ignored)",
    )
    g.add_argument(
        "--queue-model",
        type=queue_model_arg,
        default="power",
        metavar="MODEL",
        help="queue model of the queue fills: which share of the cancellations at our price were ahead of us: "
        "risk_averse (none), power (proportional, n = 1), power:N (a^n / (a^n + b^n)), log or fixed:S (a share S)",
    )
    g.add_argument(
        "--through-fill",
        choices=THROUGH_FILLS,
        default="print",
        help="a print through our price fills up to its size (print) or the whole remaining order (order)",
    )
    g.add_argument(
        "--no-partial-fills",
        action="store_true",
        help="an order fills whole or not at all (as soon as any of it would fill)",
    )
    g.add_argument(
        "--wait-for-ack",
        action="store_true",
        help="a side with an order on its way to the book sends nothing new until it has arrived",
    )
    g.add_argument(
        "--deep-queue", type=float, default=1.0, help="queue ahead at an unseen level, x displayed"
    )
    g.add_argument("--feed-latency-ms", type=float, default=0.0, help="market data to policy (ms)")
    g.add_argument("--entry-latency-ms", type=float, default=0.0, help="order to book (ms)")
    g.add_argument(
        "--maker-fee-bps",
        type=float,
        default=None,
        help="maker fee, bps of notional (<0: rebate; default: the instrument's, see --instrument)",
    )
    g.add_argument(
        "--maker-fee-per-unit",
        type=float,
        default=0.0,
        help="maker fee per size unit, in the settlement currency (<0: rebate)",
    )
    g.add_argument(
        "--taker-fee-bps",
        type=float,
        default=None,
        help="taker fee of the final liquidation, bps (default: the instrument's)",
    )
    g.add_argument(
        "--cross", choices=("reprice", "withdraw"), default="reprice", help="post-only crossing rule"
    )
    g.add_argument("--in-sample", type=float, default=0.5, help="in-sample fraction of the tape (0.5)")
    g.add_argument(
        "--lot",
        type=float,
        default=None,
        help="units per order, a whole number of size steps (default: the median in-sample trade)",
    )
    g.add_argument("--max-lots", type=float, default=10.0, help="inventory limit in lots (10)")
    g.add_argument(
        "--risk-aversion", type=float, default=1.0, help="AS/GLFT/CJP risk aversion, scale-free (1)"
    )
    g.add_argument("--replay-horizon-s", type=float, default=60.0, help="AS/CJP horizon T in seconds (60)")


def queue_model_arg(spec: str) -> str:
    """``--queue-model``: the token of :func:`mmenv.replay.config.parse_queue_model`, checked (argparse
    reports the ValueError's message as the error)."""
    try:
        parse_queue_model(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return spec


def replay_config(
    args: argparse.Namespace, *, lot: float, sigma: float, instrument: Instrument | None = None
) -> ReplayConfig:
    """The :class:`mmenv.replay.engine.ReplayConfig` of the arguments (``lot`` units per order, ``sigma`` per
    sqrt(second) for the AS quotes); the maker and taker fees of ``--maker-fee-bps`` and ``--taker-fee-bps``,
    else the ``instrument``'s (:class:`mmenv.instrument.Instrument`), else none."""

    def fee(flag: str, field: str) -> float:
        given = getattr(args, flag, None)
        if given is not None:
            return float(given)
        return float(getattr(instrument, field)) if instrument is not None else 0.0

    return ReplayConfig(
        fill_model=args.fill_model,
        **parse_queue_model(getattr(args, "queue_model", "power")),
        through_fill=getattr(args, "through_fill", "print"),
        partial_fills=not getattr(args, "no_partial_fills", False),
        wait_for_ack=getattr(args, "wait_for_ack", False),
        deep_queue=args.deep_queue,
        order_size=lot,
        q_max=lot * args.max_lots,
        maker_fee_bps=fee("maker_fee_bps", "maker_fee_bps"),
        maker_fee_per_unit=getattr(args, "maker_fee_per_unit", 0.0),
        taker_fee_bps=fee("taker_fee_bps", "taker_fee_bps"),
        feed_latency_s=args.feed_latency_ms * 1e-3,
        entry_latency_s=args.entry_latency_ms * 1e-3,
        cross=args.cross,
        horizon_s=args.replay_horizon_s,
        sigma=sigma,
    )


def calibrate_tape(tape) -> Any:
    """The project's calibration of record on a tape: MLE of A, k and realised sigma (seconds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exclusions are counted in the result's notes
        return calibrate(TradesAndQuotes.from_tape(tape))


def select_law(tape, fit_fraction: float = 0.7) -> Any:
    """The intensity law chosen out of sample on ``tape`` (:func:`mmenv.calibration.intensity.selection.select_model`:
    fit on the first ``fit_fraction`` of the time, best held-out log-likelihood per order) and its fit on
    the whole tape (a :class:`mmenv.calibration.intensity.models.FittedIntensity`); None when no law can be fitted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            itape = IntensityTape.from_trades_and_quotes(TradesAndQuotes.from_tape(tape))
            choice = select_model(itape, fit_fraction=fit_fraction)
        except ValueError:
            return None
    return choice.fits[choice.selected]


def rolling_calibrations(wins, window_s: float, tick: float | None = None) -> list[Any]:
    """For each window after the first, the rolling-window estimate (exponential A, k and sigma) of the
    ``window_s`` seconds before its first event, fed the windows before it (a
    :class:`mmenv.calibration.intensity.online.OnlineEstimate`, or None when the window held too few orders or no
    sigma)."""
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


def median_lot(tape) -> float:
    """One lot: the median size of the tape's trades (units), rounded to the tape's size step
    (:func:`mmenv.replay.engine.tape_lot`; at least one step)."""
    step = tape_lot(tape)
    m = float(np.median(tape.trade_qty[tape.kind == TRADE]))
    return max(round(m / step), 1) * step


def with_size_step(tape, args: argparse.Namespace):
    """``tape`` with the size step of ``--size-step`` (validated like the tick; the real-tape backtest's
    flag), or as it is without it."""
    step = getattr(args, "size_step", None)
    if step is None:
        return tape
    return replace(tape, lot=check_grid_step("--size-step", step), validate=False)


def check_order_size(lot: float, tape, flag: str = "--lot") -> float:
    """``lot`` (units per order) when it is a whole number of the tape's size steps; else a ValueError
    naming ``flag``, the value and the nearest whole number of steps."""
    step = tape_lot(tape)
    n = lot / step
    if abs(n - round(n)) > 1e-6 or round(n) < 1:
        near = max(round(n), 1) * step
        raise ValueError(
            f"{flag} {lot:g} is not a whole number of the tape's size step {step:g}: give {flag} {near:g}"
        )
    return lot


def episode_windows(tape, episode_s: float) -> list:
    """``tape`` cut into consecutive windows of about ``episode_s`` seconds, keeping those with a trade and
    more than one event (:meth:`mmenv.data.tape.Tape.windows`)."""
    n = max(1, int(tape.duration_s // episode_s))
    return [w for w in tape.windows(n) if w.n_trades > 0 and len(w) > 1]
