"""Benchmark: tick synthesis and volatility on a year of 1-minute bars; tick-market steps.

Prints: bars -> ticks (+ log returns, rolling std, EWMA vol) for 252 synthetic sessions
(98,280 bars; issue target < 2 s), trades synthesized per second, and TickMarket path-steps per
second at N = 1,000 and 10,000.

Usage, from the repository root (either form)::

    python -m benchmarks.bench_ticks
    python benchmarks/bench_ticks.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine
from mmenv.data import synthetic_bars
from mmenv.data.ticks import ewma_vol, log_returns, rolling_std, synthesize_ticks
from mmenv.markets.tick_market import TickMarket


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(machine(), flush=True)
    t_bars, bars = best_of(lambda: synthetic_bars(252, seed=0), 2)
    print(f"synthetic_bars, 252 sessions ({len(bars):,} bars): {t_bars:.3f} s")

    def ticks_and_vol():
        tk = synthesize_ticks(bars, (10, 20), seed=1)
        r = log_returns(tk.mid)
        rolling_std(tk.mid, 20)
        ewma_vol(r)
        rb = log_returns(bars["close"].to_numpy())
        rolling_std(bars["close"].to_numpy(), 20)
        ewma_vol(rb)
        return tk

    t_tv, tk = best_of(ticks_and_vol)
    t_t, _ = best_of(lambda: synthesize_ticks(bars, (10, 20), seed=1))
    print(
        f"ticks + volatility, one year: {t_tv:.3f} s (target < 2 s); "
        f"{len(tk):,} trades, {len(tk) / t_t / 1e6:.2f} M trades synthesized / s"
    )

    for n, steps in ((1_000, 200), (10_000, 100)):
        m = TickMarket(tk, n, dt=18 / 3600, n_steps=200)
        rng = np.random.default_rng(0)
        m.reset(rng)
        t0 = time.perf_counter()
        for _ in range(steps):
            m.advance(rng)
        dt = time.perf_counter() - t0
        print(
            f"TickMarket N={n:,}, dt=18 s: {steps / dt:,.0f} steps/s, "
            f"{n * steps / dt / 1e6:.2f} M path-steps/s"
        )


if __name__ == "__main__":
    main()
