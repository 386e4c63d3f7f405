"""The order-book signals in the replay env's observation (off by default)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mmenv.replay.env import OBS_NAMES, ReplayEnv, ReplayVectorEnv
from mmenv.signals import FeatureSpec, compute_features, fit_microprice
from tests.studies.test_replay_study import synthetic_tape


def spec_for(tape):
    return FeatureSpec(micro=fit_microprice(tape.split(0.5)[0]), max_age_s=5.0)


def test_signals_are_appended_normalised_and_read_at_the_decision_event():
    tape = synthetic_tape(1500, seed=8)
    spec = spec_for(tape)
    env = ReplayEnv(tape, episode_s=20.0, signals=spec)
    names, m = compute_features(tape, spec)
    assert env.obs_names == [*OBS_NAMES, *(f"signal_{n}" for n in names)]
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    k = len(OBS_NAMES)
    micro = names.index("micro_ticks")
    scale = np.ones(len(names))
    scale[micro] = np.abs(spec.micro.g_ticks).max()
    scale[names.index("spread_ticks")], scale[names.index("mid_age_s")] = spec.spread_cap, spec.max_age_s
    for _ in range(50):
        row = env._start + env._i - 1  # the last event the decision has seen
        np.testing.assert_allclose(obs[k:], (m[row] / scale).astype(np.float32), rtol=1e-6, atol=1e-7)
        assert env.observation_space.contains(obs)
        obs, _, _, trunc, _ = env.step(np.array([1.0, 1.0]))
        if trunc:
            break


def test_off_by_default_and_the_first_values_unchanged():
    tape = synthetic_tape(800, seed=9)
    plain = ReplayEnv(tape, episode_s=10.0)
    rich = ReplayEnv(tape, episode_s=10.0, signals=FeatureSpec())
    assert plain.observation_space.shape == (len(OBS_NAMES),)
    a, _ = plain.reset(seed=1)
    b, _ = rich.reset(seed=1)
    np.testing.assert_array_equal(a, b[: len(OBS_NAMES)])
    vec = ReplayVectorEnv(tape, num_envs=2, episode_s=10.0, signals=FeatureSpec())
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (2, rich.observation_space.shape[0])
    with pytest.raises(ValueError, match="signals must be a FeatureSpec"):
        ReplayEnv(tape, signals=True)
