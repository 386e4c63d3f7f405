"""The env in other RL libraries' loops: gymnasium.make_vec (all modes), SB3, a CleanRL-style PPO, RLlib."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import mmenv

SHORT = {"T": 0.05, "dt": 0.005, "reward": "penalized", "phi": 0.2, "alpha": 0.1}  # 10 steps


@pytest.mark.parametrize("mode", ["vector_entry_point", "sync", "async"])
def test_make_vec_runs_episodes_with_next_step_autoreset(mode):
    full = {"info_keys": None} if mode == "vector_entry_point" else {}  # the native env's infos on request
    envs = gym.make_vec(mmenv.ENV_ID, num_envs=3, vectorization_mode=mode, **SHORT, **full)
    try:
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (3, 4) and obs.dtype == np.float32
        envs.action_space.seed(0)
        for j in range(10):
            obs, r, term, trunc, info = envs.step(envs.action_space.sample())
            assert r.shape == (3,) and not trunc.any()
            assert term.all() == (j == 9)
        assert np.all(obs[:, 1] == 0.0)  # tau = 0 at T
        assert set(info) >= {"inventory", "cash", "mid"}
        # NEXT_STEP: the following step only resets (reward 0, fresh observation)
        obs, r, term, _, _ = envs.step(envs.action_space.sample())
        np.testing.assert_array_equal(r, 0.0)
        assert not term.any()
        np.testing.assert_allclose(obs[:, 1], 0.05, rtol=1e-6)
        np.testing.assert_array_equal(obs[:, 0], 0.0)
    finally:
        envs.close()


@pytest.mark.parametrize("backend", ["make_vec_env", "native_adapter"])
def test_stable_baselines3_ppo_learns_a_few_iterations(backend):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from agents.sb3_vecenv import MarketMakingSB3VecEnv

    if backend == "make_vec_env":
        # make_vec_env asks for render_mode="rgb_array" unless env_kwargs sets it; the env renders "ansi" only
        env = make_vec_env(mmenv.ENV_ID, n_envs=2, seed=0, env_kwargs={**SHORT, "render_mode": None})
    else:
        env = MarketMakingSB3VecEnv(num_envs=2, **SHORT)
    model = PPO("MlpPolicy", env, n_steps=20, batch_size=20, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=80)
    assert model.num_timesteps == 80
    action, _ = model.predict(env.reset(), deterministic=True)
    assert action.shape == (2, 2) and np.all(np.abs(action) <= 1.0)


@pytest.mark.parametrize("mode", ["vector_entry_point", "sync"])
def test_cleanrl_style_ppo_runs_and_is_reproducible(mode):
    torch = pytest.importorskip("torch")
    from agents.cleanrl_ppo import Args, train

    torch.set_num_threads(1)
    args = Args(
        total_timesteps=4 * 22 * 3,
        num_envs=4,
        num_steps=22,
        num_minibatches=2,
        update_epochs=2,
        vectorization_mode=mode,
        env_kwargs=dict(SHORT),
    )
    a, b = train(args), train(args)
    assert len(a["curve"]) == 3
    assert all(math.isfinite(ret) for _, ret in a["curve"])  # 22 steps cover 2 episodes of 10 (+1 reset)
    assert a["curve"] == b["curve"]
    for p, q in zip(a["agent"].parameters(), b["agent"].parameters(), strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_cleanrl_autoreset_steps_are_not_transitions():
    torch = pytest.importorskip("torch")
    from agents.cleanrl_ppo import Args, train

    torch.set_num_threads(1)
    # with exactly one episode + its reset step per rollout, every rollout finishes num_envs episodes
    out = train(
        Args(
            total_timesteps=2 * 11 * 2,
            num_envs=2,
            num_steps=11,
            num_minibatches=1,
            update_epochs=1,
            env_kwargs=dict(SHORT),
        )
    )
    assert [step for step, _ in out["curve"]] == [22, 44]
    assert all(math.isfinite(r) for _, r in out["curve"])
