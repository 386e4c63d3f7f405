"""A stable-baselines3 ``VecEnv`` over the native vector env (one simulation core for all sub-envs).

stable-baselines3 does not take a ``gymnasium.vector.VectorEnv``: its ``VecEnv`` protocol differs in two ways
that matter, and this adapter implements SB3's semantics exactly:

* **same-step autoreset**: when a sub-env's episode ends, ``step_wait`` returns ``done = True`` *and already
  the first observation of the next episode* for it; the last observation of the finished episode goes to
  ``infos[i]["terminal_observation"]`` (Gymnasium's native vector env, NEXT_STEP mode, instead spends one
  extra step on the reset);
* ``infos`` is a list of one dict per sub-env (``"TimeLimit.truncated"`` is always False: reaching T
  *terminates* the episode, so SB3 does not bootstrap the value there).

The adapter owns a :class:`mmenv.envs.vector_env.MarketMakingVectorEnv` (its spaces, parameters and its generator
``np_random``) and drives that env's :class:`~mmenv.sim.core.SimulationCore` itself, so every sub-env is stepped
by the same numba kernel in one call. Seeding: ``seed(s)`` (or SB3's ``model.set_random_seed``) makes the next
``reset`` seed the generator with ``s``; all sub-envs draw from that one generator (i.i.d. episodes).

The ``stable_baselines3`` import happens when this module is imported; ``import agents`` does not import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from mmenv.envs.vector_env import INFO_KEYS, MarketMakingVectorEnv, info_columns
from mmenv.sim.task import as_action_array

__all__ = ["MarketMakingSB3VecEnv"]


class MarketMakingSB3VecEnv(VecEnv):
    """SB3 ``VecEnv`` over ``num_envs`` market-making episodes simulated on one core.

    Args:
        num_envs: number of parallel episodes (>= 1).
        full_info: when True each step's ``infos[i]`` also carries the single env's info keys (cash,
            inventory, mid, quotes, fills; :class:`mmenv.envs.env.MarketMakingEnv`). Off by default: building
            ``num_envs`` dicts of 12 floats per step costs more than the simulation itself.
        **env_kwargs: arguments of :class:`mmenv.envs.env.MarketMakingEnv` (market and task parameters).
    """

    def __init__(self, num_envs: int = 8, full_info: bool = False, **env_kwargs: Any) -> None:
        self.venv = MarketMakingVectorEnv(num_envs=num_envs, **env_kwargs)
        self.render_mode = None
        self.full_info = bool(full_info)
        super().__init__(
            self.venv.num_envs, self.venv.single_observation_space, self.venv.single_action_space
        )
        self.env_kwargs = dict(env_kwargs)
        self._w0 = np.zeros(self.num_envs)
        self._actions: np.ndarray | None = None
        self._next_seed: int | None = None

    # ---------------------------------------------------------------- properties
    @property
    def task(self):
        """The :class:`mmenv.sim.task.TaskParams` of the env (action map, reward)."""
        return self.venv.task

    @property
    def params(self):
        """The :class:`mmenv.config.MarketParams` of the env."""
        return self.venv.params

    # ---------------------------------------------------------------- VecEnv API
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed the shared generator at the next :meth:`reset` (all sub-envs draw from it)."""
        self._next_seed = None if seed is None else int(seed)
        self._seeds = [self._next_seed for _ in range(self.num_envs)]
        return self._seeds

    def reset(self) -> np.ndarray:
        """Start every sub-env's episode; returns observations (num_envs, 4) float32."""
        obs, _ = self.venv.reset(seed=self._next_seed)
        self._next_seed = None
        self._reset_seeds()
        self._reset_options()
        self._w0 = self.venv.core.equity().copy()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions (num_envs, 2); the step happens in :meth:`step_wait`."""
        self._actions = as_action_array(actions, self.num_envs, normalized=self.venv.task.normalized)

    def step_wait(self) -> VecEnvStepReturn:
        """Step all sub-envs; finished ones are reset in the same call (SB3 semantics, module docstring)."""
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async(actions)")
        venv = self.venv
        core = venv.core
        rng = venv.np_random
        out, obs, _ = core.env_step(self._actions, venv.task, self._w0, rng)
        self._actions = None
        rewards = out[:, 7].astype(np.float32)
        dones = out[:, 8] > 0.0
        if self.full_info:
            cols = info_columns(core, out)
            infos: list[dict[str, Any]] = [
                {key: float(cols[key][i]) for key in INFO_KEYS} for i in range(self.num_envs)
            ]
        else:
            infos = [{} for _ in range(self.num_envs)]
        if dones.any():
            idx = np.flatnonzero(dones)
            for i in idx:
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = False
            core.reset(rng, dones)
            self._w0[dones] = core.equity()[dones]
            obs[dones] = core.observe()[dones]
        return obs, rewards, dones, infos

    def close(self) -> None:
        """Nothing to release (no subprocesses)."""

    def _targets(self, indices: VecEnvIndices) -> list[int]:
        return list(self._get_indices(indices))

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of the underlying vector env, repeated for each requested sub-env."""
        value = getattr(self.venv, attr_name)
        return [value for _ in self._targets(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Setting attributes per sub-env is not supported: all sub-envs share one core."""
        raise AttributeError(
            f"cannot set {attr_name!r} per sub-env: the {self.num_envs} sub-envs share one simulation core; "
            "build a new MarketMakingSB3VecEnv with the parameters you need"
        )

    def env_method(
        self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs
    ) -> list[Any]:
        """Call ``method_name`` on the underlying vector env once per requested index (rarely needed)."""
        method = getattr(self.venv, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._targets(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """The sub-envs are never wrapped by Gymnasium wrappers."""
        return [False for _ in self._targets(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No rendering."""
        return [None for _ in range(self.num_envs)]
