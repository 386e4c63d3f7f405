"""Common random numbers by construction: every draw addressed by (seed, path, episode, step, purpose).

What is compared bit for bit, and why it is invariant across CPUs: the markets' numbers come from
Philox4x32-10 (exact integers) through transforms written with IEEE-754 basic operations only (no FMA, no
libm, no SIMD library routine; tests/test_counter_rng.py), and a variant with its switch off performs the
base market's floating-point operations in the same order. So the equalities below are exact on any
IEEE-754 machine, at any N and with any thread count; they are not tolerances.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents import AvellanedaStoikovAgent, NaiveAgent
from mmenv.config import MarketParams
from mmenv.envs.rollout import rollout, rollout_many
from mmenv.markets import ModelMarket
from mmenv.markets.registry import make_market
from mmenv.sim.core import SimulationCore
from mmenv.sim.shard_choice import ShardChoice
from mmenv.sim.shards import get_num_threads, set_num_threads
from mmenv.sim.task import TaskParams

P = MarketParams()
#: Each variant's switch in its off position.
OFF = {
    "garch": {"garch_alpha": 0.0, "garch_beta": 0.0},
    "trend": {"trend": 0.0},
    "asymmetric": {},
    "toxic": {"toxic_share": 0.0},
    "impact": {"perm_impact": 0.0, "temp_impact": 0.0},
    "information": {"info_share": 0.0},
}
KINDS = ("model", *OFF)


def _record(market, steps: int, seed: int):
    market.reset(np.random.default_rng(seed))
    rows = [market.mid.copy()]
    rb, ra, sig = [], [], []
    for _ in range(steps):
        b, a = market.advance()
        rb.append(b)
        ra.append(a)
        rows.append(market.mid.copy())
        sig.append(market.sigma.copy())
    return np.array(rows), np.array(rb), np.array(ra), np.array(sig)


@pytest.mark.parametrize("n", [1, 300, 5000, 20_000])
@pytest.mark.parametrize("kind", list(OFF))
def test_switch_off_is_the_base_market_bit_for_bit(kind, n):
    steps = 20 if n >= 5000 else 60
    base = _record(ModelMarket(P, n), steps, 3)
    var = _record(make_market(kind, P, n, **OFF[kind]), steps, 3)
    for x, y in zip(base, var, strict=True):  # mid, reach bid, reach ask, sigma
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kind", list(OFF))
def test_switch_off_gives_the_base_pnl_bit_for_bit(kind):
    """Through the env's fused step (the impact hook inside the kernel): the whole trading record."""
    pol = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    base = rollout(pol, 300, 4)
    var = rollout(pol, 300, 4, market=kind, **OFF[kind])
    for f in ("mid", "inventory", "cash", "bid", "ask", "bought", "sold", "reward"):
        np.testing.assert_array_equal(getattr(base, f), getattr(var, f), err_msg=f)


@pytest.mark.parametrize("kind", KINDS)
def test_path_result_does_not_depend_on_n(kind):
    small = _record(make_market(kind, P, 10), 40, 8)
    large = _record(make_market(kind, P, 10_000), 40, 8)
    for x, y in zip(small, large, strict=True):
        np.testing.assert_array_equal(x, y[:, :10])


@pytest.mark.parametrize("kind", ["model", "impact"])
def test_rollout_path_does_not_depend_on_n(kind):
    pol = AvellanedaStoikovAgent(gamma=0.1, k=1.5)
    a = rollout(pol, 10, 2, market=kind)
    b = rollout(pol, 10_000, 2, market=kind)
    np.testing.assert_array_equal(a.equity, b.equity[:10])
    np.testing.assert_array_equal(a.inventory, b.inventory[:10])


