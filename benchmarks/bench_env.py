"""Single env: ``env.step`` loop driven by the AS agent, steps per second (target >= 50,000 on 2 cores).

Usage, from the repository root (either form)::

    python -m benchmarks.bench_env
    python benchmarks/bench_env.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym

if not __package__:  # run as a file: import this checkout, as python -m does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mmenv  # noqa: F401
from agents import AvellanedaStoikovAgent
from benchmarks._util import machine, rate


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(machine(), flush=True)
    agent = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    for label, env in [
        ("raw env (env.unwrapped)", gym.make("mmenv/MarketMaking-v0", action_mode="depth").unwrapped),
        ("gymnasium.make wrappers", gym.make("mmenv/MarketMaking-v0", action_mode="depth")),
    ]:
        seed = [0]

        def episode(env=env, seed=seed) -> int:
            obs, _ = env.reset(seed=seed[0])
            seed[0] += 1
            n = 0
            while True:
                obs, _, term, _, _ = env.step(agent.act(obs))
                n += 1
                if term:
                    return n

        print(f"single env, AS agent, {label}: {rate(episode):,.0f} steps/s")


if __name__ == "__main__":
    main()
