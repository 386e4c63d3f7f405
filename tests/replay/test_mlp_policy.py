"""A PPO MLP policy compiled into the replay's loop (:mod:`mmenv.replay.mlp_policy`): the same depths as the
torch policy acting in the event-clock env, to float32 tolerance, and the same replay on a real tape."""

from __future__ import annotations

import numpy as np
import pytest

from mmenv.replay.config import ReplayConfig
from mmenv.replay.engine import replay
from mmenv.replay.mlp_policy import N_OBS, env_features, mlp_features, mlp_jit_policy
from mmenv.signals.fit import fit_signals

pytest.importorskip("stable_baselines3")


def _agent(tape, cfg, seed=3, signals=None, rescale=False):
    """An untrained PPO (random weights, a bias that spreads the depths) with a non-trivial normaliser
    (``signals``: the env's feature spec, the observation's extra columns)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from mmenv.studies import tape_ppo

    venv = VecNormalize(
        DummyVecEnv([lambda: tape_ppo.replay_env(tape, cfg, rescale, episode_s=5.0, signals=signals)]),
        norm_reward=False,
    )
    rng = np.random.default_rng(seed)
    n = venv.observation_space.shape[0]
    venv.obs_rms.mean = rng.normal(size=n)
    venv.obs_rms.var = rng.uniform(0.5, 4.0, size=n)
    venv.training = False
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", n_steps=64, batch_size=64)
    with torch.no_grad():
        model.policy.action_net.bias[:] = torch.tensor([4.0, 6.0])
        model.policy.action_net.weight.mul_(400.0)
    return model, venv


@pytest.fixture
def tape(binance_sample):
    from mmenv.data.loaders import load_binance

    return load_binance(*binance_sample).slice(0, 6_000)


@pytest.mark.parametrize(("with_signals", "rescale"), [(False, False), (True, False), (True, True)])
def test_compiled_ppo_quotes_the_torch_policys_depths(tape, with_signals, rescale):
    """Also an agent acting in [-1, 1]^2 through gymnasium's RescaleAction onto the depth box, as rl-study's."""
    from mmenv.studies import tape_ppo

    cfg = ReplayConfig(order_size=0.01, q_max=0.05, sigma=7.5, horizon_s=20.0)
    spec = fit_signals(tape.slice(0, 3000)).spec if with_signals else None
    model, venv = _agent(tape, cfg, signals=spec, rescale=rescale)
    if rescale:  # spread the rescaled actions over the box rather than its edge
        import torch

        with torch.no_grad():
            model.policy.action_net.bias[:] = torch.tensor([-0.6, 0.2])
            model.policy.action_net.weight.mul_(1.0 / 40.0)
    env = tape_ppo.replay_env(
        tape, cfg, rescale, episode_s=tape.duration_s + 1.0, start="first", signals=spec
    )
    pol = tape_ppo.compiled_agent(model, venv, env)
    feats = mlp_features(env)
    n_sig = env.unwrapped.signal_matrix.shape[1]
    assert pol.params[12] == N_OBS + n_sig and feats.shape == (len(tape), 2 + n_sig)
    np.testing.assert_array_equal(feats[:, :2], env_features(tape))
    assert (n_sig > 0) == with_signals
    obs, _ = env.reset(seed=0)
    env.unwrapped.state.set_policy(pol, feats)
    torch_d, ours = [], []
    done = False
    while not done:
        act, _ = model.predict(venv.normalize_obs(obs[None, :]), deterministic=True)
        a = np.asarray(env.action(act[0]) if rescale else act[0], dtype=np.float64)  # the wrapper's map
        a = np.clip(a, 0.5, 50.0) * tape.tick
        torch_d.append(a)
        ours.append(env.unwrapped.state.jit_decide(pol))
        obs, _, _, done, _ = env.step(act[0])
    torch_d, ours = np.array(torch_d), np.array(ours)
    assert len(ours) > 500 and np.ptp(ours, axis=0).max() > tape.tick  # the depths move
    np.testing.assert_allclose(ours, torch_d, rtol=2e-6, atol=1e-9)
    # the whole replay in the compiled loop: the env's records
    want = env.unwrapped.result("ppo")
    got = replay(pol, tape, env.unwrapped.config, features=feats)
    assert got.n_decisions == want.n_decisions
    np.testing.assert_array_equal(got.fills["price"], want.fills["price"])
    np.testing.assert_array_equal(got.states["equity"], want.states["equity"])


_KW = dict(
    activation="tanh",
    horizon_s=60.0,
    first_mid=100.0,
    action_low=[-1, -1],
    action_high=[1, 1],
    depth_low_ticks=0.5,
    depth_high_ticks=50.0,
)


def test_bad_layers_are_named():
    w = [(np.zeros((4, 8)), np.zeros(4)), (np.zeros((2, 4)), np.zeros(2))]
    kw = _KW
    assert mlp_jit_policy(w, **kw).name == "ppo"
    with pytest.raises(ValueError, match="layer 1"):
        mlp_jit_policy([w[0], (np.zeros((2, 5)), np.zeros(2))], **kw)
    with pytest.raises(ValueError, match="2 outputs"):
        mlp_jit_policy(w[:1], **kw)
    with pytest.raises(ValueError, match="activation"):
        mlp_jit_policy(w, **{**kw, "activation": "gelu"})


def test_signal_columns_move_the_quotes_and_their_absence_quotes_nothing(tape):
    """The compiled MLP reads the signal columns: other values, other depths; a replay without them (only
    the two base columns) quotes nothing rather than reading past the row. An env whose width is not the
    model's is refused."""
    from mmenv.studies import tape_ppo

    cfg = ReplayConfig(order_size=0.01, q_max=0.05, sigma=7.5, horizon_s=20.0)
    spec = fit_signals(tape.slice(0, 3000)).spec
    model, venv = _agent(tape, cfg, signals=spec)
    env = tape_ppo.replay_env(tape, cfg, episode_s=tape.duration_s + 1.0, start="first", signals=spec)
    pol = tape_ppo.compiled_agent(model, venv, env)
    feats = mlp_features(env)
    base = replay(pol, tape, env.unwrapped.config, features=feats)
    zeroed = feats.copy()
    zeroed[:, 2:] = 0.0
    other = replay(pol, tape, env.unwrapped.config, features=zeroed)
    assert len(base.fills) > 0
    assert not np.array_equal(base.states["bid"], other.states["bid"], equal_nan=True)
    none = replay(pol, tape, env.unwrapped.config, features=feats[:, :2])
    assert len(none.fills) == 0 and np.isnan(none.states["bid"]).all()
    with pytest.raises(ValueError, match="the agent observes"):
        tape_ppo.compiled_agent(model, venv, tape_ppo.replay_env(tape, cfg, episode_s=5.0))
    with pytest.raises(ValueError, match="n_obs must be an integer >= 8"):
        mlp_jit_policy([(np.zeros((2, 7)), np.zeros(2))], n_obs=7, **_KW)
    with pytest.raises(ValueError, match="do not take 10 inputs"):
        mlp_jit_policy([(np.zeros((2, 8)), np.zeros(2))], n_obs=10, **_KW)
    with pytest.raises(ValueError, match="must hold 10 values"):
        mlp_jit_policy(
            [(np.zeros((2, 10)), np.zeros(2))], n_obs=10, obs_mean=np.zeros(8), obs_var=np.ones(8), **_KW
        )
    with pytest.raises(ValueError, match="read-only"):
        env.unwrapped.signal_matrix[0, 0] = 1.0


