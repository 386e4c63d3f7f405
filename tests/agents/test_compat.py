"""The env through each RL library's own entry point: the README's compatibility table, one test per cell.

Routes: "single" (the library wraps single ``gym.make`` envs itself), "native" (our vector env: Gymnasium's
``make_vec(..., vectorization_mode="vector_entry_point")`` or the SB3 adapter), "subproc" (envs built in
other processes, where ``import mmenv`` has not run: the ``"mmenv:mmenv/MarketMaking-v0"`` module-prefix id,
or a registered creator). Training runs are tiny (a few hundred steps): they check that the library's loop
runs on the env, not that it learns. Libraries that are not installed are skipped with the reason.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile

import gymnasium as gym
import numpy as np
import pytest

import mmenv

SHORT = {"T": 0.05, "dt": 0.005, "reward": "penalized", "phi": 0.2, "alpha": 0.1}  # 10-step episodes
PREFIXED_ID = "mmenv:" + mmenv.ENV_ID


# ------------------------------------------------------------------ stable-baselines3
def test_sb3_ppo_single_envs_through_make_vec_env():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(mmenv.ENV_ID, n_envs=2, seed=0, env_kwargs=SHORT)  # probes render_mode="rgb_array"
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    assert model.num_timesteps >= 64


@pytest.mark.parametrize(
    ("env_id", "start_method"),
    [
        (mmenv.ENV_ID, "forkserver"),  # SB3's default: the forkserver preloads mmenv
        pytest.param(PREFIXED_ID, "spawn", marks=pytest.mark.slow),  # any process: the module-prefixed id
    ],
)
def test_sb3_subprocess_workers(env_id, start_method):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    venv = make_vec_env(
        env_id,
        n_envs=2,
        seed=0,
        env_kwargs=SHORT,
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": start_method},
    )
    try:
        obs = venv.reset()
        done_seen = False
        for _ in range(12):
            obs, _, dones, _ = venv.step(np.zeros((2, 2), np.float32))
            done_seen |= bool(dones.any())
        assert obs.shape == (2, 4) and done_seen
    finally:
        venv.close()


@pytest.mark.slow
def test_sb3_ppo_progress_bar_and_tensorboard(tmp_path):
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("tensorboard")
    pytest.importorskip("rich")
    from stable_baselines3 import PPO

    from agents.sb3_vecenv import MarketMakingSB3VecEnv

    model = PPO(
        "MlpPolicy",
        MarketMakingSB3VecEnv(num_envs=4, **SHORT),
        n_steps=20,
        batch_size=40,
        n_epochs=1,
        seed=0,
        device="cpu",
        tensorboard_log=str(tmp_path),
    )
    model.learn(160, progress_bar=True)
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.rglob("*"))


@pytest.mark.slow
@pytest.mark.parametrize("route", ["single", "native"])
def test_sb3_sac(route):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import SAC
    from stable_baselines3.common.env_util import make_vec_env

    from agents.sb3_vecenv import MarketMakingSB3VecEnv

    venv = (
        make_vec_env(mmenv.ENV_ID, n_envs=2, seed=0, env_kwargs=SHORT)
        if route == "single"
        else MarketMakingSB3VecEnv(num_envs=2, **SHORT)
    )
    model = SAC("MlpPolicy", venv, learning_starts=40, batch_size=32, seed=0, device="cpu")
    model.learn(120)
    assert model.replay_buffer.size() > 0


@pytest.mark.slow
@pytest.mark.parametrize("route", ["single", "native"])
def test_sb3_contrib_recurrent_ppo(route):
    pytest.importorskip("sb3_contrib")
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    from agents.sb3_vecenv import MarketMakingSB3VecEnv

    venv = (
        make_vec_env(mmenv.ENV_ID, n_envs=2, seed=0, env_kwargs=SHORT)
        if route == "single"
        else MarketMakingSB3VecEnv(num_envs=2, **SHORT)
    )
    model = RecurrentPPO("MlpLstmPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    assert model.num_timesteps >= 64


# ------------------------------------------------------------------ TorchRL
def test_torchrl_gym_env_specs_and_info_reader():
    pytest.importorskip("torchrl")
    import torch
    from torchrl.envs import GymEnv
    from torchrl.envs.libs.gym import default_info_dict_reader
    from torchrl.envs.utils import check_env_specs

    env = GymEnv(mmenv.ENV_ID, **SHORT)  # probes frameskip: TypeError, retried without it
    env.set_info_dict_reader(default_info_dict_reader())  # every info key, float64 (stable dtype)
    check_env_specs(env)
    td = env.rollout(12, break_when_any_done=False)
    assert td["next", "done"].sum().item() == 1  # one episode of 10 steps ended
    assert td["next", "cash"].dtype == torch.float64 and td["next", "time"][9].item() == pytest.approx(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("route", ["single", "native-disabled", "native-same-step", "subproc"])
def test_torchrl_collector(route):
    pytest.importorskip("torchrl")
    from torchrl.collectors import Collector
    from torchrl.envs import GymEnv, GymWrapper
    from torchrl.envs.utils import check_env_specs

    if route == "single":
        env, n = GymEnv(mmenv.ENV_ID, **SHORT), 1
    elif route == "subproc":  # TorchRL builds an AsyncVectorEnv of single envs in worker processes
        env, n = GymEnv(PREFIXED_ID, num_envs=2, **SHORT), 2
    else:
        mode = "DISABLED" if route == "native-disabled" else "SAME_STEP"
        n = 3
        env = GymWrapper(
            gym.make_vec(
                mmenv.ENV_ID,
                num_envs=n,
                vectorization_mode="vector_entry_point",
                autoreset_mode=mode,
                **SHORT,
            )
        )
    try:
        check_env_specs(env)
        frames = 0
        for batch in Collector(env, None, frames_per_batch=20 * n, total_frames=40 * n):
            frames += batch.numel()
            assert batch["next", "done"].sum().item() == 2 * n  # 20 steps: two 10-step episodes per env
        assert frames == 40 * n
    finally:
        env.close()


# ------------------------------------------------------------------ Tianshou
@pytest.mark.slow
def test_tianshou_ppo():
    pytest.importorskip(
        "tianshou",
        reason="tianshou is not installed (it declares pandas < 3, so it is in no extra; .ci/run installs it with --no-deps)",
    )
    import torch
    from tianshou.algorithm import PPO
    from tianshou.algorithm.modelfree.reinforce import ProbabilisticActorPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.data import Collector, VectorReplayBuffer
    from tianshou.env import DummyVectorEnv
    from tianshou.trainer import OnPolicyTrainerParams
    from tianshou.utils.net.common import Net
    from tianshou.utils.net.continuous import ContinuousActorProbabilistic, ContinuousCritic

    train_envs = DummyVectorEnv([lambda: gym.make(mmenv.ENV_ID, **SHORT) for _ in range(2)])
    env = gym.make(mmenv.ENV_ID, **SHORT)
    obs_shape, act_shape = env.observation_space.shape, env.action_space.shape
    actor = ContinuousActorProbabilistic(
        preprocess_net=Net(state_shape=obs_shape, hidden_sizes=[16]), action_shape=act_shape
    )
    critic = ContinuousCritic(preprocess_net=Net(state_shape=obs_shape, hidden_sizes=[16]))

    def dist(loc_scale):
        loc, scale = loc_scale
        return torch.distributions.Independent(torch.distributions.Normal(loc, scale), 1)

    policy = ProbabilisticActorPolicy(
        actor=actor, dist_fn=dist, action_space=env.action_space, action_scaling=True
    )
    algo = PPO(policy=policy, critic=critic, optim=AdamOptimizerFactory(lr=3e-4))
    collector = Collector(algo, train_envs, VectorReplayBuffer(100, 2))
    result = algo.run_training(
        OnPolicyTrainerParams(
            training_collector=collector,
            max_epochs=1,
            epoch_num_steps=40,
            collection_step_num_env_steps=40,
            update_step_num_repetitions=1,
            batch_size=20,
            test_step_num_episodes=0,
        )
    )
    assert result is not None


# ------------------------------------------------------------------ RLlib
@pytest.fixture(scope="module")
def ray_session():
    pytest.importorskip("ray.rllib")
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    tmp = tempfile.mkdtemp(prefix="mmray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=tmp)
    yield
    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env_id", "mode"),
    [(mmenv.ENV_ID, "vector_entry_point"), (mmenv.ENV_ID, "sync"), (PREFIXED_ID, "sync")],
)
def test_rllib_ppo_config_environment_with_the_id_users_type(ray_session, env_id, mode):
    from ray.rllib.algorithms.ppo import PPOConfig

    if env_id == mmenv.ENV_ID:
        from agents.rllib_ppo import register_rllib_env

        assert register_rllib_env() == mmenv.ENV_ID  # the creator reaches the remote env runners
    config = (
        PPOConfig()
        .environment(env_id, env_config=dict(SHORT))
        .env_runners(num_env_runners=1, num_envs_per_env_runner=2, gym_env_vectorize_mode=mode)
        .training(train_batch_size_per_learner=100, minibatch_size=50, num_epochs=1)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        result = algo.train()
    finally:
        algo.stop()
    assert math.isfinite(result["env_runners"]["episode_return_mean"])


@pytest.mark.slow
def test_rllib_ppo_recipe_trains_on_env_runners(ray_session):
    from agents.rllib_ppo import train_rllib_ppo

    returns = train_rllib_ppo(
        2,
        env_kwargs=dict(SHORT),
        num_env_runners=1,
        num_envs_per_env_runner=2,
        train_batch_size=200,
        minibatch_size=100,
        num_epochs=1,
        vectorize_mode="vector_entry_point",
    )
    assert len(returns) == 2
    assert all(math.isfinite(r) for r in returns)  # 10-step episodes finished in every iteration


@pytest.mark.slow
def test_mmenv_train_with_subprocess_workers(tmp_path):
    pytest.importorskip("stable_baselines3")
    import json

    from mmenv.cli import main

    out = tmp_path / "run"
    argv = ["train", "--timesteps", "1600", "--n-envs", "2", "--vec-env", "subproc", "--eval-episodes", "20"]
    assert main([*argv, "--no-progress", "--out", str(out)]) == 0
    ev = json.loads((out / "eval.json").read_text())
    assert ev["config"]["vec_env"] == "subproc" and math.isfinite(ev["policies"]["ppo"]["mean"])
    assert (out / "progress.csv").is_file() and (out / "learning_curve.png").is_file()
