"""Tests of the GLFT closed-form quotes and the exact CJP optimum (agents/optimal.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm

from agents import POLICIES, make_policy
from agents.base import QuoteState
from agents.optimal import CJPAgent, GLFTAgent, cjp_generator, solve_cjp
from mmenv.envs.rollout import rollout


def _state(q, tau=1.0, sigma=2.0):
    q = np.asarray(q, dtype=float)
    one = np.ones_like(q)
    return QuoteState(q=q, tau=tau * one, mid=100.0 * one, sigma=sigma * one, s0=100.0 * one)


# ---------------------------------------------------------------- GLFT
def test_glft_closed_form_values():
    g, A, k, sigma = 0.1, 140.0, 1.5, 2.0
    agent = GLFTAgent(gamma=g, A=A, k=k, sigma=sigma, q_max=25)
    c1 = math.log(1 + g / k) / g
    c2 = math.sqrt(sigma**2 * g / (2 * A * k) * (1 + g / k) ** (1 + k / g))
    q = np.array([-3.0, 0.0, 4.0])
    bid, ask = agent.quote(_state(q))
    np.testing.assert_allclose(bid, c1 + (2 * q + 1) / 2 * c2, rtol=1e-12)
    np.testing.assert_allclose(ask, c1 - (2 * q - 1) / 2 * c2, rtol=1e-12)


def test_glft_symmetry_skew_and_bounds():
    agent = GLFTAgent(gamma=0.5, q_max=5)
    q = np.arange(-5.0, 6.0)
    bid, ask = agent.quote(_state(q))
    assert bid[-1] == np.inf and ask[0] == np.inf
    assert np.all(np.isfinite(bid[:-1])) and np.all(np.isfinite(ask[1:]))
    np.testing.assert_allclose(bid[:-1], ask[1:][::-1], rtol=1e-12)  # delta_b(q) = delta_a(-q)
    assert np.all(np.diff(bid[:-1]) > 0) and np.all(np.diff(ask[1:]) < 0)


def test_glft_gamma_zero_limit_is_one_over_k():
    k = 1.5
    bid0, ask0 = GLFTAgent(gamma=0.0, k=k).quote(_state([0.0, 3.0]))
    np.testing.assert_allclose(bid0, 1 / k)
    np.testing.assert_allclose(ask0, 1 / k)
    bid_small, _ = GLFTAgent(gamma=1e-6, k=k).quote(_state([0.0]))
    assert abs(bid_small[0] - 1 / k) < 1e-3


def test_glft_reads_sigma_from_state():
    agent = GLFTAgent(gamma=0.1)
    lo, _ = agent.quote(_state([2.0], sigma=1.0))
    hi, _ = agent.quote(_state([2.0], sigma=3.0))
    assert hi[0] > lo[0]


# ---------------------------------------------------------------- CJP
def test_generator_is_symmetric_tridiagonal():
    m = cjp_generator(A=140.0, k=1.5, phi=0.2, n_q=3)
    assert m.shape == (7, 7)
    np.testing.assert_allclose(m, m.T)
    np.testing.assert_allclose(np.diag(m), -1.5 * 0.2 * np.arange(-3, 4) ** 2)
    np.testing.assert_allclose(np.diag(m, 1), 140.0 / math.e)
    assert np.count_nonzero(np.triu(m, 2)) == 0


def test_solve_matches_direct_matrix_exponential():
    A, k, phi, alpha, n_q, T, dt = 140.0, 1.5, 0.2, 0.1, 10, 1.0, 0.01
    h = solve_cjp(A, k, phi, alpha, n_q, T, dt)
    q = np.arange(-n_q, n_q + 1)
    z = np.exp(-k * alpha * q**2)
    for tau in (0.0, 0.37, 1.0):
        direct = np.log(expm(cjp_generator(A, k, phi, n_q) * tau) @ z) / k
        np.testing.assert_allclose(h[round(tau / dt)], direct, rtol=1e-9, atol=1e-9)


def test_no_penalty_gives_one_over_k_and_known_value():
    # phi = alpha = 0 on a wide grid: omega ~ exp(2 A tau / e), h(tau, 0) = 2 A tau / (e k), delta = 1/k.
    A, k = 140.0, 1.5
    agent = CJPAgent(phi=0.0, alpha=0.0, A=A, k=k, T=0.05, dt=0.01, q_max=200)
    assert agent.value(0.0) == pytest.approx(2 * A * 0.05 / (math.e * k), rel=1e-9)
    bid, ask = agent.quote(_state([0.0, 5.0], tau=0.05))
    np.testing.assert_allclose(bid, 1 / k, atol=1e-9)
    np.testing.assert_allclose(ask, 1 / k, atol=1e-9)


def test_cjp_quotes_shape_symmetry_and_bounds():
    agent = CJPAgent(phi=0.2, alpha=0.1, q_max=5, dt=0.01)
    q = np.arange(-5.0, 6.0)
    bid, ask = agent.quote(_state(q, tau=0.5))
    assert bid[-1] == np.inf and ask[0] == np.inf
    np.testing.assert_allclose(bid[:-1], ask[1:][::-1], rtol=1e-10)
    assert np.all(np.diff(bid[:-1]) > 0)  # long inventory: the bid moves away
    # Look-up by time: tau is rounded to the grid; tau beyond T uses T.
    b1, _ = agent.quote(_state([1.0], tau=0.5 + 0.004))
    b2, _ = agent.quote(_state([1.0], tau=5.0))
    b3, _ = agent.quote(_state([1.0], tau=1.0))
    assert b1[0] == bid[6] and b2[0] == b3[0]


def test_cjp_long_horizon_does_not_overflow():
    agent = CJPAgent(phi=0.01, alpha=0.0, A=140.0, k=1.5, T=500.0, dt=1.0, q_max=25)
    assert np.isfinite(agent.h).all()
    assert np.isfinite(agent.value(0.0))


def test_cjp_order_size_scaling():
    # Orders of 2 units with Q = 10 are the unit problem on q / 2 with k / 2, phi * 4 ... checked through
    # the value: a lot of Delta units earns Delta * delta per fill.
    unit = CJPAgent(phi=0.0, alpha=0.0, k=1.5, T=0.05, dt=0.01, q_max=400)
    lots = CJPAgent(phi=0.0, alpha=0.0, k=1.5, T=0.05, dt=0.01, q_max=400, order_size=2.0)
    assert lots.value(0.0) == pytest.approx(2 * unit.value(0.0), rel=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"phi": -1.0},
        {"alpha": -0.1},
        {"q_max": 2.5},
        {"q_max": math.inf},
        {"T": 1.0, "dt": 0.3},
        {"A": 0.0},
    ],
)
def test_cjp_bad_input(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name if name != "T" else "T / dt"):
        CJPAgent(**kwargs)


def test_registered():
    assert POLICIES["glft"] is GLFTAgent and POLICIES["optimal"] is CJPAgent
    assert isinstance(make_policy("optimal", phi=0.1, dt=0.01), CJPAgent)


# ------------------------------------------------- value vs the env's penalized reward
ENV = dict(reward="penalized", phi=0.2, alpha=0.1, q_max=10, fill_model="exponential", A=140.0, k=1.5)


def _mc(dt: float, paths: int, seed: int) -> tuple[float, float, CJPAgent]:
    agent = CJPAgent(phi=0.2, alpha=0.1, q_max=10, dt=dt)
    ro = rollout(agent, paths, seed, dt=dt, **ENV)
    total = ro.reward.sum(axis=1)
    return float(total.mean()), float(total.std(ddof=1) / math.sqrt(paths)), agent


def test_env_reward_equals_exact_discrete_value():
    """The env's mean penalized reward is the policy's exact discrete-time value (no bias, 4 SE)."""
    mean, se, agent = _mc(0.01, 3000, seed=11)
    v_disc = agent.discrete_value()[agent.n_q]
    assert abs(mean - v_disc) < 4 * se, (mean, v_disc, se)


def test_discretisation_bias_is_first_order():
    """ODE value - discrete value = O(dt): halving dt about halves the gap (per-step fill 1 - e^{-lambda dt})."""
    gaps = []
    for dt in (0.01, 0.005, 0.0025):
        agent = CJPAgent(phi=0.2, alpha=0.1, q_max=10, dt=dt)
        gaps.append(agent.value(0.0) - agent.discrete_value()[agent.n_q])
    assert all(g > 0 for g in gaps)  # fewer fills per step than the continuous model
    assert 1.7 < gaps[0] / gaps[1] < 2.3 and 1.7 < gaps[1] / gaps[2] < 2.3


@pytest.mark.slow
def test_ode_value_matches_monte_carlo_at_two_dt():
    """MC mean reward vs the ODE value h(0, 0): tolerance = 4 MC SE + the bias measured at that dt.

    The bias (ODE value minus the exact discrete value of the same policy) is measured at dt and dt/2 and
    must shrink by about 2 (first order); Richardson extrapolation of the two MC means to dt -> 0 lands on
    the ODE value within 4 SE plus the second-order remainder measured from the discrete values.
    """
    results = {}
    for dt in (0.005, 0.0025):
        mean, se, agent = _mc(dt, 6000, seed=5)
        bias = agent.value(0.0) - agent.discrete_value()[agent.n_q]
        assert abs(mean - (agent.value(0.0) - bias)) < 4 * se
        results[dt] = (mean, se, bias, agent.value(0.0))
    (m1, s1, b1, v), (m2, s2, b2, _) = results[0.005], results[0.0025]
    assert 1.7 < b1 / b2 < 2.3
    extrap = 2 * m2 - m1
    remainder = abs(b1 - 2 * b2)  # second-order term left by Richardson on the exact discrete values
    assert abs(extrap - v) < 4 * math.hypot(2 * s2, s1) + remainder


def test_matrix_exponential_is_scipys_and_fma_free():
    """The CJP value function's exp(M dt) (a fixed-order product, no BLAS: the same bits on every CPU)
    agrees with scipy's expm; its loops contain no fused multiply-add."""
    import numba as nb
    from scipy.linalg import expm

    from agents.optimal import _expm, _matmul

    for phi, n_q, dt in ((0.2, 5, 0.01), (2.0, 25, 0.005), (0.01, 25, 1.0)):
        g = cjp_generator(140.0, 1.5, phi, n_q, 0.0, 1.0) * dt
        c = g.diagonal().min()
        got = _expm(g - c * np.eye(g.shape[0])) * np.exp(c)
        np.testing.assert_allclose(got, expm(g), rtol=1e-10, atol=1e-14 * np.abs(expm(g)).max())
    fresh = nb.njit(_matmul.py_func)  # an uncached compilation (cached code has no asm to inspect)
    fresh(np.ones((3, 3)), np.ones((3, 1)))
    asm = "".join(fresh.inspect_asm().values()).lower()
    assert "mulsd" in asm or "vmulpd" in asm or "vmulsd" in asm
    assert "vfmadd" not in asm and "vfmsub" not in asm and "vfnmadd" not in asm
