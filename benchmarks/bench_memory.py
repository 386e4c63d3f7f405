"""Peak memory of ``mmenv calibrate --bars-csv`` and ``mmenv backtest --market bars-csv`` on a large bars CSV.

The CSV (synthetic NVDA-like 1-minute bars in the flat ``Datetime,Open,High,Low,Close,Volume`` format) is
generated at run time in a temporary directory, never committed. Each command runs in its own process;
its peak resident memory is read from ``getrusage(RUSAGE_CHILDREN)`` of a wrapper process.

    python -m benchmarks.bench_memory                      # calibrate and backtest on 200 MB
    python -m benchmarks.bench_memory --mb 50 --backtest-mb 0

Usage, from the repository root (either form)::

    python -m benchmarks.bench_memory
    python benchmarks/bench_memory.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine
from mmenv.data.bars.synthetic import synthetic_bars

ROOT = Path(__file__).resolve().parents[1]
BYTES_PER_ROW = 73  # measured on the format below (a timestamp with its offset, four prices, a volume)


def write_csv(path: Path, mb: float, seed: int = 0) -> int:
    """Write about ``mb`` megabytes of 1-minute bars to ``path``; returns the number of bars."""
    days = max(1, round(mb * 1e6 / BYTES_PER_ROW / 390))
    bars = synthetic_bars(days=days, seed=seed)
    with path.open("w") as fh:
        fh.write("Datetime,Open,High,Low,Close,Volume\n")
        for i in range(0, len(bars), 200_000):
            part = bars.iloc[i : i + 200_000]
            part.to_csv(fh, header=False, date_format="%Y-%m-%d %H:%M:%S%z", float_format="%.4f")
    return len(bars)


def peak_of(cmd: list[str]) -> tuple[int, float, float]:
    """(exit status, peak RSS in MiB, seconds) of ``cmd`` run in a fresh wrapper process."""
    wrapper = (
        "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env, check=True
    )
    rc, kib = out.stdout.split()
    return int(rc), int(kib) / 1024.0, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Generate the CSVs, run the commands, print their peak memory."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=float, default=200.0, help="size of the calibrate CSV (MB); 0: skip")
    p.add_argument("--backtest-mb", type=float, default=200.0, help="size of the backtest CSV (MB); 0: skip")
    args = p.parse_args(argv)
    print(machine(), flush=True)
    mmenv = [sys.executable, "-m", "mmenv.cli"]
    with tempfile.TemporaryDirectory(prefix="mmenv-bench-memory-") as tmp:
        runs = []
        if args.mb > 0:
            runs.append(("calibrate", args.mb, ["calibrate", "--no-plot", "--bars-csv"]))
        if args.backtest_mb > 0:
            runs.append(
                (
                    "backtest",
                    args.backtest_mb,
                    [
                        "backtest",
                        "--strategy",
                        "as",
                        "--latency-table",
                        "--no-progress",
                        "--market",
                        "bars-csv",
                        "--bars-csv",
                    ],
                )
            )
        for name, mb, cmd in runs:
            csv = Path(tmp) / f"bars_{mb:g}mb.csv"
            if not csv.exists():
                n = write_csv(csv, mb)
            size = csv.stat().st_size / 1e6
            rc, peak, secs = peak_of([*mmenv, *cmd, str(csv), "--out", str(Path(tmp) / f"out_{name}")])
            print(
                f"{name:<10} {size:7.1f} MB CSV ({n:,} bars): peak RSS {peak:8.0f} MiB, {secs:6.1f} s, exit {rc}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
