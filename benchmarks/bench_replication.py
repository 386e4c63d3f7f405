"""The whole ``mmenv replicate`` (1,000 paths, 3 gammas, both strategies + diagnostics): wall time.

Target: under 3 seconds on this 2-core machine (numba kernels cached on disk after the first run).

Usage, from the repository root (either form)::

    python -m benchmarks.bench_replication
    python benchmarks/bench_replication.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "mmenv.cli", "replicate", "--paths", "1000", "--out", out]
        subprocess.run(cmd, check=True, capture_output=True)  # warm the numba cache
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - t0
    print(f"mmenv replicate --paths 1000 (whole command, incl. interpreter start and figure): {wall:.2f} s")


if __name__ == "__main__":
    main()
