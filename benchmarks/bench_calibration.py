"""Benchmark: MLE of lambda(d) = A exp(-k d) on 1,000,000 market orders (target: one fit < 1 s).

Usage, from the repository root (either form)::

    python -m benchmarks.bench_calibration
    python benchmarks/bench_calibration.py
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
from mmenv.calibration import fit_intensity, fit_intensity_ls, simulate_depth_sample


def _rate(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    best = min(times)
    return best, 1.0 / best


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(machine(), flush=True)
    rng = np.random.default_rng(0)
    duration = 1_000_000 / (2 * 140.0 * np.exp(-1.5 * 0.05))  # expected 1e6 orders
    cont = simulate_depth_sample(140.0, 1.5, duration, rng, sides=2, half_spread=0.05)
    tick = simulate_depth_sample(140.0, 1.5, duration, rng, sides=2, half_spread=0.05, tick=0.01)
    raw = cont.depths
    print(f"n = {cont.n:,} orders (continuous), {tick.n:,} (tick 0.01)")
    cases = {
        "MLE, DepthSample, continuous": lambda: fit_intensity(cont),
        "MLE, DepthSample, tick-censored": lambda: fit_intensity(tick),
        "MLE from a raw depth array (incl. validation)": lambda: fit_intensity(
            raw, duration, sides=2, min_depth=0.05
        ),
        "log-linear LS (second estimator)": lambda: fit_intensity_ls(cont),
    }
    for name, fn in cases.items():
        best, per_s = _rate(fn, repeats=5)
        print(f"{name:48s} {best * 1e3:8.1f} ms/fit  {per_s:8.1f} fits/s")
    f = fit_intensity(cont)
    print(f"check: A = {f.A:.2f} +- {f.A_se:.2f} (true 140), k = {f.k:.4f} +- {f.k_se:.4f} (true 1.5)")


if __name__ == "__main__":
    main()
