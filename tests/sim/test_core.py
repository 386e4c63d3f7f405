import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmenv.config import MarketParams
from mmenv.markets import ModelMarket
from mmenv.sim.core import SimulationCore
from mmenv.sim.fills import match_and_settle
from mmenv.sim.shard_choice import ShardChoice
from mmenv.sim.shards import get_num_threads, set_num_threads

INF = math.inf


def _core(n, **kw):
    p = MarketParams(**{"q_max": INF, **kw})
    return SimulationCore.from_params(ModelMarket(p, n), p)


def test_fill_rule_and_accounting():
    # bid at 99 hit (sellers reached depth 1.2 >= 1.0), ask at 101.5 not lifted (buyers reached 1.0 < 1.5)
    q, cash, b, s, fees, bp, ap = match_and_settle(
        0.0, 0.0, 100.0, 1.0, 1.5, 1.2, 1.0, INF, INF, 10.0, 2.0, 0.01, 0.001
    )
    assert (b, s) == (2.0, 0.0)
    assert (bp, ap) == (99.0, 101.5)
    assert fees == pytest.approx(0.01 * 2 + 0.001 * 2 * 99.0)
    assert q == 2.0
    assert cash == pytest.approx(-2 * 99.0 - fees)


def test_hard_limit_withdraws_quotes():
    # at q = q_max the bid is not live and never fills; the ask still is
    q, cash, b, s, _, bp, ap = match_and_settle(
        10.0, 0.0, 100.0, 0.1, 0.1, 5.0, 5.0, INF, INF, 10.0, 1.0, 0.0, 0.0
    )
    assert math.isnan(bp) and b == 0.0 and s == 1.0 and q == 9.0
    q, cash, b, s, _, bp, ap = match_and_settle(
        -10.0, 0.0, 100.0, 0.1, 0.1, 5.0, 5.0, INF, INF, 10.0, 1.0, 0.0, 0.0
    )
    assert math.isnan(ap) and s == 0.0 and b == 1.0 and q == -9.0


def test_nan_depth_means_no_quote_and_partial_fill():
    q, cash, b, s, _, bp, ap = match_and_settle(
        0.0, 0.0, 100.0, math.nan, 0.5, 9.0, 9.0, INF, 0.3, 10.0, 1.0, 0.0, 0.0
    )
    assert math.isnan(bp) and b == 0.0
    assert s == pytest.approx(0.3) and cash == pytest.approx(0.3 * 100.5)


finite = st.floats(-5, 5, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    q=st.floats(-10, 10),
    db=finite,
    da=finite,
    rb=finite,
    ra=finite,
    size=st.floats(0.1, 3),
    fpu=st.floats(-0.01, 0.01),
    frate=st.floats(-1e-3, 1e-3),
)
def test_reference_equals_compiled_and_limit_holds(q, db, da, rb, ra, size, fpu, frate):
    args = (q, 0.0, 100.0, db, da, rb, ra, INF, INF, 10.0, size, fpu, frate)
    fast = match_and_settle(*args)
    ref = match_and_settle.py_func(*args)
    np.testing.assert_array_equal(np.array(fast), np.array(ref))
    q1, cash1, bought, sold, fees, bp, ap = fast
    assert abs(q1) <= max(10.0, abs(q)) + 1e-9
    if abs(q) <= 10.0:
        assert abs(q1) <= 10.0 + 1e-9
    flow = (sold * ap if sold else 0.0) - (bought * bp if bought else 0.0)
    assert cash1 == pytest.approx(flow - fees, abs=1e-9)
    assert q1 == pytest.approx(q + bought - sold)


@pytest.mark.parametrize("fill_model", ["exponential", "linear"])
@pytest.mark.parametrize("depth", [0.3, 1.0, 2.5])
def test_fill_probability_matches_intensity(fill_model, depth):
    n = 200_000
    core = _core(n, fill_model=fill_model)
    rng = np.random.default_rng(1)
    core.reset(rng)
    res = core.step(np.full(n, depth), np.full(n, depth), rng)
    lam_dt = 140.0 * math.exp(-1.5 * depth) * 0.005
    p = 1 - math.exp(-lam_dt) if fill_model == "exponential" else min(lam_dt, 1.0)
    se = math.sqrt(p * (1 - p) / n)
    for filled in (res.bought > 0, res.sold > 0):
        assert abs(filled.mean() - p) < 4 * se
    # bid and ask sides are independent: P(both) = p^2
    both = ((res.bought > 0) & (res.sold > 0)).mean()
    assert abs(both - p * p) < 4 * math.sqrt(p * p * (1 - p * p) / n)


@pytest.mark.parametrize("mid_model", ["brownian", "binomial"])
def test_mid_increments_have_model_moments(mid_model):
    n = 100_000
    core = _core(n, mid_model=mid_model, mu=3.0)
    rng = np.random.default_rng(2)
    core.reset(rng)
    res = core.step(np.full(n, 1.0), np.full(n, 1.0), rng)
    dx = res.mid_after - res.mid_before
    dt, sigma = 0.005, 2.0
    assert abs(dx.mean() - 3.0 * dt) < 4 * sigma * math.sqrt(dt / n)
    # variance of the sample variance: (m4 - s^4)/n; m4 = 3 s^4 (normal) or s^4 (binomial)
    s2 = sigma**2 * dt
    if mid_model == "brownian":
        assert abs(dx.var() - s2) < 4 * math.sqrt(2 * s2**2 / n)
    else:
        np.testing.assert_allclose(np.abs(dx - 3.0 * dt), sigma * math.sqrt(dt), rtol=1e-9)


def test_same_seed_same_paths_bit_for_bit():
    out = []
    for _ in range(2):
        core = _core(50)
        rng = np.random.default_rng(123)
        core.reset(rng)
        for _ in range(30):
            core.step(np.full(50, 0.7), np.full(50, 0.7), rng)
        out.append((core.state.q.copy(), core.state.cash.copy(), core.market.mid.copy()))
    for a, b in zip(out[0], out[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_linear_fill_clipping_warns_once():
    core = _core(10, fill_model="linear")
    rng = np.random.default_rng(0)
    core.reset(rng)
    with pytest.warns(UserWarning, match="clipped"):
        core.step(np.full(10, -1.0), np.full(10, 1.0), rng)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        core.step(np.full(10, -1.0), np.full(10, 1.0), rng)


def test_inventory_never_exceeds_limit_in_simulation():
    p = MarketParams(q_max=3.0)
    core = SimulationCore(ModelMarket(p, 500), q_max=3.0)
    rng = np.random.default_rng(5)
    core.reset(rng)
    for _ in range(200):
        core.step(np.full(500, -0.5), np.full(500, 3.0), rng)  # aggressive bid, lazy ask: pushes q up
        assert core.state.q.max() <= 3.0
    assert core.state.q.max() == 3.0


def test_sharded_market_same_seed_same_stream():
    """The market's advance in thread shards and on one thread: the same draws."""
    saved = get_num_threads()

    def run(shards: bool):
        m = ModelMarket(MarketParams(), 20_000)
        m.shard_choice = ShardChoice(fixed=shards)
        rng = np.random.default_rng(5)
        m.reset(rng)
        out = [np.concatenate(m.advance(rng)) for _ in range(10)]
        assert m.shard_choice.calls == [0, 10] if shards else [10, 0]
        return np.array(out), m.mid.copy()

    try:
        set_num_threads(2)
        a, b = run(True), run(False)
    finally:
        set_num_threads(saved)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
