"""The env's contract with its callers: arguments, actions, episode end, info, bounds, spec and rendering.

Property tests (hypothesis) draw arguments and actions, including the awkward ones (strings, bools, NaN,
infinities, huge numbers, wrong shapes): the env either refuses them with an error naming the problem or
runs an episode whose accounting stays finite.
"""

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.env_match import check_environments_match
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmenv
from mmenv.config import MarketParams

ENV_ID = mmenv.ENV_ID


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: gym.make(ENV_ID, **kw),
        lambda **kw: gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", **kw),
        lambda **kw: mmenv.MarketMakingEnv(**kw),
    ],
)
def test_unknown_argument_is_a_type_error_naming_it_and_the_valid_ones(make):
    with pytest.raises(TypeError, match=r"unexpected keyword argument .frameskip.; valid arguments.*sigma"):
        make(frameskip=4)


def test_market_arguments_are_known_per_market():
    gym.make(ENV_ID, market="trend", trend=1.0)
    with pytest.raises(TypeError, match="trend"):
        gym.make(ENV_ID, trend=1.0)  # a switch of the trend market, not of the model market


@pytest.mark.parametrize(
    ("field", "value"),
    [("sigma", "2"), ("sigma", True), ("A", False), ("s0", "100"), ("T", None), ("q_max", np.True_)],
)
def test_parameters_of_the_wrong_type_are_refused(field, value):
    with pytest.raises(ValueError, match=rf"{field} must be a real number"):
        gym.make(ENV_ID, **{field: value})


@pytest.mark.parametrize(("field", "value"), [("s0", 1e308), ("sigma", 1e300), ("mu", -1e20), ("A", 1e15)])
def test_overflowing_parameters_are_refused_up_front(field, value):
    with pytest.raises(ValueError, match=rf"{field} must .*1e\+12"):
        gym.make(ENV_ID, **{field: value})


# ------------------------------------------------------------------ actions
@pytest.fixture
def env():
    e = gym.make(ENV_ID).unwrapped
    e.reset(seed=0)
    return e


@pytest.mark.parametrize("shape", [(2, 2), (100_000, 2), (3,), (1, 2), ()])
def test_wrong_action_shapes_are_refused(env, shape):
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        env.step(np.zeros(shape, np.float32))


def test_non_finite_actions_name_the_actual_problem(env):
    with pytest.raises(ValueError, match=r"must be finite: bid of row 0 is inf"):
        env.step(np.array([np.inf, -np.inf], np.float32))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([0.0, np.nan], np.float32))
    depth = gym.make(ENV_ID, action_mode="depth").unwrapped
    depth.reset(seed=0)
    with pytest.raises(ValueError, match=r"ask of row 0 is -inf"):
        depth.step(np.array([0.5, -np.inf]))
    _, _, _, _, info = depth.step(np.array([np.inf, 0.5]))  # +inf: no bid
    assert info["bid"] == -math.inf and info["bought"] == 0.0 and math.isfinite(info["cash"])


def test_vector_env_refuses_wrong_action_shapes():
    venv = mmenv.MarketMakingVectorEnv(num_envs=3)
    venv.reset(seed=0)
    for shape in [(2,), (2, 2), (3, 3), (3, 2, 1)]:
        with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
            venv.step(np.zeros(shape, np.float32))


# ------------------------------------------------------------------ episode end
def test_step_after_termination_or_before_reset_raises():
    env = mmenv.MarketMakingEnv(T=0.02, dt=0.01)
    with pytest.raises(ResetNeeded, match="reset"):
        env.step(np.zeros(2, np.float32))
    env.reset(seed=0)
    env.step(np.zeros(2, np.float32))
    *_, term, _, _ = env.step(np.zeros(2, np.float32))
    assert term
    with pytest.raises(ResetNeeded, match="after the episode ended"):
        env.step(np.zeros(2, np.float32))
    env.reset()
    env.step(np.zeros(2, np.float32))


def test_horizon_is_the_spec_max_episode_steps_without_a_time_limit():
    env = gym.make(ENV_ID, T=0.5, dt=0.01)
    assert env.spec.max_episode_steps == 50 and env.unwrapped.horizon == 50
    assert not any(isinstance(w, gym.wrappers.TimeLimit) for w in _wrappers(env))
    timed = gym.wrappers.TimeAwareObservation(env)
    obs, _ = timed.reset(seed=0)
    assert obs.shape == (5,)
    n = 0
    while True:
        obs, _, term, trunc, _ = timed.step(np.zeros(2, np.float32))
        n += 1
        if term or trunc:
            break
    assert n == 50 and term and not trunc and obs[-1] == 50
    short = gym.make(ENV_ID, max_episode_steps=7)
    assert short.spec.max_episode_steps == 7


def _wrappers(env):
    while isinstance(env, gym.Wrapper):
        yield env
        env = env.env


