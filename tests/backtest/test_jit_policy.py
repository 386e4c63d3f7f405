"""A compiled policy (:class:`mmenv.sim.jit_policy.JitPolicy`) in the tick backtester: the compiled loop calls
it inside the loop, the reference loop calls its Python function; both give the same records, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents import GLFTAgent
from mmenv.backtest import BacktestConfig, QuoteRule, backtest
from mmenv.jit import njit
from mmenv.sim import jit_policy as jp
from mmenv.sim.jit_policy import JitPolicy
from tests.backtest.test_backtest import assert_same, make_stream


@njit(cache=True)
def ema_skew(state, features, params, memory, out):
    """params[0] each side, skewed by inventory, the mid's distance from its EMA, a feature, own quotes."""
    if memory[1] == 0.0:
        memory[0], memory[1] = state[jp.J_MID], 1.0
    else:
        memory[0] += params[1] * (state[jp.J_MID] - memory[0])
    memory[2] += 1.0
    skew = 0.01 * state[jp.J_Q] / state[jp.J_Q_MAX] + (state[jp.J_MID] - memory[0])
    skew += 1e-3 * (state[jp.J_TAU] + state[jp.J_BID_IN_FLIGHT]) + 1e-4 * (state[jp.J_MID] - state[jp.J_S0])
    if features.shape[0] > 0:
        skew -= features[0]
    if state[jp.J_OWN_BID] == state[jp.J_OWN_BID]:  # a live bid: lean on it
        skew += 1e-3 * (state[jp.J_MID] - state[jp.J_OWN_BID]) * state[jp.J_OWN_BID_LEFT]
    out[0] = params[0] + skew
    out[1] = params[0] - skew
    if memory[2] % 7.0 == 0.0:  # every 7th decision withdraws the ask (NaN) or the bid (+inf)
        out[1] = math.nan
    elif memory[2] % 11.0 == 0.0:
        out[0] = math.inf


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"latency": 0.03, "decision_interval": 0.015, "q_max": 3.0},
        {"reprice_on_quotes": False, "fee_per_unit": 0.001, "share": 0.3},
        {"fill_capacity": 8, "state_capacity": 8, "chunk_size": 37, "record_every": 3},
    ],
)
@pytest.mark.parametrize("with_features", [False, True])
def test_user_policy_compiled_equals_reference(kw, with_features):
    stream = make_stream(500, seed=3)
    cfg = BacktestConfig(q_max=kw.pop("q_max", 5.0), order_size=1.0, horizon=2.0, sigma=0.3, **kw)
    feats = np.random.default_rng(1).normal(0.0, 0.01, (len(stream), 2)) if with_features else None
    pol = JitPolicy(ema_skew, params=[0.05, 0.1], memory_size=3)
    fast = backtest(pol, stream, cfg, features=feats)
    ref = backtest(pol, stream, cfg, path="reference", features=feats)
    assert_same(fast, ref)
    assert len(fast.fills) > 10 and fast.strategy == "ema_skew"
    # memory starts at zero on every run: a second run gives the same records
    assert_same(fast, backtest(pol, stream, cfg, features=feats))


@njit(cache=True)
def fixed_depth(state, features, params, memory, out):
    """params[0] on each side of the mid (the naive rule)."""
    out[0] = params[0]
    out[1] = params[0]


def test_policy_equals_the_rule_it_restates():
    """The naive rule as a user policy gives the records of the built-in rule's compiled path, bit for bit."""
    stream = make_stream(400, seed=6)
    cfg = BacktestConfig(q_max=3.0, order_size=1.0, latency=0.02, decision_interval=0.015)
    rule = backtest(QuoteRule("naive", depth=0.04), stream, cfg)
    pol = backtest(JitPolicy(fixed_depth, params=[0.04]), stream, cfg)
    assert_same(rule, pol)


def test_features_reach_the_policy():
    stream = make_stream(300, seed=4)
    cfg = BacktestConfig(q_max=5.0, order_size=1.0)
    pol = JitPolicy(ema_skew, params=[0.05, 0.1], memory_size=3)
    base = backtest(pol, stream, cfg)
    shifted = backtest(pol, stream, cfg, features=np.full((len(stream), 1), 0.02))
    assert not np.array_equal(base.states["bid"], shifted.states["bid"], equal_nan=True)


def test_glft_compiled_form_equals_its_python_quote():
    """GLFT's compiled form (agents.compiled.glft_policy) reads inventory in lots of the backtest's order size;
    with order_size = 1 that is the inventory its Python ``quote`` reads, so the two paths agree bit for bit."""
    stream = make_stream(600, seed=5)
    cfg = BacktestConfig(q_max=4.0, order_size=1.0, sigma=0.3, latency=0.01, allow_withdraw=True)
    agent = GLFTAgent(gamma=0.5, A=7.0, k=20.0, sigma=0.3, q_max=4.0, order_size=1.0)
    fast = backtest(agent, stream, cfg, path="fast")
    ref = backtest(agent, stream, cfg, path="reference")
    assert fast.n_decisions == ref.n_decisions and len(fast.fills) > 10
    np.testing.assert_array_equal(fast.fills, ref.fills)
    np.testing.assert_array_equal(fast.states["equity"], ref.states["equity"])


def test_bad_features_raise():
    stream = make_stream(50)
    pol = JitPolicy(ema_skew, params=[0.05, 0.1], memory_size=3)
    with pytest.raises(ValueError, match="features has 49 rows, not 50"):
        backtest(pol, stream, features=np.zeros((49, 1)))
    with pytest.raises(ValueError, match="features must be a 2-D array"):
        backtest(pol, stream, features=np.zeros(50))
    chunks = [stream.slice(0, 25), stream.slice(25, 50)]
    for path in ("fast", "reference"):
        with pytest.raises(ValueError, match="fewer than the stream's events"):
            backtest(pol, iter(chunks), path=path, features=np.zeros((30, 1)))
    with pytest.raises(ValueError, match="features are given to a compiled policy"):
        backtest(QuoteRule("naive", depth=0.1), stream, features=np.zeros((50, 1)))
