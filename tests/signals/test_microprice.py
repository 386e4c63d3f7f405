"""The micro-price table of Stoikov 2018 (mmenv.signals.microprice) against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from mmenv.signals import fit_microprice
from tests.signals.test_features import random_tape


def test_first_order_table_is_the_symmetrised_conditional_mean():
    tape = random_tape(3, 3000)
    n_imb, n_sp = 4, 3
    tab = fit_microprice(tape, n_imb, n_sp, iterations=1)
    mid = tape.mid
    sums = np.zeros((n_imb, n_sp))
    cnts = np.zeros((n_imb, n_sp))
    for i in range(len(tape)):
        if tape.kind[i] != 0:
            continue
        later = np.flatnonzero(mid[i + 1 :] != mid[i:-1])  # events after i that moved the mid
        if later.size == 0:
            continue
        j = i + 1 + later[0]
        d = (mid[j] - mid[i]) / tape.tick
        b = min(int(tape.bid_qty[i] / (tape.bid_qty[i] + tape.ask_qty[i]) * n_imb), n_imb - 1)
        s = min(max(round((tape.ask_px[i] - tape.bid_px[i]) / tape.tick), 1), n_sp) - 1
        sums[b, s] += d
        cnts[b, s] += 1
        sums[n_imb - 1 - b, s] -= d
        cnts[n_imb - 1 - b, s] += 1
    expect = np.divide(sums, cnts, out=np.zeros_like(sums), where=cnts > 0)
    np.testing.assert_allclose(tab.g1_ticks, expect, atol=1e-12)
    np.testing.assert_array_equal(tab.g_ticks, tab.g1_ticks)
    np.testing.assert_allclose(tab.g_ticks, -tab.g_ticks[::-1], atol=1e-12)  # odd in the imbalance
    assert tab.n_samples == int(cnts.sum() / 2)


def test_series_is_odd_and_counts_its_last_step():
    tab = fit_microprice(random_tape(4, 3000), 6, 2, iterations=8)
    np.testing.assert_allclose(tab.g_ticks, -tab.g_ticks[::-1], atol=1e-12)
    assert np.isfinite(tab.last_step_ticks) and tab.last_step_ticks >= 0
    assert tab.to_dict()["iterations"] == 8


def test_bad_settings_and_a_tape_without_mid_change():
    tape = random_tape(0, 50)
    for kw, name in (
        ({"n_imbalance": 1}, "n_imbalance"),
        ({"n_spread": 0}, "n_spread"),
        ({"iterations": 0}, "iterations"),
    ):
        with pytest.raises(ValueError, match=name):
            fit_microprice(tape, **kw)
    flat = tape.slice(0, 1)
    with pytest.raises(ValueError, match="no quote event followed by a change of the mid"):
        fit_microprice(flat)
