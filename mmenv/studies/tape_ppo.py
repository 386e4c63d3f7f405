"""PPO on a tape: the event-clock env it acts in, its training on a tape, and one pass over a window.

Shared by ``mmenv train --market replay`` (:mod:`mmenv.studies.tape_training`), the RL study on the shared
samples (:mod:`mmenv.studies.rl_tapes`) and the real-tape backtest's ``--ppo-run``
(:mod:`mmenv.studies.tape_backtest`). A trained agent is a folder with :data:`MODEL_FILE`,
:data:`NORMALIZATION_FILE` (the running mean of the observations) and, for an agent whose observation holds
the order-book signals, :data:`SIGNALS_FILE` (their :class:`mmenv.signals.FeatureSpec` with its in-sample
micro-price table, :meth:`mmenv.signals.FeatureSpec.to_dict`), so that it is loaded and replayed with the
same observation; stable-baselines3 (the ``rl`` extra) is imported only when an agent is trained or loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.wrappers import RescaleAction

from agents.ppo import make_episode_stats_callback, make_logger
from mmenv.replay.env import ReplayEnv
from mmenv.replay.jit_policy import JitPolicy
from mmenv.replay.mlp_policy import mlp_jit_policy, rescale_coefficients
from mmenv.signals import FeatureSpec
from mmenv.studies.common import write_json

__all__ = [
    "ACTION_FILE",
    "MODEL_FILE",
    "NORMALIZATION_FILE",
    "SIGNALS_FILE",
    "check_action_box",
    "compiled_agent",
    "load_action",
    "load_agent",
    "load_signals",
    "play",
    "replay_env",
    "save_agent",
    "train_on_tape",
]

#: The files of a trained agent, in its folder.
MODEL_FILE, NORMALIZATION_FILE = "ppo_replay.zip", "vecnormalize.pkl"
#: The feature spec of an agent trained with the order-book signals (absent: no signals).
SIGNALS_FILE = "signals.json"
#: The action map of an agent: its env's depth box and whether the agent acted through ``RescaleAction``
#: (absent, in an agent saved before it existed: depths in ticks on the env's default box).
ACTION_FILE = "action.json"


def replay_env(tape, cfg, rescale_action: bool = False, **kwargs: Any):
    """A :class:`mmenv.replay.env.ReplayEnv` (``kwargs``: its arguments), with actions in [-1, 1]^2 mapped
    linearly onto its depth box when ``rescale_action`` (gymnasium's ``RescaleAction``)."""
    env = ReplayEnv(tape, cfg, **kwargs)
    if rescale_action:  # float32 bounds, the box's own dtype
        env = RescaleAction(env, np.full(2, -1.0, np.float32), np.full(2, 1.0, np.float32))
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


def save_agent(
    model,
    venv,
    folder: Path,
    signals: FeatureSpec | None = None,
    *,
    rescale_action: bool = False,
    max_depth_ticks: float | None = None,
) -> None:
    """Write a trained agent into ``folder``: :data:`MODEL_FILE`, :data:`NORMALIZATION_FILE`,
    :data:`ACTION_FILE` (``rescale_action`` and ``max_depth_ticks``, None: the env's default, as
    :func:`train_on_tape` was given them) and, when its observation holds the order-book signals of
    ``signals`` (the spec its env was built with), :data:`SIGNALS_FILE` (JSON written atomically)."""
    if signals is not None and not isinstance(signals, FeatureSpec):
        raise ValueError(f"signals must be a FeatureSpec or None, got {type(signals).__name__}")
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    venv.save(str(folder / NORMALIZATION_FILE))
    action = {"rescale_action": bool(rescale_action), "max_depth_ticks": max_depth_ticks}
    write_json(action, folder / ACTION_FILE)
    if signals is not None:
        write_json(signals.to_dict(), folder / SIGNALS_FILE)


def load_action(folder: Path) -> dict[str, Any]:
    """The action map of the agent in ``folder`` (:data:`ACTION_FILE`): ``{"rescale_action": bool,
    "max_depth_ticks": float or None}``, the defaults where the file is absent.

    Raises:
        ValueError: a file that is not JSON or holds other fields or values, naming the file and the field.
    """
    path = folder / ACTION_FILE
    if not path.exists():
        return {"rescale_action": False, "max_depth_ticks": None}
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not the action map of a saved agent: {exc}") from None
    if not isinstance(d, dict) or set(d) != {"rescale_action", "max_depth_ticks"}:
        raise ValueError(f"{path}: expected the fields rescale_action and max_depth_ticks, got {d!r}")
    if not isinstance(d["rescale_action"], bool):
        raise ValueError(f"{path}: rescale_action must be true or false, got {d['rescale_action']!r}")
    m = d["max_depth_ticks"]
    if m is not None and (isinstance(m, bool) or not isinstance(m, (int, float)) or not m > 0.5):
        raise ValueError(f"{path}: max_depth_ticks must be a number > 0.5 or null, got {m!r}")
    return {"rescale_action": d["rescale_action"], "max_depth_ticks": None if m is None else float(m)}


def load_signals(folder: Path) -> FeatureSpec | None:
    """The feature spec an agent in ``folder`` was trained with (:data:`SIGNALS_FILE`), None without one.

    Raises:
        ValueError: a file that is not JSON or not a valid spec, naming the file and the field.
    """
    path = folder / SIGNALS_FILE
    if not path.exists():
        return None
    try:
        return FeatureSpec.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"{path}: not the feature spec of a saved agent: {exc}") from None


