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
    # time-major buffers (a contiguous row per step), transposed to (P, steps) at the end
    states = np.empty((3, n + 1, p))  # mid, inventory, cash
    steps_rec = np.empty((6, n, p))  # bid, ask, bought, sold, fees, reward
    states[0, 0], states[1, 0], states[2, 0] = info["mid"], info["inventory"], info["cash"]
    steps = range(n)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=getattr(policy, "name", "policy"), leave=False)
    from agents.base import QuoteState

    core = env.core
    for j in steps:
        state = QuoteState(
            q=core.state.q.copy(),
            tau=core.time_remaining(),
            mid=core.market.mid.copy(),
            sigma=core.market.sigma.copy(),
            s0=s0,
        )
        db, da = policy.quote(state)
        _, r, _, _, info = env.step(np.stack([db, da], axis=-1))
        states[0, j + 1], states[1, j + 1], states[2, j + 1] = info["mid"], info["inventory"], info["cash"]
        rec = steps_rec[:, j]
        rec[0], rec[1], rec[2], rec[3], rec[4], rec[5] = (
            info["bid"],
            info["ask"],
            info["bought"],
            info["sold"],
            info["fees"],
            r,
        )
    mid, inv, cash = (x.T for x in states)  # (P, steps) views of the time-major buffers
    bid, ask, bought, sold, fees, reward = (x.T for x in steps_rec)
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
