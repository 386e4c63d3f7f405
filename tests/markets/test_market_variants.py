"""Tests of the weakness market variants (mmenv/markets/variants.py) and the studies' simulation loop."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest

import mmenv  # noqa: F401  (registers the env)
from agents import AvellanedaStoikovAgent, NaiveAgent
from mmenv.config import MarketParams
from mmenv.envs.rollout import rollout
from mmenv.markets.registry import MARKETS, VARIANT_KINDS, make_market
from mmenv.markets.variants import (
    AsymmetricMarket,
    GarchMarket,
    ImpactMarket,
    InformationMarket,
    ToxicMarket,
    TrendMarket,
)
from mmenv.studies.simulation import score, simulate

P = MarketParams()


def _run(market, steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    market.reset(rng)
    mids, rb, ra = [market.mid.copy()], [], []
    for _ in range(steps):
        b, a = market.advance(rng)
        rb.append(b.copy())
        ra.append(a.copy())
        mids.append(market.mid.copy())
    return np.array(mids), np.array(rb), np.array(ra)


def test_make_market_dispatches_and_gymnasium_make_works():
    for kind in VARIANT_KINDS:
        assert isinstance(make_market(kind, P, 3), MARKETS[kind].build)
    env = gymnasium.make("mmenv/MarketMaking-v0", market="garch", sigma_estimate="ewma", dt=0.01)
    obs, _ = env.reset(seed=1)
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    with pytest.raises(ValueError, match="market"):
        make_market("nope", P, 1)
    with pytest.raises(ValueError, match=r"unknown arguments for market='garch': \['trend'\]"):
        make_market("garch", P, 1, trend=1.0)


@pytest.mark.parametrize(
    "cls, kwargs, field",
    [
        (GarchMarket, {"garch_alpha": 0.5, "garch_beta": 0.6}, "garch_alpha"),
        (GarchMarket, {"sigma_estimate": "magic"}, "sigma_estimate"),
        (GarchMarket, {"window": 1}, "window"),
        (GarchMarket, {"ewma_lambda": 1.0}, "ewma_lambda"),
        (TrendMarket, {"trend": -1.0}, "trend"),
        (AsymmetricMarket, {"A_bid": 0.0}, "A_bid"),
        (ToxicMarket, {"toxic_share": 1.5}, "toxic_share"),
        (ImpactMarket, {"perm_impact": -0.1}, "perm_impact"),
        (InformationMarket, {"info_share": -0.1}, "info_share"),
    ],
)
def test_bad_switches(cls, kwargs, field):
    with pytest.raises(ValueError, match=field):
        cls(P, 2, **kwargs)


def test_garch_defaults_have_finite_kurtosis():
    m = GarchMarket(P, 2)
    assert m.fourth_moment_finite
    assert not GarchMarket(P, 2, garch_alpha=0.2, garch_beta=0.78).fourth_moment_finite  # 1.04 > 1


def test_garch_long_run_volatility_and_clustering():
    n, steps = 4000, 200
    m = GarchMarket(P, n)  # a = 0.1, b = 0.85: kurtosis 3.77, rho_1 of squared changes 0.18
    mids, _, _ = _run(m, steps, seed=5)
    r = np.diff(mids, axis=0)
    v_long = P.sigma**2 * P.dt
    # Unconditional variance = sigma^2 dt. Squared changes are autocorrelated within a path (that is the
    # clustering), so the Monte-Carlo SE comes from the per-path means, which are independent across paths.
    per_path = (r**2).mean(axis=0)
    se = per_path.std(ddof=1) / np.sqrt(per_path.size)
    assert abs(per_path.mean() - v_long) < 4 * se
    # Clustering: squared changes are autocorrelated (0 under the AS model).
    r2 = r**2 - (r**2).mean()
    ac = (r2[1:] * r2[:-1]).mean() / (r2**2).mean()
    assert ac > 0.1
    # Heavier tails than Gaussian.
    kurt = (r**4).mean() / (r**2).mean() ** 2
    assert kurt > 3.3


def test_garch_sigma_estimates():
    n = 200
    for est in ("true", "ewma", "rolling", "constant"):
        m = GarchMarket(P, n, sigma_estimate=est)
        _run(m, 30, seed=2)
        assert m.sigma.shape == (n,) and np.all(np.isfinite(m.sigma)) and np.all(m.sigma > 0)
        if est == "constant":
            np.testing.assert_array_equal(m.sigma, P.sigma)
        if est == "true":
            np.testing.assert_allclose(m.sigma, m.true_sigma)
    # The EWMA tracks the true conditional volatility: positively correlated across paths.
    m = GarchMarket(P, 2000, sigma_estimate="ewma")
    _run(m, 100, seed=4)
    assert np.corrcoef(m.sigma, m.true_sigma)[0, 1] > 0.5


def test_trend_signs_and_drift():
    n = 4000
    m = TrendMarket(P, n, trend=3.0)
    mids, _, _ = _run(m, P.n_steps, seed=1)
    assert set(np.unique(m.mu)) == {-3.0, 3.0}
    moved = mids[-1] - mids[0]
    up = m.mu > 0
    se = P.sigma / math.sqrt(up.sum())
    assert abs(moved[up].mean() - 3.0 * P.T) < 4 * se


@pytest.mark.parametrize("fill_model", ["exponential", "linear"])
def test_asymmetric_fill_probabilities(fill_model):
    params = MarketParams(fill_model=fill_model, A=100.0, dt=0.001)
    n, d = 20000, 0.5
    m = AsymmetricMarket(params, n, A_bid=160.0, A_ask=40.0)
    _, rb, ra = _run(m, 5, seed=0)
    for reach, a in ((rb, 160.0), (ra, 40.0)):
        lam = a * math.exp(-params.k * d) * params.dt
        p = -math.expm1(-lam) if fill_model == "exponential" else lam
        phat = (reach >= d).mean()
        assert abs(phat - p) < 4 * math.sqrt(p * (1 - p) / reach.size)


def test_toxic_flow_fills_the_side_about_to_lose():
    n, d = 20000, 0.5
    params = MarketParams(dt=0.001)
    m = ToxicMarket(params, n, toxic_share=0.6)
    mids, rb, ra = _run(m, 3, seed=8)
    up = np.diff(mids, axis=0) > 0
    lam = params.A * math.exp(-params.k * d) * params.dt
    for side_reach, informed in ((ra, up), (rb, ~up)):
        hit = side_reach >= d
        p_inf = -math.expm1(-lam * 1.6)
        p_un = -math.expm1(-lam * 0.4)
        assert abs(hit[informed].mean() - p_inf) < 4 * math.sqrt(p_inf / informed.sum())
        assert abs(hit[~informed].mean() - p_un) < 4 * math.sqrt(p_un / (~informed).sum())


def test_information_market_reach_law_and_variance():
    n, d = 20000, 0.4
    params = MarketParams(dt=0.002)
    m = InformationMarket(params, n, info_share=0.7)
    mids, rb, ra = _run(m, 4, seed=6)
    lam = params.A * math.exp(-params.k * d) * params.dt
    p = -math.expm1(-lam)
    phat = (rb >= d).mean()
    assert abs(phat - p) < 4 * math.sqrt(p * (1 - p) / rb.size)
    r = np.diff(mids, axis=0)
    v = params.sigma**2 * params.dt
    assert abs(r.var() / v - 1) < 4 * math.sqrt(2 / r.size) * 2  # near-Gaussian sample-variance SE, x2 margin
    assert m.theta == pytest.approx(params.sigma * math.sqrt(0.7 / (2 * params.A)))
    with pytest.raises(ValueError, match="fill_model"):
        InformationMarket(MarketParams(fill_model="linear", A=100, dt=0.001), 1)


def test_impact_moves_mid_against_fills():
    params = MarketParams(sigma=0.0, dt=0.01)
    m = ImpactMarket(params, 2, perm_impact=0.1, temp_impact=0.2, decay=10.0)
    rng = np.random.default_rng(0)
    m.reset(rng)
    m.advance(rng)
    m.on_fills(np.array([1.0, 0.0]), np.array([0.0, 1.0]))  # path 0 bought, path 1 sold
    before = m.mid.copy()
    m.advance(rng)
    np.testing.assert_allclose(m.mid - before, [-0.3, 0.3])
    keep = math.exp(-10.0 * 0.01)
    before = m.mid.copy()
    m.advance(rng)  # transient decays: mid reverts by 0.2 (1 - keep)
    np.testing.assert_allclose(m.mid - before, [0.2 * (1 - keep), -0.2 * (1 - keep)])


def test_impact_applies_in_the_env_through_the_core_hook():
    import gymnasium as gym

    def mean_equity(perm):
        env = gym.make(
            "mmenv/MarketMaking-v0",
            market="impact",
            perm_impact=perm,
            temp_impact=0.0,
            sigma=0.0,
            dt=0.01,
            action_mode="depth",
        ).unwrapped
        env.reset(seed=0)
        mids = []
        for _ in range(100):
            _, _, term, _, info = env.step(np.array([0.2, 5.0]))  # mostly buying
            mids.append(info["mid"])
            if term:
                break
        return mids[-1], info["inventory"]

    mid0, q0 = mean_equity(0.0)
    mid1, q1 = mean_equity(0.1)
    assert mid0 == 100.0 and q0 > 0
    # every unit bought pushes the mid down by perm_impact (the last interval's fills not yet applied)
    assert mid1 < 100.0 - 0.1 * (q1 - 2)


# ----------------------------------------------------------- the simulation loop of the studies
def test_simulate_equals_rollout_on_the_model_market():
    pol = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    a = rollout(pol, 64, 9, dt=0.01)
    b = simulate(pol, 64, 9, dt=0.01)
    np.testing.assert_array_equal(a.equity, b.equity)
    np.testing.assert_array_equal(a.inventory, b.inventory)
    np.testing.assert_array_equal(a.bid, b.bid)


def test_simulate_reports_fills_to_impact_market():
    pol = NaiveAgent(0.5)
    base = simulate(pol, 200, 1, dt=0.01, market="impact", perm_impact=0.0, temp_impact=0.0)
    hit = simulate(pol, 200, 1, dt=0.01, market="impact", perm_impact=0.1, temp_impact=0.0)
    a0, a1 = score(base), score(hit)
    assert a1["adverse_selection_pnl"] < a0["adverse_selection_pnl"]
    assert hit.equity[:, -1].mean() < base.equity[:, -1].mean()


def test_attribution_adds_up():
    ro = simulate(AvellanedaStoikovAgent(), 50, 2, dt=0.01, fee_per_unit=0.01)
    s = score(ro)
    total = s["spread_pnl"] + s["inventory_pnl"] - s["fees"]
    assert total == pytest.approx(s["mean_pnl"], abs=1e-9)
    assert 0 < s["fill_rate"] < 1
