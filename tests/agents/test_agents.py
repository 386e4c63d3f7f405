import math

import numpy as np
import pytest

from agents import (
    AvellanedaStoikovAgent,
    NaiveAgent,
    PassiveAgent,
    Policy,
    QuoteState,
    SymmetricAgent,
    TrendFollowingAgent,
    make_policy,
)
from mmenv.engine import MarketMakingEngine


def _state(q, tau=0.5, mid=100.0, sigma=2.0, s0=100.0):
    q = np.atleast_1d(np.asarray(q, float))
    n = q.size
    return QuoteState(q, np.full(n, tau), np.full(n, mid), np.full(n, sigma), np.full(n, s0))


def test_all_policies_follow_the_protocol():
    for name in ["as", "symmetric", "naive", "passive", "trend"]:
        p = make_policy(name)
        assert isinstance(p, Policy)
        p.reset(3)
        db, da = p.quote(_state([0.0, 1.0, -1.0]))
        assert db.shape == da.shape == (3,)
        assert p.act(np.array([0.0, 0.5, 0.0, 2.0], np.float32)).shape == (2,)
    with pytest.raises(ValueError, match="strategy"):
        make_policy("martingale")


def test_as_agent_equals_engine_quotes():
    agent = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    eng = MarketMakingEngine(gamma=0.1, sigma=2.0, k=1.5, T=1.0)
    st = _state([-3.0, 0.0, 5.0], tau=0.4, mid=101.0)
    db, da = agent.quote(st)
    bid, ask = eng.quotes(101.0, st.q, 0.6)
    np.testing.assert_allclose(101.0 - db, bid)
    np.testing.assert_allclose(101.0 + da, ask)
    # long inventory: sell more eagerly (smaller ask depth), buy less (larger bid depth)
    assert da[2] < da[1] < da[0] and db[2] > db[1] > db[0]


def test_symmetric_and_naive_ignore_inventory():
    st = _state([-5.0, 0.0, 5.0])
    for agent in (SymmetricAgent(gamma=0.1, k=1.5), NaiveAgent(depth=0.4)):
        db, da = agent.quote(st)
        np.testing.assert_array_equal(db, da)
        assert np.ptp(db) == 0.0
    db, _ = SymmetricAgent(gamma=0.1, k=1.5, time_term=False).quote(st)
    assert db[0] == pytest.approx(math.log1p(0.1 / 1.5) / 0.1)


def test_passive_constant_product_prices():
    L, fee = 100.0, 0.003
    agent = PassiveAgent(liquidity=L, fee=fee)
    bid, ask = agent.pool_prices(np.array([0.0]), np.array([100.0]))
    x0 = L / 10.0
    y0 = L * 10.0
    # Uniswap v2: the fee is taken from the trader's input before the invariant x y = L^2 is applied
    assert bid[0] == pytest.approx(y0 - L**2 / (x0 + (1 - fee)))
    assert ask[0] == pytest.approx((L**2 / (x0 - 1) - y0) / (1 - fee))
    # the trader selling 1 unit gets y0 - y1 with (x0 + (1 - fee)) y1 = L^2: the invariant holds net of fee
    y1 = y0 - bid[0]
    assert (x0 + (1 - fee)) * y1 == pytest.approx(L**2)
    assert bid[0] < 100.0 < ask[0]
    # after buying (q > 0) the pool price falls: both quotes lower, independent of the market mid
    bid2, ask2 = agent.pool_prices(np.array([2.0]), np.array([100.0]))
    assert bid2[0] < bid[0] and ask2[0] < ask[0]
    db, da = agent.quote(_state([2.0], mid=105.0))
    assert 105.0 - db[0] == pytest.approx(bid2[0])
    with pytest.raises(ValueError, match="fee"):
        PassiveAgent(fee=1.5)


def test_trend_agent_leans_with_momentum_and_restarts():
    agent = TrendFollowingAgent(half_spread=0.5, beta=2.0, lam=0.5)
    agent.reset(1)
    agent.quote(_state([0.0], tau=1.0, mid=100.0))
    db, da = agent.quote(_state([0.0], tau=0.9, mid=101.0))  # rise: m = 0.5
    assert db[0] == pytest.approx(0.5 - 1.0) and da[0] == pytest.approx(0.5 + 1.0)
    db, da = agent.quote(_state([0.0], tau=1.0, mid=100.0))  # new episode (tau went up): momentum reset
    assert db[0] == da[0] == pytest.approx(0.5)
