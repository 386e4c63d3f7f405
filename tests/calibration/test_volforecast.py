"""Volatility forecasts: GARCH(1,1) MLE (arch), HAR-RV, rolling out-of-sample forecasts, losses, online use."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("arch", reason="the GARCH fit needs the arch package (the data extra)")

from agents import AvellanedaStoikovAgent
from agents.base import QuoteState
from agents.forecast_sigma import ForecastSigmaAgent
from mmenv.calibration.volforecast import (
    GarchFilter,
    fit_garch,
    fit_har,
    forecast_losses,
    realized_blocks,
    rolling_forecasts,
)


def _simulate_garch(
    n: int, omega: float, alpha: float, beta: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """r_t = sqrt(v_t) z_t, v_{t+1} = omega + alpha r_t^2 + beta v_t (Gaussian z), 500 steps of burn-in."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n + 500)
    v = omega / (1 - alpha - beta)
    r, vs = np.empty(n + 500), np.empty(n + 500)
    for t in range(n + 500):
        vs[t] = v
        r[t] = math.sqrt(v) * z[t]
        v = omega + alpha * r[t] ** 2 + beta * v
    return r[500:], vs[500:]


@pytest.mark.parametrize("seed", [1, 2])
def test_garch_fit_recovers_known_parameters(seed):
    """MLE on 20,000 simulated changes: every parameter within 4 of its standard errors of the truth."""
    true = {"omega": 2e-4, "alpha": 0.1, "beta": 0.85}  # variance scale 0.004 per step, like the env
    r, _ = _simulate_garch(20_000, true["omega"], true["alpha"], true["beta"], seed)
    fit = fit_garch(r)
    for name, value in true.items():
        est, se = getattr(fit, name), fit.se[name]
        assert 0 < se < 0.3 * value  # informative SEs
        assert abs(est - value) < 4 * se, (name, est, se)
    assert fit.nobs == 20_000 and fit.persistence < 1


def test_garch_block_forecast_and_filter():
    r, v = _simulate_garch(3000, 2e-4, 0.1, 0.85, 3)
    fit = fit_garch(r)
    filt = GarchFilter(fit)
    filt.reset(2)
    assert np.allclose(filt.variance, fit.long_run_variance)
    filt.update(np.array([0.0, 0.1]))
    assert filt.variance[1] > filt.variance[0]
    # aggregation: one step is v itself; many steps approach m * V
    assert fit.block_forecast(0.01, 1) == pytest.approx(0.01)
    lr = fit.long_run_variance
    assert fit.block_forecast(0.01, 10_000) / 10_000 == pytest.approx(lr, rel=1e-2)


def test_har_recovers_a_known_linear_model():
    rng = np.random.default_rng(0)
    n = 5000
    rv = np.empty(n)
    rv[:22] = 1.0
    c, bd, bw, bm = 0.2, 0.3, 0.3, 0.2
    for t in range(22, n):
        rv[t] = (
            c
            + bd * rv[t - 1]
            + bw * rv[t - 5 : t].mean()
            + bm * rv[t - 22 : t].mean()
            + 0.05 * rng.standard_normal()
        )
    fit = fit_har(rv)
    np.testing.assert_allclose(fit.coef, [c, bd, bw, bm], atol=0.05)


def test_rolling_forecasts_are_out_of_sample_and_garch_beats_constant():
    r, v = _simulate_garch(12_000, 2e-4, 0.1, 0.85, 4)
    f = rolling_forecasts(r, 10, 400, 200, true_variance=v, true_garch=(2e-4, 0.1, 0.85))
    assert f["realized"].size == 1200 - 400 and set(f) >= {
        "garch",
        "har",
        "ewma",
        "rolling",
        "constant",
        "oracle",
    }
    np.testing.assert_allclose(f["realized"], realized_blocks(r, 10)[400:])
    # no look-ahead: changing the changes after a block leaves its forecasts unchanged
    r2 = r.copy()
    r2[500 * 10 :] *= 3.0
    f2 = rolling_forecasts(r2, 10, 400, 200)
    for name in ("garch", "har", "ewma", "rolling", "constant"):
        np.testing.assert_array_equal(f2[name][:100], f[name][:100])
    losses = forecast_losses(f)
    d = losses["constant"]["vs_garch"]["qlike"]
    assert d["mean"] > 3 * d["se"]  # GARCH forecasts beat the constant on GARCH data
    o = losses["oracle"]["vs_garch"]["qlike"]
    assert o["mean"] < 3 * o["se"]  # nothing beats the truth significantly


def test_forecast_sigma_agent_feeds_mid_changes():
    fit = fit_garch(_simulate_garch(3000, 2e-4, 0.1, 0.85, 5)[0])
    agent = ForecastSigmaAgent(AvellanedaStoikovAgent(gamma=0.1), GarchFilter(fit), dt=0.005)
    agent.reset(2)
    one = np.ones(2)
    st = QuoteState(q=0 * one, tau=one, mid=100 * one, sigma=99 * one, s0=100 * one)
    b0, _ = agent.quote(st)
    b1, _ = agent.quote(st._replace(mid=np.array([100.0, 101.0])))
    assert b1[1] > b1[0]  # a big move raises sigma and widens the spread
    ref, _ = AvellanedaStoikovAgent(gamma=0.1).quote(
        st._replace(sigma=math.sqrt(fit.long_run_variance / 0.005) * one)
    )
    np.testing.assert_allclose(b0, ref)


def test_bad_input():
    with pytest.raises(ValueError, match="at least 100"):
        fit_garch(np.ones(10))
    with pytest.raises(ValueError, match="finite"):
        fit_garch(np.r_[np.ones(200), np.nan])
    with pytest.raises(ValueError, match="m must"):
        realized_blocks(np.ones(10), 0)
    with pytest.raises(ValueError, match="window"):
        rolling_forecasts(np.ones(1000), 10, 5, 1)


def test_vol_forecast_cli_writes_metrics(tmp_path):
    import json

    from mmenv.cli import main

    rc = main(["vol-forecast", "--out", str(tmp_path), "--steps", "6000", "--paths", "40", "--days", "30"])
    assert rc == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert {"garch", "har", "ewma", "rolling", "constant", "oracle"} <= set(m["garch_market"]["losses"])
    assert {"garch", "har"} <= set(m["bars"]["losses"])
    q = m["quoting"]["policies"]
    assert set(q) == {"constant", "rolling", "ewma", "garch", "har", "true"}
    assert q["constant"]["vs_constant"]["diff"] == 0.0
    from mmenv.studies.report.document import Report
    from mmenv.studies.report.saved_studies import sec_vol_forecast

    rep = Report(tmp_path / "report")
    sec_vol_forecast(rep, {"vol_forecast": tmp_path})
    text = "\n".join(rep.parts)
    assert "Volatility forecasts" in text and f"{q['garch']['std_pnl']:.3f}" in text
