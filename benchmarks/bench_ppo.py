"""PPO training throughput and the env's share of it, against a previous commit in the same run.

Trains stable-baselines3 PPO with the project's settings (:class:`agents.ppo.PPOConfig`: the native vector env
through the SB3 adapter, VecMonitor and VecNormalize, n_steps 200, batch 1600, 5 epochs, one torch thread)
for ``--timesteps`` env steps, in a fresh subprocess per run, once on this checkout and once on ``--baseline``
(exported with ``git archive``), alternating, best of ``--repeats``. Printed per tree:

* PPO env steps/s: ``--timesteps`` over the wall time of ``model.learn`` (simulation, policy inference and
  the PPO updates together);
* env share: the time spent stepping the environment over the same wall time, measured two ways: the
  simulation (the adapter's ``step_wait``: the core's step, rewards, dones, the in-place resets) and the
  whole vectorised env SB3 steps (the same plus VecMonitor's episode statistics and VecNormalize's running
  normalisation of observations and rewards).

``--kinds`` adds the old table: SB3's DummyVecEnv / SubprocVecEnv over single envs against the native adapter
(this tree only).
.

Usage, from the repository root (either form)::

    python -m benchmarks.bench_ppo [--baseline REV] [--timesteps 64000] [--envs 64] [--repeats 2]
    python benchmarks/bench_ppo.py [--baseline REV] [--timesteps 64000] [--envs 64] [--repeats 2]

The issue's 5M-step run: ``--timesteps 5000000 --repeats 1``, about 3 minutes per tree on an idle core.
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

import numpy as np

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import machine

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "cfd4e6c"

# One training run, timed, in the tree on PYTHONPATH (uses only the API both trees have: PPOConfig,
# make_training_env, train_ppo). The env is timed by wrapping the step_wait of the outermost VecEnv and of
# the innermost (the adapter) on the instance train_ppo builds.
MEASURE = """
import json, sys, time
import agents.ppo as ppo

timesteps, n_envs = int(sys.argv[1]), int(sys.argv[2])
spent = {"outer": 0.0, "inner": 0.0}

def timed(env, key):
    inner = env.step_wait
    def step_wait():
        t0 = time.perf_counter()
        try:
            return inner()
        finally:
            spent[key] += time.perf_counter() - t0
    env.step_wait = step_wait

make = ppo.make_training_env
def make_timed(config, **kw):
    env = make(config, **kw)
    base = env
    while hasattr(getattr(base, "venv", None), "step_wait"):  # down the VecEnv wrappers to the adapter
        base = base.venv
    timed(base, "inner")
    if base is not env:
        timed(env, "outer")
    else:
        spent["outer"] = None
    return env
ppo.make_training_env = make_timed

def run(steps):
    spent["outer"], spent["inner"] = 0.0, 0.0
    cfg = ppo.PPOConfig(timesteps=steps, n_envs=n_envs, vec_env="native", batch_size=min(1600, n_envs * 200))
    t0 = time.perf_counter()
    res = ppo.train_ppo(cfg)
    wall = getattr(res, "seconds", None) or (time.perf_counter() - t0)
    res.env.close()
    return wall

run(n_envs * 200)  # warm-up: numba's cache, torch's start-up
wall = run(timesteps)
outer = spent["outer"] if spent["outer"] is not None else spent["inner"]
print(json.dumps({"steps_per_s": timesteps / wall, "wall_s": wall, "sim_share": spent["inner"] / wall,
                  "vec_env_share": outer / wall}))
"""


def measure(tree: Path, timesteps: int, n_envs: int) -> dict[str, float]:
    """One timed training run in a fresh interpreter on ``tree`` (its own agents and mmenv)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(timesteps), str(n_envs)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"PPO benchmark failed in {tree}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _export(rev: str, dest: Path) -> Path:
    """``git archive REV`` of this repository into ``dest``."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def train_throughput(vec_env: str, n_envs: int, rollouts: int) -> float:
    """Env steps per second of PPO.learn over ``rollouts`` rollouts of 200 steps per env (this tree)."""
    from agents.ppo import PPOConfig, train_ppo

    steps = n_envs * 200 * rollouts
    cfg = PPOConfig(timesteps=steps, n_envs=n_envs, vec_env=vec_env, batch_size=min(1600, n_envs * 200))
    t0 = time.perf_counter()
    res = train_ppo(cfg)
    seconds = time.perf_counter() - t0
    res.env.close()
    return steps / seconds


def step_throughput(vec_env: str, n_envs: int, steps: int) -> float:
    """Env steps per second of the bare VecEnv (random actions, no policy, no learning; this tree)."""
    from agents.ppo import PPOConfig, make_training_env

    env = make_training_env(PPOConfig(n_envs=n_envs, vec_env=vec_env), monitor=False, normalize=False)
    env.seed(0)
    env.reset()
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(steps, n_envs, 2)).astype(np.float32)
    t0 = time.perf_counter()
    for a in actions:
        env.step(a)
    seconds = time.perf_counter() - t0
    env.close()
    return steps * n_envs / seconds


def kinds_table(envs: list[int], rollouts: int) -> None:
    """The native adapter against SB3's DummyVecEnv / SubprocVecEnv over single envs (this tree)."""
    print(f"{'vec_env':<10}{'n_envs':>8}{'PPO steps/s':>16}{'env-only steps/s':>20}")
    train_throughput("native", 8, 1)  # warm-up
    for n in envs:
        for kind in ("native", "dummy", "subproc"):
            if kind == "subproc" and n > 16:
                print(f"{kind:<10}{n:>8}  skipped (one process per env on 2 cores)")
                continue
            train = train_throughput(kind, n, rollouts)
            bare = step_throughput(kind, n, 2000 if kind == "native" else 200)
            print(f"{kind:<10}{n:>8}{train:>16,.0f}{bare:>20,.0f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"previous commit to compare with ({BASELINE})")
    parser.add_argument("--timesteps", type=int, default=64_000, help="env steps per timed run (64000)")
    parser.add_argument("--envs", type=int, default=64, help="parallel episodes (64, the project's setting)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per tree (2)")
    parser.add_argument("--kinds", action="store_true", help="also the native / dummy / subproc table")
    args = parser.parse_args(argv)
    print(machine(), flush=True)
    print(
        f"PPO (SB3, PPOConfig defaults: n_steps=200, batch 1600, 5 epochs, torch threads=1), "
        f"{args.envs} envs, {args.timesteps:,} steps per run, best of {args.repeats}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = _export(args.baseline, Path(tmp))
        runs: dict[str, list[dict[str, float]]] = {"this tree": [], f"baseline {args.baseline}": []}
        for _ in range(args.repeats):
            for label, tree in zip(runs, (ROOT, base), strict=True):
                runs[label].append(measure(tree, args.timesteps, args.envs))
    print(f"{'tree':<20}{'PPO steps/s':>14}{'env share (simulation)':>26}{'env share (vec env)':>22}")
    best = {}
    for label, rs in runs.items():
        r = max(rs, key=lambda x: x["steps_per_s"])
        best[label] = r
        print(f"{label:<20}{r['steps_per_s']:>14,.0f}{r['sim_share']:>26.1%}{r['vec_env_share']:>22.1%}")
    new, old = (best[k]["steps_per_s"] for k in runs)
    print(f"ratio this tree / baseline: {new / old:.2f}x")
    print(machine().replace("machine:", "machine after:"))
    if args.kinds:
        kinds_table([16, 64], 3)


if __name__ == "__main__":
    main()
