"""The signal study (mmenv.studies.signal_study): single split and walk-forward, paired against AS."""

from __future__ import annotations

import json
import math

import pytest

from mmenv.cli import main
from mmenv.studies.signal_study import BASELINE, COMPARED, format_study, tape_study
from mmenv.studies.sources import TapeSource
from tests.studies.test_replay_study import synthetic_tape


@pytest.fixture
def generic_source(tmp_path):
    from mmenv.data.loaders import save_tape

    path = save_tape(synthetic_tape(3000, seed=6), tmp_path / "tape.csv")
    return TapeSource("generic", "synthetic", "a synthetic tape", "generic", (path,))


def test_tape_study_pairs_every_strategy_against_as_by_window(generic_source):
    r = tape_study(generic_source, windows=3, maker_fee_bps=1.0)
    assert r["maker_fee_bps"] == 1.0 and r["unit"] == "price units"
    assert set(r["single_split"]) - {"_window"} == set(COMPARED)
    assert len(r["walk_forward"]) + len(r["walk_forward_skipped"]) == 2
    for name, s in r["single_split"].items():
        if name == "_window":
            continue
        assert s["fees"] >= 0 and sum(s["imbalance_buckets"]["n_fills"]) == s["n_fills"]
        if s["n_fills"]:
            assert s["markout_per_fill"] == pytest.approx(s["markout_total"] / s["n_fills"])
    walk = r["walk_forward"]
    for name, paired in r["paired_vs_as"].items():
        assert name != BASELINE
        d = [w[name]["pnl_net"] - w[BASELINE]["pnl_net"] for w in walk]
        assert paired["pnl_net"]["mean_diff"] == pytest.approx(sum(d) / len(d))
        assert paired["pnl_net"]["n_windows"] == len(walk)
    text = format_study({"synthetic": r})
    assert "| imbalance |" in text and "±" in text
    assert all(math.isfinite(v["r2_in"]) for v in r["signal_power"].values() if "r2_in" in v)


def test_signal_study_cli_errors_name_the_flag(tmp_path, capsys):
    assert main(["signal-study", "--windows", "1", "--out", str(tmp_path / "o")]) != 0
    assert "--windows must be an integer >= 2" in capsys.readouterr().err
    assert main(["signal-study", "--shared-data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) != 0
    assert "no shared real-data sample was found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_metrics_are_json(generic_source, tmp_path):
    from mmenv.studies.common import write_json

    r = tape_study(generic_source, windows=2)
    write_json(r, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text())["horizon_s"] == 1.0
