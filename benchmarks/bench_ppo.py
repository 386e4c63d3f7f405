"""PPO training throughput (env steps/s, updates included): native vector env vs SB3's DummyVecEnv/SubprocVecEnv.

Each configuration trains stable-baselines3 PPO (the settings of :class:`agents.ppo.PPOConfig`) for a few
rollouts after a warm-up run (numba compilation, torch start-up) and prints env steps per second of the
whole ``model.learn`` call, i.e. simulation, policy inference and the PPO updates together. A second table
isolates the rollout side (random actions, no learning) to show what the vector env itself costs.

Usage: ``python benchmarks/bench_ppo.py [--envs 16 64] [--rollouts 3] [--skip-subproc]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def train_throughput(vec_env: str, n_envs: int, rollouts: int) -> float:
    """Env steps per second of PPO.learn over ``rollouts`` rollouts of 200 steps per env."""
    from agents.ppo import PPOConfig, train_ppo

    steps = n_envs * 200 * rollouts
    cfg = PPOConfig(timesteps=steps, n_envs=n_envs, vec_env=vec_env, batch_size=min(1600, n_envs * 200))
    t0 = time.perf_counter()
    res = train_ppo(cfg)
    seconds = time.perf_counter() - t0
    res.env.close()
    return steps / seconds


def step_throughput(vec_env: str, n_envs: int, steps: int) -> float:
    """Env steps per second of the bare VecEnv (random actions, no policy, no learning)."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--rollouts", type=int, default=3)
    parser.add_argument("--skip-subproc", action="store_true")
    args = parser.parse_args()
    kinds = ["native", "dummy"] + ([] if args.skip_subproc else ["subproc"])
    import torch

    print(
        f"torch {torch.__version__}, threads=1, PPO n_steps=200, batch_size=min(1600, n_envs*200), n_epochs=5"
    )
    train_throughput("native", 8, 1)  # warm-up: numba compile, torch init
    print(f"{'vec_env':<10}{'n_envs':>8}{'PPO steps/s':>16}{'env-only steps/s':>20}")
    for n in args.envs:
        for kind in kinds:
            if kind == "subproc" and n > 16:
                print(f"{kind:<10}{n:>8}  skipped (one process per env on 2 cores)")
                continue
            train = train_throughput(kind, n, args.rollouts)
            bare = step_throughput(kind, n, 2000 if kind == "native" else 200)
            print(f"{kind:<10}{n:>8}{train:>16,.0f}{bare:>20,.0f}", flush=True)


if __name__ == "__main__":
    main()
