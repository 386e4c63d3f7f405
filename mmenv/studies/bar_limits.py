"""What 1-minute bars hide: a computed note, measured on the synthetic market where the truth is known.

The synthetic market (:func:`mmenv.data.synthetic_bars`) knows each bar's true log-return
volatility, and the tick model (:func:`mmenv.data.ticks.synthesize_ticks`) knows the order flow's
A and k. This study compares what one can infer from the bars alone with that truth:

1. *Variance.* Daily integrated variance of the log price (truth: sum of the model's per-bar
   variances) against the realized variance of 1-minute close-to-close returns, the Parkinson
   (1980) range estimator ``sum (ln H/L)^2 / (4 ln 2)`` and the realized variance of the
   synthesized tick mids.
2. *Intrabar range.* ``E[(ln H/L)^2] / E[(ln C/O)^2]`` (4 ln 2 = 2.77 for Brownian motion in
   continuous time): how much of the path the close hides.
3. *Fills.* A quote at depth delta from the bar's open, left for one bar: "filled" by the bar
   heuristic when the bar's high (low) reaches it, against the tick truth (the deepest buyer's
   (seller's) trade price reaches it, the AS fill rule) and the AS formula
   ``1 - exp(-A exp(-k delta) Δ)`` (mid fixed). Also the share of bars where both sides are
   touched, whose order (hence the inventory path) the bar cannot tell.
4. *Spread.* Roll's (1984) estimator ``sqrt(-cov(Δp_t, Δp_{t-1}))`` on bar closes and on
   trade prices, against the model's truth ``sqrt(E[d^2]) = sqrt(2) / k``; the quoted spread
   and the queue are not in a bar at all.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmenv.data import MINUTES_PER_SESSION, synthetic_bars
from mmenv.data.ticks import synthesize_ticks
from mmenv.outdir import atomic_write_text, staged
from mmenv.studies.common import write_json

__all__ = ["BarLimitsNote", "bar_limits_note", "configure_parser", "run"]


@dataclass(frozen=True)
class BarLimitsNote:
    """The numbers (JSON-ready dict) and a short markdown text for the report."""

    numbers: dict[str, float | list[dict[str, float]]]
    markdown: str


def _roll_cov(prices: np.ndarray) -> float:
    """First-order autocovariance of price changes, cov(Δp_t, Δp_{t-1}) (price units squared)."""
    dp = np.diff(prices)
    return float(np.cov(dp[1:], dp[:-1])[0, 1])


def _roll(prices: np.ndarray) -> float:
    """Roll (1984) half-spread ``sqrt(-cov(Δp_t, Δp_{t-1}))``; NaN when the covariance is >= 0."""
    cov = _roll_cov(prices)
    return math.sqrt(-cov) if cov < 0 else float("nan")


def bar_limits_note(
    days: int = 20,
    seed: int = 0,
    *,
    depths: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.10),
    k: float = 50.0,
    ticks_per_bar: tuple[int, int] = (10, 20),
) -> BarLimitsNote:
    """Measure what 1-minute bars hide on ``days`` synthetic sessions (seeded).

    Args:
        days: synthetic sessions.
        seed: seed of the bars (the ticks use ``seed + 1``).
        depths: quote depths from the bar open to test (price units).
        k: depth decay of the tick model (per price unit).
        ticks_per_bar: trades per bar of the tick model.

    Returns:
        A :class:`BarLimitsNote`.
    """
    bars, truth = synthetic_bars(days, seed, return_truth=True)
    ticks = synthesize_ticks(bars, ticks_per_bar, seed + 1, k=k)
    m = MINUTES_PER_SESSION
    o, h, lo, c = (bars[col].to_numpy().reshape(days, m) for col in ("open", "high", "low", "close"))

    # 1. variance, per day, of the log price inside the session
    true_iv = (truth.minute_sigma**2).reshape(days, m).sum(axis=1)
    lc = np.log(np.concatenate([o[:, :1], c], axis=1))
    rv_close = (np.diff(lc, axis=1) ** 2).sum(axis=1)
    parkinson = (np.log(h / lo) ** 2).sum(axis=1) / (4 * math.log(2))
    day_of_tick = ticks.bar // m
    lm = np.log(ticks.mid)
    dlm = np.diff(lm)
    same_day = day_of_tick[1:] == day_of_tick[:-1]
    rv_ticks = np.bincount(day_of_tick[1:][same_day], weights=dlm[same_day] ** 2, minlength=days)

    # 2. intrabar range vs close
    range_ratio = float(np.mean(np.log(h / lo) ** 2) / np.mean(np.log(c / o) ** 2))
    zero_close_moves = float(np.mean(c == o))

    # 3. fills at depth delta for one bar, quote at the bar open
    first = ticks.bar_start[:-1]
    buy = np.where(ticks.side > 0, ticks.price, -np.inf)
    sell = np.where(ticks.side < 0, ticks.price, np.inf)
    max_buy = np.maximum.reduceat(buy, first)
    min_sell = np.minimum.reduceat(sell, first)
    of, hf, lf = o.ravel(), h.ravel(), lo.ravel()
    fills = []
    for d in depths:
        bar_ask, bar_bid = hf >= of + d, lf <= of - d
        tick_ask, tick_bid = max_buy >= of + d, min_sell <= of - d
        model = 1.0 - math.exp(-ticks.A * math.exp(-k * d) * ticks.bar_seconds)
        fills.append(
            {
                "depth": d,
                "p_fill_bar_heuristic": float((bar_ask.mean() + bar_bid.mean()) / 2),
                "p_fill_ticks": float((tick_ask.mean() + tick_bid.mean()) / 2),
                "p_fill_as_model": model,
                "p_both_sides_bar": float((bar_ask & bar_bid).mean()),
                "p_both_sides_ticks": float((tick_ask & tick_bid).mean()),
            }
        )

    # 4. spread
    roll_bars = _roll(bars["close"].to_numpy())
    roll_trades = _roll(ticks.price)
    numbers: dict[str, float | list[dict[str, float]]] = {
        "days": days,
        "seed": seed,
        "k": k,
        "A_per_second_per_side": ticks.A,
        "trades_per_bar": float(len(ticks) / len(bars)),
        "rv_close_over_truth": float(np.mean(rv_close) / np.mean(true_iv)),
        "parkinson_over_truth": float(np.mean(parkinson) / np.mean(true_iv)),
        "rv_tick_mids_over_truth": float(np.mean(rv_ticks) / np.mean(true_iv)),
        "rv_close_daily_error_std": float(np.std(rv_close / true_iv - 1)),
        "parkinson_daily_error_std": float(np.std(parkinson / true_iv - 1)),
        "range2_over_close2": range_ratio,
        "share_bars_close_equals_open": zero_close_moves,
        "roll_half_spread_from_bars": roll_bars,
        "roll_half_spread_from_trades": roll_trades,
        "roll_autocov_bars": _roll_cov(bars["close"].to_numpy()),
        "roll_autocov_trades": _roll_cov(ticks.price),
        "true_rms_depth": math.sqrt(2.0) / k,
        "quoted_half_spread_model": float(ticks.half_spread[0]),
        "fills": fills,
    }
    return BarLimitsNote(numbers=numbers, markdown=_markdown(numbers))


def _fmt(x: float | None) -> str:
    return "undefined" if x is None or not np.isfinite(x) else f"{x:.3g}"


def _roll_sentence(n: dict) -> str:
    """Roll's estimate from bar closes, or why it has none (a non-negative autocovariance)."""
    half, cov = n["roll_half_spread_from_bars"], n.get("roll_autocov_bars", float("nan"))
    if half is not None and np.isfinite(half):
        return f"Roll's estimator finds a half-spread of {half:.3g} from bar closes."
    return (
        "Roll's estimator finds no half-spread in bar closes: the autocovariance of close-to-close changes "
        f"is {cov:+.2g} (it must be negative for sqrt(-cov) to exist), because closes carry no bid-ask bounce."
    )