def test_result_does_not_depend_on_thread_count():
    n = 20_000
    task = TaskParams(reward="penalized", phi=0.01, alpha=0.1, max_depth=3.0)
    action = np.random.default_rng(1).uniform(-1.2, 1.2, (n, 2))
    saved = get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            set_num_threads(threads)
            core = SimulationCore(make_market("impact", P, n), q_max=4.0)
            core.shard_choice = ShardChoice(fixed=threads > 1)  # the shards on every step
            core.reset(np.random.default_rng(0))
            w0 = core.equity()
            outs = [core.env_step(action, task, w0, None)[0].copy() for _ in range(5)]
            results.append((np.array(outs), core.state.q.copy(), core.market.mid.copy()))
    finally:
        set_num_threads(saved)
    for r in results[1:]:
        for x, y in zip(results[0], r, strict=True):
            np.testing.assert_array_equal(x, y)


def test_fused_step_equals_market_advance_then_matching():
    """The fused kernel and the two-pass route (market.advance, then the matching kernel) are one rule."""
    from mmenv.sim.env_step import OUT_COLUMNS, env_step_paths

    n = 500
    task = TaskParams(reward="penalized", phi=0.01, alpha=0.1, max_depth=3.0)
    action = np.random.default_rng(1).uniform(-1.2, 1.2, (n, 2))
    for kind in KINDS:
        fused = SimulationCore(make_market(kind, P, n), q_max=4.0)
        ref = SimulationCore(make_market(kind, P, n), q_max=4.0)
        for c in (fused, ref):
            c.reset(np.random.default_rng(6))
        w0 = fused.equity()
        for _ in range(30):
            out, obs, _ = fused.env_step(action, task, w0, None)
            m, st = ref.market, ref.state
            mid_before = m.mid.copy()
            rb, ra = m.advance()
            r_out, r_obs = np.empty((n, OUT_COLUMNS)), np.empty((n, 4), np.float32)
            env_step_paths(
                action,
                True,
                0.0,
                3.0,
                st.q,
                st.cash,
                st.step,
                mid_before,
                m.mid,
                m.s0,
                m.sigma,
                w0,
                rb,
                ra,
                4.0,
                1.0,
                0.0,
                0.0,
                P.dt,
                P.n_steps,
                1,
                0.01,
                0.1,
                0.1,
                r_out,
                r_obs,
            )
            if hasattr(m, "on_fills"):
                m.on_fills(r_out[:, 4], r_out[:, 5])
            np.testing.assert_array_equal(out, r_out, err_msg=kind)
            np.testing.assert_array_equal(obs, r_obs, err_msg=kind)


def _corr_ok(x, y, rho):
    r = np.corrcoef(x, y)[0, 1]
    se = (1 - rho**2) / math.sqrt(x.size)  # large-sample SE of the sample correlation
    assert abs(r - rho) < 5 * se, (r, rho, se)


def test_variants_correlate_with_the_base_as_the_model_implies():
    n = 20_000
    base = _record(ModelMarket(P, n), 5, 1)[0]
    # information: mid change = drift + sigma sqrt(1 - s) z sqrt(dt) + theta (N_buy - N_sell), z shared
    info = _record(make_market("information", P, n, info_share=0.5), 5, 1)[0]
    _corr_ok(np.diff(info, axis=0).ravel(), np.diff(base, axis=0).ravel(), math.sqrt(0.5))
    # trend: terminal mid change = sigma W_T +- trend T: correlation sigma sqrt(T) / sqrt(sigma^2 T + trend^2 T^2)
    full = _record(ModelMarket(P, n), P.n_steps, 1)[0]
    tr = _record(make_market("trend", P, n, trend=2.0), P.n_steps, 1)[0]
    rho = P.sigma * math.sqrt(P.T) / math.sqrt(P.sigma**2 * P.T + 4.0 * P.T**2)
    _corr_ok(tr[-1] - tr[0], full[-1] - full[0], rho)
    # toxic and asymmetric change the flow only: the mid is the base mid, bit for bit
    for kind, kw in (("toxic", {"toxic_share": 0.5}), ("asymmetric", {"A_bid": 180.0, "A_ask": 100.0})):
        np.testing.assert_array_equal(_record(make_market(kind, P, n, **kw), 5, 1)[0], base)
    # two GARCH markets that differ only in the sigma shown to the policy share the market bit for bit
    g1 = _record(make_market("garch", P, 2000, sigma_estimate="true"), 50, 2)
    g2 = _record(make_market("garch", P, 2000, sigma_estimate="ewma"), 50, 2)
    for x, y in zip(g1[:3], g2[:3], strict=True):
        np.testing.assert_array_equal(x, y)


