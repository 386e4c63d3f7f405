"""Throughput of mbt_gym's vectorised and single TradingEnvironment against mmenv, same machine, same run.

mbt_gym (Jerome, Palmer, Savani: github.com/JJJerome/mbt_gym) is not on PyPI: pass a checkout of it with
``--mbt-gym-src PATH`` (the folder holding the ``mbt_gym`` package)::

    python -m benchmarks.bench_mbt_gym --mbt-gym-src ~/src/mbt_gym

mbt_gym imports ``gym``; each mbt_gym child process maps ``gym`` and ``gym.spaces`` to gymnasium before
importing it (only ``gym.Env`` and ``gym.spaces.Box`` are used on the measured paths). Setting: the AS 2008
market (T = 1, 200 steps, sigma 2, A = 140, k = 1.5), a constant depth of 0.7 on both sides for mbt_gym (its
Brownian mid) and mmenv's ``bench_speed`` setup (binomial mid, linear fills) at action 0 and at depth 0.7.

Each measurement runs in a fresh subprocess on one thread (OMP/MKL/OPENBLAS_NUM_THREADS=1, and
MMENV_NUM_THREADS=1 for the one-thread mmenv rows), alternating the two libraries for ``--rounds`` rounds; each
subprocess reports the best of 5 timed windows of >= 1 s (whole ``env.step`` calls; mbt_gym resets itself at
the end of each episode inside the window, mmenv autoresets). Prints path-steps per second and the ratios,
best over rounds and the median of the paired per-round ratios (the figure that survives a busy machine).

Usage, from the repository root (either form)::

    python -m benchmarks.bench_mbt_gym
    python benchmarks/bench_mbt_gym.py
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine

MMENV_ROOT = str(Path(__file__).resolve().parents[1])
N = 10_000
SEED = 1  # mbt_gym's TradingEnvironment only seeds its processes when `if seed:` holds

COMMON = r"""
import os, sys, time, json
import numpy as np
def best_of_5(step_fn, per_call):
    best = 0.0
    runs = []
    for _ in range(5):
        t0, k = time.perf_counter(), 0
        while time.perf_counter() - t0 < 1.0:
            step_fn()
            k += 1
        r = k * per_call / (time.perf_counter() - t0)
        runs.append(r)
        best = max(best, r)
    return best, runs
"""

MBT = (
    COMMON
    + r"""
import gymnasium
sys.modules["gym"] = gymnasium            # shim: mbt_gym imports `gym`; mapped to gymnasium 1.x
sys.modules["gym.spaces"] = gymnasium.spaces
sys.path.insert(0, sys.argv[3])
from mbt_gym.gym.TradingEnvironment import TradingEnvironment
from mbt_gym.gym.ModelDynamics import LimitOrderModelDynamics
from mbt_gym.stochastic_processes.midprice_models import BrownianMotionMidpriceModel
from mbt_gym.stochastic_processes.arrival_models import PoissonArrivalModel
from mbt_gym.stochastic_processes.fill_probability_models import ExponentialFillFunction
from mbt_gym.rewards.RewardFunctions import PnL
n, normalise, seed = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[4])
T, n_steps = 1.0, 200
dt = T / n_steps
env = TradingEnvironment(
    terminal_time=T, n_steps=n_steps, reward_function=PnL(),
    model_dynamics=LimitOrderModelDynamics(
        midprice_model=BrownianMotionMidpriceModel(volatility=2.0, initial_price=100, terminal_time=T, step_size=dt,
                                                   num_trajectories=n, seed=seed),
        arrival_model=PoissonArrivalModel(intensity=np.array([140.0, 140.0]), step_size=dt, num_trajectories=n, seed=seed),
        fill_probability_model=ExponentialFillFunction(fill_exponent=1.5, step_size=dt, num_trajectories=n, seed=seed),
        num_trajectories=n, seed=seed),
    num_trajectories=n, seed=seed,
    normalise_action_space=normalise, normalise_observation_space=normalise)
raw = np.full((n, 2), 0.7)
action = env.normalise_action(raw) if normalise else raw   # depth 0.7 on both sides either way
env.reset()
# sanity: one full episode, terminal mark-to-market PnL (theory for the linear-fill AS model ~ 2*140*e^-1.05*0.7 = 68.6)
pnl = np.zeros(n)
while True:
    obs, r, d, info = env.step(action)
    pnl += r
    if d[0]:
        break
