import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmenv import MarketMakingEngine
from mmenv.engine import optimal_spread, reservation_price


def test_reservation_price_formula():
    eng = MarketMakingEngine(gamma=0.1, sigma=2.0, k=1.5, T=1.0)
    # r = s - q gamma sigma^2 (T - t)
    assert eng.calculate_reservation_price(100.0, 3.0, 0.25) == pytest.approx(100 - 3 * 0.1 * 4 * 0.75)


def test_optimal_spread_formula_and_paper_value():
    eng = MarketMakingEngine(gamma=0.1, sigma=2.0, k=1.5, T=1.0)
    expected = 0.1 * 4 * 0.5 + (2 / 0.1) * math.log(1 + 0.1 / 1.5)
    assert eng.calculate_optimal_spread(0.5) == pytest.approx(expected)
    # the liquidity term at t = T is the paper's table value 1.29
    assert eng.calculate_optimal_spread(1.0) == pytest.approx(1.2908, abs=1e-4)


def test_gamma_zero_limit():
    eng0 = MarketMakingEngine(gamma=0.0, k=1.5)
    assert eng0.calculate_optimal_spread(0.3) == pytest.approx(2 / 1.5)
    assert eng0.calculate_reservation_price(100.0, 5.0, 0.3) == 100.0
    tiny = MarketMakingEngine(gamma=1e-12, k=1.5)
    assert tiny.calculate_optimal_spread(0.3) == pytest.approx(2 / 1.5, rel=1e-9)


def test_vectorised_matches_scalar():
    eng = MarketMakingEngine(gamma=0.5, sigma=2.0, k=1.5)
    s = np.array([99.0, 100.0, 101.0])
    q = np.array([-2.0, 0.0, 4.0])
    t = np.array([0.0, 0.5, 0.9])
    bid, ask = eng.quotes(s, q, t)
    for i in range(3):
        b, a = eng.quotes(float(s[i]), float(q[i]), float(t[i]))
        assert bid[i] == pytest.approx(b) and ask[i] == pytest.approx(a)


@given(
    s=st.floats(50, 150),
    q=st.floats(-20, 20),
    t=st.floats(0, 1),
    gamma=st.floats(0.001, 2.0),
)
def test_quotes_centred_on_reservation_price(s, q, t, gamma):
    eng = MarketMakingEngine(gamma=gamma, sigma=2.0, k=1.5)
    bid, ask = eng.quotes(s, q, t)
    r = reservation_price(s, q, 1.0 - t, gamma, 2.0)
    assert (bid + ask) / 2 == pytest.approx(r, abs=1e-9)
    assert ask - bid == pytest.approx(optimal_spread(1.0 - t, gamma, 2.0, 1.5), rel=1e-12)


def test_update_inventory_keeps_cash():
    eng = MarketMakingEngine()
    eng.update_inventory("buy", 2.0, 99.5)
    eng.update_inventory(-1, 1.0, 100.5)
    assert eng.q == 1.0
    assert eng.cash == pytest.approx(-2 * 99.5 + 100.5)
    assert eng.mark_to_market(100.0) == pytest.approx(eng.cash + 100.0)
    with pytest.raises(ValueError, match="side"):
        eng.update_inventory("hold", 1.0, 100.0)
    with pytest.raises(ValueError, match="price"):
        eng.update_inventory("buy", 1.0, float("nan"))


def test_infinite_horizon_matches_paper_formula():
    eng = MarketMakingEngine(gamma=0.1, sigma=2.0, k=1.5, horizon="infinite", q_max=10)
    omega = 0.5 * 0.1**2 * 4 * 11**2
    q = 3.0
    g2s2 = 0.1**2 * 4
    r_a = 100 + math.log(1 + (1 - 2 * q) * g2s2 / (2 * omega - g2s2 * q * q)) / 0.1
    r_b = 100 + math.log(1 + (-1 - 2 * q) * g2s2 / (2 * omega - g2s2 * q * q)) / 0.1
    ra, rb = eng.infinite_horizon_reservation_prices(100.0, q)
    assert ra == pytest.approx(r_a) and rb == pytest.approx(r_b)
    bid, ask = eng.quotes(100.0, q, 0.0)
    assert bid < ask
    # long inventory lowers both quotes
    bid0, ask0 = eng.quotes(100.0, 0.0, 0.0)
    assert bid < bid0 and ask < ask0


@pytest.mark.parametrize(("field", "value"), [("gamma", -0.1), ("k", 0.0), ("sigma", math.nan), ("T", 0.0)])
def test_engine_validation(field, value):
    with pytest.raises(ValueError, match=field):
        MarketMakingEngine(**{field: value})