def _markdown(n: dict) -> str:
    rows = "\n".join(
        f"| {f['depth']:.3f} | {f['p_fill_bar_heuristic']:.3f} | {f['p_fill_ticks']:.3f} | "
        f"{f['p_fill_as_model']:.3f} | {f['p_both_sides_bar']:.3f} | {f['p_both_sides_ticks']:.3f} |"
        for f in n["fills"]
    )
    return f"""### What a 1-minute bar hides (synthetic market, {n["days"]} sessions, seed {n["seed"]})

Measured where the truth is known: NVDA-like synthetic bars and the tick model
(A = {n["A_per_second_per_side"]:.3g} trades/s per side, k = {n["k"]:g} per dollar,
{n["trades_per_bar"]:.1f} trades per bar).

- **Variance.** 1-minute close-to-close realized variance recovers
  {n["rv_close_over_truth"]:.2f}x the true integrated variance (daily error std
  {n["rv_close_daily_error_std"]:.2f}); the Parkinson range estimator gives
  {n["parkinson_over_truth"]:.2f}x (daily error std {n["parkinson_daily_error_std"]:.2f}): the
  range of a discretely sampled, cent-rounded path is biased low. The tick mids, a bridge drawn
  through the bar, give {n["rv_tick_mids_over_truth"]:.2f}x: making 10-20 points touch a high
  and a low set by a much finer path inflates their quadratic variation. Volatility at tick
  frequency is a modelling choice, not information the bar contains; estimate sigma from
  1-minute (or coarser) mid changes.
- **Intrabar path.** E[(ln H/L)^2] / E[(ln C/O)^2] = {n["range2_over_close2"]:.2f} (4 ln 2 = 2.77
  for continuous Brownian motion): most of the path is hidden between open and close;
  {100 * n["share_bars_close_equals_open"]:.1f}% of bars close where they opened.
- **Spread.** {_roll_sentence(n)} From the trades it gives
  {_fmt(n["roll_half_spread_from_trades"])} (truth sqrt(E[d^2]) = {n["true_rms_depth"]:.3g}). The quoted half-spread ({n["quoted_half_spread_model"]:g}) is a model
  input: no bar contains it.
- **Fills and queue.** A quote at depth d from the open, left one bar:

| depth ($) | P(fill), bar high/low | P(fill), ticks | AS 1-exp(-A e^(-kd) Δ) | both sides, bar | both sides, ticks |
|---|---|---|---|---|---|
{rows}

  The bar's high/low reflects the mid's excursion, the order flow's reach adds the trade depth:
  for shallow quotes bars understate fills, and in the bars marked "both sides" the bar cannot
  tell which side filled first, i.e. the inventory path. Queue position is in neither bars nor
  the synthetic ticks (the AS model fills any quote the flow reaches).
"""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv bar-limits``."""
    parser.add_argument("--days", type=int, default=20, help="synthetic sessions (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--k", type=float, default=50.0, help="depth decay per $ (default 50)")
    parser.add_argument(
        "--out", type=Path, default=Path("out/bar-limits"), help="output directory (bar_limits.json, .md)"
    )


def run(args: argparse.Namespace) -> int:
    """Compute the note, print the markdown, write it to ``--out``."""
    note = bar_limits_note(args.days, args.seed, k=args.k)
    print(note.markdown)
    with staged(args.out, getattr(args, "force", False), "bar-limits") as out:
        if out is not None:
            write_json(note.numbers, out / "bar_limits.json")
            atomic_write_text(out / "bar_limits.md", note.markdown)
    return 0