env.reset()
for _ in range(30):
    env.step(action)
def one():
    obs, r, d, info = env.step(action)
    if d[0]:
        env.reset()
best, runs = best_of_5(one, n)
print(json.dumps({"best": best, "runs": runs, "mean_pnl": float(pnl.mean())}))
"""
)

MM_VEC = (
    COMMON
    + r"""
import warnings, gymnasium as gym
import mmenv
warnings.simplefilter("ignore")
n, a_val = int(sys.argv[1]), float(sys.argv[2])
# exactly benchmarks/bench_speed.py's VECTOR setup (AS 2008: binomial mid, linear fills, A=140, k=1.5, q_max=inf)
env = gym.make_vec("mmenv/MarketMaking-v0", num_envs=n, vectorization_mode="vector_entry_point",
                   q_max=float("inf"), mid_model="binomial", fill_model="linear", A=140.0, k=1.5)
env.reset(seed=0)
a = np.full((n, 2), a_val, np.float32)
for _ in range(30):
    env.step(a)
best, runs = best_of_5(lambda: env.step(a), n)
print(json.dumps({"best": best, "runs": runs}))
"""
)

MM_SINGLE = (
    COMMON
    + r"""
import gymnasium as gym
import mmenv
a_val = float(sys.argv[1])
# exactly benchmarks/bench_speed.py's SINGLE setup (gym.make, its wrappers, default kwargs)
env = gym.make("mmenv/MarketMaking-v0")
env.reset(seed=0)
a = np.full(2, a_val, np.float32)
def hundred():
    for _ in range(100):
        _, _, term, _, _ = env.step(a)
        if term:
            env.reset()
