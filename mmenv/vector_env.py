"""MarketMakingVectorEnv: N market-making episodes stepped at once on the shared simulation core."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mmenv.env import INFO_KEYS, build_simulation, info_columns
from mmenv.task import as_action_array

__all__ = ["INFO_KEYS", "MarketMakingVectorEnv", "info_columns"]


class MarketMakingVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`mmenv.env.MarketMakingEnv` as one struct-of-arrays simulation.

    Same arguments, spaces, dynamics, rewards and ``info`` keys as the single env (its docstring is the
    reference), batched over the first axis. Reached through
    ``gymnasium.make_vec("mmenv/MarketMaking-v0", num_envs=N, vectorization_mode="vector_entry_point")``.

    Autoreset: ``AutoresetMode.NEXT_STEP``, as Gymnasium's vector envs. The step after a sub-env terminates
    ignores its action, resets it, and returns its first observation with reward 0 and
    ``terminated = truncated = False``. ``infos`` is a dict of (N,) arrays with the ``_key`` masks
    (all True: every key is present for every sub-env on every step).

    The randomness of all sub-envs comes from the one ``self.np_random``, so the sub-envs are i.i.d. copies
    of the single env's process, not the same draws (tests check the law, not the bits).
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, **kwargs: Any) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs!r}")
        if render_mode is not None:
            raise ValueError(f"render_mode must be None for the vector env, got {render_mode!r}")
        self.num_envs = int(num_envs)
        self.render_mode = None
        self.params, self.task, self.core = build_simulation(self.num_envs, kwargs)
        low, high, dtype = self.task.action_bounds()
        self.single_action_space = spaces.Box(low, high, (2,), dtype)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        olow, ohigh = self.task.observation_bounds(self.params.q_max, self.core.n_steps * self.core.market.dt)
        self.single_observation_space = spaces.Box(olow, ohigh, (4,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._w0 = np.zeros(self.num_envs)
        self._prev_done = np.zeros(self.num_envs, dtype=bool)
        self._mask = np.ones(self.num_envs, dtype=bool)

    def _infos(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        infos: dict[str, np.ndarray] = {}
        for key in INFO_KEYS:
            infos[key] = values[key]
            infos["_" + key] = self._mask
        return infos

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        """Reset every sub-env. ``seed`` seeds ``self.np_random`` (a list uses its first entry)."""
        if isinstance(seed, (list, tuple)):
            seed = seed[0] if seed else None
        super().reset(seed=seed)
        core = self.core
        core.reset(self.np_random)
        self._w0 = core.equity()
        self._prev_done[:] = False
        return core.observe(), self._infos(info_columns(core))

    def step(self, actions: np.ndarray):
        """Step every sub-env (NEXT_STEP autoreset). Actions outside the space are clipped; NaN raises."""
        a = as_action_array(actions)
        if a.shape[0] != self.num_envs:
            raise ValueError(f"actions must have shape ({self.num_envs}, 2), got {np.shape(actions)}")
        core = self.core
        out, obs, _ = core.env_step(a, self.task, self._w0, self.np_random)
        reward = out[:, 7].copy()
        terminated = out[:, 8] > 0.0
        values = info_columns(core, out)
        done = self._prev_done
        if done.any():
            core.reset(self.np_random, done)
            w0 = core.equity()
            self._w0[done] = w0[done]
            obs[done] = core.observe()[done]
            reward[done] = 0.0
            terminated[done] = False
            fresh = info_columns(core)
            for key in INFO_KEYS:
                values[key] = np.where(done, fresh[key], values[key])
        self._prev_done = terminated.copy()
        return obs, reward, terminated, np.zeros(self.num_envs, dtype=bool), self._infos(values)
