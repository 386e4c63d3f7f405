"""Tests of the env's exact discrete-time optimum (agents/exact_optimum.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from agents.base import QuoteState
from agents.exact_optimum import ExactOptimumAgent, exact_optimum_for_env, solve_exact
from agents.optimal import CJPAgent
from mmenv.envs.rollout import rollout_many
from mmenv.sim.fills import match_and_settle
from mmenv.sim.task import REWARD_CODES, reward_one

# ---------------------------------------------------------------- brute force on a tiny tree
# 3 steps, q_max 2, large dt (fill probabilities ~0.3-0.9, so the joint-fill coupling matters), a drift, a fee.
TINY = dict(
    T=0.06,
    dt=0.02,
    q_max=2.0,
    order_size=1.0,
    phi=2.0,
    alpha=1.0,
    mu=0.5,
    A=140.0,
    k=1.5,
    min_depth=0.0,
    max_depth=3.0,
    fee_per_unit=0.01,
)


def _prob(d, fill_model, intensity, dt):
    lam = intensity(np.asarray(d, dtype=float)) * dt
    return np.where(np.isinf(d), 0.0, np.minimum(1.0, lam) if fill_model == "linear" else -np.expm1(-lam))


def _step_outcomes(q, db, da, p, reward, terminal):
    """(probability, reward, q') of the 4 joint fill outcomes, through the env's own matching and reward code."""
    mid = 100.0
    mid_after = mid + p["mu"] * p["dt"]  # the reward is linear in the mid move: its mean suffices
    pb = float(_prob(db, p["fill_model"], p["intensity"], p["dt"]))
    pa = float(_prob(da, p["fill_model"], p["intensity"], p["dt"]))
    out = []
    for fb in (False, True):
        for fa in (False, True):
            prob = (pb if fb else 1 - pb) * (pa if fa else 1 - pa)
            q1, cash1, *_ = match_and_settle.py_func(
                q,
                0.0,
                mid,
                db,
                da,
                math.inf if fb else -math.inf,
                math.inf if fa else -math.inf,
                math.inf,
                math.inf,
                p["q_max"],
                1.0,
                p["fee_per_unit"],
                0.0,
            )
            r = reward_one.py_func(
                REWARD_CODES[reward],
                q * mid,
                cash1 + q1 * mid_after,
                q,
                q1,
                p["dt"],
                terminal,
                0.0,
                p["phi"],
                p["alpha"],
                0.1,
            )
            out.append((prob, r, q1))
    return out


def _tree_value(q, steps, reward, p, policy=None):
    """Expected reward to the end over the full tree of joint fill outcomes (no state merging).

    ``policy(q, steps) -> (db, da)``: evaluate that policy; None: maximise jointly over (db, da) at every node
    (dense 2-D grid, then a bounded polish; with ``p["withdraw"]`` also +inf on each side).
    """
    if steps == 0:
        return 0.0
    terminal = steps == 1
    child = {
        q1: _tree_value(q1, steps - 1, reward, p, policy) for q1 in (q - 1, q, q + 1) if abs(q1) <= p["q_max"]
    }

    def value(db, da):
        return sum(pr * (r + child[q1]) for pr, r, q1 in _step_outcomes(q, db, da, p, reward, terminal))

    if policy is not None:
        return value(*policy(q, steps))
    grid = list(np.linspace(p["min_depth"], p["max_depth"], 41)) + ([math.inf] if p["withdraw"] else [])
    best = max((value(b, a), b, a) for b in grid for a in grid)
    if math.isinf(best[1]) or math.isinf(best[2]):
        return best[0]
    res = minimize(
        lambda x: -value(x[0], x[1]),
        x0=best[1:],
        method="Nelder-Mead",
        bounds=[(p["min_depth"], p["max_depth"])] * 2,
        options={"xatol": 1e-10, "fatol": 1e-15, "maxfev": 4000},
    )
    return max(best[0], -res.fun)


def _solver_kwargs(p):
    keys = (
        "T",
        "dt",
        "q_max",
        "order_size",
        "phi",
        "alpha",
        "mu",
        "A",
        "k",
        "min_depth",
        "max_depth",
        "fee_per_unit",
    )
    return {n: p[n] for n in keys}


@pytest.mark.parametrize("reward", ["pnl", "penalized"])
@pytest.mark.parametrize("fill_model", ["exponential", "linear"])
@pytest.mark.parametrize("q0", [0.0, 1.0])
def test_value_equals_brute_force_enumeration(reward, fill_model, q0):
    """V(0, q0) = the brute-force joint maximum over the tree; the DP policy's enumerated value = V exactly."""
    p = {**TINY, "fill_model": fill_model, "withdraw": False, "intensity": lambda d: 140.0 * np.exp(-1.5 * d)}
    agent = ExactOptimumAgent(**_solver_kwargs(p), reward=reward, fill_model=fill_model, q0=q0)
    v = agent.value()
    sol = agent.solution

    def policy(q, steps):
        i = round(q - sol.q_grid[0])
        return sol.bid[steps, i], sol.ask[steps, i]

    assert _tree_value(q0, 3, reward, p, policy) == pytest.approx(v, abs=1e-12)
    brute = _tree_value(q0, 3, reward, p)
    assert brute <= v + 1e-9  # nothing beats the recursion
    assert brute == pytest.approx(v, abs=1e-8)


def test_withdrawal_and_power_law_intensity_against_brute_force():
    """A general intensity (power law, numpy search) with withdrawn quotes allowed, against the tree."""

    def power(d):
        return 60.0 * (1.0 + np.asarray(d) / 0.4) ** -2.5

    # a fee and a steep terminal penalty make some quotes a sure loss near the end: withdrawal is used
    p = {
        **TINY,
        "fee_per_unit": 0.3,
        "alpha": 3.0,
        "fill_model": "exponential",
        "withdraw": True,
        "intensity": power,
    }
    sol = solve_exact(**_solver_kwargs(p), reward="penalized", intensity=power, allow_withdraw=True)
    assert np.isinf(sol.bid[1:, :-1]).any() or np.isinf(sol.ask[1:, 1:]).any()
    assert _tree_value(0.0, 3, "penalized", p) == pytest.approx(sol.v0(), abs=1e-8)


@pytest.mark.parametrize("fill_model", ["exponential", "linear"])
def test_general_intensity_path_matches_kernel(fill_model):
    kw = dict(T=0.2, dt=0.005, q_max=6.0, phi=0.2, alpha=0.1, mu=0.3, fill_model=fill_model)
    fast = solve_exact(**kw)
    slow = solve_exact(**kw, intensity=lambda d: 140.0 * np.exp(-1.5 * d))
    np.testing.assert_allclose(slow.value, fast.value, rtol=0, atol=1e-10)
    live = np.isfinite(fast.bid[1:])
    np.testing.assert_allclose(slow.bid[1:][live], fast.bid[1:][live], atol=1e-6)
    assert np.array_equal(np.isinf(slow.bid[1:]), np.isinf(fast.bid[1:]))


def test_policy_lookup_and_bounds():
    agent = ExactOptimumAgent(T=0.1, dt=0.01, q_max=3.0, phi=0.2, alpha=0.1)
    q = np.arange(-3.0, 4.0)
    one = np.ones_like(q)
    bid, ask = agent.quote(QuoteState(q=q, tau=0.05 * one, mid=100 * one, sigma=2 * one, s0=100 * one))
    assert bid[-1] == np.inf and ask[0] == np.inf  # the hard limit withdraws the side
    np.testing.assert_array_equal(bid, agent.solution.bid[5])
    np.testing.assert_allclose(bid[:-1], ask[1:][::-1], rtol=1e-12)  # symmetric problem
    assert np.all(np.diff(bid[:-1]) > 0)  # long inventory: the bid moves away
    assert ((bid[:-1] >= 0) & (bid[:-1] <= 5 / 1.5)).all()


def test_symmetric_no_penalty_limit():
    """phi = alpha = 0, linear fills, no bound in reach: every depth is the closed form 1/k - (V^+ - V^0)."""
    sol = solve_exact(T=0.05, dt=0.01, q_max=50.0, reward="pnl", fill_model="linear", A=40.0)
    # V does not depend on q away from the bounds, so c = 0 and delta = 1/k; V = n * 2 A dt e^{-1} / k
    assert sol.bid[5, 50] == pytest.approx(1 / 1.5, abs=1e-12)
    assert sol.v0() == pytest.approx(5 * 2 * 40.0 * 0.01 * math.exp(-1) / 1.5, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"q_max": math.inf}, "q_max"),
        ({"reward": "cara"}, "reward"),
        ({"T": 1.0, "dt": 0.3}, "T / dt"),
        ({"fill_model": "poisson"}, "fill_model"),
        ({"min_depth": 1.0, "max_depth": 0.5}, "max_depth"),
        ({"q0": 30.0}, "q0"),
        ({"intensity": lambda d: np.ones(3)}, "intensity"),
        ({"intensity": lambda d: -np.ones_like(d)}, "intensity"),
        ({"intensity": 3.0}, "intensity"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        solve_exact(**kwargs)


def test_env_adapter_reads_the_env():
    agent = exact_optimum_for_env({"reward": "penalized", "phi": 0.2, "alpha": 0.1, "q_max": 5, "dt": 0.01})
    assert agent.solver_kwargs["max_depth"] == pytest.approx(5 / 1.5)  # the env's default action bound
    assert agent.solver_kwargs["allow_withdraw"] is False
    with pytest.raises(ValueError, match="market"):
        exact_optimum_for_env({"market": "garch"})
    with pytest.raises(ValueError, match="fee_rate"):
        exact_optimum_for_env({"fee_rate": 0.001})


# ---------------------------------------------------------------- against the env and the CJP policy
ENV = dict(reward="penalized", phi=0.2, alpha=0.1, q_max=10, dt=0.01)


def test_monte_carlo_value_and_paired_gain_over_cjp():
    """Env rollout of the DP policy: mean reward = V(0, 0) within 4 SE; DP - CJP on common paths = the exact
    difference of their values within 4 paired SE, and positive."""
    dp = exact_optimum_for_env(ENV)
    cjp = CJPAgent(phi=0.2, alpha=0.1, q_max=10, dt=0.01)
    paths = 3000
    ro = rollout_many({"dp": dp, "cjp": cjp}, paths, 17, **ENV)
    a, b = ro["dp"].reward.sum(axis=1), ro["cjp"].reward.sum(axis=1)
    se = a.std(ddof=1) / math.sqrt(paths)
    assert abs(a.mean() - dp.value()) < 4 * se, (a.mean(), dp.value(), se)
    d = a - b
    se_d = d.std(ddof=1) / math.sqrt(paths)
    exact_gain = dp.value() - cjp.discrete_value()[cjp.n_q]
    assert abs(d.mean() - exact_gain) < 4 * se_d, (d.mean(), exact_gain, se_d)
    assert d.mean() > 4 * se_d


def test_cjp_converges_to_exact_optimum_as_dt_shrinks():
    """The CJP policy's shortfall in the env (exact discrete values) vanishes as dt -> 0, about as dt^2."""
    gaps = []
    for dt in (0.01, 0.005, 0.0025):
        v = solve_exact(phi=0.2, alpha=0.1, q_max=10, dt=dt, min_depth=-10.0, max_depth=50.0).v0()
        cjp = CJPAgent(phi=0.2, alpha=0.1, q_max=10, dt=dt)
        gaps.append(v - cjp.discrete_value()[cjp.n_q])
    assert all(g > 0 for g in gaps)
    assert 2.5 < gaps[0] / gaps[1] < 4.5 and 2.5 < gaps[1] / gaps[2] < 4.5


# ---------------------------------------------------------------- the training study's use of it
def test_convergence_table_rows():
    from mmenv.studies.references import convergence_table, format_convergence

    rows = convergence_table({"reward": "penalized", "phi": 0.2, "alpha": 0.1, "q_max": 5, "T": 0.2})
    assert [r["dt"] for r in rows] == pytest.approx([0.02, 0.01, 0.005, 0.0025, 0.00125, 0.000625])
    gaps = [r["gap"] for r in rows]
    assert all(g > 0 for g in gaps) and bool(np.all(np.diff(gaps) < 0))
    # both values approach the continuous-time value from below
    assert all(r["cjp"] < r["exact"] < r["continuous"] for r in rows)
    assert rows[-1]["continuous"] - rows[-1]["exact"] < rows[0]["continuous"] - rows[0]["exact"]
    assert "exact optimum" in format_convergence(rows)


def test_score_against_uses_the_exact_value_and_paired_se():
    from mmenv.studies.references import score_against

    rng = np.random.default_rng(0)
    common = rng.normal(50.0, 5.0, 400)
    exact = common + rng.normal(0.0, 0.1, 400)
    ppo = common - 0.5 + rng.normal(0.0, 0.1, 400)
    s = score_against({"ppo": ppo, "exact": exact, "cjp": common}, values={"exact": 50.2, "cjp": 49.9})
    d = exact - ppo
    assert s["optimum"] == "exact" and s["optimum_value"] == 50.2
    assert s["optimality_gap"] == pytest.approx(d.mean())
    assert s["optimality_gap_pct"] == pytest.approx(100 * d.mean() / 50.2)
    assert s["optimality_gap_se"] == pytest.approx(d.std(ddof=1) / 20)  # paired: ~0.007, not ~0.25
    assert s["cjp_gap_pct"] == pytest.approx(100 * 0.3 / 50.2)
    assert s["mc_check"]["diff"] == pytest.approx(exact.mean() - 50.2)


def test_report_part_exact_optimum():
    from mmenv.studies.report.document import Report
    from mmenv.studies.report.optimality import sec_exact_optimum

    rep = Report(Path("unused"))
    sec_exact_optimum(rep, {"paths": 400, "seed": 0})
    m = rep.metrics["exact_optimum"]
    assert abs(m["mc_mean"] - m["value"]) < 4 * m["mc_se"]
    assert abs(m["paired_gain"] - (m["value"] - m["cjp_value"])) < 4 * m["paired_gain_se"]
    text = "\n".join(rep.parts)
    assert "continuous-time CJP policy" in text and "exact optimum of this env" in text
