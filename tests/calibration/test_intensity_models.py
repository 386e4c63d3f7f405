"""Tests of mmenv.calibration.intensity.models / likelihood / tape: the laws, their likelihood, fits and GoF."""

from __future__ import annotations

import numpy as np
import pytest

from mmenv.calibration import DepthSample, empirical_intensity, fit_intensity, simulate_depth_sample
from mmenv.calibration.intensity.likelihood import (
    LikelihoodData,
    empirical_on_basis,
    fit_law,
    fit_models,
    log_likelihood,
    rate_on_basis,
    typical_half_spread,
)
from mmenv.calibration.intensity.models import make_law
from mmenv.calibration.intensity.tape import REFERENCE_LEVELS, REFERENCE_TICK, reference_law, simulate_tape

H = REFERENCE_TICK
LEVELS = np.array(REFERENCE_LEVELS)
TRUTH = {name: reference_law(name) for name in ("exponential", "power_law", "two_part")}


def _varying_sample(seed: int) -> DepthSample:
    rng = np.random.default_rng(seed)
    parts = [
        simulate_depth_sample(5.0, 40.0, T, rng, sides=2, half_spread=c, tick=H)
        for T, c in ((200.0, 0.5 * H), (300.0, 1.5 * H))
    ]
    return DepthSample.build(
        np.concatenate([p.depths for p in parts]),
        thresholds=np.concatenate([p.thresholds for p in parts]),
        exposure=([0.5 * H, 1.5 * H], [200.0, 300.0]),
        sides=2,
        tick=H,
    )


def test_exponential_equals_the_fit_of_record() -> None:
    """Same log-likelihood (same constant), same MLE and SEs as mmenv.calibration.fit_intensity."""
    s = _varying_sample(0)
    rec = fit_intensity(s)
    f = fit_law(s, "exponential")
    assert f.loglik == pytest.approx(rec.loglik, rel=1e-10)
    assert f.params["A"] == pytest.approx(rec.A, rel=1e-7)
    assert f.params["k"] == pytest.approx(rec.k, rel=1e-7)
    assert f.se["A"] == pytest.approx(rec.A_se, rel=1e-4)
    assert f.se["k"] == pytest.approx(rec.k_se, rel=1e-4)
    ll, _ = log_likelihood(f.law, np.log([rec.A, rec.k]), s)
    assert ll == pytest.approx(rec.loglik, rel=1e-12)


@pytest.mark.parametrize("name", ["exponential", "power_law", "two_part"])
@pytest.mark.parametrize("tick", [H, None])
def test_gradient_matches_finite_differences(name: str, tick: float | None) -> None:
    law, theta = TRUTH[name]
    if law.requires_tick and tick is None:
        with pytest.raises(ValueError, match="tick"):
            fit_law(simulate_depth_sample(5.0, 40.0, 50.0, np.random.default_rng(0)), name)
        return
    tape = simulate_tape(law, theta, 200.0, np.random.default_rng(1), levels=LEVELS, tick=tick)
    data = LikelihoodData.from_sample(tape.window())
    th = theta + 0.05
    _, g = log_likelihood(law, th, data)
    for j in range(th.size):
        e = np.zeros(th.size)
        e[j] = 1e-6
        fd = (log_likelihood(law, th + e, data)[0] - log_likelihood(law, th - e, data)[0]) / 2e-6
        assert g[j] == pytest.approx(fd, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("name", ["exponential", "power_law", "two_part"])
def test_recovers_true_law_within_3_se(name: str) -> None:
    law, theta = TRUTH[name]
    tape = simulate_tape(law, theta, 2000.0, np.random.default_rng(2), levels=LEVELS, tick=H)
    s = tape.window()
    f = fit_law(s, law)  # the true law's constants (c_ref) so the parameters are comparable
    truth = law.natural(theta)
    for j, pname in enumerate(law.param_names):
        assert abs(f.params[pname] - truth[j]) <= 3 * f.se[pname], (pname, f.params, f.se)
    assert f.gof_pvalue is not None and f.gof_pvalue > 1e-4


def test_continuous_depths_skip_two_part_and_fit_the_rest() -> None:
    s = simulate_depth_sample(5.0, 40.0, 100.0, np.random.default_rng(3), sides=2, half_spread=0.005)
    fits, skipped = fit_models(s)
    assert set(fits) == {"exponential", "power_law"} and "tick" in skipped["two_part"]
    rec = fit_intensity(s)
    assert fits["exponential"].params["k"] == pytest.approx(rec.k, rel=1e-7)


def test_intensity_callable_is_vectorised_and_continuous() -> None:
    law, theta = TRUTH["two_part"]
    f = fit_law(
        simulate_tape(law, theta, 500.0, np.random.default_rng(4), levels=LEVELS, tick=H).window(), law
    )
    grid = np.linspace(0.0, 0.1, 41).reshape(41, 1)
    lam = f.intensity(grid)
    assert lam.shape == grid.shape and (lam > 0).all() and (np.diff(lam.ravel()) <= 0).all()
    c, p = law.c_ref, f.params["p"]
    assert f.intensity(c + H) / f.intensity(c) == pytest.approx(p, rel=1e-12)
    eps = 1e-12
    assert f.intensity(c + eps) == pytest.approx(f.intensity(c - eps), rel=1e-6)
    for name in ("exponential", "power_law"):
        law_, th_ = TRUTH[name]
        assert law_.curve(np.array([0.02, 0.03]), th_) == pytest.approx(
            np.exp(law_.log_lambda(np.array([0.02, 0.03]), np.zeros(2), th_)[0])
        )


def test_rate_on_basis_and_empirical() -> None:
    """One half-spread level: the fitted rate on the truncation basis is lambda(delta) on the
    lattice; the empirical rate equals mmenv.calibration.empirical_intensity where that keeps a
    point, and its 95% interval holds it."""
    s = simulate_depth_sample(5.0, 40.0, 400.0, np.random.default_rng(5), sides=2, half_spread=0.005, tick=H)
    f = fit_law(s, "exponential")
    grid = 0.005 + H * np.arange(6)
    assert rate_on_basis(f, s, grid) == pytest.approx(f.intensity(grid), rel=1e-10)
    emp = empirical_on_basis(s, grid)
    g, rate, _ = empirical_intensity(s, grid)
    keep = np.isin(grid, g)
    assert emp["rate"][keep] == pytest.approx(rate)
    assert ((emp["lo"] <= emp["rate"]) & (emp["rate"] <= emp["hi"])).all()
    assert np.isnan(rate_on_basis(f, s, [0.001])).all()


def test_typical_half_spread_and_tape_windows() -> None:
    assert typical_half_spread(np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 1.0])) == 2.0
    law, theta = TRUTH["exponential"]
    tape = simulate_tape(law, theta, 100.0, np.random.default_rng(6), levels=LEVELS, tick=H)
    a, b = tape.window(0, 40.0), tape.window(40.0, 100.0)
    assert a.n + b.n == tape.n
    assert a.duration_s == pytest.approx(40.0) and b.duration_s == pytest.approx(60.0)
    with pytest.raises(ValueError, match="window end"):
        tape.window(5.0, 5.0)
    with pytest.raises(ValueError, match="model must be one of"):
        make_law("gamma")
