"""Walk-forward replay with the rolling-window calibrator, and the selected law's quotes as strategies."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from mmenv.studies.tape_backtest import add_replay_arguments, run_study
from mmenv.studies.tapes import rolling_calibrations
from tests.studies.test_replay_study import synthetic_tape


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_replay_arguments(p)
    p.add_argument("--markouts", type=float, nargs="+", default=[1.0])
    return p.parse_args(list(argv))


def test_rolling_calibrator_matches_a_direct_fit_on_its_window():
    from mmenv.calibration.intensity.likelihood import fit_law
    from mmenv.calibration.intensity.tape import IntensityTape
    from mmenv.calibration.trades import TradesAndQuotes

    tape = synthetic_tape(4000, seed=3)
    wins = tape.windows(4)
    window_s = 0.5 * tape.duration_s / 4
    ests = rolling_calibrations(wins, window_s, tape.tick)
    assert len(ests) == 3 and all(e is not None for e in ests)
    itape = IntensityTape.from_trades_and_quotes(TradesAndQuotes.from_tape(tape))
    for j, e in enumerate(ests, start=1):
        t = float(wins[j].time[0]) * 1e-9 - itape.origin_s
        direct = fit_law(itape.window(t - window_s, t), "exponential", gof=False)
        assert e.A == pytest.approx(direct.params["A"], rel=1e-4)
        assert e.k == pytest.approx(direct.params["k"], rel=1e-4)
        assert e.sigma > 0


def test_walk_forward_with_the_rolling_calibrator_pairs_windows():
    args = _args(
        "--replay-strategies",
        "as",
        "naive",
        "--replay-latencies-ms",
        "--walk-forward",
        "4",
        "--calibrator",
        "rolling",
    )
    m = run_study(synthetic_tape(4000, seed=3), args)
    assert m["walk_forward_calibrator"] == "rolling"
    rows = m["walk_forward"]
    assert [r["window"] for r in rows] == [1, 2, 3]
    assert all("total_pnl_rolling" in r for r in rows)
    cmp_ = m["walk_forward_comparison"]
    assert cmp_["n_windows_without_estimate"] == 0
    for name in ("as", "naive"):
        d = np.array([r["total_pnl_rolling"][name] - r["total_pnl"][name] for r in rows])
        got = cmp_["rolling_minus_fixed"][name]
        assert got["n_windows"] == 3
        assert got["mean_diff"] == pytest.approx(d.mean())
        assert got["se"] == pytest.approx(d.std(ddof=1) / np.sqrt(3))
    # the fixed calibrator (default) runs no rolling estimate
    m = run_study(
        synthetic_tape(4000, seed=3),
        _args("--replay-strategies", "naive", "--replay-latencies-ms", "--walk-forward", "3"),
    )
    assert m["walk_forward_comparison"] == {} and "total_pnl_rolling" not in m["walk_forward"][0]


def test_the_selected_laws_quotes_are_replayed_beside_the_exponentials(monkeypatch):
    from mmenv.calibration.intensity.likelihood import fit_law
    from mmenv.calibration.intensity.tape import IntensityTape
    from mmenv.calibration.trades import TradesAndQuotes
    from mmenv.studies import tape_backtest as study

    tape = synthetic_tape(4000, seed=4)
    ins, _ = tape.split(0.5)
    sample = IntensityTape.from_trades_and_quotes(TradesAndQuotes.from_tape(ins)).window()
    power = fit_law(sample, "power_law", gof=False)
    monkeypatch.setattr(study, "select_law", lambda _t, fit_fraction=0.7: power)
    args = _args("--replay-strategies", "as", "glft", "naive", "--replay-latencies-ms", "0")
    m = run_study(tape, args)
    assert list(m["strategies"]) == ["as", "glft", "naive", "as-power_law", "glft-power_law"]
    assert m["selected_law"]["model"] == "power_law"
    for name in ("as-power_law", "glft-power_law"):
        s = m["strategies"][name]
        assert s["n_fills"] > 0
        assert s["total_pnl"] == pytest.approx(s["spread_pnl"] + s["inventory_pnl"] - s["fees"], abs=1e-6)
        assert name in m["fill_latency_table"]["queue"]["0ms"]
    text = study.format_strategies(m)
    assert "as-power_law" in text and "glft-power_law" in text
