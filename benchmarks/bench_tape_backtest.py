"""Benchmark: the whole ``mmenv backtest --trades T --quotes Q`` command on the shared Binance BTCUSDT sample,
latency table included (every default strategy replayed out of sample, then the fill-model x latency table:
2 fill models x 4 latencies x 8 strategies = 64 replays), wall and CPU time of the process.

Each run is a fresh ``python -m mmenv.cli backtest`` subprocess (interpreter start-up, imports, loading,
calibration, law selection, replays, scores, writing ``metrics.json``); a first run warms numba's on-disk
cache (the compiled code of this source tree), then ``--repeats`` timed runs; the best wall time is printed
with its CPU time (user + system of the subprocess).

Usage, from the repository root (either form)::

    python -m benchmarks.bench_tape_backtest [--repeats 3]
    python benchmarks/bench_tape_backtest.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine

_HERE = Path(__file__).resolve()
ROOT = _HERE.parents[1]
DATA = next(
    (p / "shared" / "data" / "binance" for p in _HERE.parents[1:4] if (p / "shared" / "data").is_dir()),
    _HERE.parents[2] / "shared" / "data" / "binance",
)


def run_once(trades: Path, quotes: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one ``mmenv backtest`` subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory() as d:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        cmd = [
            sys.executable,
            "-m",
            "mmenv.cli",
            "backtest",
            "--trades",
            str(trades),
            "--quotes",
            str(quotes),
        ]
        proc = subprocess.run(
            [*cmd, "--out", str(Path(d) / "out"), "--no-progress"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"mmenv backtest failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data", type=Path, default=DATA)
    a = p.parse_args()
    print(machine(), flush=True)
    trades = a.data / "usdm_btcusdt_2024-08-08T2354_to_2400_trades.csv"
    quotes = a.data / "usdm_btcusdt_2024-08-08T2354_to_2400_bbo.csv"
    if not trades.exists():
        raise SystemExit(f"the Binance sample is absent ({trades})")
    wall, cpu = run_once(trades, quotes)
    print(f"first run (numba's cache of this tree warmed): {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    runs = [run_once(trades, quotes) for _ in range(a.repeats)]
    wall, cpu = min(runs)
    print(
        f"mmenv backtest --trades --quotes (latency table included): {wall:.1f} s wall, {cpu:.1f} s CPU "
        f"(best of {a.repeats})"
    )
    print(machine())


if __name__ == "__main__":
    main()
