"""Threads under contention: the vector env's path-steps/s with its default threading and on one thread, on
idle cores and beside 1 and 2 CPU-bound processes that this benchmark starts and stops itself.

The vector env is the one of ``bench_speed`` (``gymnasium.make_vec``, N = ``--num-envs``, the AS 2008 setting:
binomial mid, linear fills, A = 140, k = 1.5, constant action). Each measurement runs in a fresh
subprocess (its own thread pool and shard choice): 30 steps and ``--warmup`` seconds of stepping, then
``--seconds`` of stepping, timed one second at a time. Printed per number of competing processes: the mean
path-steps/s over the whole window (all path-steps over the wall time: what a training run gets) for

* ``default``: the env as a user builds it (threads: the CPUs of the process; each step on one thread or
  in shards, as :class:`mmenv.sim.shard_choice.ShardChoice` measures);
* ``one thread``: ``num_threads=1``;
* ``always shards`` (``--modes`` includes ``shards``): the shards on every step, the choice switched off,
  which shows what the choice protects against;

their ratio (target: default >= 0.9 x one thread under contention, and no slower than before idle), the
slowest one-second slice of the default and the share of its steps that ran in shards. A competing process
is a Python ``while`` loop, started before the measured process and stopped after it (each also ends by
itself after a deadline). Modes alternate within each repeat; the table shows the median of
``--repeats``. The machine line (CPU model, cores, load) is printed first and before each row.

Usage, from the repository root (either form)::

    python -m benchmarks.bench_threads [--num-envs 10000] [--seconds 5] [--repeats 3] [--competing 0 1 2]
    python benchmarks/bench_threads.py [--num-envs 10000] [--seconds 5] [--repeats 3] [--competing 0 1 2]
"""

from __future__ import annotations

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

from benchmarks._util import load, machine

ROOT = Path(__file__).resolve().parents[1]

#: The measured process: argv[1] is a JSON dict (n, mode, warmup, seconds); prints one JSON line.
STEPPER = """
import json, sys, time, warnings
import numpy as np, gymnasium as gym
import mmenv
from mmenv.sim.shard_choice import ShardChoice
warnings.simplefilter("ignore")
cfg = json.loads(sys.argv[1])
n, mode = cfg["n"], cfg["mode"]
extra = {"num_threads": 1} if mode == "one" else {}
env = gym.make_vec("mmenv/MarketMaking-v0", num_envs=n, vectorization_mode="vector_entry_point",
                   q_max=float("inf"), mid_model="binomial", fill_model="linear", A=140.0, k=1.5, **extra)
core = env.unwrapped.core
if mode == "shards":
    core.shard_choice = ShardChoice(fixed=True)
env.reset(seed=0)
a = np.zeros((n, 2), np.float32)
for _ in range(30):
    env.step(a)
end = time.perf_counter() + cfg["warmup"]
while time.perf_counter() < end:
    env.step(a)
before = list(core.shard_choice.calls)
slices, steps, t_start = [], 0, time.perf_counter()
for _ in range(int(cfg["seconds"])):
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < 1.0:
        env.step(a)
        k += 1
    slices.append(k * n / (time.perf_counter() - t0))
    steps += k
wall = time.perf_counter() - t_start
ch = core.shard_choice
sharded = ch.calls[1] - before[1]
counted = sharded + ch.calls[0] - before[0]
print(json.dumps({"rate": steps * n / wall, "worst": min(slices),
                  "shard_share": sharded / counted if counted else 0.0}))
"""

#: A competing CPU-bound process: spins until its deadline (argv[1], seconds) unless stopped before.
SPINNER = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
)

MODES = {"default": "default", "one": "one thread", "shards": "always shards"}


def _measure(mode: str, n: int, warmup: float, seconds: int, competing: int) -> dict:
    """One measurement in a fresh process beside ``competing`` spinning processes (started and stopped here)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env.pop("MMENV_NUM_THREADS", None)  # the default is what users get
    deadline = str(warmup + seconds + 120.0)  # the spinners end by themselves even if this process dies
    spinners = [subprocess.Popen([sys.executable, "-c", SPINNER, deadline]) for _ in range(competing)]
    try:
        time.sleep(0.2)  # the spinners are running
        cfg = json.dumps({"n": n, "mode": mode, "warmup": warmup, "seconds": seconds})
        out = subprocess.run(
            [sys.executable, "-c", STEPPER, cfg], env=env, cwd=ROOT, capture_output=True, text=True
        )
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait()
    if out.returncode:
        raise RuntimeError(f"the measured process failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=10_000, help="paths of the vector env (10000)")
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds per run (5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of stepping before (1.0)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode and load; the median (3)")
    parser.add_argument(
        "--competing", type=int, nargs="+", default=[0, 1, 2], help="competing processes (0 1 2)"
    )
    parser.add_argument(
        "--modes", nargs="+", choices=sorted(MODES), default=["default", "one", "shards"], help="what to run"
    )
    args = parser.parse_args(argv)
    for name, value in (
        ("--num-envs", args.num_envs),
        ("--seconds", args.seconds),
        ("--repeats", args.repeats),
    ):
        if value < 1:
            parser.error(f"{name} must be >= 1, got {value}")
    if min(args.competing) < 0:
        parser.error(f"--competing must be >= 0, got {min(args.competing)}")
    print(machine())
    print(
        f"vector env N={args.num_envs:,}, AS 2008 setting, constant action: mean M path-steps/s over "
        f"{args.seconds} s after {args.warmup:g} s of stepping, median of {args.repeats}",
        flush=True,
    )
    head = "".join(f"{MODES[m]:>15}" for m in args.modes)
    print(f"{'competing':>9}{head}{'default/one':>13}{'worst 1 s':>11}{'in shards':>11}   load before")
    for c in args.competing:
        before = load()
        runs: dict[str, list[dict]] = {m: [] for m in args.modes}
        for r in range(args.repeats):
            order = args.modes if r % 2 == 0 else args.modes[::-1]  # alternate: drift hits both
            for m in order:
                runs[m].append(_measure(m, args.num_envs, args.warmup, args.seconds, c))
        med = {m: statistics.median(x["rate"] for x in v) / 1e6 for m, v in runs.items()}
        row = f"{c:>9}" + "".join(f"{med[m]:>15.1f}" for m in args.modes)
        if "default" in med and "one" in med:
            row += f"{med['default'] / med['one']:>12.2f}x"
        else:
            row += f"{'-':>13}"
        if "default" in runs:
            worst = min(x["worst"] for x in runs["default"]) / 1e6
            share = statistics.median(x["shard_share"] for x in runs["default"])
            row += f"{worst:>11.1f}{share:>11.0%}"
        else:
            row += f"{'-':>11}{'-':>11}"
        print(f"{row}   {before}", flush=True)
    print(machine().replace("machine:", "machine after:"))


if __name__ == "__main__":
    main()
