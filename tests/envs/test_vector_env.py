import math

import gymnasium as gym
import numpy as np
import pytest

import mmenv  # noqa: F401
from agents import AvellanedaStoikovAgent, QuoteState

ENV_ID = "mmenv/MarketMaking-v0"


def test_make_vec_vector_entry_point_and_spaces():
    venv = gym.make_vec(
        ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", sigma=1.0, info_keys=None
    )
    from mmenv.envs.vector_env import MarketMakingVectorEnv

    assert isinstance(venv.unwrapped, MarketMakingVectorEnv)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (4, 4) and obs.dtype == np.float32
    assert venv.single_observation_space.shape == (4,)
    assert info["_mid"].all() and info["mid"].shape == (4,)
    assert obs[:, 3].tolist() == [1.0] * 4


def test_next_step_autoreset():
    venv = gym.make_vec(
        ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", T=0.02, dt=0.01, info_keys=None
    )
    venv.reset(seed=0)
    a = np.zeros((3, 2), np.float32)
    _, _, term, trunc, _ = venv.step(a)
    assert not term.any()
    obs, r, term, trunc, info = venv.step(a)
    assert term.all() and not trunc.any()
    obs, r, term, trunc, info = venv.step(a)  # the reset step
    assert not term.any() and (r == 0.0).all()
    np.testing.assert_array_equal(obs[:, 0], 0.0)
    np.testing.assert_allclose(obs[:, 1], 0.02)
    np.testing.assert_array_equal(info["time"], 0.0)
    np.testing.assert_array_equal(info["cash"], 0.0)


def test_vector_env_same_seed_same_result():
    runs = []
    for _ in range(2):
        venv = gym.make_vec(ENV_ID, num_envs=8, vectorization_mode="vector_entry_point")
        venv.reset(seed=5)
        tot = np.zeros(8)
        for _ in range(250):
            _, r, *_ = venv.step(np.full((8, 2), 0.2, np.float32))
            tot += r
        runs.append(tot)
    np.testing.assert_array_equal(runs[0], runs[1])


def _terminal_pnl_single(n_episodes, seed):
    env = gym.make(ENV_ID, action_mode="depth").unwrapped
    agent = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    pnl, q = [], []
    rng = np.random.default_rng(seed)
    for _ in range(n_episodes):
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        total = 0.0
        while True:
            obs, r, term, _, info = env.step(agent.act(obs))
            total += r
            if term:
                break
        pnl.append(total)
        q.append(info["inventory"])
    return np.array(pnl), np.array(q)


def _terminal_pnl_vector(n, seed):
    from mmenv.envs.vector_env import MarketMakingVectorEnv

    env = MarketMakingVectorEnv(num_envs=n, action_mode="depth", info_keys=("inventory",))
    agent = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    env.reset(seed=seed)
    total = np.zeros(n)
    c = env.core
    for _ in range(c.n_steps):
        st = QuoteState(
            c.state.q.copy(), c.time_remaining(), c.market.mid.copy(), c.market.sigma, c.market.s0
        )
        db, da = agent.quote(st)
        _, r, term, _, info = env.step(np.stack([db, da], -1))
        total += r
    assert term.all()
    return total, info["inventory"]


def test_vector_env_is_the_same_process_as_single_envs():
    """Two-sample comparison of the terminal P&L and inventory laws, tolerance from the MC standard error."""
    ps, qs = _terminal_pnl_single(400, 1)
    pv, qv = _terminal_pnl_vector(4000, 2)
    se = math.sqrt(ps.var(ddof=1) / ps.size + pv.var(ddof=1) / pv.size)
    assert abs(ps.mean() - pv.mean()) < 4 * se
    se_q = math.sqrt(qs.var(ddof=1) / qs.size + qv.var(ddof=1) / qv.size)
    assert abs(qs.mean() - qv.mean()) < 4 * se_q
    # std: SE of a sample std ~ s / sqrt(2(n-1))
    se_sd = math.sqrt(ps.var() / (2 * (ps.size - 1)) + pv.var() / (2 * (pv.size - 1)))
    assert abs(ps.std() - pv.std()) < 4 * se_sd


def test_vector_actions_shape_checked():
    from mmenv.envs.vector_env import MarketMakingVectorEnv

    env = MarketMakingVectorEnv(num_envs=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full((3, 2), np.nan))
