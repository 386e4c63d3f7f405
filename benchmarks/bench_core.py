"""Why the core's matching step is a numba kernel: numba vs a pure-numpy version of the same rule.

Prints path-steps per second of one matching-and-settlement step at N = 1, 1,000 and 10,000.

Usage, from the repository root (either form)::

    python -m benchmarks.bench_core
    python benchmarks/bench_core.py
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine, rate
from mmenv.sim.env_step import step_paths


def numpy_step(q, cash, mid, db, da, rb, ra, q_max, size, fpu, frate):
    """The same rule as :func:`mmenv.sim.fills.match_and_settle`, written with numpy array operations."""
    bid_live = (q + size <= q_max + 1e-9) & ~np.isnan(db)
    ask_live = (q - size >= -q_max - 1e-9) & ~np.isnan(da)
    bp = np.where(bid_live, mid - db, np.nan)
    ap = np.where(ask_live, mid + da, np.nan)
    bought = np.where(bid_live & (rb >= db), size, 0.0)
    sold = np.where(ask_live & (ra >= da), size, 0.0)
    notional = np.where(bought > 0, bought * bp, 0.0) + np.where(sold > 0, sold * ap, 0.0)
    flow = np.where(sold > 0, sold * ap, 0.0) - np.where(bought > 0, bought * bp, 0.0)
    fees = fpu * (bought + sold) + frate * notional
    return q + bought - sold, cash + flow - fees, bought, sold, fees, bp, ap


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(machine(), flush=True)
    rng = np.random.default_rng(0)
    for n in (1, 1_000, 10_000):
        q, cash, mid = np.zeros(n), np.zeros(n), np.full(n, 100.0)
        db, da = np.full(n, 0.7), np.full(n, 0.7)
        rb, ra = rng.normal(size=n), rng.normal(size=n)
        outs = [np.empty(n) for _ in range(5)]

        def numba_block(n=n, q=q, cash=cash, mid=mid, db=db, da=da, rb=rb, ra=ra, outs=outs) -> int:
            for _ in range(200):
                step_paths(q, cash, mid, db, da, rb, ra, math.inf, 1.0, 0.0, 0.0, *outs)
            return 200 * n

        def numpy_block(n=n, q=q, cash=cash, mid=mid, db=db, da=da, rb=rb, ra=ra) -> int:
            for _ in range(200):
                numpy_step(q, cash, mid, db, da, rb, ra, math.inf, 1.0, 0.0, 0.0)
            return 200 * n

        a, b = rate(numba_block, 1.0), rate(numpy_block, 1.0)
        print(
            f"matching step N={n:>6,}: numba {a / 1e6:8.2f} M path-steps/s   numpy {b / 1e6:8.2f} M path-steps/s"
        )


if __name__ == "__main__":
    main()