# ------------------------------------------------------------------ info
def test_info_values_are_numpy_float64_and_equal_states_compare_equal():
    env = gym.make(ENV_ID, q_max=1.0)
    _, info = env.reset(seed=0)
    assert all(type(v) is np.float64 for v in info.values())
    assert info["bid"] == -math.inf and info["ask"] == math.inf  # no quote at reset
    for _ in range(50):
        *_, info = env.step(np.array([-1.0, 1.0], np.float32))
        assert all(type(v) is np.float64 for v in info.values())
    check_environments_match(gym.make(ENV_ID, q_max=1.0), gym.make(ENV_ID, q_max=1.0), num_steps=450, seed=3)


# ------------------------------------------------------------------ spaces
def test_observation_bounds_are_finite_and_honest():
    env = gym.make(ENV_ID, q_max=10.0, T=2.0, sigma=3.0)
    sp = env.observation_space
    np.testing.assert_array_equal(sp.low[[0, 1, 3]], [-10.0, 0.0, 0.0])
    np.testing.assert_array_equal(sp.high[[0, 1, 3]], [10.0, 2.0, 3.0])
    assert np.isfinite(sp.low).all() and np.isfinite(sp.high).all()
    scaled = gym.wrappers.RescaleObservation(env, -np.ones(4, np.float32), np.ones(4, np.float32))
    obs, _ = scaled.reset(seed=0)
    np.testing.assert_allclose(obs[[0, 1, 3]], [0.0, 1.0, 1.0])


def test_normalized_observation_mode():
    env = gym.make(ENV_ID, obs_mode="normalized", q_max=5.0, T=1.0, sigma=2.0, q0=2.5)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs, [0.5, 1.0, 0.0, 1.0])
    raw = gym.make(ENV_ID, q_max=5.0, T=1.0, sigma=2.0, q0=2.5)
    raw.reset(seed=0)
    a = np.array([0.1, -0.2], np.float32)
    for _ in range(20):
        o, *_ = env.step(a)
        r, *_ = raw.step(a)
        np.testing.assert_allclose(o, r / np.array([5.0, 1.0, 2.0, 2.0], np.float32), rtol=1e-6)
        assert env.observation_space.contains(o)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    with pytest.raises(ValueError, match="q_max"):
        gym.make(ENV_ID, obs_mode="normalized", q_max=math.inf)


# ------------------------------------------------------------------ rendering
def test_rgb_array_render_and_checker():
    env = gym.make(ENV_ID, render_mode="rgb_array", T=0.05, dt=0.01)
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    for _ in range(5):
        env.step(env.action_space.sample())
    frame2 = env.render()
    assert frame2.shape == frame.shape and not np.array_equal(frame, frame2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=False)


def test_sb3_make_vec_env_probes_render_mode():
    env_util = pytest.importorskip("stable_baselines3.common.env_util")
    venv = env_util.make_vec_env(ENV_ID, n_envs=2, seed=0)
    obs = venv.reset()
    assert obs.shape == (2, 4)
    venv.step(np.zeros((2, 2), np.float32))


# ------------------------------------------------------------------ properties
_reals = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(["s0", "sigma", "A", "k", "mu", "q0", "q_max", "order_size", "fee_rate"]),
    value=_reals,
)
def test_any_parameter_value_is_refused_by_name_or_runs_finite(field, value):
    kw = {"T": 0.05, "dt": 0.01, field: value}
    try:
        env = mmenv.MarketMakingEnv(**kw)
    except ValueError as e:
        assert field in str(e)
        return
    assert isinstance(getattr(env.params, field), (int, float)) and not isinstance(
        getattr(env.params, field), bool
    )
    env.reset(seed=0)
    for _ in range(5):
        _, r, *_, info = env.step(np.zeros(2, np.float32))
        assert math.isfinite(r) and math.isfinite(info["equity"])


_action_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.just(np.inf))


@settings(max_examples=80, deadline=None)
@given(
    mode=st.sampled_from(["normalized", "depth"]),
    actions=st.lists(st.tuples(_action_values, _action_values), min_size=1, max_size=10),
)
def test_any_action_is_refused_with_a_reason_or_keeps_the_accounting_finite(mode, actions):
    env = mmenv.MarketMakingEnv(action_mode=mode, T=0.1, dt=0.01)
    env.reset(seed=1)
    for a in actions:
        a = np.array(a, dtype=np.float64)
        try:
            _, r, term, _, info = env.step(a)
        except ValueError as e:
            assert "NaN" in str(e) or "finite" in str(e)
            assert np.isnan(a).any() or (np.isneginf(a).any() if mode == "depth" else np.isinf(a).any())
            continue
        assert math.isfinite(r) and math.isfinite(info["cash"]) and math.isfinite(info["equity"])
        if term:
            break


def test_market_params_type_checks_directly():
    with pytest.raises(ValueError, match="sigma must be a real number"):
        MarketParams(sigma="2")
    MarketParams(sigma=np.float32(2.0), A=np.int64(140))
