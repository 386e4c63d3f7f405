"""Predictive power of the signals and the markout by bucket (mmenv.signals.predictive)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmenv.signals.predictive import future_mid_moves, markout_by_bucket, predictive_power
from tests.signals.test_features import random_tape


def test_future_mid_moves_match_a_direct_search():
    tape = random_tape(5, 300)
    y = future_mid_moves(tape, (0.5, 2.0))
    t, mid = tape.time, tape.mid
    for i in range(len(tape)):
        for k, h in enumerate((0.5, 2.0)):
            target = t[i] + round(h * 1e9)
            if target > t[-1]:
                assert math.isnan(y[i, k])
                continue
            j = max(np.flatnonzero(t <= target))
            assert y[i, k] == pytest.approx((mid[j] - mid[i]) / tape.tick, abs=1e-12)
    with pytest.raises(ValueError, match="horizons_s"):
        future_mid_moves(tape, (0.0,))


def test_predictive_power_recovers_a_line_and_scores_a_dead_signal_out_of_sample():
    rng = np.random.default_rng(0)
    x_in, x_out = rng.uniform(-1, 1, (4000, 2)), rng.uniform(-1, 1, (4000, 2))
    y_in = np.stack([2.0 * x_in[:, 0] + rng.normal(0, 1, 4000)], axis=1)
    # out of sample: column 0 keeps predicting, column 1 never did (its in-sample fit is noise)
    y_out = np.stack([2.0 * x_out[:, 0] + rng.normal(0, 1, 4000)], axis=1)
    p = predictive_power(["good", "dead"], x_in, y_in, x_out, y_out, (1.0,), n_buckets=4)
    good, dead = p["good"]["1s"], p["dead"]["1s"]
    # slope SE = sd(noise) / (sd(x) sqrt(n)) = 1 / (0.577 * 63) = 0.027: 5 SE
    assert good["slope"] == pytest.approx(2.0, abs=0.14)
    assert good["r2_out"] > 0.5 and good["r2_in"] > 0.5
    assert dead["r2_out"] < 0.005 and abs(dead["slope"]) < 0.3
    assert len(good["mean_move_in"]) == 4 and sum(good["count_in"]) == 4000
    assert good["mean_move_out"][0] < 0 < good["mean_move_out"][-1]


def test_markout_by_bucket_sums_and_buckets():
    x = np.array([-0.9, -0.7, -0.1, 0.1, 0.5, 0.99, 2.0])
    mk = np.array([-3.0, -1.0, 0.5, 0.2, 1.0, 2.0, 4.0])
    sz = np.array([1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0])
    r = markout_by_bucket(x, mk, sz)
    assert r["n_fills"] == [2, 0, 2, 1, 2]
    assert r["markout_total"] == pytest.approx([-4.0, 0.0, 0.7, 1.0, 6.0])
    assert r["markout_per_unit"][2] == pytest.approx(0.7 / 3.0)
    assert math.isnan(r["markout_per_unit"][1])
    assert sum(r["units"]) == sz.sum()
    e = markout_by_bucket(x[:0], mk[:0], sz[:0])
    assert all(math.isnan(v) for v in e["markout_per_unit"])
    with pytest.raises(ValueError, match="edges"):
        markout_by_bucket(x, mk, sz, edges=(0.0, 0.0))
    with pytest.raises(ValueError, match="one shape"):
        markout_by_bucket(x, mk[:3], sz)
