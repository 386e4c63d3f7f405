"""The signal-aware strategies in the real-tape backtest (mmenv.studies.tape_signals, tape_backtest)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from mmenv.studies.tape_backtest import add_replay_arguments, run_study
from mmenv.studies.tape_signals import TapeSignals, start_index
from tests.studies.test_replay_study import synthetic_tape


def args_for(*extra: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_replay_arguments(p)
    p.add_argument("--markouts", type=float, nargs="+", default=[1.0])
    return p.parse_args(list(extra))


def test_start_index_and_features_of_the_replayed_part():
    tape = synthetic_tape(2000, seed=3)
    ins, oos = tape.split(0.5)
    assert start_index(tape, ins) == 0 and start_index(tape, oos) == len(ins)
    wins = tape.windows(3)
    assert [start_index(tape, w) for w in wins] == [0, len(wins[0]), len(wins[0]) + len(wins[1])]
    sig = TapeSignals.build(tape, ins, oos)
    assert sig.features.shape == (len(oos), len(sig.names)) and sig.features_in.shape[0] == len(ins)
    assert "micro_ticks" in sig.names and sig.fit is not None
    unfitted = TapeSignals.build(tape, ins, oos, fit=False)
    assert "micro_ticks" not in unfitted.names and unfitted.fit is None
    with pytest.raises(ValueError, match="cannot be fitted in sample"):
        TapeSignals.build(tape, ins.slice(0, 1), oos)


def test_run_study_replays_the_signal_strategies_with_the_bucket_breakdown():
    tape = synthetic_tape(3000, seed=2)
    args = args_for(
        "--replay-strategies", "as", "as-micro", "glft-micro", "imbalance", "--replay-latencies-ms", "0",
        "--walk-forward", "3",
    )  # fmt: skip
    m = run_study(tape, args)
    assert list(m["strategies"]) == ["as", "as-micro", "glft-micro", "imbalance"]
    for name, s in m["strategies"].items():
        b = s["imbalance_buckets"]
        assert sum(b["n_fills"]) == s["n_fills"], name
        assert sum(b["markout_total"]) == pytest.approx(
            s["markouts_per_unit"]["1s"] * sum(b["units"]), rel=1e-9, abs=1e-12
        )
    fit = m["signal_fit"]
    assert fit["signal"] == "imbalance" and np.isfinite(fit["beta_ticks"]) and fit["theta_ticks"] > 0
    assert set(m["signal_power"]) >= {"imbalance", "micro_ticks", "ofi_1s", "flow_1s"}
    assert set(m["fill_latency_table"]["queue"]["0ms"]) == set(m["strategies"])
    assert all(set(w["total_pnl"]) == set(m["strategies"]) for w in m["walk_forward"])


def test_without_signal_strategies_no_fit_is_made():
    m = run_study(
        synthetic_tape(1500, seed=4), args_for("--replay-strategies", "as", "--replay-latencies-ms")
    )
    assert m["signal_fit"] is None and "imbalance_buckets" in m["strategies"]["as"]


def test_signal_strategies_run_compiled_and_match_their_python_source():
    from mmenv.replay.engine import replay
    from mmenv.studies.strategies import signal_policies
    from mmenv.studies.tapes import calibrate_tape, replay_config

    tape = synthetic_tape(2000, seed=5)
    ins, oos = tape.split(0.5)
    sig = TapeSignals.build(tape, ins, oos)
    cal = calibrate_tape(ins)
    args = args_for()
    cfg = replay_config(args, lot=1.0, sigma=float(cal.sigma))
    pols = signal_policies(
        ["as-micro", "glft-micro", "imbalance"], cal, sig.fit, sig.features,
        max_lots=5.0, risk_aversion=0.1, horizon=60.0, s0=float(oos.mid[0]), tick=tape.tick,
    )  # fmt: skip
    for name, pol in pols.items():
        fast = replay(pol, oos, cfg, features=pol.features)
        ref = replay(pol, oos, cfg, features=pol.features, path="reference")
        assert fast.n_decisions > 0 and len(fast.fills) > 0, name
        np.testing.assert_array_equal(fast.fills, ref.fills)
        assert fast.pnl == ref.pnl
