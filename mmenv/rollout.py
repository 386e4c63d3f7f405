"""Run a policy on N paths of the vector env and record everything the analytics need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mmenv.market_kernels import KINDS

__all__ = ["Rollout", "rollout", "rollout_many"]


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
        policy: an :class:`mmenv.policy.Policy`. num_paths: P. seed: seeds the env's generator.
        progress: show a tqdm bar over the steps. env_kwargs: arguments of the env (market parameters).
    """
    return _run([policy], num_paths, seed, progress, env_kwargs)[0]


def rollout_many(
    policies: dict[str, Any], num_paths: int, seed: int, progress: bool = False, **env_kwargs: Any
) -> dict[str, Rollout]:
    """:func:`rollout` of several policies on the same market paths, in one simulation where possible.

    On the model market and its variants the G policies run side by side in one vector env of G *
    ``num_paths`` paths whose blocks share their draws (``crn_groups``, :class:`mmenv.markets.ModelMarket`):
    each result equals, bit for bit, ``rollout(policy, num_paths, seed, **env_kwargs)`` (tested), at a
    fraction of the cost. Other markets (tick replay) run one rollout per policy with the same seed.
    """
    names = list(policies)
    if not names:
        raise ValueError(f"policies must name at least one policy, got {policies!r}")
    if env_kwargs.get("market", "model") not in KINDS:
        return {n: rollout(policies[n], num_paths, seed, progress, **env_kwargs) for n in names}
    outs = _run([policies[n] for n in names], num_paths, seed, progress, env_kwargs)
    return dict(zip(names, outs, strict=True))


def _run(
    policies: list, num_paths: int, seed: int, progress: bool, env_kwargs: dict[str, Any]
) -> list[Rollout]:
    """The one rollout loop: G policies on G blocks of ``num_paths`` paths (common draws when G > 1)."""
    from mmenv.policy import QuoteState
    from mmenv.vector_env import MarketMakingVectorEnv

    g = len(policies)
    kwargs = {**env_kwargs, "action_mode": "depth"}
    if g > 1:
        kwargs["crn_groups"] = g
    env = MarketMakingVectorEnv(num_envs=g * num_paths, **kwargs)
    _, info = env.reset(seed=seed)
    s0 = env.core.market.s0.copy()
    for pol in policies:
        pol.reset(num_paths)
    n = env.core.n_steps
    p = g * num_paths
    blocks = [slice(j * num_paths, (j + 1) * num_paths) for j in range(g)]
    # time-major buffers (a contiguous row per step), transposed to (P, steps) at the end
    states = np.empty((3, n + 1, p))  # mid, inventory, cash
    steps_rec = np.empty((6, n, p))  # bid, ask, bought, sold, fees, reward
    states[0, 0], states[1, 0], states[2, 0] = info["mid"], info["inventory"], info["cash"]
    steps = range(n)
    if progress:
        from tqdm.auto import tqdm

        name = "+".join(getattr(pol, "name", "policy") for pol in policies)
        steps = tqdm(steps, desc=name, leave=False)
    core = env.core
    depths = np.empty((p, 2))
    for j in steps:
        q, tau, mid, sigma = (
            core.state.q.copy(),
            core.time_remaining(),
            core.market.mid.copy(),
            core.market.sigma.copy(),
        )
        for pol, b in zip(policies, blocks, strict=True):
            depths[b, 0], depths[b, 1] = pol.quote(
                QuoteState(q=q[b], tau=tau[b], mid=mid[b], sigma=sigma[b], s0=s0[b])
            )
        _, r, _, _, info = env.step(depths)
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
    np.copyto(steps_rec[:2], np.nan, where=np.isinf(steps_rec[:2]))  # info: +-inf = not quoted; here NaN
    dt = env.core.market.dt
    time = np.arange(n + 1) * dt
    out = []
    for b in blocks:
        mid, inv, cash = (x[:, b].T for x in states)  # (P, steps) views of the time-major buffers
        bid, ask, bought, sold, fees, reward = (x[:, b].T for x in steps_rec)
        out.append(
            Rollout(
                time=time,
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
        )
    return out
