"""Tests of mmenv.calibration.intensity.selection and online: out-of-sample choice, table, per-window fits,
rolling estimator and walk-forward."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmenv.calibration.intensity.likelihood import fit_law
from mmenv.calibration.intensity.models import make_law
from mmenv.calibration.intensity.online import RollingEstimator, walk_forward
from mmenv.calibration.intensity.selection import (
    default_depth_grid,
    exponential_misfit,
    intensity_table,
    per_window_fits,
    select_model,
)
from mmenv.calibration.intensity.tape import (
    REFERENCE_LEVELS,
    REFERENCE_TICK,
    IntensityTape,
    reference_law,
    simulate_tape,
)

H = REFERENCE_TICK
LEVELS = np.array(REFERENCE_LEVELS)
TRUTH = {name: reference_law(name) for name in ("exponential", "power_law", "two_part")}


def _tape(name: str, seed: int, duration: float = 2000.0) -> IntensityTape:
    law, theta = TRUTH[name]
    return simulate_tape(law, theta, duration, np.random.default_rng(seed), levels=LEVELS, tick=H, sigma=0.01)


def _covered(name: str, tape: IntensityTape, z: float) -> list[bool]:
    law, theta = TRUTH[name]
    f = fit_law(tape.window(), law)
    truth = law.natural(theta)
    return [abs(f.params[p] - truth[j]) <= z * f.se[p] for j, p in enumerate(law.param_names)]


@pytest.mark.parametrize("name", ["exponential", "power_law", "two_part"])
def test_selection_picks_the_true_law_and_recovers_it(name: str) -> None:
    tape = _tape(name, 10)
    choice = select_model(tape)
    assert choice.selected == name, (choice.heldout, choice.heldout_se)
    assert all(_covered(name, tape, 3.0))
    assert set(choice.fits) == {"exponential", "power_law", "two_part"}
    d = choice.to_dict()
    assert d[name]["heldout_loglik_per_order"] == pytest.approx(choice.heldout[name])
    assert choice.n_fit + choice.n_heldout == tape.n


@pytest.mark.slow
def test_selection_and_coverage_over_replications() -> None:
    """Over replications of each law: the selection rate of the true law, and the coverage of the
    3-SE and 1.96-SE intervals (tolerance 3 Monte-Carlo standard errors of a proportion)."""
    reps = 30
    for name in ("exponential", "power_law", "two_part"):
        picked = 0
        cov3: list[bool] = []
        cov95: list[bool] = []
        for r in range(reps):
            tape = _tape(name, 1000 + r, duration=1500.0)
            picked += select_model(tape).selected == name
            cov3 += _covered(name, tape, 3.0)
            cov95 += _covered(name, tape, 1.959964)
        m = len(cov3)
        assert np.mean(cov3) >= 0.9973 - 3 * math.sqrt(0.9973 * 0.0027 / m) - 1.0 / m, name
        assert abs(np.mean(cov95) - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / m), (name, np.mean(cov95))
        assert picked >= 0.7 * reps, (name, picked)


def test_intensity_table_and_misfit() -> None:
    tape = _tape("two_part", 11)
    s = tape.window()
    choice = select_model(tape)
    grid = default_depth_grid(s)
    assert (
        grid[0] == pytest.approx(1.5 * H)
        or grid[0] == pytest.approx(0.5 * H)
        or grid[0] == pytest.approx(2.5 * H)
    )
    assert (np.diff(grid) > 0).all()
    table = intensity_table(s, choice.fits, grid)
    assert len(table) == grid.size
    row = table[0]
    assert {
        "depth",
        "empirical",
        "empirical_lo",
        "empirical_hi",
        "exponential",
        "power_law",
        "two_part",
    } <= set(row)
    assert row["empirical_lo"] <= row["empirical"] <= row["empirical_hi"]
    # the true law's rate lies in the empirical 95% interval at the touch and one tick past it
    for r in table[:2]:
        assert r["empirical_lo"] <= r["two_part"] <= r["empirical_hi"]
    mis = exponential_misfit(table, choice.selected, H)
    assert [m["label"] for m in mis][:2] == ["the typical touch", "one tick past the touch"]
    assert mis[1]["ratio_exp_to_empirical"] == pytest.approx(table[1]["exponential"] / table[1]["empirical"])


def test_per_window_fits() -> None:
    tape = _tape("exponential", 12, duration=900.0)
    rows = per_window_fits(tape, 300.0, ("exponential", "two_part"))
    assert [r["start_s"] for r in rows] == [0.0, 300.0, 600.0]
    assert sum(r["n_orders"] for r in rows) == tape.n
    for r in rows:
        assert abs(r["exponential"]["params"]["k"] - 60.0) <= 4 * r["exponential"]["se"]["k"]
    assert rows[0]["label"] == "00:00-00:05"
    with pytest.raises(ValueError, match="window_s"):
        per_window_fits(tape, 0.0)


def _feed_rows(est: RollingEstimator, tape: IntensityTape, a: float, b: float) -> None:
    """Feed the tape as event rows (quote rows, and trade rows carrying the book they met)."""
    i0, i1 = np.searchsorted(tape.seg_t, [a, b])
    sl = tape.order_slice(a, b)
    qt, qc, qm = tape.seg_t[i0:i1], tape.seg_c[i0:i1], tape.seg_mid[i0:i1]
    ot, od, oc = tape.order_t[sl], tape.order_d[sl], tape.order_c[sl]
    side = np.where(np.arange(ot.size) % 2 == 0, 1.0, -1.0)
    mid = 100.0
    t = np.concatenate([qt, ot])
    bid = np.concatenate([qm - qc, mid - oc])
    ask = np.concatenate([qm + qc, mid + oc])
    px = np.concatenate([np.full(qt.size, np.nan), mid + side * od])
    sd = np.concatenate([np.zeros(qt.size), side])
    o = np.argsort(t, kind="stable")
    est.update(t[o], bid[o], ask[o], px[o], sd[o])


def test_rolling_estimator_api_and_no_look_ahead() -> None:
    tape = _tape("two_part", 13, duration=600.0)
    est = RollingEstimator(window_s=300.0, model="two_part", tick=H, c_ref=1.5 * H)
    assert est.estimate() is None
    _feed_rows(est, tape, 0.0, 400.0)
    e = est.estimate(400.0)
    ref = fit_law(tape.window(100.0, 400.0), make_law("two_part", tick=H, c_ref=1.5 * H), gof=False)
    assert e is not None and e.n_orders == tape.window(100.0, 400.0).n
    for p in ("A", "beta", "p", "k"):
        assert e.params[p] == pytest.approx(ref.params[p], rel=1e-5)
    assert e.intensity(np.array([0.02, 0.03])).shape == (2,)
    assert math.isfinite(e.sigma) and e.sigma > 0
    later = RollingEstimator(window_s=300.0, model="two_part", tick=H, c_ref=1.5 * H)
    _feed_rows(later, tape, 0.0, 600.0)
    e2 = later.estimate(400.0)
    assert e2 is not None and e2.params == pytest.approx(e.params, rel=1e-6)
    with pytest.raises(ValueError, match="sorted"):
        later.add_orders([1.0], [0.01], [0.005])
    with pytest.raises(ValueError, match="tick"):
        RollingEstimator(window_s=10.0, model="two_part")


def test_walk_forward_rolling_beats_fixed_after_a_regime_change() -> None:
    law, theta = TRUTH["exponential"]
    rng = np.random.default_rng(14)
    a = simulate_tape(law, theta, 1000.0, rng, levels=LEVELS, tick=H)
    b = simulate_tape(law, theta + np.array([math.log(3.0), 0.0]), 1000.0, rng, levels=LEVELS, tick=H)
    tape = IntensityTape(
        order_t=np.concatenate([a.order_t, b.order_t + 1000.0]),
        order_d=np.concatenate([a.order_d, b.order_d]),
        order_c=np.concatenate([a.order_c, b.order_c]),
        order_side=np.concatenate([a.order_side, b.order_side]),
        seg_t=np.concatenate([a.seg_t, b.seg_t + 1000.0]),
        seg_c=np.concatenate([a.seg_c, b.seg_c]),
        seg_mid=np.concatenate([a.seg_mid, b.seg_mid]),
        end_s=2000.0,
        tick=H,
    )
    wf = walk_forward(tape, model="exponential", window_s=200.0, step_s=50.0, fit_fraction=0.5)
    assert wf.n_steps == 20 and wf.n_steps_without_estimate == 0
    assert wf.loglik_rolling > wf.loglik_fixed
    assert abs(wf.path[-1]["A"] - 9.0) < abs(wf.fixed["A"] - 9.0)


def test_rolling_estimator_merges_the_prints_of_one_order() -> None:
    """Three prints of one buy walking the book are one order reaching its deepest print; the tape
    chunk interface reads nanoseconds."""
    est = RollingEstimator(window_s=100.0, tick=H, min_orders=1)
    t = np.array([0.0, 1.0, 1.0, 1.0, 2.0])
    bid, ask = np.full(5, 99.99), np.full(5, 100.01)
    px = np.array([np.nan, 100.01, 100.02, 100.04, 99.99])
    side = np.array([0.0, 1.0, 1.0, 1.0, -1.0])

    class Chunk:
        time = (t * 1e9).astype(np.int64)
        bid_px, ask_px, trade_px = bid, ask, px

    Chunk.side = side.astype(np.int8)
    est.update_tape(Chunk)
    ot = np.concatenate(est._o_t)
    od = np.concatenate(est._o_d)
    assert ot.tolist() == [1.0, 2.0]
    assert od == pytest.approx([0.04, 0.01])
