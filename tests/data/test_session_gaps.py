"""Returns across session gaps are excluded: an overnight jump must not inflate sigma."""

from __future__ import annotations

import numpy as np
import pytest

from mmenv.calibration import calibrate
from mmenv.calibration.trades import TickSource
from mmenv.calibration.volatility import GRID_BLOCK, estimate_sigma
from mmenv.data import synthetic_bars
from mmenv.data.bars.validate import within_session_log_returns
from mmenv.data.ticks import synthesize_ticks


def _gapped_bars():
    """Two synthetic sessions with the second shifted up by 30%: a one-night jump of the mid."""
    bars = synthetic_bars(2, seed=5).copy()
    day2 = bars.index.normalize() == bars.index.normalize()[-1]
    bars.loc[day2, ["open", "high", "low", "close"]] *= 1.3
    return bars


def test_sigma_of_ticks_leaves_the_overnight_jump_out():
    bars = _gapped_bars()
    src = TickSource(synthesize_ticks(bars, seed=1))
    seg = src.mid_segments()
    assert seg[0] == 1 and seg[-1] == 2 and np.all(np.diff(seg) >= 0)  # one piece per session
    t, mid = src.mid_path()
    with_gap = estimate_sigma(t, mid, sampling_s=1.0).sigma
    res = calibrate(src)
    per_day = []
    for s in (1, 2):
        k = seg == s
        per_day.append(estimate_sigma(t[k], mid[k], sampling_s=1.0))
    pooled = np.sqrt(sum(e.sigma**2 * e.n_increments for e in per_day) / sum(e.n_increments for e in per_day))
    assert res.sigma == pytest.approx(pooled, rel=0.02)  # the within-session volatility
    assert with_gap > 1.3 * res.sigma  # counted as one increment, the jump dominates


def test_missing_bars_start_a_new_piece():
    bars = synthetic_bars(1, seed=2).drop(index=synthetic_bars(1, seed=2).index[100:110])
    seg = TickSource(synthesize_ticks(bars, seed=0)).mid_segments()
    assert len(np.unique(seg)) == 2


def test_within_session_returns_skip_the_night():
    bars = _gapped_bars()
    r = within_session_log_returns(bars)
    assert r.size == len(bars) - 2 and np.abs(r).max() < 0.05  # the 26% overnight return is not there


def test_blocked_grid_equals_one_block(monkeypatch):
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 5000, 3000))
    m = np.cumsum(rng.standard_normal(3000))
    seg = (t > 2500).astype(int)
    one = estimate_sigma(t, m, sampling_s=1.0, segments=seg)
    monkeypatch.setattr("mmenv.calibration.volatility.GRID_BLOCK", 97)
    many = estimate_sigma(t, m, sampling_s=1.0, segments=seg)
    n_grid = int(t[-1] - t[0]) + 1
    assert many.n_increments == one.n_increments == n_grid - 2  # the increment across the pieces left out
    assert many.sigma == pytest.approx(one.sigma, rel=1e-12)
    assert GRID_BLOCK > 97