def test_a_rescaled_agent_replays_through_its_folders_action_map(tape, tmp_path):
    """An agent acting in [-1, 1]^2 rescaled onto a depth box of 150 ticks (rl-study's): its folder records
    the map (action.json), --ppo-run replays it compiled with the env path's fills; without the map the env's
    box differs from the agent's and it is refused, never replayed with the wrong depths."""
    from mmenv.studies import tape_ppo
    from mmenv.studies.tape_backtest import ppo_replay

    cfg = ReplayConfig(order_size=0.01, q_max=0.05, sigma=7.5, horizon_s=20.0)
    model, venv = _agent(tape, cfg, rescale=True)
    import torch

    with torch.no_grad():
        model.policy.action_net.bias[:] = torch.tensor([-0.9, -0.8])
        model.policy.action_net.weight.mul_(1.0 / 40.0)
    with pytest.raises(ValueError, match=r"the agent acts in \[\[-1.0, -1.0\], \[1.0, 1.0\]\]"):
        tape_ppo.compiled_agent(model, venv, tape_ppo.replay_env(tape, cfg, episode_s=5.0))
    folder = tmp_path / "agent"
    tape_ppo.save_agent(model, venv, folder, rescale_action=True, max_depth_ticks=150.0)
    assert tape_ppo.load_action(folder) == {"rescale_action": True, "max_depth_ticks": 150.0}
    got = ppo_replay(folder, tape, cfg)
    env = tape_ppo.replay_env(
        tape, cfg, True, episode_s=tape.duration_s + 1.0, start="first", max_depth_ticks=150.0
    )
    tape_ppo.play(model, venv, env)
    want = env.unwrapped.result("ppo")
    assert len(want.fills) > 0
    np.testing.assert_array_equal(got.fills["price"], want.fills["price"])
    np.testing.assert_array_equal(got.states["equity"], want.states["equity"])
    (folder / tape_ppo.ACTION_FILE).unlink()  # an agent without its map: the default box, refused
    with pytest.raises(
        ValueError, match=r"--ppo-run .*agent: the agent acts in .* the env in \[\[0.5, 0.5\]"
    ):
        ppo_replay(folder, tape, cfg)
    (folder / tape_ppo.ACTION_FILE).write_text('{"rescale_action": "yes", "max_depth_ticks": 150}')
    with pytest.raises(ValueError, match="rescale_action must be true or false, got 'yes'"):
        ppo_replay(folder, tape, cfg)
