"""Run a policy on N paths of the vector env and record everything the analytics need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Rollout", "rollout"]


@dataclass
class Rollout:
    """Recorded episodes, struct of arrays. P paths, S steps; ``[:, 0]`` is the state at t = 0.

    Attributes:
        time: (S + 1,) time of each record (time units).
        mid, inventory, cash, equity: (P, S + 1) mid (price units), q (units), cash and cash + q mid.
        bid, ask: (P, S) quoted prices (NaN where not quoted). bought, sold: (P, S) units filled.
        fees: (P, S) fees paid. reward: (P, S) the env's reward. dt: decision interval.
    """

    time: np.ndarray
    mid: np.ndarray
    inventory: np.ndarray
    cash: np.ndarray
    equity: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    bought: np.ndarray
    sold: np.ndarray
    fees: np.ndarray
    reward: np.ndarray
    dt: float

    @property
    def num_paths(self) -> int:
        """P."""
        return self.mid.shape[0]


def rollout(policy, num_paths: int, seed: int, progress: bool = False, **env_kwargs: Any) -> Rollout:
    """Run ``policy`` for one episode on ``num_paths`` paths of :class:`mmenv.vector_env.MarketMakingVectorEnv`.

    The env is built with ``action_mode="depth"``: the policy's depths are used exactly, never rescaled.
    Two calls with the same seed and market arguments see the same market paths (common random numbers)
    as long as the market's draws do not depend on the policy, which holds for the model market.

    Args:
        policy: an :class:`agents.base.Policy`. num_paths: P. seed: seeds the env's generator.
        progress: show a tqdm bar over the steps. env_kwargs: arguments of the env (market parameters).
    """
    from mmenv.vector_env import MarketMakingVectorEnv

    env_kwargs = {**env_kwargs, "action_mode": "depth"}
    env = MarketMakingVectorEnv(num_envs=num_paths, **env_kwargs)
    _, info = env.reset(seed=seed)
    s0 = env.core.market.s0.copy()
    policy.reset(num_paths)
    n = env.core.n_steps
    p = num_paths
    mid = np.empty((p, n + 1))
    inv = np.empty((p, n + 1))
    cash = np.empty((p, n + 1))
    bid = np.empty((p, n))
    ask = np.empty((p, n))
    bought = np.empty((p, n))
    sold = np.empty((p, n))
    fees = np.empty((p, n))
    reward = np.empty((p, n))
    mid[:, 0], inv[:, 0], cash[:, 0] = info["mid"], info["inventory"], info["cash"]
    steps = range(n)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=getattr(policy, "name", "policy"), leave=False)
    from agents.base import QuoteState

    for j in steps:
        core = env.core
        state = QuoteState(
            q=core.state.q.copy(),
            tau=core.time_remaining(),
            mid=core.market.mid.copy(),
            sigma=core.market.sigma.copy(),
            s0=s0,
        )
        db, da = policy.quote(state)
        _, r, _, _, info = env.step(np.stack([db, da], axis=-1))
        mid[:, j + 1], inv[:, j + 1], cash[:, j + 1] = info["mid"], info["inventory"], info["cash"]
        bid[:, j], ask[:, j] = info["bid"], info["ask"]
        bought[:, j], sold[:, j], fees[:, j], reward[:, j] = (
            info["bought"],
            info["sold"],
            info["fees"],
            r,
        )
    dt = env.core.market.dt
    return Rollout(
        time=np.arange(n + 1) * dt,
        mid=mid,
        inventory=inv,
        cash=cash,
        equity=cash + inv * mid,
        bid=bid,
        ask=ask,
        bought=bought,
        sold=sold,
        fees=fees,
        reward=reward,
        dt=dt,
    )