def test_rollout_many_pairs_variants_in_one_simulation():
    pols = {"as": AvellanedaStoikovAgent(gamma=0.1, k=1.5), "naive": NaiveAgent(0.7)}
    for kind, kw in (("trend", {"trend": 3.0}), ("impact", {})):
        many = rollout_many(pols, 50, 5, market=kind, **kw)
        for name, pol in pols.items():
            single = rollout(pol, 50, 5, market=kind, **kw)
            np.testing.assert_array_equal(many[name].equity, single.equity)


def test_event_order_changes_only_the_fills():
    """move_then_fill: same draws, same mid path; the reach moves by the mid's change (the flow meets the
    stale quotes around the new mid); with constant quotes every column but the fills' is identical."""
    n = 2000
    params = {**P.__dict__, "q_max": math.inf}
    a = _record(ModelMarket(MarketParams(**params), n), 30, 9)
    b = _record(ModelMarket(MarketParams(**{**params, "event_order": "move_then_fill"}), n), 30, 9)
    np.testing.assert_array_equal(a[0], b[0])  # mid
    np.testing.assert_array_equal(a[3], b[3])  # sigma
    move = np.diff(a[0], axis=0)
    np.testing.assert_allclose(b[1], a[1] - move, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b[2], a[2] + move, rtol=0, atol=1e-12)
    pol = NaiveAgent(0.6)
    ra = rollout(pol, 500, 3, q_max=math.inf)
    rb = rollout(pol, 500, 3, q_max=math.inf, event_order="move_then_fill")
    for f in ("mid", "bid", "ask"):
        np.testing.assert_array_equal(getattr(ra, f), getattr(rb, f), err_msg=f)
    assert not np.array_equal(ra.bought, rb.bought)
    # a bid is hit more often when the mid falls during the step (adverse selection), only in move_then_fill
    down = np.diff(ra.mid, axis=1) < 0
    assert rb.bought[down].mean() > rb.bought[~down].mean()
    assert abs(ra.bought[down].mean() - ra.bought[~down].mean()) < 0.02


def test_autoreset_episodes_use_fresh_numbers_and_full_reset_a_new_key():
    m = ModelMarket(P, 4)
    m.reset(np.random.default_rng(0))
    first = m.advance()[0].copy()
    m.reset(None, np.array([True, False, True, False]))
    np.testing.assert_array_equal(m.episode, [1, 0, 1, 0])
    m.reset(np.random.default_rng(0))
    np.testing.assert_array_equal(m.advance()[0], first)  # same seed, same numbers
    key = m.key
    m.reset(np.random.default_rng(1))
    assert m.key != key