best, runs = best_of_5(hundred, 100)
print(json.dumps({"best": best, "runs": runs}))
"""
)


def child(code, args, mm_threads=None):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": MMENV_ROOT,
        "MPLBACKEND": "Agg",
    }
    env.pop("MMENV_NUM_THREADS", None)
    if mm_threads is not None:
        env["MMENV_NUM_THREADS"] = str(mm_threads)
    out = subprocess.run(
        [sys.executable, "-c", code] + [str(a) for a in args],
        env=env,
        cwd=MMENV_ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# mmenv's normalized action a in [-1, 1] maps to depth min_depth + (a+1)/2 (max_depth - min_depth), [0, 4] by
# default: a = 0 is depth 2.0 (bench_speed's action); a = -0.65 is depth 0.7 (mbt_gym's action here).
ROWS = [
    ("mbt_gym vector N=10k, raw depths 0.7 (normalise_*=False), 1 thread (path-steps/s)", MBT, [N, 0], None),
    ("mmenv vector N=10k, bench_speed setup, action 0 (depth 2.0), MMENV_NUM_THREADS=1", MM_VEC, [N, 0.0], 1),
    ("mbt_gym vector N=10k, library default normalised spaces, depth 0.7, 1 thread", MBT, [N, 1], None),
    ("mmenv vector N=10k, action -0.65 (depth 0.7), MMENV_NUM_THREADS=1", MM_VEC, [N, -0.65], 1),
    ("mmenv vector N=10k, bench_speed setup, action 0, all threads (2 CPUs)", MM_VEC, [N, 0.0], None),
    ("mbt_gym single (num_trajectories=1), raw depths 0.7 (steps/s)", MBT, [1, 0], None),
    ("mmenv single gym.make, bench_speed setup, action 0 (steps/s)", MM_SINGLE, [0.0], 1),
    ("mbt_gym single (num_trajectories=1), default normalised spaces (steps/s)", MBT, [1, 1], None),
    ("mmenv single gym.make, action -0.65 (depth 0.7) (steps/s)", MM_SINGLE, [-0.65], 1),
]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mbt-gym-src", required=True, help="folder holding the mbt_gym package (a checkout)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default: 5)")
    args = ap.parse_args(argv)
    print(machine(), flush=True)
    src = str(Path(args.mbt_gym_src).expanduser().resolve())
    if not (Path(src) / "mbt_gym" / "gym" / "TradingEnvironment.py").is_file():
        ap.error(f"--mbt-gym-src {args.mbt_gym_src!r} holds no mbt_gym/gym/TradingEnvironment.py")
    for i, (label, code, a, th) in enumerate(ROWS):
        if code is MBT:
            ROWS[i] = (label, code, [*a, src, SEED], th)

    def p(*a):
        print(" ".join(str(x) for x in a), flush=True)

    p(
        "date:",
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "| cpus:",
        os.cpu_count(),
        "|",
        sys.executable,
    )
    p(
        "mmenv tree:",
        MMENV_ROOT,
        subprocess.run(
            ["git", "-C", MMENV_ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
    )
    p("uptime before:", uptime())
    # warm-up (not recorded): numba caches of mmenv, imports of both
    child(MM_VEC, [N, 0.0], 1)
    child(MM_SINGLE, [0.0], 1)
    child(MBT, [100, 0, src, SEED])
    results = {label: [] for label, *_ in ROWS}
    extra = {}
    for rnd in range(args.rounds):
        for label, code, args, th in ROWS:
            r = child(code, args, th)
            results[label].append(r["best"])
            if "mean_pnl" in r:
                extra.setdefault(label, []).append(r["mean_pnl"])
            p(
                f"round {rnd + 1}: {label}: best {r['best']:,.0f}  runs {[round(x) for x in r['runs']]}"
                + (f"  (sanity: mean terminal PnL {r['mean_pnl']:.2f})" if "mean_pnl" in r else "")
            )
        p("uptime:", uptime())
    p("")
    p("SUMMARY (best over rounds; each round = best of 5 windows of >= 1 s)")
    best = {}
    for label, *_ in ROWS:
        best[label] = max(results[label])
        p(f"  {best[label]:>14,.0f}   {label}   (per round: {[round(x) for x in results[label]]})")
    L = [label for label, *_ in ROWS]
    p("RATIOS (mmenv / mbt_gym)")
    p(
        f"  vector, 1 thread, primary (mmenv bench setup a=0 / mbt_gym raw 0.7): {best[L[1]] / best[L[0]]:.1f}x"
    )
    p(
        f"  vector, 1 thread, both at depth 0.7 (mmenv a=-0.65 / mbt_gym raw 0.7): {best[L[3]] / best[L[0]]:.1f}x"
    )
    p(f"  vector, 1 thread, vs mbt_gym library defaults (normalised): {best[L[1]] / best[L[2]]:.1f}x")
    p(f"  vector, mmenv all threads / mbt_gym 1 thread raw: {best[L[4]] / best[L[0]]:.1f}x")
    p(f"  single, mmenv gym.make a=0 / mbt_gym raw 0.7: {best[L[6]] / best[L[5]]:.1f}x")
    p(f"  single, both depth 0.7 (mmenv a=-0.65 / mbt_gym raw): {best[L[8]] / best[L[5]]:.1f}x")
    p(f"  single, mmenv a=0 / mbt_gym defaults (normalised): {best[L[6]] / best[L[7]]:.1f}x")
    p("PER-ROUND PAIRED RATIOS (same round, adjacent subprocesses): median [min..max]")
    for name, i, j in [
        ("vector 1 thread, mmenv a=0 / mbt_gym raw 0.7", 1, 0),
        ("vector 1 thread, both depth 0.7", 3, 0),
        ("vector 1 thread, mmenv a=0 / mbt_gym defaults", 1, 2),
        ("vector, mmenv all threads / mbt_gym raw 1 thread", 4, 0),
        ("single, mmenv a=0 / mbt_gym raw 0.7", 6, 5),
        ("single, both depth 0.7", 8, 5),
        ("single, mmenv a=0 / mbt_gym defaults", 6, 7),
    ]:
        rs = [a / b for a, b in zip(results[L[i]], results[L[j]], strict=True)]
        p(
            f"  {name}: {statistics.median(rs):.1f}x  [{min(rs):.1f}..{max(rs):.1f}]  {[round(x, 1) for x in rs]}"
        )
    p("uptime after:", uptime())
    p("date:", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))


if __name__ == "__main__":
    main()
