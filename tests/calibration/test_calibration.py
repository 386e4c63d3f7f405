"""Tests of mmenv.calibration: the MLE of lambda(d) = A exp(-k d), its uncertainty, LS, sigma."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mmenv import calibration as cal
from mmenv.calibration import (
    CalibrationError,
    CalibrationResult,
    DepthSample,
    estimate_sigma,
    fit_intensity,
    fit_intensity_ls,
    mle,
    simulate_depth_sample,
)

A_TRUE, K_TRUE = 140.0, 1.5


def _within(est: float, se: float, truth: float, z: float = 3.0) -> bool:
    return abs(est - truth) <= z * se


def test_continuous_recovery_within_3_se() -> None:
    s = simulate_depth_sample(A_TRUE, K_TRUE, 50.0, np.random.default_rng(1), sides=2)
    f = fit_intensity(s)
    assert _within(f.A, f.A_se, A_TRUE) and _within(f.k, f.k_se, K_TRUE)
    assert f.n_trades == s.n and f.duration_s == 50.0


def test_censored_truncated_recovery_within_3_se() -> None:
    s = simulate_depth_sample(
        A_TRUE, K_TRUE, 50.0, np.random.default_rng(2), sides=2, half_spread=0.2, tick=0.25
    )
    f = fit_intensity(s)
    assert f.tick == 0.25
    assert _within(f.A, f.A_se, A_TRUE) and _within(f.k, f.k_se, K_TRUE)


def test_censoring_matters() -> None:
    """Treating tick-floored depths as continuous biases k upward: the censored model is needed."""
    s = simulate_depth_sample(A_TRUE, K_TRUE, 100.0, np.random.default_rng(3), sides=2, tick=0.5)
    naive = DepthSample(s.depths, s.thresholds, s.levels, s.seconds, sides=2, tick=None)
    f_cens, f_naive = fit_intensity(s), fit_intensity(naive)
    assert _within(f_cens.k, f_cens.k_se, K_TRUE)
    assert f_naive.k > K_TRUE + 10 * f_naive.k_se


def test_varying_exposure_recovery() -> None:
    """Two half-spread regimes: the exposure sum_s tau_s exp(-k c_s) is what identifies A."""
    rng = np.random.default_rng(4)
    parts = [
        simulate_depth_sample(A_TRUE, K_TRUE, T, rng, sides=2, half_spread=c)
        for T, c in ((30.0, 0.1), (70.0, 0.8))
    ]
    sample = DepthSample.build(
        np.concatenate([p.depths for p in parts]),
        thresholds=np.concatenate([p.thresholds for p in parts]),
        exposure=([0.1, 0.8], [30.0, 70.0]),
        sides=2,
    )
    f = fit_intensity(sample)
    assert _within(f.A, f.A_se, A_TRUE) and _within(f.k, f.k_se, K_TRUE)


def test_optimiser_matches_closed_form_from_far_start() -> None:
    s = simulate_depth_sample(A_TRUE, K_TRUE, 20.0, np.random.default_rng(5), sides=2, half_spread=0.3)
    f = fit_intensity(s, x0=(1.0, 50.0))
    k_cf = s.n / (s.depths.sum() - s.n * 0.3)
    A_cf = s.n * math.exp(k_cf * 0.3) / (2 * 20.0)
    assert f.n_iter > 3
    assert f.k == pytest.approx(k_cf, rel=1e-8) and f.A == pytest.approx(A_cf, rel=1e-8)


@pytest.mark.parametrize("tick", [None, 0.2])
def test_analytic_hessian_matches_finite_differences(tick: float | None) -> None:
    s = simulate_depth_sample(50.0, 2.0, 20.0, np.random.default_rng(6), sides=2, half_spread=0.1, tick=tick)
    S = float(s.depths.sum())
    th = np.array([math.log(45.0), math.log(2.3)])
    _ll, g, H = mle._loglik_parts(th, s.n, S, s)
    eps = 1e-5
    for i in range(2):
        e = np.zeros(2)
        e[i] = eps
        lp, gp, _ = mle._loglik_parts(th + e, s.n, S, s)
        lm, gm, _ = mle._loglik_parts(th - e, s.n, S, s)
        assert (lp - lm) / (2 * eps) == pytest.approx(g[i], rel=1e-6, abs=1e-6)
        np.testing.assert_allclose((gp - gm) / (2 * eps), H[:, i], rtol=1e-5, atol=1e-5)


def test_standard_errors_match_fisher_information() -> None:
    """For c = 0 the expected information gives se(k) = k / sqrt(n), se(A) = A / sqrt(n)... plus coupling."""
    s = simulate_depth_sample(A_TRUE, K_TRUE, 30.0, np.random.default_rng(7), sides=2)
    f = fit_intensity(s)
    # c = 0: log-likelihood separates, so se(log A) = se(log k) = 1/sqrt(n) and the covariance is diagonal
    assert f.cov_log[0, 0] == pytest.approx(1 / s.n, rel=1e-8)
    assert f.cov_log[1, 1] == pytest.approx(1 / s.n, rel=1e-8)
    assert abs(f.cov_log[0, 1]) < 1e-12
    lo, hi = f.conf_int(0.95)["k"]
    assert lo < f.k < hi


def test_ls_and_mle_agree_on_model_data() -> None:
    s = simulate_depth_sample(A_TRUE, K_TRUE, 200.0, np.random.default_rng(8), sides=2)
    f, ls = fit_intensity(s), fit_intensity_ls(s)
    assert abs(ls.k - f.k) < 3 * math.hypot(f.k_se, ls.k_se)
    assert abs(ls.A - f.A) < 3 * math.hypot(f.A_se, ls.A_se)
    assert ls.grid.size >= 3 and (np.diff(ls.rate) < 0).all()


def test_gof_accepts_model_and_rejects_misspecification() -> None:
    rng = np.random.default_rng(9)
    s = simulate_depth_sample(A_TRUE, K_TRUE, 50.0, rng, sides=2)
    f = fit_intensity(s)
    assert f.gof_df is not None and f.gof_pvalue > 1e-3
    bad = np.abs(rng.normal(0.0, 1.0, size=s.n))  # half-normal depths, not exponential
    fb = fit_intensity(bad, 50.0, sides=2)
    assert fb.gof_pvalue < 1e-6


def test_fill_probability_band() -> None:
    s = simulate_depth_sample(A_TRUE, K_TRUE, 5.0, np.random.default_rng(10), sides=2)
    f = fit_intensity(s)
    p, se = f.fill_probability(np.array([0.0, 1.0, 3.0]), dt=0.005)
    assert np.all((p > 0) & (p < 1)) and np.all(se > 0) and np.all(np.diff(p) < 0)


# --- bad input -----------------------------------------------------------------------------------


def test_too_few_trades() -> None:
    with pytest.raises(ValueError, match="n_trades"):
        fit_intensity(np.array([0.1, 0.2, 0.3]), 10.0)


def test_all_depths_zero_is_an_error_not_nan() -> None:
    with pytest.raises(CalibrationError, match="not identified"):
        fit_intensity(np.zeros(100), 10.0)


def test_all_at_touch_on_tick_grid() -> None:
    with pytest.raises(CalibrationError, match="touch"):
        fit_intensity(np.full(100, 0.05), 10.0, min_depth=0.05, tick=0.1)


def test_negative_depths_warned_and_excluded() -> None:
    d = np.concatenate([-np.ones(5), np.random.default_rng(0).exponential(1.0, 200)])
    with pytest.warns(UserWarning, match="5 of 205"):
        f = fit_intensity(d, 10.0)
    assert f.n_trades == 200 and f.n_excluded == 5


def test_all_depths_negative() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="n_trades"):
            fit_intensity(-np.ones(100), 10.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_depths(bad: float) -> None:
    d = np.ones(50)
    d[3] = bad
    with pytest.raises(ValueError, match=r"depths\[3\]"):
        fit_intensity(d, 10.0)


@pytest.mark.parametrize("duration", [0.0, -1.0, float("nan")])
def test_bad_duration(duration: float) -> None:
    with pytest.raises(ValueError, match="duration_s"):
        fit_intensity(np.ones(50), duration)


def test_failed_optimiser_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy import optimize

    class Bad:
        x = np.array([0.0, 0.0])
        success = False
        message = "forced failure"
        nit = 1

    monkeypatch.setattr(optimize, "minimize", lambda *a, **k: Bad())
    s = simulate_depth_sample(A_TRUE, K_TRUE, 1.0, np.random.default_rng(0), sides=2)
    with pytest.raises(CalibrationError, match="did not converge"):
        fit_intensity(s)


def test_depth_sample_rejects_depth_below_threshold() -> None:
    with pytest.raises(ValueError, match="below their touch"):
        DepthSample(np.array([0.1, 0.5]), np.array([0.2, 0.2]), np.array([0.2]), np.array([1.0]))


# --- sigma, results, env -------------------------------------------------------------------------


def test_sigma_recovery() -> None:
    rng = np.random.default_rng(11)
    sigma, dt, n = 0.05, 0.1, 20_000
    t = dt * np.arange(n + 1)
    mid = 100 + np.concatenate([[0.0], np.cumsum(sigma * math.sqrt(dt) * rng.standard_normal(n))])
    est = estimate_sigma(t, mid)
    assert _within(est.sigma, est.sigma_se, sigma)
    est10 = estimate_sigma(t, mid, sampling_s=1.0)
    assert est10.n_increments == n // 10 and _within(est10.sigma, est10.sigma_se, sigma)
    with pytest.raises(ValueError, match="sampling_s"):
        estimate_sigma(t, mid, sampling_s=0.0)
    with pytest.raises(ValueError, match="sorted"):
        estimate_sigma(t[[0, 2, 1, *range(3, t.size)]], mid)


def _result() -> CalibrationResult:
    s = simulate_depth_sample(A_TRUE, K_TRUE, 5.0, np.random.default_rng(12), sides=2)
    return CalibrationResult(intensity=fit_intensity(s), sigma=0.02, sigma_se=0.001, s0=100.0)


def test_result_to_market_params_and_json() -> None:
    r = _result()
    mp = r.to_market_params(time_unit_s=60.0, T=1.0, dt=0.01)
    assert mp.A == pytest.approx(r.A * 60) and mp.k == r.k
    assert mp.sigma == pytest.approx(0.02 * math.sqrt(60)) and mp.s0 == 100.0
    d = r.to_dict()
    for key in ("A", "k", "A_se", "k_se", "sigma", "loglik", "n_trades", "duration_s"):
        assert key in d and d[key] is not None
    with pytest.raises(ValueError, match="time_unit_s"):
        r.market_kwargs(0.0)


def test_make_env_from_calibration() -> None:
    pytest.importorskip("mmenv.envs.env", reason="the env (issue 2) is not built yet")
    r = _result()
    env = cal.make_env_from_calibration(r, T=1.0, dt=0.01)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.close()


# --- statistical properties (slow) ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("tick", [None, 0.25])
def test_coverage_of_95_percent_intervals(tick: float | None) -> None:
    """95% log-scale Wald intervals cover the truth in 90-99% of 200 replications (MC SE ~1.5%)."""
    rng = np.random.default_rng(2024)
    cover_A = cover_k = 0
    reps = 200
    for _ in range(reps):
        s = simulate_depth_sample(A_TRUE, K_TRUE, 0.5, rng, sides=2, half_spread=0.1, tick=tick)
        ci = fit_intensity(s).conf_int(0.95)
        cover_A += ci["A"][0] <= A_TRUE <= ci["A"][1]
        cover_k += ci["k"][0] <= K_TRUE <= ci["k"][1]
    assert 0.90 <= cover_A / reps <= 0.99
    assert 0.90 <= cover_k / reps <= 0.99


@pytest.mark.slow
def test_mle_more_efficient_than_least_squares() -> None:
    """Over 200 replications the MLE of k has a smaller RMSE than the log-linear LS fit."""
    rng = np.random.default_rng(7)
    err_mle, err_ls = [], []
    for _ in range(200):
        s = simulate_depth_sample(A_TRUE, K_TRUE, 1.0, rng, sides=2)
        err_mle.append(fit_intensity(s).k - K_TRUE)
        err_ls.append(fit_intensity_ls(s).k - K_TRUE)
    rmse_mle = math.sqrt(np.mean(np.square(err_mle)))
    rmse_ls = math.sqrt(np.mean(np.square(err_ls)))
    assert rmse_mle < rmse_ls


def test_empirical_intensity_grid_is_bounded_whatever_the_tick() -> None:
    """A tick far below the data's grid sizes no loop: the default grid keeps at most MAX_GRID depths."""
    import time

    from mmenv.calibration.leastsq import MAX_GRID, empirical_intensity

    rng = np.random.default_rng(3)
    s = cal.simulate_depth_sample(3.0, 60.0, 2000.0, rng, half_spread=0.005, tick=0.01)
    fine = cal.DepthSample(s.depths, s.thresholds, s.levels, s.seconds, s.sides, tick=1e-9)
    t0 = time.perf_counter()
    grid, rate, counts = empirical_intensity(fine)
    assert time.perf_counter() - t0 < 5.0 and grid.size <= MAX_GRID
    g, r, c = empirical_intensity(s)  # the data's tick: every tick, as before
    assert np.allclose(np.diff(g), 0.01)
