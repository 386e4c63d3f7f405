"""PPO on a tape: the event-clock env it acts in, its training on a tape, and one pass over a window.

Shared by ``mmenv train --market replay`` (:mod:`mmenv.studies.tape_training`), the RL study on the shared
samples (:mod:`mmenv.studies.rl_tapes`) and the real-tape backtest's ``--ppo-run``
(:mod:`mmenv.studies.tape_backtest`). A trained agent is a folder with :data:`MODEL_FILE` and
:data:`NORMALIZATION_FILE` (the running mean of the observations); stable-baselines3 (the ``rl`` extra) is
imported only when an agent is trained or loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gymnasium.wrappers import RescaleAction

from agents.ppo import make_episode_stats_callback, make_logger
from mmenv.replay.env import ReplayEnv

__all__ = [
    "MODEL_FILE",
    "NORMALIZATION_FILE",
    "load_agent",
    "play",
    "replay_env",
    "save_agent",
    "train_on_tape",
]

#: The files of a trained agent, in its folder.
MODEL_FILE, NORMALIZATION_FILE = "ppo_replay.zip", "vecnormalize.pkl"


def replay_env(tape, cfg, rescale_action: bool = False, **kwargs: Any):
    """A :class:`mmenv.replay.env.ReplayEnv` (``kwargs``: its arguments), with actions in [-1, 1]^2 mapped
    linearly onto its depth box when ``rescale_action`` (gymnasium's ``RescaleAction``)."""
    env = ReplayEnv(tape, cfg, **kwargs)
    if rescale_action:
        env = RescaleAction(env, -1.0, 1.0)
    return env


def train_on_tape(
    tape,
    cfg,
    *,
    timesteps: int,
    seed: int,
    n_envs: int,
    episode_s: float,
    progress: bool = False,
    curve: list[dict[str, float]] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    rescale_action: bool = False,
):
    """PPO trained on episodes of ``tape``; returns (model, VecNormalize wrapper).

    ``curve``: a list that receives the learning curve, one {"timesteps", "mean_return", "std_return",
    "episodes"} per rollout (returns of the training episodes in reward units, before normalisation).
    ``env_kwargs``: more arguments of :class:`mmenv.replay.env.ReplayEnv` (e.g. ``max_depth_ticks``).
    ``rescale_action``: the agent acts in [-1, 1]^2, mapped linearly onto the env's depth box
    (:func:`replay_env`; an untrained policy then quotes mid-box rather than at its lower edge); run the
    trained agent in an env built the same way.
    """
    from stable_baselines3 import PPO  # the rl extra
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor, VecNormalize

    def make(i: int):
        def thunk():
            env = replay_env(
                tape, cfg, rescale_action, episode_s=episode_s, start="random", **(env_kwargs or {})
            )
            env.reset(seed=seed + i)
            return env

        return thunk

    venv = VecNormalize(
        VecMonitor(DummyVecEnv([make(i) for i in range(n_envs)])), norm_obs=True, norm_reward=True
    )
    venv.seed(seed)
    n_steps = max(32, min(512, timesteps // n_envs))
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=n_steps,
        batch_size=min(256, n_steps * n_envs),
        seed=seed,
        verbose=0,
        device="cpu",
        stats_window_size=4 * n_envs,
    )
    callback = None
    if curve is not None:
        model.set_logger(make_logger(curve, None))
        callback = make_episode_stats_callback()
    model.learn(total_timesteps=timesteps, progress_bar=progress, callback=callback)
    venv.training = False
    return model, venv


def save_agent(model, venv, folder: Path) -> None:
    """Write a trained agent into ``folder`` (:data:`MODEL_FILE`, :data:`NORMALIZATION_FILE`)."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    venv.save(str(folder / NORMALIZATION_FILE))


def load_agent(folder: Path, tape, cfg):
    """(model, observation normaliser) of an agent saved by :func:`save_agent` in ``folder``, to act on
    ``tape`` with the replay settings ``cfg``; ValueError naming a missing file."""
    from stable_baselines3 import PPO  # the rl extra
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    model_path, norm_path = folder / MODEL_FILE, folder / NORMALIZATION_FILE
    for p in (model_path, norm_path):
        if not p.exists():
            raise ValueError(
                f"--ppo-run {folder}: {p.name} is missing (a run of mmenv train --market replay)"
            )
    venv = VecNormalize.load(str(norm_path), DummyVecEnv([lambda: ReplayEnv(tape, cfg, episode_s=1.0)]))
    venv.training = False
    return PPO.load(str(model_path), device="cpu"), venv


def play(model, venv, env) -> float:
    """One episode of ``env`` from its start, the agent's actions deterministic; returns the summed reward
    (the env then holds the run: ``env.unwrapped.result(name)``)."""
    obs, _ = env.reset(seed=0)
    total, done = 0.0, False
    while not done:
        act, _ = model.predict(venv.normalize_obs(obs[None, :]), deterministic=True)
        obs, r, _, done, _ = env.step(act[0])
        total += r
    return total