def load_agent(folder: Path, tape, cfg):
    """(model, observation normaliser, feature spec or None) of an agent saved by :func:`save_agent` in
    ``folder``, to act on ``tape`` with the replay settings ``cfg``: build its env with
    ``signals=`` that spec (:class:`mmenv.replay.env.ReplayEnv`), as it was trained.

    Raises:
        ValueError: a missing file, a malformed :data:`SIGNALS_FILE` (naming it), or a normaliser whose
            observation width is not the env's.
    """
    from stable_baselines3 import PPO  # the rl extra
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    model_path, norm_path = folder / MODEL_FILE, folder / NORMALIZATION_FILE
    for p in (model_path, norm_path):
        if not p.exists():
            raise ValueError(
                f"--ppo-run {folder}: {p.name} is missing (a run of mmenv train --market replay)"
            )
    spec = load_signals(folder)
    try:
        venv = VecNormalize.load(
            str(norm_path), DummyVecEnv([lambda: ReplayEnv(tape, cfg, episode_s=1.0, signals=spec)])
        )
    except (AssertionError, ValueError) as exc:  # stable-baselines3 asserts the spaces match
        raise ValueError(
            f"--ppo-run {folder}: {norm_path.name} does not fit the observation of the env "
            f"({'with' if spec is not None else 'without'} {SIGNALS_FILE}): {exc}"
        ) from None
    venv.training = False
    return PPO.load(str(model_path), device="cpu"), venv, spec


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


def check_action_box(model, env) -> None:
    """Check that ``model`` acts in the action box of ``env`` as built (depths in ticks, or the box of its
    ``RescaleAction`` wrapper): an agent trained through the wrapper cannot be replayed by an env built
    without it, nor one trained without it by an env with it.

    Raises:
        ValueError: naming both boxes.
    """
    low, high = model.action_space.low, model.action_space.high
    box = env.action_space
    if not (np.array_equal(low, box.low) and np.array_equal(high, box.high)):
        raise ValueError(
            f"the agent acts in [{low.tolist()}, {high.tolist()}], the env in "
            f"[{box.low.tolist()}, {box.high.tolist()}] (depths in ticks, or the box of the env's "
            f"RescaleAction wrapper; the agent folder's {ACTION_FILE} says which)"
        )


