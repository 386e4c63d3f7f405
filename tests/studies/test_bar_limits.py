"""Tests of mmenv.studies.bar_limits (the computed note on what 1-minute bars hide)."""

from __future__ import annotations

import functools
import json

from mmenv.cli import run_command
from mmenv.studies.bar_limits import bar_limits_note

main = functools.partial(run_command, "bar-limits")


def test_note_numbers_and_text():
    note = bar_limits_note(days=5, seed=1, depths=(0.01, 0.05))
    n = note.numbers
    assert 0.8 < n["rv_close_over_truth"] < 1.2  # close-to-close RV is unbiased for the truth
    assert n["parkinson_over_truth"] < 1.0  # discrete, rounded ranges are biased low
    assert isinstance(n["roll_half_spread_from_bars"], float)  # noise or NaN: bars have no bounce
    assert 0.5 * n["true_rms_depth"] < n["roll_half_spread_from_trades"] < 1.5 * n["true_rms_depth"]
    assert [f["depth"] for f in n["fills"]] == [0.01, 0.05]
    for f in n["fills"]:
        assert f["p_fill_ticks"] >= f["p_fill_bar_heuristic"] - 0.02  # reach adds the trade depth
        assert 0 <= f["p_both_sides_bar"] <= f["p_fill_bar_heuristic"] <= 1
    assert "| depth ($)" in note.markdown and "Roll" in note.markdown
    json.dumps(n)  # JSON-ready


def test_main_writes_files(tmp_path, capsys):
    assert main(["--days", "2", "--out", str(tmp_path)]) == 0
    assert "What a 1-minute bar hides" in capsys.readouterr().out
    assert json.loads((tmp_path / "bar_limits.json").read_text())["days"] == 2
    assert (tmp_path / "bar_limits.md").read_text().startswith("### What")
