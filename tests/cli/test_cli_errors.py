"""The command's errors: one line on stderr, exit status 2 for bad input, 1 for a failed run, nothing written.

Table-driven: each case is a command line and the expected exit status and message fragment. The files of
``tests/bad_inputs/`` are small broken inputs (see its README).
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path

import pytest

from mmenv.cli import main
from mmenv.cli.errors import describe

BAD = Path(__file__).parent / "bad_inputs"

#: (id, argv, expected exit status, fragment of the one-line error)
CASES = [
    (
        "negative seed",
        ["replicate", "--seed", "-1"],
        2,
        "argument --seed: a seed must be an integer in [0, 2^63)",
    ),
    ("zero paths", ["report", "--paths", "0"], 2, "argument --paths: must be in [2, 10^7]"),
    ("one path", ["compare", "--paths", "1"], 2, "argument --paths"),
    ("nan float", ["compare", "--risk", "nan"], 2, "argument --risk: must be a finite number, got nan"),
    ("inf float", ["backtest", "--gamma", "inf"], 2, "argument --gamma: must be a finite number"),
    ("negative risk", ["compare", "--risk", "-1"], 2, "argument --risk: must be > 0, got -1.0"),
    (
        "huge ticks per bar",
        ["backtest", "--ticks-per-bar", "4", "1000000000"],
        2,
        "trades per bar, got 1000000000",
    ),
    (
        "ticks per bar reversed",
        ["backtest", "--ticks-per-bar", "20", "10"],
        2,
        "LO must be <= HI, got 20 > 10",
    ),
    ("share above one", ["backtest", "--share", "1.5"], 2, "argument --share: must be in (0, 1]"),
    ("negative latency", ["backtest", "--latency-table", "0", "-1"], 2, "latencies must be >= 0"),
    ("negative seeds", ["sweep", "--seeds", "0", "-3"], 2, "argument --seeds"),
    ("unknown command", ["replicat"], 2, "mmenv: error: argument command: invalid choice"),
    ("unknown strategy", ["backtest", "--strategy", "glft"], 2, "argument --strategy: invalid choice"),
    ("not an int", ["replicate", "--paths", "ten"], 2, "argument --paths: invalid int value: 'ten'"),
    (
        "missing bars csv",
        ["calibrate", "--bars-csv", str(BAD / "no_such_file.csv")],
        2,
        "(given by --bars-csv)",
    ),
    ("trades without quotes", ["calibrate", "--trades", str(BAD / "no_such_file.csv")], 2, "--quotes"),
    (
        "bars-csv market without file",
        ["backtest", "--market", "bars-csv"],
        2,
        "--market bars-csv needs --bars-csv",
    ),
]


@pytest.mark.parametrize(("argv", "code", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_exit_status(argv, code, fragment, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main([*argv, "--out", str(tmp_path / "out")] if argv[0] != "replicat" else argv)
    err = capsys.readouterr().err
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, no traceback
    assert lines[0].startswith(f"mmenv {argv[0]}: error: " if argv[0] != "replicat" else "mmenv: error: "), (
        err
    )
    assert fragment in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before anything was written


def _previous_result(out: Path) -> dict[str, str]:
    """A finished earlier run in ``out`` (written through the output-dir rule), as {name: text}."""
    assert main(["bar-limits", "--days", "2", "--out", str(out)]) == 0
    return {p.name: p.read_text() for p in out.iterdir()}


def test_refused_run_leaves_the_previous_result(tmp_path, capsys):
    out = tmp_path / "res"
    before = _previous_result(out)
    assert main(["bar-limits", "--days", "2", "--seed", "-1", "--out", str(out)]) == 2
    assert {p.name: p.read_text() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # no staging directory left


def test_failed_run_leaves_the_previous_result(tmp_path, capsys, monkeypatch):
    from mmenv.studies import bar_limits

    out = tmp_path / "res"
    before = _previous_result(out)

    def boom(*a, **k):
        raise RuntimeError("solver diverged")

    monkeypatch.setattr(bar_limits, "bar_limits_note", boom)
    assert main(["bar-limits", "--days", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "mmenv bar-limits: error: RuntimeError: solver diverged; run again with --debug for the traceback"
    )
    assert {p.name: p.read_text() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_prints_the_traceback(how, tmp_path, capsys, monkeypatch):
    argv = ["calibrate", "--bars-csv", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")]
    if how == "flag":
        argv.append("--debug")
    else:
        monkeypatch.setenv("MMENV_DEBUG", "1")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("mmenv calibrate: error: ")


def test_interrupt_exits_130(tmp_path, capsys, monkeypatch):
    from mmenv.studies import bar_limits

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(bar_limits, "bar_limits_note", interrupted)
    assert main(["bar-limits", "--out", str(tmp_path / "o")]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("command", "module", "extra"),
    [
        (
            [
                "sweep",
                "--backend",
                "ray",
                "--paths",
                "2",
                "--seeds",
                "0",
                "--gammas",
                "0.1",
                "--markets",
                "model",
            ],
            "ray",
            "ray",
        ),
        (
            ["train", "--timesteps", "10", "--n-envs", "1", "--eval-episodes", "2", "--no-progress"],
            "stable_baselines3",
            "rl",
        ),
    ],
)
def test_missing_extra_names_the_install_command(command, module, extra, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # "import module" now raises ModuleNotFoundError
    rc = main([*command, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f'pip install -e ".[{extra}]"' in err and module in err
    assert len(err.strip().splitlines()) == 1


def test_missing_data_extra_is_named():
    exc = ImportError("load_bars needs yfinance")
    exc.__cause__ = ModuleNotFoundError("No module named 'yfinance'", name="yfinance")
    code, message = describe(exc)
    assert code == 2 and 'pip install -e ".[data]"' in message


def test_library_parameter_names_get_their_flag():
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--ticks-per-bar", type=int, nargs=2)
    code, message = describe(ValueError("ticks_per_bar must be <= 10000, got (4, 1000000000)"), p)
    assert code == 2
    assert message.startswith("ticks_per_bar (--ticks-per-bar) must be <= 10000, got (4, 1000000000); ")


def test_out_that_is_a_file_or_foreign_directory_is_refused(tmp_path, capsys, monkeypatch):
    f = tmp_path / "a_file"
    f.write_text("x")
    assert main(["bar-limits", "--days", "2", "--out", str(f)]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["bar-limits", "--days", "2", "--out", str(foreign)]) == 2
    assert "add --force" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"
    monkeypatch.chdir(foreign)
    assert main(["bar-limits", "--days", "2", "--out", ".", "--force"]) == 2  # never the current directory
    assert "never replaced" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert main(["bar-limits", "--days", "2", "--out", str(foreign), "--force"]) == 0
    assert not (foreign / "notes.txt").exists() and (foreign / "bar_limits.json").is_file()


def test_experiment_scripts_share_the_error_handling(tmp_path, capsys):
    from mmenv.cli import run_command

    replicate_main = functools.partial(run_command, "replicate")

    assert replicate_main(["--seed", "-2", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("mmenv replicate: error: argument --seed")


def test_metrics_json_has_no_nan_token_and_says_why(tmp_path):
    from mmenv.studies.common import NULL_REASON, write_json

    path = tmp_path / "m.json"
    write_json({"a": {"sharpe": float("nan"), "x": 1.0}, "b": [1.0, float("inf")]}, path)
    text = path.read_text()
    assert re.search(r"[:\[,]\s*-?(NaN|Infinity)\b", text) is None

    def refuse(token):
        raise AssertionError(f"non-JSON token {token}")

    d = json.loads(text, parse_constant=refuse)
    assert d["a"]["sharpe"] is None and d["b"][1] is None
    assert d["_nulls"] == {"why": NULL_REASON, "values": {"a.sharpe": "nan", "b[1]": "inf"}}


def test_rows_files_carry_the_null_reasons_and_lists_are_refused(tmp_path):
    """Row tables (as2008.json, as2008_diagnostics.json) are objects with the rows under "rows", so an
    undefined value there is null with its reason like in metrics.json; a bare list cannot be written."""
    from mmenv.studies.common import NULL_REASON, write_json

    path = tmp_path / "as2008.json"
    write_json({"paths": 2, "rows": [{"gamma": 0.1, "std_q_se": float("nan")}]}, path)
    d = json.loads(path.read_text())
    assert d["rows"][0]["std_q_se"] is None
    assert d["_nulls"] == {"why": NULL_REASON, "values": {"rows[0].std_q_se": "nan"}}
    with pytest.raises(TypeError, match="under a key"):
        write_json([{"gamma": 0.1}], tmp_path / "list.json")


def test_variance_reduction_without_fills_is_undefined_not_a_finding():
    from mmenv.studies.compare import describe_reduction, reduction

    naive = {"n_fills": 90.0, "inventory_var": 22.0, "std_pnl": 16.0}
    idle = {"n_fills": 0.0, "inventory_var": 0.0, "std_pnl": 0.0}
    value, why = reduction(idle, naive, "inventory_var")
    assert value != value and why == "undefined: AS made no fills"
    value, why = reduction({"n_fills": 80.0, "inventory_var": 2.2}, naive, "inventory_var")
    assert value == pytest.approx(0.9) and why is None
    value, why = reduction(
        {"n_fills": 80.0, "inventory_var": 2.2}, {"n_fills": 5.0, "inventory_var": 0.0}, "inventory_var"
    )
    assert value != value and "no base" in why
    summary = {"inventory_variance_reduction_as_vs_naive": None, "undefined": {}}
    assert describe_reduction(summary) == "undefined"
    assert describe_reduction({"inventory_variance_reduction_as_vs_naive": 0.938}) == (
        "AS reduces it by 93.8% against naive"
    )


def test_compare_with_no_fills_reports_undefined(tmp_path, capsys):
    rc = main(
        ["compare", "--risk", "1e6", "--paths", "4", "--no-ticks", "--no-plot", "--out", str(tmp_path / "o")]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "inventory variance: undefined: AS made no fills" in out
    assert "reduces it by" not in out
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    s = m["metrics"]["model"]["_summary"]
    assert s["inventory_variance_reduction_as_vs_naive"] is None
    assert s["undefined"]["inventory_variance_reduction_as_vs_naive"] == "undefined: AS made no fills"


#: (file of tests/bad_inputs, exit status of ``mmenv calibrate --bars-csv FILE``, fragment of stderr or stdout)
FILE_CASES = [
    ("empty.csv", 2, "empty.csv: the file is empty"),
    ("header_only.csv", 2, "header_only.csv: the file has a header but no data rows"),
    ("bad_header.csv", 2, "bad_header.csv: unrecognised header 'when,o,h,l,c,v'"),
    ("missing_column.csv", 2, "missing_column.csv: missing column(s) ['close']"),
    ("latin1.csv", 2, "latin1.csv: line 6, column 67: byte 0xe9 is not UTF-8"),
    ("text_in_price.csv", 2, "text_in_price.csv: data row 2, column 'close': 'abc' is not a number"),
    ("bad_timestamp.csv", 2, "bad_timestamp.csv: data row 7, column 'datetime': timestamp 'not-a-date'"),
    (
        "dst_naive.csv",
        2,
        "dst_naive.csv: data row 61, column 'datetime': naive timestamp '2024-11-03 01:00:00'",
    ),
    (
        "extra_field.csv",
        2,
        "extra_field.csv: Error tokenizing data. C error: Expected 6 fields in line 11, saw 7",
    ),
    (
        "five_minute.csv",
        2,
        "consecutive bars of a day are 5 min apart (median), not 1 min: these are not 1m bars",
    ),
    (
        "daily.csv",
        2,
        "one bar per day (30 days, median spacing 1 day(s)): these are daily or coarser bars, not 1m",
    ),
    (
        "nonpositive.csv",
        2,
        "no usable bars: all 780 rows were invalid (n_nonpositive=780). Use cached bars (--offline",
    ),
    ("bom.csv", 0, "bars of {path}: 780 bars in, 780 out, 2 sessions"),
    ("semicolon.csv", 0, "bars of {path}: 780 bars in, 780 out, 2 sessions"),
    ("truncated.csv", 0, "779 out, 2 sessions; dropped 1 rows with NaN/inf values"),
    ("outlier.csv", 0, "779 out, 2 sessions; dropped 1 price outliers (more than 30 robust sigmas"),
    (
        "outlier_runs.csv",  # three bars at 1e12, then 20 bars shifted x100 (a decimal shift) that come back
        0,
        "757 out, 2 sessions; dropped 23 price outliers (more than 30 robust sigmas = 0.0476 in log price from "
        "the median of their neighbours, or from the level before a run that came back to it, 2 runs of "
        "consecutive bars, the longest 20;",
    ),
    ("zero_volume.csv", 0, "780 out, 2 sessions; 16 zero-volume bars kept"),
]


@pytest.mark.parametrize(("name", "code", "fragment"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_input_files(name, code, fragment, tmp_path, capsys):
    path = BAD / name
    out = tmp_path / "o"
    rc = main(["calibrate", "--bars-csv", str(path), "--no-plot", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == code, cap.err
    if code:
        assert cap.err.count("\n") == 1 and cap.err.startswith("mmenv calibrate: error: "), cap.err
        assert fragment in cap.err, cap.err
        assert "load_bars" not in cap.err and "read_bars_csv" not in cap.err  # advice names flags
        assert not out.exists()
    else:
        assert fragment.format(path=path) in cap.out, cap.out
        validation = json.loads((out / "calibration.json").read_text())["bars_validation"]
        assert validation["n_input"] == 780 and validation["outlier_z"] == 30.0
        if name == "outlier_runs.csv":
            assert (validation["n_outliers"], validation["n_outlier_runs"]) == (23, 2)
            assert validation["longest_outlier_run"] == 20


def test_zero_volume_bars_backtest(tmp_path, capsys):
    argv = ["backtest", "--market", "bars-csv", "--bars-csv", str(BAD / "zero_volume.csv"), "--no-progress"]
    assert main([*argv, "--latency-table", "--out", str(tmp_path / "o")]) == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["_bars_validation"]["n_zero_volume"] == 16
    assert metrics["as"]["n_fills"] > 0


def _pair(folder: str, kind: str) -> list[str]:
    d = BAD / folder
    if kind == "lobster":
        return [
            "--lobster",
            str(d / "X_2020-01-02_0_1_message_1.csv"),
            str(d / "X_2020-01-02_0_1_orderbook_1.csv"),
        ]
    return ["--trades", str(d / "trades.csv"), "--quotes", str(d / "quotes.csv")]


#: (folder of tests/bad_inputs, loader, fragment of the one-line error); every case exits with status 2
TAPE_CASES = [
    ("lobster_3col", "lobster", "orderbook_1.csv: a LOBSTER order book file has 4 columns per level"),
    ("lobster_crossed", "lobster", "orderbook_1.csv: no valid quote in 4 rows (0 empty side, 4 crossed"),
    ("binance_blank_time", "binance", "trades.csv: line 3, column 'trade_time_ms': blank field"),
    ("binance_seconds", "binance", "trades.csv: line 2, column 'trade_time_ms'"),
    ("binance_duplicated", "binance", "trades.csv: line 4, column 'trade_id': trade id 1 repeats line 2"),
    ("lobster_empty", "lobster", "orderbook_1.csv: no valid quote in 3 rows (3 empty side, 0 crossed"),
    (
        "binance_before_quotes",  # every trade before the first quote: the two files do not overlap in time
        "binance",
        "trades.csv and {d}/quotes.csv do not overlap in time: trades from 2024-08-08 23:54:16.000 UTC to "
        "2024-08-08 23:54:16.029 UTC, quotes from 2024-08-08 23:55:00.000 UTC to 2024-08-08 23:55:00.045 UTC; "
        "give the trades and quotes of one day",
    ),
]


@pytest.mark.parametrize(("folder", "kind", "fragment"), TAPE_CASES, ids=[c[0] for c in TAPE_CASES])
def test_bad_trade_files(folder, kind, fragment, tmp_path, capsys):
    rc = main(["calibrate", *_pair(folder, kind), "--no-plot", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2, err
    fragment = fragment.format(d=BAD / folder)
    assert err.count("\n") == 1 and err.startswith("mmenv calibrate: error: ") and fragment in err, err
    assert not (tmp_path / "o").exists()


def test_an_out_holding_the_commands_input_is_refused_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["bar-limits", "--days", "2", "--out", str(out)]) == 0
    bars = out / "mine.csv"
    bars.write_bytes((BAD / "zero_volume.csv").read_bytes())
    rc = main(["calibrate", "--bars-csv", str(bars), "--no-plot", "--out", str(out), "--force"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert f"holds {bars}, which this run reads" in err and "; choose another --out" in err
    assert bars.is_file() and (out / "bar_limits.json").is_file()


def test_warnings_are_held_back_until_the_run_succeeds(tmp_path, capsys, monkeypatch):
    import warnings

    from mmenv.studies import bar_limits

    real = bar_limits.bar_limits_note

    def noisy(*a, **k):
        warnings.warn("something to know", UserWarning, stacklevel=1)
        return real(*a, **k)

    monkeypatch.setattr(bar_limits, "bar_limits_note", noisy)
    assert main(["bar-limits", "--days", "2", "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["mmenv bar-limits: warning: something to know"]

    def noisy_then_fails(*a, **k):
        warnings.warn("invalid value encountered in divide", RuntimeWarning, stacklevel=1)
        raise ValueError("no bars left")

    monkeypatch.setattr(bar_limits, "bar_limits_note", noisy_then_fails)
    assert main(["bar-limits", "--days", "2", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err == "mmenv bar-limits: error: no bars left; see mmenv bar-limits --help\n"  # nothing before it