@pytest.mark.parametrize("kind", ["model", "impact", "garch"])
def test_in_kernel_autoreset_equals_resetting_first(kind):
    """NEXT_STEP autoreset inside the fused kernel = the reset-then-step route, bit for bit, over episodes."""
    from mmenv.envs.vector_env import MarketMakingVectorEnv

    kw = dict(market=kind, T=0.05, dt=0.005, max_episode_steps=7)
    fused = MarketMakingVectorEnv(num_envs=64, **kw)
    slow = MarketMakingVectorEnv(num_envs=64, **kw)
    slow._fused = False
    acts = np.random.default_rng(2).uniform(-1, 1, (40, 64, 2))
    for env in (fused, slow):
        env.reset(seed=11)
    for a in acts:
        r1, r2 = fused.step(a), slow.step(a)
        for x, y in zip(r1[:4], r2[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        assert r1[4].keys() == r2[4].keys()
        for key in r1[4]:
            np.testing.assert_array_equal(r1[4][key], r2[4][key], err_msg=key)
    assert fused.core.market.episode.min() >= 5  # several episodes on every path


def test_info_keys_option():
    from mmenv.envs.vector_env import MarketMakingVectorEnv

    env = MarketMakingVectorEnv(num_envs=4, info_keys=())
    env.reset(seed=0)
    assert env.step(np.zeros((4, 2)))[4] == {}
    env = MarketMakingVectorEnv(num_envs=4, info_keys=("mid", "inventory"))
    env.reset(seed=0)
    assert set(env.step(np.zeros((4, 2)))[4]) == {"mid", "_mid", "inventory", "_inventory"}
    with pytest.raises(ValueError, match="info_keys"):
        MarketMakingVectorEnv(num_envs=4, info_keys=("nope",))


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"market": "impact"},
        {"market": "garch", "sigma_estimate": "ewma"},
        {
            "mid_model": "binomial",
            "fill_model": "linear",
            "A": 140.0,
            "q_max": math.inf,
            "event_order": "move_then_fill",
        },
    ],
)
def test_compiled_rollout_of_quote_rules_equals_the_env_loop(kw):
    """rollout_many of quote-rule policies runs one compiled pass; it records what the env loop records."""
    from agents import SymmetricAgent
    from mmenv.envs import rollout as ro

    pols = {
        "as": AvellanedaStoikovAgent(gamma=0.1, k=1.5),
        "sym": SymmetricAgent(gamma=0.1, k=1.5, sigma=2.0, time_term=False),
        "naive": NaiveAgent(0.7),
    }
    fast = rollout_many(pols, 40, 3, **kw)
    slow = dict(zip(pols, ro._run(list(pols.values()), 40, 3, False, kw), strict=True))
    for name in pols:
        for f in ("mid", "inventory", "cash", "equity", "bid", "ask", "bought", "sold", "fees", "reward"):
            np.testing.assert_array_equal(
                getattr(fast[name], f), getattr(slow[name], f), err_msg=f"{name} {f}"
            )


def test_paired_effect_se_and_correlation():
    from mmenv.studies.robustness import paired_effect

    rng = np.random.default_rng(0)
    common = rng.normal(0, 5, 4000)
    a, b = common + rng.normal(1.0, 1, 4000), common + rng.normal(0, 1, 4000)
    e = paired_effect(a, b)
    assert abs(e["mean"] - 1.0) < 4 * e["se"]
    assert e["se"] == pytest.approx(math.sqrt(2 / 4000), rel=0.1)  # std(a - b) = sqrt(2)
    assert e["corr"] == pytest.approx(25 / 26, abs=0.01)
    assert e["se_unpaired"] > 4 * e["se"]
    with pytest.raises(ValueError, match="paired"):
        paired_effect(a, b[:10])


def test_robustness_gives_paired_effects():
    from mmenv.studies.robustness import run_robustness

    res = run_robustness(60, 1, ("base", "toxic"), ("as", "naive"))
    r = res["toxic"]["as"]
    assert r["d_mean_pnl_se"] < r["d_mean_pnl_se_unpaired"] and 0 < r["corr_with_base"] <= 1
    assert {"as_minus_naive", "as_minus_naive_se", "as_naive_corr"} <= set(res["base"]["as"])


def test_event_order_comparison_against_the_paper():
    from mmenv.studies.replication import PAPER_TABLES, compare_event_orders

    def rows(shift):
        return [
            {"gamma": g, "strategy": s, "mean_pnl": v[1] + shift, "mean_pnl_se": 0.2, "std_pnl": v[2]}
            for g, d in PAPER_TABLES.items()
            for s, v in d.items()
        ]

    stats, text = compare_event_orders({"fill_then_move": rows(1.0), "move_then_fill": rows(0.2)})
    assert stats["supported"] == "move_then_fill"
    assert stats["move_then_fill"]["chi2_profit"] == pytest.approx(4 * 1.0)  # 4 cells of z = 1
    assert "support move_then_fill" in text
