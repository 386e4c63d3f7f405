"""PPO (stable-baselines3) trained on ``mmenv/MarketMaking-v0``, and :class:`PPOAgent` to replay it.

The ``rl`` extra: torch and stable-baselines3 are imported inside the functions, so ``import agents`` (and
``import agents.ppo``) never import torch.

Training (:func:`train_ppo`): SB3's PPO (Schulman et al. 2017, "Proximal Policy Optimization Algorithms",
arXiv:1707.06347, clipped objective eq. 7, GAE of Schulman et al. 2016) over parallel episodes:

* ``vec_env="native"`` (default): :class:`agents.sb3_vecenv.MarketMakingSB3VecEnv`, all episodes on one
  simulation core (one numba call per step); ``"dummy"`` / ``"subproc"``: SB3's DummyVecEnv / SubprocVecEnv
  over single :class:`mmenv.envs.env.MarketMakingEnv` instances. ``benchmarks/bench_ppo.py`` measures the three.
* ``VecMonitor`` records the episodes' (unnormalised) returns; SB3's logger writes them per rollout
  (``rollout/ep_rew_mean`` over the last ``n_envs`` episodes, with their std) to ``progress.csv`` and
  TensorBoard (``tensorboard/``): the learning curve, also plotted.
* ``VecNormalize`` normalises observations (running mean / variance, clipped at +-10) and rewards (divided by
  the running std of the return); its statistics are saved with the model as JSON.
* The reward is the env's ``reward="penalized"`` (phi, alpha): the Cartea-Jaimungal-Penalva (2015, ch. 10)
  running-penalty objective; its continuous-time optimum :class:`agents.optimal.CJPAgent` and the exact
  optimum of the discrete-time env (:mod:`agents.exact_optimum`) are the references. The
  objective is undiscounted, so ``gamma = 1`` by default (the time remaining is in the observation, the
  problem is Markov and finite-horizon).

Reproducibility: one seed seeds torch, numpy, the action-space sampler and the env's generator; torch runs
on the CPU with ``torch_threads`` threads (1 by default) and deterministic algorithms, so the same seed gives
the same learning curve bit for bit.

Saved run directory: ``model.zip`` (SB3), ``config.json`` (:class:`PPOConfig` plus versions),
``normalize.json`` (observation statistics), ``progress.csv`` and ``tensorboard/`` (SB3's logger) and
``learning_curve.png``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import BasePolicy, QuoteState

__all__ = [
    "DEFAULT_ENV_KWARGS",
    "PPOAgent",
    "PPOConfig",
    "TrainResult",
    "make_training_env",
    "plot_learning_curve",
    "train_ppo",
]

#: The task PPO is trained on by default: the CJP running-penalty objective with phi = gamma sigma^2 / 2 for
#: the AS paper's gamma = 0.1, sigma = 2, and a terminal penalty alpha on the final inventory.
DEFAULT_ENV_KWARGS: dict[str, Any] = {"reward": "penalized", "phi": 0.2, "alpha": 0.1}
VEC_ENVS = ("native", "dummy", "subproc")


def _check_int(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_real(name: str, value: float, low: float, high: float, *, low_open: bool = False) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v) or v < low or v > high or (low_open and v == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must lie in {bracket}{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class PPOConfig:
    """Everything that defines a PPO training run (saved as ``config.json`` next to the model).

    Attributes:
        timesteps: total env steps (summed over the parallel episodes).
        seed: the one seed of the run (torch, numpy, the env's generator).
        n_envs: parallel episodes.
        vec_env: "native" (our vector env through the SB3 adapter), "dummy" or "subproc" (SB3's own).
        n_steps: steps per episode and rollout (batch per update = n_envs * n_steps).
        batch_size: minibatch size of the PPO epochs.
        n_epochs: passes over each rollout.
        learning_rate: Adam step size (linearly annealed to 0 when ``anneal_lr``).
        anneal_lr: anneal the learning rate linearly to 0 over the run.
        gamma: discount (1: the undiscounted finite-horizon objective).
        gae_lambda: GAE lambda.
        clip_range: PPO clip epsilon.
        ent_coef: entropy bonus coefficient.
        vf_coef: value loss coefficient.
        max_grad_norm: gradient clipping norm.
        net_arch: hidden layer sizes of the policy and value MLPs (separate networks).
        log_std_init: initial log standard deviation of the Gaussian policy (action units, [-1, 1]).
        norm_obs: normalise observations (VecNormalize).
        norm_reward: scale rewards by the running std of the return (VecNormalize).
        torch_threads: CPU threads for torch (1: deterministic and fastest for small MLPs).
        env_kwargs: arguments of ``mmenv/MarketMaking-v0`` (market and task parameters, ``market=``).
    """

    timesteps: int = 1_000_000
    seed: int = 0
    n_envs: int = 64
    vec_env: str = "native"
    n_steps: int = 200
    batch_size: int = 1600
    n_epochs: int = 5
    learning_rate: float = 3e-4
    anneal_lr: bool = True
    gamma: float = 1.0
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    log_std_init: float = -1.0
    norm_obs: bool = True
    norm_reward: bool = True
    torch_threads: int = 1
    env_kwargs: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ENV_KWARGS))

    def __post_init__(self) -> None:
        _check_int("timesteps", self.timesteps, 1)
        _check_int("seed", self.seed, 0)
        _check_int("n_envs", self.n_envs, 1)
        if self.vec_env not in VEC_ENVS:
            raise ValueError(f"vec_env must be one of {VEC_ENVS}, got {self.vec_env!r}")
        _check_int("n_steps", self.n_steps, 2)
        _check_int("batch_size", self.batch_size, 2)
        if self.batch_size > self.n_envs * self.n_steps:
            raise ValueError(
                f"batch_size must be <= n_envs * n_steps = {self.n_envs * self.n_steps}, got {self.batch_size!r}"
            )
        _check_int("n_epochs", self.n_epochs, 1)
        _check_real("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        _check_real("gamma", self.gamma, 0.0, 1.0)
        _check_real("gae_lambda", self.gae_lambda, 0.0, 1.0)
        _check_real("clip_range", self.clip_range, 0.0, 1.0, low_open=True)
        _check_real("ent_coef", self.ent_coef, 0.0, 1.0)
        _check_real("vf_coef", self.vf_coef, 0.0, 10.0)
        _check_real("max_grad_norm", self.max_grad_norm, 0.0, 1e6, low_open=True)
        _check_real("log_std_init", self.log_std_init, -10.0, 2.0)
        _check_int("torch_threads", self.torch_threads, 1)
        arch = tuple(self.net_arch)
        if not arch or any(
            isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in arch
        ):
            raise ValueError(
                f"net_arch must be a non-empty tuple of positive integers, got {self.net_arch!r}"
            )
        object.__setattr__(self, "net_arch", tuple(int(n) for n in arch))
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a dict, got {self.env_kwargs!r}")
        if self.env_kwargs.get("action_mode", "normalized") != "normalized":
            raise ValueError(
                f"env_kwargs['action_mode'] must be 'normalized' for PPO, got {self.env_kwargs['action_mode']!r}"
            )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (``net_arch`` as a list)."""
        d = asdict(self)
        d["net_arch"] = list(self.net_arch)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PPOConfig:
        """Inverse of :meth:`to_json`; unknown keys raise ValueError."""
        names = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown PPOConfig fields in config: {unknown}")
        d = dict(d)
        if "net_arch" in d:
            d["net_arch"] = tuple(d["net_arch"])
        return cls(**d)


@dataclass
class TrainResult:
    """What :func:`train_ppo` returns.

    Attributes:
        model: the trained SB3 PPO model. env: its (VecNormalize-wrapped) training env.
        curve: learning curve, a list of {"timesteps", "mean_return", "std_return", "episodes"} per rollout
            (returns of the finished training episodes, unnormalised, stochastic policy).
        seconds: wall-clock training time. out_dir: where the run was saved (or None).
    """

    model: Any
    env: Any
    curve: list[dict[str, float]]
    seconds: float
    out_dir: Path | None


def _seeded_single_env(env_kwargs: dict[str, Any], seed: int):
    def make():
        import gymnasium

        import mmenv

        env = gymnasium.make(mmenv.ENV_ID, **env_kwargs)
        env.reset(seed=seed)
        return env

    return make


def make_training_env(config: PPOConfig, *, monitor: bool = True, normalize: bool = True):
    """Build the vectorised training env of ``config``: base VecEnv, then VecMonitor, then VecNormalize.

    Args:
        config: the run configuration (``vec_env``, ``n_envs``, ``env_kwargs``, normalisation flags).
        monitor: wrap in VecMonitor (episode returns in ``infos[i]["episode"]``).
        normalize: wrap in VecNormalize when ``config.norm_obs`` or ``config.norm_reward``.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor, VecNormalize

    if config.vec_env == "native":
        from agents.sb3_vecenv import MarketMakingSB3VecEnv

        venv = MarketMakingSB3VecEnv(num_envs=config.n_envs, **config.env_kwargs)
    else:
        fns = [_seeded_single_env(config.env_kwargs, config.seed + i) for i in range(config.n_envs)]
        venv = DummyVecEnv(fns) if config.vec_env == "dummy" else SubprocVecEnv(fns)
    if monitor:
        venv = VecMonitor(venv)
    if normalize and (config.norm_obs or config.norm_reward):
        venv = VecNormalize(
            venv,
            norm_obs=config.norm_obs,
            norm_reward=config.norm_reward,
            gamma=config.gamma,
            clip_obs=10.0,
            clip_reward=10.0,
        )
    return venv


def make_logger(curve: list[dict[str, float]], out_dir: Path | None):
    """SB3's logger: CSV (``progress.csv``) and TensorBoard (``tensorboard/``) in ``out_dir``, plus the curve.

    Every dump of SB3's on-policy loop (one per rollout) appends to ``curve`` the timesteps and the return
    statistics that VecMonitor's episodes gave SB3 (``rollout/ep_rew_mean``, ``rollout/ep_rew_std``).
    """
    from stable_baselines3.common.logger import CSVOutputFormat, KVWriter, Logger, TensorBoardOutputFormat

    class CurveWriter(KVWriter):
        """Collects the learning curve from the logger's records (no file of its own)."""

        def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
            if "rollout/ep_rew_mean" in key_values:
                curve.append(
                    {
                        "timesteps": int(key_values["time/total_timesteps"]),
                        "mean_return": float(key_values["rollout/ep_rew_mean"]),
                        "std_return": float(key_values.get("rollout/ep_rew_std", float("nan"))),
                        "episodes": int(key_values.get("rollout/episodes", 0)),
                    }
                )

        def close(self) -> None:
            """Nothing to release."""

    formats: list[Any] = [CurveWriter()]
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        formats.append(CSVOutputFormat(str(out_dir / "progress.csv")))
        try:
            formats.append(TensorBoardOutputFormat(str(out_dir / "tensorboard")))
        except ImportError:  # tensorboard is in the rl extra; without it the CSV log remains
            pass
    return Logger(None if out_dir is None else str(out_dir), formats)


def make_episode_stats_callback():
    from stable_baselines3.common.callbacks import BaseCallback

    class EpisodeStats(BaseCallback):
        """Record the std and count of the returns in SB3's episode buffer (VecMonitor) with the mean."""

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            returns = [ep["r"] for ep in self.model.ep_info_buffer]
            if returns:
                self.logger.record("rollout/ep_rew_std", float(np.std(returns)))
                self.logger.record("rollout/episodes", len(returns))

    return EpisodeStats()


def configure_torch(threads: int = 1) -> None:
    """CPU torch, ``threads`` intra-op threads, deterministic algorithms (same seed, same bits)."""
    import torch

    torch.set_num_threads(int(threads))
    torch.use_deterministic_algorithms(True)


def train_ppo(
    config: PPOConfig, out_dir: str | os.PathLike | None = None, progress: bool = False
) -> TrainResult:
    """Train PPO on the market-making env (module docstring) and save the run to ``out_dir``.

    Args:
        config: the run configuration. out_dir: directory for model.zip, config.json, normalize.json,
            progress.csv, tensorboard/ and learning_curve.png (None: nothing is written). progress: SB3's
            progress bar of env steps (rich + tqdm, the rl extra).

    Returns:
        a :class:`TrainResult`.
    """
    from stable_baselines3 import PPO

    configure_torch(config.torch_threads)
    env = make_training_env(config)
    lr: Any = config.learning_rate
    if config.anneal_lr:
        lr0 = config.learning_rate

        def lr(progress_remaining: float) -> float:
            return lr0 * progress_remaining

    model = PPO(
        "MlpPolicy",
        env,
        learning_rate=lr,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        policy_kwargs={
            "net_arch": {"pi": list(config.net_arch), "vf": list(config.net_arch)},
            "log_std_init": config.log_std_init,
        },
        seed=config.seed,
        device="cpu",
        verbose=0,
        stats_window_size=config.n_envs,
    )
    curve: list[dict[str, float]] = []
    out = None if out_dir is None else Path(out_dir)
    model.set_logger(make_logger(curve, out))
    t0 = time.perf_counter()
    model.learn(
        total_timesteps=config.timesteps, callback=make_episode_stats_callback(), progress_bar=progress
    )
    seconds = time.perf_counter() - t0
    model.logger.close()
    if out is not None:
        save_run(out, model, env, config, curve, seconds)
    return TrainResult(model=model, env=env, curve=curve, seconds=seconds, out_dir=out)


def _write_json(path: Path, data: Any) -> None:
    """Write JSON through a unique temporary file in ``path``'s directory, then rename it into place."""
    from mmenv.outdir import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def normalization_stats(env) -> dict[str, Any] | None:
    """The observation statistics of a VecNormalize env as JSON (None when observations are not normalised)."""
    from stable_baselines3.common.vec_env import VecNormalize

    if not isinstance(env, VecNormalize) or not env.norm_obs:
        return None
    return {
        "obs_mean": env.obs_rms.mean.tolist(),
        "obs_var": env.obs_rms.var.tolist(),
        "obs_count": float(env.obs_rms.count),
        "ret_var": float(env.ret_rms.var),
        "clip_obs": float(env.clip_obs),
        "epsilon": float(env.epsilon),
    }


def save_run(out: Path, model, env, config: PPOConfig, curve, seconds: float) -> None:
    """Write model.zip, config.json, normalize.json and learning_curve.png to ``out`` (the logger wrote the
    rest: progress.csv, tensorboard/)."""
    import io

    import stable_baselines3
    import torch

    import mmenv
    from mmenv.outdir import atomic_write_bytes

    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()  # saved in memory, then written through a unique temporary file and renamed
    model.save(buf)
    atomic_write_bytes(out / "model.zip", buf.getvalue())
    _write_json(
        out / "config.json",
        {
            "algo": "ppo",
            "config": config.to_json(),
            "train_seconds": seconds,
            "versions": {
                "mmenv": mmenv.__version__,
                "stable_baselines3": stable_baselines3.__version__,
                "torch": torch.__version__,
            },
        },
    )
    _write_json(out / "normalize.json", normalization_stats(env))
    plot_learning_curve(curve, out / "learning_curve.png")


def plot_learning_curve(
    curve: list[dict[str, float]],
    path: str | os.PathLike,
    references: dict[str, float] | None = None,
    title: str = "PPO learning curve",
    ylabel: str = "episode reward (penalized P&L)",
    label: str = "PPO (training episodes, stochastic policy)",
    more: dict[str, list[dict[str, float]]] | None = None,
) -> None:
    """Plot mean episode return (+- one std over the rollout's episodes) against env steps.

    Args:
        curve: :attr:`TrainResult.curve`. path: PNG file to write.
        references: optional horizontal lines, e.g. {"CJP optimum": 58.3, "AS": 55.9} (reward units).
        title, ylabel: the axes' title and y label. label: the curve's legend.
        more: further curves of the same form by legend (e.g. the same agent trained with more inputs).
    """
    from mmenv.viz.style import pyplot, save_figure

    plt = pyplot()

    curves = {label: curve, **(more or {})}
    fig, ax = plt.subplots(figsize=(7, 4))
    colors = [f"C{i}" for i in range(len(curves) + len(references or {}))]
    for color, (name, cv) in zip(colors, curves.items(), strict=False):
        x = np.array([c["timesteps"] for c in cv], dtype=float)
        m = np.array([c["mean_return"] for c in cv], dtype=float)
        s = np.array([c["std_return"] for c in cv], dtype=float)
        ax.plot(x, m, color=color, label=name)
        ax.fill_between(x, m - s, m + s, color=color, alpha=0.2)
    for color, (name, value) in zip(colors[len(curves) :], (references or {}).items(), strict=False):
        ax.axhline(value, color=color, linestyle="--", label=name)
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


class PPOAgent(BasePolicy):
    """A trained PPO model acting through the :class:`mmenv.policy.Policy` protocol.

    ``quote(state)`` rebuilds the env's observation ``[q, T - t, s - s0, sigma]`` (float32, as
    :mod:`mmenv.sim.task`), normalises it with the saved VecNormalize statistics
    ((o - mean) / sqrt(var + eps), clipped at +-clip_obs), takes the policy's deterministic action a (the
    Gaussian mean, clipped to [-1, 1]) and returns the depths of the env's documented map
    delta = min_depth + (a + 1) / 2 (max_depth - min_depth) (price units). So the agent quotes the same
    depths whether it runs inside the env it was trained on or through ``rollout`` in depth mode.

    Args:
        path: a run directory written by :func:`train_ppo` (model.zip, config.json, normalize.json).
        s0: the episode's starting mid for ``act`` (see :class:`agents.base.BasePolicy`).
    """

    name = "ppo"

    def __init__(self, path: str | os.PathLike, s0: float = 100.0) -> None:
        super().__init__(s0)
        from stable_baselines3 import PPO

        from mmenv.envs.env import build_simulation

        run = Path(path)
        for need in ("model.zip", "config.json", "normalize.json"):
            if not (run / need).is_file():
                raise ValueError(f"path must be a PPO run directory containing {need}, got {str(run)!r}")
        meta = json.loads((run / "config.json").read_text())
        self.config = PPOConfig.from_json(meta["config"])
        self.norm = json.loads((run / "normalize.json").read_text())
        _, self.task, core = build_simulation(1, self.config.env_kwargs)
        self.T = core.n_steps * core.market.dt
        self.model = PPO.load(run / "model.zip", device="cpu")
        self.path = run

    @classmethod
    def from_trained(cls, result: TrainResult) -> PPOAgent:
        """The agent of a run saved by :func:`train_ppo` (``out_dir`` must have been given)."""
        if result.out_dir is None:
            raise ValueError("result.out_dir is None: train with out_dir=... to get a PPOAgent")
        return cls(result.out_dir)

    def observation(self, state: QuoteState) -> np.ndarray:
        """The normalised observations (N, 4) float32 the policy sees for ``state``."""
        n = np.shape(state.q)[0] if np.ndim(state.q) else 1
        obs = np.empty((n, 4), dtype=np.float32)
        obs[:, 0] = state.q
        obs[:, 1] = np.maximum(state.tau, 0.0)
        obs[:, 2] = np.asarray(state.mid, dtype=float) - np.asarray(state.s0, dtype=float)
        obs[:, 3] = np.maximum(state.sigma, 0.0)
        if self.norm is not None:
            mean = np.asarray(self.norm["obs_mean"])
            std = np.sqrt(np.asarray(self.norm["obs_var"]) + self.norm["epsilon"])
            clip = self.norm["clip_obs"]
            obs = np.clip((obs - mean) / std, -clip, clip).astype(np.float32)
        return obs

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Depths (delta_b, delta_a), each (N,) float64 in price units (class docstring)."""
        action, _ = self.model.predict(self.observation(state), deterministic=True)
        return self.task.action_to_depth(np.asarray(action, dtype=np.float64))
