"""MarketMakingVectorEnv: N market-making episodes stepped at once on the shared simulation core."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mmenv.envs.env import (
    INFO_KEYS,
    HorizonSpec,
    build_simulation,
    check_arguments,
    check_info_keys,
    info_columns,
    observation_space_of,
)
from mmenv.sim.env_step import OUT_COLUMNS, OUT_NAMES
from mmenv.sim.model_step import check_actions
from mmenv.sim.task import as_action_array

__all__ = ["INFO_KEYS", "MarketMakingVectorEnv", "info_columns"]


def _autoreset_mode(value: AutoresetMode | str) -> AutoresetMode:
    """``AutoresetMode`` from the enum, its value ("NextStep") or its name ("next_step", case-insensitive)."""
    if isinstance(value, AutoresetMode):
        return value
    if isinstance(value, str):
        for mode in AutoresetMode:
            if value in (mode.value, mode.name) or value.upper() == mode.name:
                return mode
    raise ValueError(
        f"autoreset_mode must be one of {[m.name for m in AutoresetMode]} (gymnasium.vector.AutoresetMode), "
        f"got {value!r}"
    )


def _no_quote_as_inf(infos: dict[str, np.ndarray], out: np.ndarray) -> None:
    """In place: where the core's output has no live quote (NaN price), the env's -inf bid / +inf ask and
    +inf depths (as :func:`mmenv.envs.env.info_columns`)."""
    for price_col, price, depth, fill in ((2, "bid", "bid_depth", -np.inf), (3, "ask", "ask_depth", np.inf)):
        if price not in infos and depth not in infos:
            continue
        gone = np.isnan(out[:, price_col])
        if gone.any():
            if price in infos:
                infos[price][gone] = fill
            if depth in infos:
                infos[depth][gone] = np.inf


class MarketMakingVectorEnv(HorizonSpec, VectorEnv):
    """``num_envs`` copies of :class:`mmenv.envs.env.MarketMakingEnv` as one struct-of-arrays simulation.

    Same arguments, spaces, dynamics, rewards and ``info`` keys as the single env (its docstring is the
    reference), batched over the first axis. Reached through
    ``gymnasium.make_vec("mmenv/MarketMaking-v0", num_envs=N, vectorization_mode="vector_entry_point")``.

    Args:
        num_envs: number of sub-envs N (>= 1).
        autoreset_mode: Gymnasium's ``AutoresetMode`` (also given as "next_step", "same_step", "disabled"),
            exactly as ``gymnasium.vector.SyncVectorEnv`` over single envs (tested step by step):

            * ``NEXT_STEP`` (default): the step after a sub-env's episode ends ignores its action, resets it
              and returns its first observation with reward 0, ``terminated = truncated = False`` and the
              reset ``info``.
            * ``SAME_STEP``: the step that ends an episode resets the sub-env at once and returns the new
              episode's first observation and reset ``info``, with that step's reward and flags; the last
              observation and info are in ``infos["final_obs"]`` (object array, None elsewhere) and
              ``infos["final_info"]`` (masks ``_final_obs`` / ``_final_info``).
            * ``DISABLED``: no automatic reset; reset finished sub-envs with
              ``reset(options={"reset_mask": mask})``; stepping a finished sub-env raises ``ResetNeeded``.
        max_episode_steps: truncate each episode after this many steps (``truncated = True``, as
            ``gymnasium.wrappers.TimeLimit``); None: episodes end only at T (``terminated``). The horizon
            T / dt is ``spec.max_episode_steps`` when none is given.
        info_keys: the ``infos`` keys of every step, ``final_info`` included: ``()`` (default) none, the
            fastest (training libraries read none of them; their wrappers add the episode statistics);
            None: all of :data:`INFO_KEYS`, as the single env and ``SyncVectorEnv`` over single envs; or a
            subset; ``reset`` returns the same keys.
        copy: return fresh arrays every step (True, as ``SyncVectorEnv``); False returns the env's reused
            observation, reward, terminated and truncated buffers, rewritten in place by the next step
            (Gymnasium allows it; copy what you keep). ``infos`` values are always fresh arrays.
        num_threads: threads for the paths' shards (None: ``MMENV_NUM_THREADS`` or the CPUs the process
            may run on, :mod:`mmenv.sim.shards`); the numbers are the same for every count. Whether a step
            runs in shards or on one thread is measured as the steps go, so that a busy machine keeps one
            thread (:class:`mmenv.sim.shard_choice.ShardChoice`, ``env.core.shard_choice``).
        render_mode: None (the vector env does not render; render a single env instead).
        **kwargs: the single env's market and task arguments; an unknown one raises TypeError.

    ``reset(seed=s, options={"reset_mask": mask})`` resets only the sub-envs where the boolean (N,) mask is
    True (the others keep their state); ``infos`` then holds values for those only (masks ``_key`` = mask,
    zeros elsewhere). ``infos`` is a dict of (N,) float64 arrays with ``_key`` boolean masks.

    The randomness of all sub-envs comes from the one ``self.np_random`` (``seed`` seeds it; a list uses its
    first entry), so the sub-envs are i.i.d. copies of the single env's process, not the draws of single
    envs seeded ``s, s + 1, ...`` (tests check the law, not the bits).
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        info_keys: tuple[str, ...] | list[str] | None = (),
        copy: bool = True,
        num_threads: int | None = None,
        **kwargs: Any,
    ) -> None:
        #: The ``infos`` keys returned by every step (None at construction: all of them).
        self.info_keys = check_info_keys(info_keys)
        self.copy = bool(copy)
        if num_threads is not None and (
            isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1
        ):
            raise ValueError(f"num_threads must be None or an integer >= 1, got {num_threads!r}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if render_mode is not None:
            raise ValueError(f"render_mode must be None for the vector env, got {render_mode!r}")
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, (int, np.integer))
            or max_episode_steps < 1
        ):
            raise ValueError(f"max_episode_steps must be None or an integer >= 1, got {max_episode_steps!r}")
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        self.num_envs = int(num_envs)
        self.render_mode = None
        market_kind = check_arguments(kwargs, type(self).__name__)
        self.params, self.task, self.core = build_simulation(self.num_envs, kwargs)
        self.core.num_threads = None if num_threads is None else int(num_threads)
        low, high, dtype = self.task.action_bounds()
        self.single_action_space = spaces.Box(low, high, (2,), dtype)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space, self._obs_scale = observation_space_of(
            self.params, self.task, self.core, market_kind
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._normalized_actions = self.task.normalized
        self._w0 = np.zeros(self.num_envs)
        self._done = np.ones(self.num_envs, dtype=bool)  # finished last step (all: no episode yet)
        self._started = False
        # the fused step's reused outputs (markets with a kernel: the model market and its variants)
        self._fused = hasattr(self.core.market, "kernel_args")
        # column-major: each output column is a contiguous (N,) row, so ``infos`` are plain row copies
        self._out = np.empty((OUT_COLUMNS, self.num_envs)).T
        self._obs_buf = np.empty((self.num_envs, 4), dtype=np.float32)
        self._info_cols = np.array([OUT_NAMES.index(k) for k in self.info_keys], dtype=np.int64)
        self._all = np.ones(self.num_envs, dtype=bool)
        # the model market's vectorised step (mmenv.sim.model_step) writes these in place every step
        self._model = self._fused and self.core.has_model_step
        self._reward_buf = np.zeros(self.num_envs)
        self._term_buf = np.zeros(self.num_envs, dtype=bool)
        self._trunc_buf = np.zeros(self.num_envs, dtype=bool)

    def episode_steps(self) -> int:
        """Steps of a full episode: the horizon T / dt, or ``max_episode_steps`` when smaller."""
        mes = self.max_episode_steps
        return self.horizon if mes is None else min(self.horizon, mes)

    # ---------------------------------------------------------------- helpers
    def _observe(self) -> np.ndarray:
        obs = self.core.observe()
        return obs if self._obs_scale is None else self._scale(obs)

    def _scale(self, obs: np.ndarray) -> np.ndarray:
        sp = self.single_observation_space
        return np.clip(obs / self._obs_scale, sp.low, sp.high)

    def _infos(
        self,
        values: dict[str, np.ndarray],
        mask: np.ndarray | None = None,
        keys: tuple[str, ...] | None = None,
    ) -> dict[str, np.ndarray]:
        """Gymnasium's vector ``infos``: each of ``keys`` (default: :attr:`info_keys`) with its ``_key`` mask
        (zeros where masked out)."""
        full = mask is None
        m = np.ones(self.num_envs, dtype=bool) if full else mask
        infos: dict[str, np.ndarray] = {}
        for key in self.info_keys if keys is None else keys:
            infos[key] = values[key] if full else np.where(m, values[key], 0.0)
            infos["_" + key] = m
        return infos

    # ---------------------------------------------------------------- API
    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        """Reset every sub-env, or those in ``options["reset_mask"]`` (class docstring).

        ``seed`` seeds ``self.np_random`` (a list uses its first entry).
        """
        if isinstance(seed, (list, tuple)):
            seed = seed[0] if seed else None
        mask = None
        if options is not None and "reset_mask" in options:
            mask = options["reset_mask"]
            if not (
                isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (self.num_envs,)
            ):
                raise ValueError(
                    f"options['reset_mask'] must be a numpy bool array of shape ({self.num_envs},), got "
                    f"{type(mask).__name__} {getattr(mask, 'dtype', '')} {np.shape(mask)}"
                )
            if not mask.any():
                raise ValueError("options['reset_mask'] must select at least one sub-env, got all False")
            if not self._started and not mask.all():
                raise ResetNeeded(
                    "the first reset() must reset every sub-env: call reset() without reset_mask"
                )
        super().reset(seed=seed)
        core = self.core
        if mask is None:
            core.reset(self.np_random)
            self._w0 = core.equity()
            self._done[:] = False
        else:
            mask = mask.copy()
            core.reset(self.np_random, mask)
            self._w0[mask] = core.equity()[mask]
            self._done[mask] = False
        self._started = True
        return self._observe(), self._infos(info_columns(core), mask)

    def step(self, actions: np.ndarray):
        """Step every sub-env with the autoreset mode of the class docstring.

        Actions outside the space are clipped (normalized mode); NaN, infinities and a shape other than
        (num_envs, 2) raise ValueError.
        """
        if not self._started:
            raise ResetNeeded("step() called before reset(): call reset() first")
        mode = self.autoreset_mode
        prev = self._done
        if mode == AutoresetMode.DISABLED and prev.any():
            raise ResetNeeded(
                f"sub-envs {np.flatnonzero(prev).tolist()} finished their episode and autoreset_mode is DISABLED: "
                "reset them with reset(options={'reset_mask': mask}) before stepping"
            )
        if self._model and mode == AutoresetMode.NEXT_STEP:
            return self._step_model(actions, prev)
        a = as_action_array(actions, self.num_envs, normalized=self._normalized_actions)
        if self._fused and mode == AutoresetMode.NEXT_STEP:
            return self._step_fused(a, prev)
        core = self.core
        out, obs, _ = core.env_step(a, self.task, self._w0, self.np_random)
        if self._obs_scale is not None:
            obs = self._scale(obs)
        reward = out[:, 7].copy()
        terminated = out[:, 8] > 0.0
        truncated = self._truncated()
        values = info_columns(core, out)
        extra: dict[str, Any] = {}
        if mode == AutoresetMode.NEXT_STEP:
            if prev.any():  # these sub-envs only reset on this step
                self._reset_paths(prev, obs, values)
                reward[prev] = 0.0
                terminated[prev] = False
                truncated[prev] = False
        elif mode == AutoresetMode.SAME_STEP:
            done = terminated | truncated
            if done.any():
                final_obs = np.full(self.num_envs, None, dtype=object)
                for i in np.flatnonzero(done):
                    final_obs[i] = obs[i].copy()
                extra["final_obs"], extra["_final_obs"] = final_obs, done
                extra["final_info"] = self._infos({k: v.copy() for k, v in values.items()}, done)
                extra["_final_info"] = done
                self._reset_paths(done, obs, values)
        self._done = terminated | truncated
        if mode == AutoresetMode.SAME_STEP:
            self._done[:] = False
        infos = self._infos(values)
        infos.update(extra)
        return obs, reward, terminated, truncated, infos

    def _truncated(self) -> np.ndarray:
        """Sub-envs whose episode reached ``max_episode_steps`` (all False without a limit)."""
        if self.max_episode_steps is None:
            return np.zeros(self.num_envs, dtype=bool)
        return self.core.state.step >= self.max_episode_steps

    def _step_fused(self, a: np.ndarray, prev: np.ndarray):
        """NEXT_STEP autoreset inside the fused kernel: the finished sub-envs start their next episode in the
        same pass as the others step (same numbers as resetting them first: the draws are addressed by
        episode). Outputs go to reused buffers; ``infos`` holds copies of the requested ``info_keys``."""
        core = self.core
        out, obs, _ = core.env_step(
            a, self.task, self._w0, None, reset_first=prev, out=self._out, obs=self._obs_buf
        )
        if self._obs_scale is not None:
            obs = self._scale(obs)
        elif self.copy:
            obs = obs.copy()
        reward = out[:, 7].copy()
        terminated = out[:, 8] > 0.0
        truncated = self._truncated()
        self._done = terminated | truncated
        return obs, reward, terminated, truncated, self._step_infos(bool(self.info_keys))

    def _checked_actions(self, actions) -> np.ndarray:
        """The actions as a C-contiguous float32 / float64 (N, 2) array, checked in one compiled pass (the
        error of :func:`mmenv.sim.task.as_action_array` on a bad entry)."""
        a = actions
        if not (
            isinstance(a, np.ndarray)
            and a.dtype in (np.float32, np.float64)
            and a.shape == (self.num_envs, 2)
            and a.flags.c_contiguous
        ):
            return as_action_array(a, self.num_envs, normalized=self._normalized_actions)
        if check_actions(a, self._normalized_actions):
            as_action_array(a, self.num_envs, normalized=self._normalized_actions)  # raises, naming the entry
        return a

    def _step_model(self, actions, prev: np.ndarray):
        """NEXT_STEP on the model market: one vectorised pass (:func:`mmenv.sim.model_step.model_env_step`) writes
        the observations, rewards and flags into the env's buffers, and the requested ``infos`` rows (one
        fresh (K, N) array) only when there are keys. With ``copy=False`` the returned arrays are those
        buffers (valid until the next step)."""
        a = self._checked_actions(actions)
        rows = np.empty((len(self.info_keys), self.num_envs)) if self.info_keys else None
        self.core.model_step(
            a,
            self.task,
            self._w0,
            reset_first=prev,
            obs=self._obs_buf,
            reward=self._reward_buf,
            terminated=self._term_buf,
            info=None if rows is None else (rows, self._info_cols),
        )
        obs, reward, terminated = self._obs_buf, self._reward_buf, self._term_buf
        if self.max_episode_steps is None:
            truncated = self._trunc_buf  # never truncated: all False
            np.copyto(self._done, terminated)
        else:
            truncated = np.greater_equal(self.core.state.step, self.max_episode_steps, out=self._trunc_buf)
            np.logical_or(terminated, truncated, out=self._done)
        if self._obs_scale is not None:
            obs = self._scale(obs)
        elif self.copy:
            obs = obs.copy()
        if self.copy:
            reward, terminated, truncated = reward.copy(), terminated.copy(), truncated.copy()
        infos: dict[str, np.ndarray] = {}
        for key, row in zip(self.info_keys, () if rows is None else rows, strict=True):
            infos[key] = row  # a fresh row per step, written by the kernel in the info convention
            infos["_" + key] = self._all
        return obs, reward, terminated, truncated, infos

    def _step_infos(self, want: bool) -> dict[str, np.ndarray]:
        """``infos`` of a fused step: copies of the requested output columns (``_key`` masks all True)."""
        infos: dict[str, np.ndarray] = {}
        if want:
            out = self._out
            rows = out.T[self._info_cols]  # one copy, (K, N): each key a contiguous row
            for key, row in zip(self.info_keys, rows, strict=True):
                infos[key] = row
                infos["_" + key] = self._all
            _no_quote_as_inf(infos, out)
        return infos

    def _reset_paths(self, mask: np.ndarray, obs: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Reset the sub-envs in ``mask``; write their first observation and reset info into ``obs``/``values``."""
        core = self.core
        core.reset(self.np_random, mask)
        self._w0[mask] = core.equity()[mask]
        obs[mask] = self._observe()[mask]
        fresh = info_columns(core)
        for key in INFO_KEYS:
            values[key] = np.where(mask, fresh[key], values[key])
