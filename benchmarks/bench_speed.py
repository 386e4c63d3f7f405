"""The speed targets, measured against a previous release in the same run (ratios), plus absolute figures.

Each measurement runs in a fresh subprocess, once on this checkout and once on a previous commit exported
with ``git archive`` (``--baseline REV``, default: the release before the counter-based generator and the
fused step), alternating, best of ``--repeats``. Printed: this tree, the baseline, their ratio.

* vector env: ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``, N = 10,000, the AS 2008
  setting (binomial mid, linear fills, A = 140, k = 1.5, no inventory limit), constant action; path-steps/s,
  with all threads and with ``MMENV_NUM_THREADS=1`` (a tree without that variable runs its own thread
  count), with each tree's default ``infos`` and with every info key (``info_keys=None``; a tree without the
  option returns every key anyway);
* single env: ``gymnasium.make`` (its wrappers included), constant action, steps/s, with every info key (the
  single env's default) and with ``info_keys=()``;
* ``mmenv replicate --paths 1000 --no-plot``: wall seconds including interpreter start-up and numba's cache;
  ``--paths 100000`` on this tree only (the baseline keeps every step's records: about 17 GB).

Usage, from the repository root (either form)::

    python -m benchmarks.bench_speed [--baseline REV] [--repeats 3]
    python benchmarks/bench_speed.py [--baseline REV] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "cfd4e6c"

VECTOR = """
import inspect, json, sys, time, warnings, numpy as np, gymnasium as gym
import mmenv
from gymnasium.envs.registration import load_env_creator
warnings.simplefilter("ignore")
n = 10_000
extra = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
# the class each tree registers (its module moved between releases)
known = inspect.signature(load_env_creator(gym.spec("mmenv/MarketMaking-v0").vector_entry_point).__init__).parameters
extra = {k: v for k, v in extra.items() if k in known}  # an older tree: its defaults
env = gym.make_vec("mmenv/MarketMaking-v0", num_envs=n, vectorization_mode="vector_entry_point",
                   q_max=float("inf"), mid_model="binomial", fill_model="linear", A=140.0, k=1.5, **extra)
env.reset(seed=0)
a = np.zeros((n, 2), np.float32)
for _ in range(30):
    env.step(a)
best = 0.0
for _ in range(5):
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < 1.0:
        env.step(a)
        k += 1
    best = max(best, k * n / (time.perf_counter() - t0))
print(best)
"""

SINGLE = """
import inspect, json, sys, time, numpy as np, gymnasium as gym
import mmenv
from gymnasium.envs.registration import load_env_creator
extra = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
known = inspect.signature(load_env_creator(gym.spec("mmenv/MarketMaking-v0").entry_point).__init__).parameters
extra = {k: v for k, v in extra.items() if k in known}  # an older tree: its defaults
env = gym.make("mmenv/MarketMaking-v0", **extra)
env.reset(seed=0)
a = np.zeros(2, np.float32)
best = 0.0
for _ in range(5):
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < 1.0:
        for _ in range(100):
            _, _, term, _, _ = env.step(a)
            k += 1
            if term:
                env.reset()
    best = max(best, k / (time.perf_counter() - t0))
print(best)
"""


def _run_code(tree: Path, code: str, threads: int | None = None, kwargs: dict | None = None) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "MPLBACKEND": "Agg"}
    if threads is not None:
        env["MMENV_NUM_THREADS"] = str(threads)
    argv = [sys.executable, "-c", code] + ([json.dumps(kwargs)] if kwargs else [])
    out = subprocess.run(argv, env=env, cwd=tree, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"benchmark failed in {tree}: {out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def _replicate_wall(tree: Path, paths: int = 1000) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cmd = [
            sys.executable,
            "-m",
            "mmenv.cli",
            "replicate",
            "--paths",
            str(paths),
            "--no-plot",
            "--out",
            tmp + "/o",
        ]
        out = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if out.returncode:
        raise RuntimeError(f"replicate failed in {tree}: {out.stderr[-2000:]}")
    return wall


def _export(rev: str, dest: Path) -> Path:
    """``git archive REV`` of this repository into ``dest``."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"previous commit to compare with ({BASELINE})")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per measurement (3)")
    args = parser.parse_args(argv)
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = _export(args.baseline, Path(tmp))
        for tree in (ROOT, base):  # warm numba's caches of both trees
            _run_code(tree, SINGLE)
            _run_code(tree, VECTOR)
            _replicate_wall(tree)
        full = {"info_keys": None}  # every info key (an older tree's default)
        rows = [
            (
                "vector env N=10,000, AS 2008, all threads (M path-steps/s)",
                lambda t: _run_code(t, VECTOR) / 1e6,
                max,
            ),
            (
                "vector env N=10,000, AS 2008, one thread (M/s)",
                lambda t: _run_code(t, VECTOR, 1) / 1e6,
                max,
            ),
            (
                "  the same with every info key, all threads (M/s)",
                lambda t: _run_code(t, VECTOR, kwargs=full) / 1e6,
                max,
            ),
            (
                "  the same with every info key, one thread (M/s)",
                lambda t: _run_code(t, VECTOR, 1, kwargs=full) / 1e6,
                max,
            ),
            ("single env via gymnasium.make (k steps/s)", lambda t: _run_code(t, SINGLE) / 1e3, max),
            (
                "  the same, info_keys=() (baseline: every key) (k steps/s)",
                lambda t: _run_code(t, SINGLE, kwargs={"info_keys": []}) / 1e3,
                max,
            ),
            ("mmenv replicate --paths 1000, wall incl. start-up (s)", _replicate_wall, min),
        ]
        # this tree only: the baseline keeps every step's records (about 17 GB at 100,000 paths)
        only = [
            ("mmenv replicate --paths 100000, wall incl. start-up (s)", lambda t: _replicate_wall(t, 100_000))
        ]
        print(
            f"{'benchmark':<62} {'this tree':>10} {'baseline':>10} {'ratio':>7}   (baseline {args.baseline})"
        )
        for label, fn, best in rows:
            new, old = [], []
            for _ in range(args.repeats):
                new.append(fn(ROOT))
                old.append(fn(base))
            a, b = best(new), best(old)
            ratio = b / a if best is min else a / b
            print(f"{label:<62} {a:>10.2f} {b:>10.2f} {ratio:>6.2f}x")
        for label, fn in only:
            print(f"{label:<62} {min(fn(ROOT) for _ in range(args.repeats)):>10.2f} {'-':>10} {'-':>7}")
        print("ratios > 1 mean this tree is faster")
        print(machine().replace("machine:", "machine after:"))


if __name__ == "__main__":
    main()
