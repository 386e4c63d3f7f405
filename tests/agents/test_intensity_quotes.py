"""Tests of agents.intensity_quotes: AS-style, GLFT-style and exact quotes for a fitted intensity law."""

from __future__ import annotations

import numpy as np
import pytest

from agents.avellaneda_stoikov import AvellanedaStoikovAgent
from agents.exact_optimum import ExactOptimumAgent
from agents.intensity_quotes import IntensityASAgent, IntensityGLFTAgent, local_decay, policies_for
from agents.optimal import GLFTAgent
from mmenv.calibration.intensity.likelihood import fit_law
from mmenv.calibration.intensity.tape import REFERENCE_LEVELS, REFERENCE_TICK, reference_law, simulate_tape
from mmenv.policy import QuoteState

A, K = 140.0, 1.5


def _exp(d: np.ndarray) -> np.ndarray:
    return A * np.exp(-K * np.asarray(d, dtype=np.float64))


def _state(q: np.ndarray, tau: float = 0.6, sigma: float = 2.0) -> QuoteState:
    n = q.size
    return QuoteState(
        q=q, tau=np.full(n, tau), mid=np.full(n, 100.0), sigma=np.full(n, sigma), s0=np.full(n, 100.0)
    )


def test_as_style_reduces_to_the_closed_form_for_the_exponential() -> None:
    q = np.array([-5.0, -1.0, 0.0, 2.0, 4.0])
    for gamma in (0.1, 0.01, 1e-14):
        ref = AvellanedaStoikovAgent(gamma=gamma, k=K, sigma=2.0).quote(_state(q))
        got = IntensityASAgent(_exp, gamma=gamma, sigma=2.0, min_depth=-5.0, max_depth=10.0).quote(_state(q))
        assert got[0] == pytest.approx(ref[0], abs=1e-6) and got[1] == pytest.approx(ref[1], abs=1e-6)
    assert local_decay(_exp, np.array([0.3, 2.0])) == pytest.approx([K, K], rel=1e-8)


def test_glft_style_reduces_to_the_closed_form_for_the_exponential() -> None:
    g = IntensityGLFTAgent(_exp, gamma=0.1, sigma=2.0)
    assert g.k == pytest.approx(K, rel=1e-8) and g.A == pytest.approx(A, rel=1e-6)
    q = np.array([-3.0, 0.0, 3.0])
    ref = GLFTAgent(gamma=0.1, A=A, k=K, sigma=2.0).quote(_state(q))
    got = g.quote(_state(q))
    assert got[0] == pytest.approx(ref[0], rel=1e-6) and got[1] == pytest.approx(ref[1], rel=1e-6)


def test_policies_from_a_fitted_two_part_law() -> None:
    law, theta = reference_law("two_part")
    tape = simulate_tape(
        law, theta, 1000.0, np.random.default_rng(0), levels=REFERENCE_LEVELS, tick=REFERENCE_TICK
    )
    fit = fit_law(tape.window(), "two_part")
    pol = policies_for(fit, gamma=50.0, sigma=0.01, time_unit_s=60.0, q_max=5.0, exact={"T": 1.0, "dt": 0.1})
    assert isinstance(pol["as"], IntensityASAgent) and isinstance(pol["glft"], IntensityGLFTAgent)
    assert isinstance(pol["exact"], ExactOptimumAgent)
    q = np.array([-2.0, 0.0, 2.0])
    for name, p in pol.items():
        bid, ask = p.quote(_state(q, tau=0.5, sigma=0.01 * np.sqrt(60.0)))
        assert np.isfinite(bid).all() and np.isfinite(ask).all(), name
        assert bid[0] <= bid[2] + 1e-12 and ask[0] >= ask[2] - 1e-12, name  # long inventory: bid deeper
    # the exact optimum of the pnl reward (lambda per minute) earns a positive expected reward
    assert pol["exact"].value() > 0
    exp_fit = fit_law(tape.window(), "exponential")
    closed = policies_for(exp_fit, gamma=50.0, sigma=0.01)
    assert type(closed["as"]) is AvellanedaStoikovAgent and type(closed["glft"]) is GLFTAgent
