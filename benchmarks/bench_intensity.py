"""Benchmark: fits of the intensity laws (exponential, power law, two-part) per second, the
out-of-sample model choice and one rolling-window estimate, on synthetic tick-censored tapes.

Usage, from the repository root (either form)::

    python -m benchmarks.bench_intensity
    python benchmarks/bench_intensity.py
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
from mmenv.calibration.intensity.likelihood import fit_law
from mmenv.calibration.intensity.online import RollingEstimator
from mmenv.calibration.intensity.selection import select_model
from mmenv.calibration.intensity.tape import REFERENCE_LEVELS, REFERENCE_TICK, reference_law, simulate_tape


def _best(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(machine(), flush=True)
    rng = np.random.default_rng(0)
    for name in ("exponential", "power_law", "two_part"):
        law, theta = reference_law(name)
        for duration in (2_000.0, 200_000.0):
            tape = simulate_tape(law, theta, duration, rng, levels=REFERENCE_LEVELS, tick=REFERENCE_TICK)
            sample = tape.window()
            for fit_name in ("exponential", "power_law", "two_part"):
                best = _best(lambda s=sample, m=fit_name: fit_law(s, m), repeats=3)
                print(
                    f"{name:11s} tape, n = {sample.n:>9,} orders: fit {fit_name:11s} "
                    f"{best * 1e3:8.1f} ms/fit  {1 / best:8.1f} fits/s"
                )
    law, theta = reference_law("two_part")
    tape = simulate_tape(law, theta, 20_000.0, rng, levels=REFERENCE_LEVELS, tick=REFERENCE_TICK)
    best = _best(lambda: select_model(tape), repeats=3)
    print(
        f"model choice (3 laws x whole tape + fit part), n = {tape.n:,}: {best:.3f} s  {1 / best:.2f} choices/s"
    )
    est = RollingEstimator(window_s=600.0, model="two_part", tick=REFERENCE_TICK)
    est.add_quotes(tape.seg_t, tape.seg_c, tape.seg_mid)
    est.add_orders(tape.order_t, tape.order_d, tape.order_c)
    best = _best(lambda: est.estimate(20_000.0), repeats=5)
    e = est.estimate(20_000.0)
    print(
        f"rolling estimate (two-part + exponential + sigma), {e.n_orders:,} orders in the window: "
        f"{best * 1e3:.1f} ms  {1 / best:.1f} estimates/s"
    )


if __name__ == "__main__":
    main()
