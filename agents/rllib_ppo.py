"""Recipe: PPO on the market-making env with Ray RLlib's env runners (scales out on a Ray cluster).

The ``ray`` extra (``pip install -e .[ray]``; RLlib pins its own gymnasium version, which mmenv accepts:
``gymnasium>=1.0,<2``). Ray is imported inside the functions: ``import agents`` never imports it.

Recipe (RLlib's new API stack, Ray >= 2.40)::

    import ray
    from agents.rllib_ppo import build_rllib_ppo

    ray.init(num_cpus=2, include_dashboard=False)       # or ray.init(address="ray://head:10001")
    algo = build_rllib_ppo(env_kwargs={"reward": "penalized", "phi": 0.2, "alpha": 0.1},
                           num_env_runners=2, num_envs_per_env_runner=16, seed=0)
    for _ in range(50):
        result = algo.train()
        print(result["env_runners"]["episode_return_mean"])
    algo.save("runs/rllib_ppo")                          # checkpoint directory
    algo.stop()

What it does: registers the env under its Gymnasium id ``"mmenv/MarketMaking-v0"`` (and
:data:`RLLIB_ENV_NAME`) through ``ray.tune.register_env`` (so env runners in other processes and on other
nodes build it from the creator, whether or not ``import mmenv`` ran there), then
configures RLlib's PPO with ``num_env_runners`` remote env runners, each stepping
``num_envs_per_env_runner`` copies of :class:`mmenv.envs.env.MarketMakingEnv` (RLlib vectorises single envs
itself), an undiscounted objective (gamma = 1: the time remaining is in the observation) and observation
normalisation by RLlib's ``MeanStdFilter`` connector. On a cluster, raise ``num_env_runners`` (sampling
scales out) and ``num_learners`` (one learner per GPU or CPU node).

Reward: the same ``reward="penalized"`` objective as :mod:`agents.ppo`, so results compare with the
CJP optimum (:class:`agents.optimal.CJPAgent`).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RLLIB_ENV_NAME",
    "build_rllib_ppo",
    "episode_return",
    "make_rllib_env",
    "register_rllib_env",
    "train_rllib_ppo",
]

#: Name under which the env is registered with Ray Tune / RLlib, besides the Gymnasium id
#: ``"mmenv/MarketMaking-v0"`` (so ``PPOConfig().environment("mmenv/MarketMaking-v0")`` works on remote env
#: runners too, once :func:`register_rllib_env` ran in the driver).
RLLIB_ENV_NAME = "mmenv-market-making"


def make_rllib_env(config: dict[str, Any]):
    """RLlib env creator: ``MarketMakingEnv(**env_config)``, or the native vector env when RLlib asks for
    ``num_envs`` (``gym_env_vectorize_mode="vector_entry_point"``)."""
    kwargs = dict(config)
    num_envs = kwargs.pop("num_envs", None)
    if num_envs is None:
        from mmenv.envs.env import MarketMakingEnv

        return MarketMakingEnv(**kwargs)
    from mmenv.envs.vector_env import MarketMakingVectorEnv

    return MarketMakingVectorEnv(num_envs=num_envs, **kwargs)


def register_rllib_env() -> str:
    """Register the env with Ray Tune under ``"mmenv/MarketMaking-v0"`` and :data:`RLLIB_ENV_NAME`.

    The creator (:func:`make_rllib_env`) is pickled by reference, so env runners in other processes and on
    other nodes import mmenv themselves; returns the Gymnasium id.
    """
    from ray.tune.registry import register_env

    import mmenv

    for name in (mmenv.ENV_ID, RLLIB_ENV_NAME):
        register_env(name, make_rllib_env)
    return mmenv.ENV_ID


def build_rllib_ppo(
    env_kwargs: dict[str, Any] | None = None,
    *,
    num_env_runners: int = 1,
    num_envs_per_env_runner: int = 8,
    train_batch_size: int = 4000,
    minibatch_size: int = 500,
    num_epochs: int = 5,
    lr: float = 3e-4,
    gamma: float = 1.0,
    seed: int = 0,
    num_learners: int = 0,
    hidden: tuple[int, ...] = (64, 64),
    vectorize_mode: str = "sync",
):
    """Build an RLlib PPO ``Algorithm`` on the market-making env (module docstring). Ray must be initialised.

    Args:
        env_kwargs: arguments of the env (default: the penalized reward of :mod:`agents.ppo`).
        num_env_runners: remote env runners (0 samples in the driver process).
        num_envs_per_env_runner: env copies per runner. train_batch_size: env steps per training iteration.
        minibatch_size, num_epochs, lr, gamma: PPO settings. seed: RLlib's seed.
        num_learners: remote learners (0: learn in the driver). hidden: MLP layer sizes.
        vectorize_mode: how each env runner batches its envs: "sync" (Gymnasium's SyncVectorEnv over
            single envs, RLlib's default) or "vector_entry_point" (one native vector env per runner).
    """
    from ray.rllib.algorithms.ppo import PPOConfig as RLlibPPOConfig
    from ray.rllib.connectors.env_to_module import MeanStdFilter
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    if env_kwargs is None:
        from agents.ppo import DEFAULT_ENV_KWARGS

        env_kwargs = dict(DEFAULT_ENV_KWARGS)
    for name, value in (
        ("num_env_runners", num_env_runners),
        ("num_envs_per_env_runner", num_envs_per_env_runner),
        ("num_learners", num_learners),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if "per" in name else 0):
            raise ValueError(f"{name} must be a non-negative integer (>= 1 per runner), got {value!r}")
    if vectorize_mode not in ("sync", "async", "vector_entry_point"):
        raise ValueError(
            f"vectorize_mode must be 'sync', 'async' or 'vector_entry_point', got {vectorize_mode!r}"
        )
    if minibatch_size > train_batch_size:
        raise ValueError(
            f"minibatch_size must be <= train_batch_size ({train_batch_size}), got {minibatch_size!r}"
        )
    name = register_rllib_env()
    config = (
        RLlibPPOConfig()
        .environment(env=name, env_config=dict(env_kwargs))
        .framework("torch")
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=num_envs_per_env_runner,
            gym_env_vectorize_mode=vectorize_mode,
            env_to_module_connector=lambda env, spaces=None, device=None: MeanStdFilter(),
        )
        .learners(num_learners=num_learners)
        .training(
            lr=lr,
            gamma=gamma,
            lambda_=0.95,
            train_batch_size_per_learner=train_batch_size,
            minibatch_size=minibatch_size,
            num_epochs=num_epochs,
            clip_param=0.2,
        )
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=list(hidden), fcnet_activation="tanh"))
        .debugging(seed=seed)
        .reporting(metrics_num_episodes_for_smoothing=100)
    )
    return config.build_algo()


def episode_return(result: dict[str, Any]) -> float:
    """Mean episode return of a training iteration's result dict (NaN when no episode finished yet)."""
    runners = result.get("env_runners", {})
    return float(runners.get("episode_return_mean", float("nan")))


def train_rllib_ppo(iterations: int, **kwargs: Any) -> list[float]:
    """Build with :func:`build_rllib_ppo`, run ``iterations`` training iterations, return the mean returns."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}")
    algo = build_rllib_ppo(**kwargs)
    try:
        return [episode_return(algo.train()) for _ in range(iterations)]
    finally:
        algo.stop()
