"""PPO: the SB3 VecEnv adapter's semantics, training reproducibility, save/load, learning beats random."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("torch")

from agents.base import state_from_obs
from agents.ppo import PPOAgent, PPOConfig, make_training_env, train_ppo
from agents.sb3_vecenv import MarketMakingSB3VecEnv
from mmenv.envs.vector_env import MarketMakingVectorEnv
from mmenv.studies.references import evaluate_policies, score_against

SHORT = {"T": 0.05, "dt": 0.005, "reward": "penalized", "phi": 0.2, "alpha": 0.1}  # 10 steps


def tiny_config(**kw) -> PPOConfig:
    base = dict(timesteps=4 * 10 * 3, n_envs=4, n_steps=10, batch_size=20, n_epochs=2, env_kwargs=dict(SHORT))
    base.update(kw)
    return PPOConfig(**base)


# ------------------------------------------------------------------ adapter
def test_adapter_first_episode_matches_native_vector_env_bit_for_bit():
    rng = np.random.default_rng(3)
    actions = rng.uniform(-1, 1, size=(10, 4, 2)).astype(np.float32)
    native = MarketMakingVectorEnv(num_envs=4, **SHORT)
    obs_n, _ = native.reset(seed=11)
    sb3 = MarketMakingSB3VecEnv(num_envs=4, **SHORT)
    sb3.seed(11)
    obs_s = sb3.reset()
    np.testing.assert_array_equal(obs_n, obs_s)
    for j in range(10):
        obs_n, r_n, term_n, _, _ = native.step(actions[j])
        obs_s, r_s, done_s, infos = sb3.step(actions[j])
        np.testing.assert_array_equal(r_n.astype(np.float32), r_s)
        np.testing.assert_array_equal(term_n, done_s)
        if j < 9:
            np.testing.assert_array_equal(obs_n, obs_s)
    # same-step autoreset: the last observation is in the infos, the returned one starts the next episode
    assert done_s.all()
    for i in range(4):
        np.testing.assert_array_equal(infos[i]["terminal_observation"], obs_n[i])
        assert infos[i]["TimeLimit.truncated"] is False
        assert infos[i]["terminal_observation"][1] == 0.0  # tau = 0 at T
    np.testing.assert_array_equal(obs_s[:, [0, 2]], 0.0)  # q0 = 0, mid = s0
    np.testing.assert_allclose(obs_s[:, 1], 0.05, rtol=1e-6)  # full horizon again


def test_adapter_episodes_are_exactly_n_steps_and_rewards_sum_to_penalized_pnl():
    env = MarketMakingSB3VecEnv(num_envs=3, full_info=True, **SHORT)
    env.seed(0)
    env.reset()
    total = np.zeros(3)
    rng = np.random.default_rng(0)
    for episode in range(3):
        steps = 0
        pen = np.zeros(3)
        q_prev = np.zeros(3)
        while True:
            obs, r, done, infos = env.step(rng.uniform(-1, 1, (3, 2)))
            steps += 1
            total += r
            q = np.array([i["inventory"] for i in infos])
            pen += 0.2 * q_prev**2 * 0.005
            if done.any():
                assert done.all() and steps == 10, (episode, steps)
                eq = np.array([i["equity"] for i in infos])
                # sum of rewards = W_T - W_0 - phi sum q^2 dt - alpha q_T^2 (W_0 = 0 cash + 0 inventory)
                np.testing.assert_allclose(total, eq - pen - 0.1 * q**2, rtol=1e-5, atol=1e-4)
                break
            q_prev = q
        total[:] = 0.0
        assert env.venv.core.state.step.max() == 0  # reset in the same step


def test_adapter_api_errors_and_attributes():
    env = MarketMakingSB3VecEnv(num_envs=2, **SHORT)
    env.reset()
    with pytest.raises(ValueError, match="actions must have shape"):
        env.step_async(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        env.step_async(np.full((2, 2), np.nan))
    with pytest.raises(RuntimeError, match="step_async"):
        env.step_wait()
    assert env.get_attr("num_envs") == [2, 2]
    assert env.env_is_wrapped(object) == [False, False]
    with pytest.raises(AttributeError, match="share one simulation core"):
        env.set_attr("x", 1)


def test_training_env_backends_have_the_same_spaces():
    for kind in ("native", "dummy"):
        env = make_training_env(tiny_config(vec_env=kind))
        assert env.num_envs == 4
        assert env.observation_space.shape == (4,)
        assert env.action_space.shape == (2,)
        env.close()


# ------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timesteps", 0),
        ("n_envs", 0),
        ("vec_env", "threads"),
        ("batch_size", 10_000),
        ("learning_rate", 0.0),
        ("gamma", 1.5),
        ("net_arch", (64, 0)),
        ("env_kwargs", {"action_mode": "depth"}),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_config(**{field: value})


def test_import_agents_does_not_import_torch():
    code = "import sys, agents, agents.ppo; print('torch' in sys.modules, 'stable_baselines3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------ training
def test_same_seed_same_learning_curve_and_weights():
    a = train_ppo(tiny_config(seed=5))
    b = train_ppo(tiny_config(seed=5))
    c = train_ppo(tiny_config(seed=6))
    assert len(a.curve) == 3
    assert a.curve == b.curve
    assert a.curve != c.curve
    wa = [p.detach().numpy() for p in a.model.policy.parameters()]
    wb = [p.detach().numpy() for p in b.model.policy.parameters()]
    for x, y in zip(wa, wb, strict=True):
        np.testing.assert_array_equal(x, y)


def test_save_load_round_trip_quotes_as_the_trained_model(tmp_path):
    res = train_ppo(tiny_config(seed=1), tmp_path)
    for name in ("model.zip", "config.json", "normalize.json", "progress.csv", "learning_curve.png"):
        assert (tmp_path / name).is_file(), name
    meta = json.loads((tmp_path / "config.json").read_text())
    assert PPOConfig.from_json(meta["config"]) == tiny_config(seed=1)
    agent = PPOAgent(tmp_path)
    env = MarketMakingVectorEnv(num_envs=50, **SHORT)
    obs, _ = env.reset(seed=2)
    for _ in range(4):
        obs, *_ = env.step(env.action_space.sample())
    # the trained model on the training env's normalised observation, mapped by the env's action map ...
    action, _ = res.model.predict(res.env.normalize_obs(obs), deterministic=True)
    expected = env.task.action_to_depth(action)
    # ... equals the reloaded agent quoting from the raw state
    got = agent.quote(state_from_obs(obs, 100.0))
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6, atol=1e-6)
    assert agent.act(obs).shape == (50, 2)
    assert np.all((got[0] >= 0.0) & (got[0] <= env.task.max_depth))


def test_agent_rejects_a_directory_without_a_run(tmp_path):
    with pytest.raises(ValueError, match=r"model\.zip"):
        PPOAgent(tmp_path)


class _RandomPolicy:
    """Uniform random actions mapped to depths (what an untrained policy with a wide std does)."""

    name = "random"

    def __init__(self, task, seed):
        self.task, self.rng = task, np.random.default_rng(seed)

    def reset(self, num_paths=1):
        pass

    def quote(self, state):
        a = self.rng.uniform(-1, 1, size=(np.shape(state.q)[0], 2))
        return self.task.action_to_depth(a)


def test_short_training_beats_a_random_policy(tmp_path):
    env_kwargs = {"T": 0.25, "reward": "penalized", "phi": 0.2, "alpha": 0.1}  # 50 steps
    cfg = PPOConfig(
        timesteps=64 * 50 * 12, n_envs=64, n_steps=50, batch_size=800, env_kwargs=env_kwargs, seed=0
    )
    train_ppo(cfg, tmp_path)
    agent = PPOAgent(tmp_path)
    rewards = evaluate_policies(
        {"ppo": agent, "random": _RandomPolicy(agent.task, 0)}, env_kwargs, episodes=1000, seed=99
    )
    scores = score_against(rewards)
    edge = scores["edges"]["random"]
    # the improvement must be large against its own paired Monte-Carlo standard error
    assert edge["diff"] > 5.0 * edge["se"], scores


def test_mmenv_train_cli_writes_the_evaluation(tmp_path, capsys):
    from mmenv.cli import main

    rc = main(
        [
            "train",
            "--timesteps",
            "1600",
            "--n-envs",
            "8",
            "--seed",
            "0",
            "--out",
            str(tmp_path),
            "--eval-episodes",
            "50",
            "--no-progress",
        ]
    )
    assert rc == 0
    ev = json.loads((tmp_path / "eval.json").read_text())
    assert ev["eval_episodes"] == 50 and ev["eval_seed"] != ev["config"]["seed"]
    assert {"ppo", "as", "cjp", "exact"} <= set(ev["policies"])
    assert ev["optimum"] == "exact" and ev["optimum_value"] == ev["values"]["exact"]
    gap = 100 * (ev["policies"]["exact"]["mean"] - ev["policies"]["ppo"]["mean"]) / abs(ev["optimum_value"])
    assert ev["optimality_gap_pct"] == pytest.approx(gap)
    assert ev["values"]["exact"] > ev["values"]["cjp"]
    assert ev["edges"]["as"]["diff"] == pytest.approx(
        ev["policies"]["ppo"]["mean"] - ev["policies"]["as"]["mean"]
    )
    printed = capsys.readouterr().out
    assert "optimality gap of PPO vs the exact optimum of this env" in printed
    assert "continuous-time CJP policy" in printed
    assert (tmp_path / "learning_curve.png").is_file()
