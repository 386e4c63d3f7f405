"""Tests of mmenv.calibration.report and the `mmenv calibrate` study (end to end)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from mmenv.calibration import CalibrationResult, fit_intensity, simulate_depth_sample
from mmenv.calibration.report import empirical_reach_probability, format_table, plot_calibration


def _fit():
    s = simulate_depth_sample(140.0, 1.5, 20.0, np.random.default_rng(0), sides=2)
    r = CalibrationResult(intensity=fit_intensity(s), sigma=0.1, sigma_se=0.01, s0=100.0, source="test")
    return s, r


def test_empirical_reach_probability_matches_model() -> None:
    s, _r = _fit()
    dt, grid = 0.01, np.array([0.0, 1.0, 2.0])
    p, se = empirical_reach_probability(s, dt, grid)
    p_true = 1 - np.exp(-140.0 * np.exp(-1.5 * grid) * dt)
    assert np.all(np.abs(p - p_true) < 4 * se + 1e-12)
    with pytest.raises(ValueError, match="dt"):
        empirical_reach_probability(s, 0.0, grid)


def test_table_and_figure(tmp_path: Path) -> None:
    s, r = _fit()
    text = format_table(r, {"A": 140.0, "k": 1.5})
    assert "MLE" in text and "chi2" in text and "140" in text
    out = plot_calibration(r, s, tmp_path / "c.png")
    assert out.exists() and out.stat().st_size > 10_000


def test_study_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mmenv.data.ticks", reason="the tick synthesis (issue 3) is not built yet")
    from mmenv.cli import run_command

    main = functools.partial(run_command, "calibrate")

    assert main(["--days", "2", "--out", str(tmp_path)]) == 0
    d = json.loads((tmp_path / "calibration.json").read_text())
    for key in ("A", "k", "A_se", "k_se", "sigma", "loglik", "n_trades", "duration_s"):
        assert key in d
    assert abs(d["k"] - d["truth"]["k"]) < 4 * d["k_se"]
    assert abs(d["A"] - d["truth"]["A"]) < 4 * d["A_se"]
    assert (tmp_path / "calibration.png").exists()
    assert "MLE" in capsys.readouterr().out
