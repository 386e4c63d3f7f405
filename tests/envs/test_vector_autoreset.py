"""The native vector env against ``gymnasium.vector.SyncVectorEnv`` over single envs, every autoreset mode.

The dynamics are made deterministic (sigma = 0 with a drift, no quotes: +inf depths, a nonzero starting
inventory under the penalized reward), so the native env (one generator) and SyncVectorEnv (one generator per
sub-env, seeds s, s + 1, ...) must return the same observations, rewards, flags and infos bit for bit; what
is compared is the autoreset / reset_mask / truncation / info semantics. The law of the random dynamics is
compared with single envs in ``test_vector_env.py``.
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import mmenv

N = 3
KW = dict(
    sigma=0.0, mu=0.5, T=0.05, dt=0.01, q0=3.0, reward="penalized", phi=0.1, alpha=0.2, action_mode="depth"
)
NO_QUOTE = np.full((N, 2), np.inf)


def _pair(mode, max_episode_steps=None):
    native = gym.make_vec(
        mmenv.ENV_ID,
        num_envs=N,
        vectorization_mode="vector_entry_point",
        autoreset_mode=mode,
        max_episode_steps=max_episode_steps,
        info_keys=None,  # every key, as the single envs
        **KW,
    )
    sync = SyncVectorEnv(
        [lambda: gym.make(mmenv.ENV_ID, max_episode_steps=max_episode_steps, **KW) for _ in range(N)],
        autoreset_mode=mode,
    )
    return native, sync


def _same(a, b, what):
    assert data_equivalence(a, b, exact=True), f"{what}:\nnative {a}\nsync   {b}"


def _compare_step(native, sync, t):
    out_n = native.step(NO_QUOTE)
    out_s = sync.step(NO_QUOTE)
    for name, x, y in zip(("obs", "reward", "terminated", "truncated", "infos"), out_n, out_s, strict=True):
        _same(x, y, f"step {t} {name}")
    return out_n


@pytest.mark.parametrize("max_episode_steps", [None, 3])
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED])
def test_native_vector_env_matches_sync_vector_env(mode, max_episode_steps):
    native, sync = _pair(mode, max_episode_steps)
    assert native.metadata["autoreset_mode"] == mode
    for x, y in zip(native.reset(seed=4), sync.reset(seed=4), strict=True):
        _same(x, y, "reset")
    ends = 0
    for t in range(16):
        if t == 2:  # desynchronise: restart sub-env 0 alone
            mask = np.array([True, False, False])
            for x, y in zip(
                native.reset(options={"reset_mask": mask}),
                sync.reset(options={"reset_mask": mask.copy()}),
                strict=True,
            ):
                _same(x, y, "partial reset")
        _, _, term, trunc, _ = _compare_step(native, sync, t)
        done = term | trunc
        ends += int(done.sum())
        if mode == AutoresetMode.DISABLED and done.any():
            for x, y in zip(
                native.reset(options={"reset_mask": done.copy()}),
                sync.reset(options={"reset_mask": done.copy()}),
                strict=True,
            ):
                _same(x, y, "reset of the finished sub-envs")
    assert ends >= 6  # several episodes ended, at different steps


def test_disabled_mode_refuses_to_step_a_finished_sub_env():
    native, _ = _pair(AutoresetMode.DISABLED)
    native.reset(seed=0)
    for _ in range(5):
        native.step(NO_QUOTE)
    with pytest.raises(ResetNeeded, match="reset_mask"):
        native.step(NO_QUOTE)


def test_reset_mask_resets_only_the_masked_sub_envs_and_is_validated():
    venv = mmenv.MarketMakingVectorEnv(num_envs=4, T=0.1, dt=0.01, info_keys=None)
    venv.reset(seed=1)
    for _ in range(3):
        obs, *_ = venv.step(np.zeros((4, 2), np.float32))
    mask = np.array([False, True, False, True])
    obs2, info = venv.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(obs2[~mask], obs[~mask])
    np.testing.assert_array_equal(venv.core.state.step, [3, 0, 3, 0])
    np.testing.assert_array_equal(info["_time"], mask)
    for bad in (np.array([1, 0, 0, 1]), np.ones(3, bool), np.zeros(4, bool), [True] * 4):
        with pytest.raises(ValueError, match="reset_mask"):
            venv.reset(options={"reset_mask": bad})


def test_autoreset_mode_names_and_errors():
    for name in ("next_step", "SameStep", AutoresetMode.DISABLED):
        assert isinstance(
            mmenv.MarketMakingVectorEnv(num_envs=1, autoreset_mode=name).autoreset_mode, AutoresetMode
        )
    with pytest.raises(ValueError, match="autoreset_mode"):
        mmenv.MarketMakingVectorEnv(num_envs=1, autoreset_mode="sometimes")


def test_max_episode_steps_truncates_and_sets_the_spec():
    venv = gym.make_vec(
        mmenv.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", max_episode_steps=4
    )
    assert venv.spec.max_episode_steps == 4
    venv.reset(seed=0)
    for _ in range(4):
        _, _, term, trunc, _ = venv.step(np.zeros((2, 2), np.float32))
    assert trunc.all() and not term.any()
    plain = gym.make_vec(mmenv.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", T=0.5, dt=0.01)
    assert plain.spec.max_episode_steps == 50  # the horizon T / dt


def test_vector_infos_are_float64_arrays_without_nan():
    venv = mmenv.MarketMakingVectorEnv(num_envs=3, q_max=1.0, action_mode="depth", info_keys=None)
    _, info = venv.reset(seed=0)
    for _ in range(30):
        _, _, _, _, info = venv.step(np.full((3, 2), 0.01))
        for key in mmenv.envs.env.INFO_KEYS:
            assert info[key].dtype == np.float64 and not np.isnan(info[key]).any(), key
            assert info["_" + key].dtype == np.bool_
