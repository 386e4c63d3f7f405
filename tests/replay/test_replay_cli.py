"""The replay's options from the command line: ``mmenv backtest --strategy touch --offset-ticks N`` (the fixed
offset from the touch) and the queue-model family (``--queue-model``, ``--table-queue-models``,
``--through-fill``), stated in the run's JSON and equal to the Python API's replay with the same settings."""

from __future__ import annotations

import json

import pytest

from mmenv.cli import main
from mmenv.data.loaders import load, save_tape
from mmenv.replay.config import ReplayConfig, TouchRule, parse_queue_model
from mmenv.replay.engine import replay
from tests.studies.test_replay_study import synthetic_tape


def test_touch_strategy_and_queue_models_from_the_command_line(tmp_path, capsys):
    path = save_tape(synthetic_tape(), tmp_path / "tape.csv")
    out = tmp_path / "out"
    argv = ["backtest", "--tape", str(path), "--out", str(out), "--no-progress", "--strategy", "touch"]
    argv += ["--offset-ticks", "1", "--queue-model", "power:2", "--through-fill", "order", "--lot", "1"]
    argv += ["--table-queue-models", "risk_averse", "log", "--replay-latencies-ms", "0"]
    assert main(argv) == 0, capsys.readouterr().err
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["strategies"]) == {"touch"} and m["strategies"]["touch"]["n_fills"] > 0
    assert m["replay"]["queue_model"] == "power" and m["replay"]["queue_power"] == 2.0
    assert m["replay"]["through_fill"] == "order"
    table = json.dumps(m["fill_latency_table"])
    assert "risk_averse" in table and "log" in table
    # the same replay through the Python API: the same fills
    tape = load("generic", path)
    oos = tape.slice(len(tape) - m["out_of_sample"]["n_events"], len(tape))
    cfg = ReplayConfig(order_size=1.0, q_max=10.0, through_fill="order", **parse_queue_model("power:2"))
    res = replay(TouchRule(offset_ticks=1), oos, cfg)
    assert len(res.fills) == m["strategies"]["touch"]["n_fills"]


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--queue-model", "power:-1"], "power"),
        (["--offset-ticks", "-1", "--strategy", "touch"], "--offset-ticks must be an integer >= 0"),
        (["--offset-ticks", "2"], "applies to the touch strategy"),
    ],
)
def test_bad_replay_options_are_refused_in_one_line(tmp_path, capsys, flags, match):
    path = save_tape(synthetic_tape(), tmp_path / "tape.csv")
    out = tmp_path / "out"
    assert main(["backtest", "--tape", str(path), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mmenv backtest: error: ") and match in err, err
    assert not out.exists()
