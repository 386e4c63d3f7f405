"""The exact-optimum recursion (agents/exact_optimum.py): (step, q) states solved per second.

Default intensity A e^{-k delta} (numba kernel, both fill models) and a general intensity (numpy search) on the
env's default problem (T = 1, dt = 0.005, q_max = 25: 200 x 51 states).

Usage, from the repository root (either form)::

    python -m benchmarks.bench_exact_optimum
    python benchmarks/bench_exact_optimum.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.exact_optimum import solve_exact
from benchmarks._util import machine, rate

KW = dict(T=1.0, dt=0.005, q_max=25.0, phi=0.2, alpha=0.1)
STATES = 200 * 51


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(machine(), flush=True)
    for fill in ("exponential", "linear"):
        r = rate(lambda fill=fill: (solve_exact(**KW, fill_model=fill), STATES)[1])
        print(f"numba kernel, {fill:<11} fills: {r:>12,.0f} states/s ({STATES / r * 1e3:.1f} ms per solve)")
    r = rate(lambda: (solve_exact(**KW, intensity=lambda d: 140.0 * np.exp(-1.5 * d)), STATES)[1], warmup=0)
    print(f"general intensity (numpy search): {r:>12,.0f} states/s ({STATES / r * 1e3:.0f} ms per solve)")


if __name__ == "__main__":
    main()
