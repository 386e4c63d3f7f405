"""Event-clock env on a tape: one engine with the replay backtest (AS: same fills and P&L bit for bit)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mmenv.policy import QuoteState
from mmenv.replay.engine import ReplayConfig, replay
from mmenv.replay.env import OBS_NAMES, ReplayEnv
from tests.studies.test_replay_study import synthetic_tape

CFG = ReplayConfig(order_size=2.0, q_max=20.0, sigma=0.01, horizon_s=30.0, entry_latency_s=0.002)


@pytest.mark.parametrize(("decision", "every"), [("quote", 1), ("event", 1), ("trade", 2)])
def test_as_in_env_and_in_backtester_same_fills_and_pnl(decision, every):
    from agents import AvellanedaStoikovAgent

    tape = synthetic_tape(1500, seed=3)
    env = ReplayEnv(
        tape, CFG, decision=decision, every=every, episode_s=40.0, start="random", action_unit="price"
    )
    agent = AvellanedaStoikovAgent(gamma=0.5, k=80.0)
    obs, info = env.reset(seed=7)
    total = 0.0
    done = False
    while not done:
        st, cfg = env.state, env.config
        tau = cfg.horizon_s - (st.elapsed_s % cfg.horizon_s)
        qs = QuoteState(
            q=np.array([st.q / cfg.order_size]),
            tau=np.array([tau]),
            mid=np.array([st.mid]),
            sigma=np.array([cfg.sigma]),
            s0=np.array([st.mid]),
        )
        db, da = agent.quote(qs)
        obs, r, term, done, info = env.step(np.array([db[0], da[0]]))
        assert env.observation_space.contains(obs)
        total += r
    res_env = env.result("as")
    bt_cfg = ReplayConfig(**{**CFG.to_dict(), "decide_on": decision, "decide_every": every})
    res_bt = replay(agent.quote_rule(), env._ep, bt_cfg)
    assert len(res_bt.fills) > 5
    for rec in ("fills", "states"):
        a, b = getattr(res_env, rec), getattr(res_bt, rec)
        assert len(a) == len(b)
        for name in a.dtype.names:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{rec}.{name}")
    assert total == pytest.approx(res_bt.pnl, abs=1e-9)


def test_env_contract_and_observation():
    env = ReplayEnv(synthetic_tape(800), CFG, episode_s=10.0)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (len(OBS_NAMES),)
    assert obs[2] == pytest.approx(1.0)  # one-tick spread in the synthetic tape
    assert -1.0 <= obs[3] <= 1.0
    obs, r, term, trunc, info = env.step(np.array([1.0, 1.0], np.float32))
    assert math.isfinite(r) and not term
    with pytest.raises(ValueError, match="decide_on"):
        ReplayEnv(synthetic_tape(100), CFG, decision="bar")
    with pytest.raises(ValueError, match="episode_s"):
        ReplayEnv(synthetic_tape(100), CFG, episode_s=0.0)


def test_event_clock_env_on_a_synthetic_tick_market():
    from agents import AvellanedaStoikovAgent
    from mmenv.data import synthetic_bars
    from mmenv.data.tape import Tape
    from mmenv.data.ticks import synthesize_ticks

    ticks = synthesize_ticks(synthetic_bars(1, 0), (5, 10), 1, k=50.0)
    tape = Tape.from_ticks(ticks, tick=0.01)
    assert len(tape) == 2 * len(ticks) and tape.n_trades == len(ticks)
    cfg = ReplayConfig(fill_model="trade_through", order_size=1.0, q_max=10.0, sigma=0.02, horizon_s=600.0)
    env = ReplayEnv(tape, cfg, decision="trade", episode_s=900.0, start="first", action_unit="price")
    agent = AvellanedaStoikovAgent(gamma=0.5, k=50.0)
    env.reset(seed=0)
    done = False
    while not done:
        st = env.state
        qs = QuoteState(
            q=np.array([st.q]),
            tau=np.array([600.0 - st.elapsed_s % 600.0]),
            mid=np.array([st.mid]),
            sigma=np.array([0.02]),
            s0=np.array([st.mid]),
        )
        db, da = agent.quote(qs)
        *_, done, _ = env.step(np.array([db[0], da[0]]))
    res_env = env.result("as")
    res_bt = replay(agent.quote_rule(), env._ep, ReplayConfig(**{**cfg.to_dict(), "decide_on": "trade"}))
    assert len(res_bt.fills) > 10
    np.testing.assert_array_equal(res_env.states["equity"], res_bt.states["equity"])


def test_vector_env_steps_episodes_like_the_single_env():
    from mmenv.replay.env import ReplayVectorEnv

    tape = synthetic_tape(1500, seed=5)
    venv = ReplayVectorEnv(tape, CFG, num_envs=3, episode_s=5.0, decision="event", every=2)
    obs, _ = venv.reset(seed=11)
    singles = [ReplayEnv(tape, CFG, episode_s=5.0, decision="event", every=2) for _ in range(3)]
    ref = np.stack([e.reset(seed=11 + i)[0] for i, e in enumerate(singles)])
    np.testing.assert_array_equal(obs, ref)
    a = np.full((3, 2), 2.0, np.float32)
    ends = 0
    for _ in range(200):
        obs, rew, term, trunc, info = venv.step(a)
        for i, e in enumerate(singles):
            o, r, _, t, _ = e.step(a[i])
            assert r == rew[i]
            if t:
                assert info["_final_obs"][i]
                np.testing.assert_array_equal(info["final_obs"][i], o)
                o, _ = e.reset()
                ends += 1
            np.testing.assert_array_equal(obs[i], o)
    assert ends > 0 and venv.observation_space.contains(obs)