def compiled_agent(model, venv, env) -> JitPolicy:
    """A stable-baselines3 PPO ``MlpPolicy`` (``model``) with its observation normaliser (``venv``, a
    ``VecNormalize``, or None) as a compiled policy for ``env`` (the :class:`ReplayEnv` it acts in, tick
    actions): its weights exported to arrays (:func:`mmenv.replay.mlp_policy.mlp_jit_policy`), its
    deterministic action (the Gaussian's mean) evaluated inside the replay's loop; an env built with
    ``signals`` gives it their columns as inputs after the 8 base values. Replay it with
    ``replay(policy, env.tape, env.config, features=mlp_features(env))``
    (:func:`mmenv.replay.mlp_policy.mlp_features`).

    Raises:
        ValueError: a policy other than an MLP on the flat observation (tanh or ReLU hidden layers), an
            env acting in price units, or a model whose observation or action box is not the env's
            (:func:`check_action_box`).
    """
    import torch  # the rl extra

    policy = model.policy
    base = env.unwrapped
    if base.action_unit != "tick":
        raise ValueError("the compiled PPO policy needs an env with action_unit='tick'")
    check_action_box(model, env)
    n_obs = len(base.obs_names)
    if model.observation_space.shape != (n_obs,):
        raise ValueError(
            f"the agent observes {model.observation_space.shape} values, the env {n_obs} ({base.obs_names})"
        )
    extractor = type(policy.features_extractor).__name__
    if extractor != "FlattenExtractor" or not getattr(policy, "share_features_extractor", True):
        raise ValueError(f"the compiled PPO policy needs an MlpPolicy (flat observation), got {extractor}")
    acts = {torch.nn.Tanh: "tanh", torch.nn.ReLU: "relu"}
    if policy.activation_fn not in acts:
        raise ValueError(f"the compiled PPO policy supports tanh or ReLU layers, got {policy.activation_fn}")
    layers = [
        (m.weight.detach().cpu().numpy(), m.bias.detach().cpu().numpy())
        for m in policy.mlp_extractor.policy_net
        if isinstance(m, torch.nn.Linear)
    ]
    layers.append(
        (policy.action_net.weight.detach().cpu().numpy(), policy.action_net.bias.detach().cpu().numpy())
    )
    norm = venv is not None and getattr(venv, "norm_obs", False)
    return mlp_jit_policy(
        layers,
        activation=acts[policy.activation_fn],
        horizon_s=base.config.horizon_s,
        first_mid=float(base.tape.mid[0]),
        action_low=model.action_space.low,
        action_high=model.action_space.high,
        depth_low_ticks=float(base.action_space.low[0]),
        depth_high_ticks=float(base.action_space.high[0]),
        obs_mean=venv.obs_rms.mean if norm else None,
        obs_var=venv.obs_rms.var if norm else None,
        epsilon=float(venv.epsilon) if norm else 1e-8,
        clip_obs=float(venv.clip_obs) if norm else 10.0,
        n_obs=n_obs,
        rescale=_rescale_of(env),
    )


def _rescale_of(env) -> tuple[np.ndarray, np.ndarray] | None:
    """(gradient, intercept) of ``env``'s ``RescaleAction`` wrapper (the outermost wrapper), None without one."""
    if not isinstance(env, RescaleAction):
        if env.action_space != env.unwrapped.action_space:
            raise ValueError("the compiled PPO policy knows no action wrapper but gymnasium's RescaleAction")
        return None
    box = env.unwrapped.action_space
    if not (np.all(box.low == box.low[0]) and np.all(box.high == box.high[0])):
        raise ValueError(f"the compiled PPO policy needs one depth box for both sides, got {box}")
    return rescale_coefficients(
        float(box.low[0]), float(box.high[0]), float(env.action_space.low[0]), float(env.action_space.high[0])
    )
