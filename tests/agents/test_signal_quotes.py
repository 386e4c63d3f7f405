"""The signal-aware compiled policies of agents.signal_quotes, called with arrays, against the AS and GLFT
agents they extend."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents import AvellanedaStoikovAgent, GLFTAgent
from agents.signal_quotes import (
    J_ASK,
    J_BID,
    J_MID,
    J_Q,
    J_SIGMA,
    J_TAU,
    J_TICK,
    N_STATE,
    SignalQuotes,
    as_micro_policy,
    glft_micro_policy,
    imbalance_policy,
)
from mmenv.engine import liquidity_term
from mmenv.policy import QuoteState, TopOfBook


def state(q=2.0, tau=30.0, mid=100.05, sigma=0.02, bid=100.0, ask=100.1, tick=0.01) -> np.ndarray:
    s = np.full(N_STATE, math.nan)
    s[J_Q], s[J_TAU], s[J_MID], s[J_SIGMA], s[J_BID], s[J_ASK], s[J_TICK] = q, tau, mid, sigma, bid, ask, tick
    return s


def call(fn, st, feats, params):
    """The depths of ``fn`` compiled and of its Python source, which must agree bit for bit."""
    outs = []
    for f in (fn, fn.py_func):
        o = np.full(2, -1.0)
        f(st, np.asarray(feats, np.float64), np.asarray(params, np.float64), np.zeros(0), o)
        outs.append(o)
    np.testing.assert_array_equal(outs[0], outs[1])
    return outs[0]


@pytest.mark.parametrize("q", [-3.0, 0.0, 2.0])
def test_as_micro_on_the_mid_is_the_as_agent(q):
    gamma, k = 0.8, 15.0
    ag = AvellanedaStoikovAgent(gamma=gamma, k=k, s0=100.0)
    st = state(q=q)
    want = ag.quote(
        QuoteState(np.array([q]), np.array([30.0]), np.array([100.05]), np.array([0.02]), np.array([100.0]))
    )
    got = call(as_micro_policy, st, [], [gamma, liquidity_term(gamma, k), -1.0])
    np.testing.assert_allclose(got, [want[0][0], want[1][0]], rtol=1e-12)


def test_as_micro_shifts_both_quotes_by_the_clipped_micro_price():
    gamma, liq = 0.8, 0.1
    base = call(as_micro_policy, state(), [0.0], [gamma, liq, -1.0])
    up = call(as_micro_policy, state(), [3.0], [gamma, liq, 0.0])  # +3 ticks, inside the 10-tick spread
    np.testing.assert_allclose(up, base + np.array([-0.03, 0.03]), atol=1e-12)
    far = call(as_micro_policy, state(), [40.0], [gamma, liq, 0.0])  # clipped to the ask: +5 ticks
    np.testing.assert_allclose(far, base + np.array([-0.05, 0.05]), atol=1e-12)


@pytest.mark.parametrize("q", [-10.0, -9.0, 0.0, 4.0, 9.0, 10.0])
def test_glft_micro_on_the_mid_is_the_glft_agent(q):
    ag = GLFTAgent(gamma=0.5, A=7.0, k=4.0, sigma=0.02, q_max=10.0, order_size=1.0)
    c1, c2 = ag.coefficients(0.02)
    want = [float(x[0]) for x in ag.quote(QuoteState(np.array([q]), 1.0, 100.0, 0.02, 100.0))]
    got = call(glft_micro_policy, state(q=q), [], [c1, float(c2), 10.0, -1.0])
    np.testing.assert_allclose(np.where(np.isnan(got), np.inf, got), want, rtol=1e-12)


def test_imbalance_skews_and_withdraws_beyond_theta():
    gamma, liq = 0.8, 0.1
    p = [gamma, liq, 0.0, 0.02, 0.05]  # beta 0.02 per unit of the signal, theta 0.05
    flat = call(imbalance_policy, state(q=0.0), [0.0], p)
    np.testing.assert_allclose(flat, call(as_micro_policy, state(q=0.0), [], [gamma, liq, -1.0]))
    skew = call(imbalance_policy, state(q=0.0), [1.0], p)  # alpha = 0.02 < theta: both sides, shifted up
    np.testing.assert_allclose(skew, flat + np.array([-0.02, 0.02]), atol=1e-12)
    up = call(imbalance_policy, state(q=0.0), [3.0], [gamma, liq, 0.0, 0.02, 0.05])  # alpha 0.06 > theta
    assert math.isnan(up[1]) and math.isfinite(up[0])
    down = call(imbalance_policy, state(q=0.0), [-3.0], p)
    assert math.isnan(down[0]) and math.isfinite(down[1])
    never = call(imbalance_policy, state(q=0.0), [-3.0], [gamma, liq, 0.0, 0.02, math.nan])
    assert np.isfinite(never).all()


def test_signal_quotes_validates_and_quotes_from_a_quote_state():
    with pytest.raises(ValueError, match="name must be one of"):
        SignalQuotes("micro", {})
    with pytest.raises(ValueError, match="'liquidity' missing"):
        SignalQuotes("as-micro", {"gamma": 1.0, "micro_col": -1})
    with pytest.raises(ValueError, match="beta must be finite"):
        SignalQuotes(
            "imbalance", {"gamma": 1, "liquidity": 0.1, "signal_col": 0, "beta": math.inf, "theta": 1}
        )
    pol = SignalQuotes(
        "imbalance", {"gamma": 0.8, "liquidity": 0.1, "signal_col": 0, "beta": 0.02, "theta": 0.05}
    )
    book = TopOfBook(bid=100.0, bid_size=1.0, ask=100.1, ask_size=1.0, tick=0.01, lot=1.0)
    one = lambda x: np.array([x])  # noqa: E731
    qs = QuoteState(one(0.0), one(30.0), one(100.05), one(0.02), one(100.0), book, features=np.array([-3.0]))
    bid, ask = pol.quote(qs)
    assert bid[0] == math.inf and math.isfinite(ask[0])
    jp = pol.jit_policy()
    assert jp.name == "imbalance" and jp.params.tolist() == pol.params.tolist()
    with pytest.raises(ValueError, match=r"QuoteState\.features is None"):
        pol.quote(qs._replace(features=None))
