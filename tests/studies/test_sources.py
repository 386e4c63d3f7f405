"""The data sources of the commands (mmenv.studies.sources): the same tape flags everywhere, parsed in one place."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mmenv.cli import build_parser, main
from mmenv.data.samples import SAMPLES
from mmenv.studies import sources
from tests.studies.test_replay_study import synthetic_tape

#: The commands that read a tape.
TAPE_COMMANDS = ("calibrate", "backtest", "train", "rl-study", "vol-forecast", "report")


def _parser(name: str) -> argparse.ArgumentParser:
    action = next(a for a in build_parser(name)._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize("name", TAPE_COMMANDS)
def test_every_command_that_reads_a_tape_has_the_same_flags(name):
    opts = _parser(name)._option_string_actions
    assert {"--lobster", "--trades", "--quotes", "--tape", "--tick", "--binance"} <= set(opts)
    assert {"--tardis", "--tardis-clock", "--databento", "--databento-clock", "--databento-symbol"} <= set(
        opts
    )
    assert opts["--lobster"].nargs == 2 and opts["--binance"].help == argparse.SUPPRESS
    args = _parser(name).parse_args(["--lobster", "m.csv", "b.csv"])
    assert [(s.format, s.paths) for s in sources.tape_sources(args)] == [
        ("lobster", (Path("m.csv"), Path("b.csv")))
    ]
    args = _parser(name).parse_args(["--tardis", "b.csv.gz", "t.csv.gz", "--tardis-clock", "local"])
    assert [(s.format, s.paths, s.options) for s in sources.tape_sources(args)] == [
        ("tardis", (Path("b.csv.gz"), Path("t.csv.gz")), (("clock", "local"),))
    ]
    args = _parser(name).parse_args(["--databento", "x.dbn.zst", "--databento-symbol", "ESU4"])
    assert [(s.format, s.paths, s.options) for s in sources.tape_sources(args)] == [
        ("databento", (Path("x.dbn.zst"),), (("symbol", "ESU4"),))
    ]


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    sources.add_tape_arguments(p)
    return p.parse_args(list(argv))


def test_the_old_binance_spelling_is_the_trades_and_quotes_pair():
    new = sources.tape_sources(_args("--trades", "t.csv", "--quotes", "q.csv", "--tick", "0.1"))
    old = sources.tape_sources(_args("--binance", "t.csv", "q.csv", "--tick", "0.1"))
    assert new == old and new[0].format == "binance" and new[0].tick == 0.1
    with pytest.raises(ValueError, match="old spelling"):
        sources.tape_sources(_args("--binance", "t.csv", "q.csv", "--trades", "t.csv"))
    with pytest.raises(ValueError, match="--trades and --quotes must be given together"):
        sources.tape_sources(_args("--quotes", "q.csv"))


def test_the_tardis_and_databento_flags_are_checked_where_they_are_parsed():
    with pytest.raises(ValueError, match="--tardis-clock applies to --tardis files"):
        sources.tape_sources(_args("--trades", "t.csv", "--quotes", "q.csv", "--tardis-clock", "local"))
    with pytest.raises(ValueError, match="--databento-symbol applies to --databento files"):
        sources.tape_sources(_args("--tape", "t.csv", "--databento-symbol", "ESU4"))
    with pytest.raises(ValueError, match=r"--databento takes one DBN file \(mbp-1 or tbbo\) or two .* got 3"):
        sources.tape_sources(_args("--databento", "a.dbn", "b.dbn", "c.dbn"))
    label = lambda *files: sources.tape_sources(_args("--tardis", *files))[0].label  # noqa: E731
    # the name tardis.dev's client gives a download, in either file: exchange, symbol, day
    assert label("binance-futures_trades_2024-08-01_BTCUSDT.csv.gz", "BTCUSDT.csv.gz") == (
        "tardis.dev binance-futures BTCUSDT 2024-08-01"
    )
    assert label("BTCUSDT.csv.gz", "binance-futures_trades_2024-08-01_BTCUSDT.csv.gz") == (
        "tardis.dev binance-futures BTCUSDT 2024-08-01"
    )
    assert label("b.csv", "t.csv") == "tardis.dev b.csv"
    assert sources.tape_sources(_args("--databento", "x.dbn"))[0].label == "Databento x.dbn"


FIXTURES = Path(__file__).parents[1] / "data" / "fixtures"


@pytest.mark.parametrize(
    ("flags", "generic", "extra"),
    [
        (
            [
                "--tardis",
                "binance-futures_trades_2024-08-08_BTCUSDT.csv.gz",
                "binance-futures_book_snapshot_5_2024-08-08_BTCUSDT.csv.gz",
            ],
            "binance-futures_BTCUSDT.tape.csv.gz",
            None,
        ),
        (["--databento", "xnas-itch-amzn.tbbo.dbn.zst"], "xnas-itch-amzn.tbbo.tape.csv.gz", "databento_dbn"),
    ],
)
def test_calibrate_gives_the_numbers_of_the_same_events_in_the_generic_schema(
    tmp_path, flags, generic, extra
):
    if extra:
        pytest.importorskip(extra, reason="the databento extra is not installed")
    files = [f if f.startswith("--") else str(FIXTURES / f) for f in flags]
    runs = {}
    for name, argv in (("format", files), ("generic", ["--tape", str(FIXTURES / generic)])):
        assert main(["calibrate", *argv, "--no-plot", "--out", str(tmp_path / name)]) == 0
        runs[name] = json.loads((tmp_path / name / "calibration.json").read_text())
    for key in ("A", "k", "n_trades", "tick"):
        assert runs["format"][key] == runs["generic"][key], key


def test_one_tape_where_a_command_reads_one():
    with pytest.raises(ValueError, match=r"give one tape .* got none"):
        sources.one_tape_source(_args())
    with pytest.raises(ValueError, match=r"got LOBSTER X 2020-01-02, tape t\.csv"):
        sources.one_tape_source(
            _args("--lobster", "X_2020-01-02_m.csv", "X_2020-01-02_b.csv", "--tape", "t.csv")
        )


def test_a_shared_sample_given_by_flags_keeps_the_catalogue_label(tmp_path):
    s = SAMPLES["binance"]
    given = sources.tape_sources(
        _args("--trades", str(tmp_path / s.files[0]), "--quotes", str(tmp_path / s.files[1]))
    )
    assert given[0].label == s.label and given[0].title == s.title
    other = sources.tape_sources(_args("--trades", "spot_ethusdt_2024-01-02_trades.csv", "--quotes", "q.csv"))
    assert other[0].label == "Binance ETHUSDT 2024-01-02"


def test_the_studies_run_on_the_lobster_and_binance_samples_only(tmp_path):
    folder, found = sources.study_samples()
    assert [s.key for s in found] == [
        k for k in sources.STUDY_SAMPLES if folder and (folder / SAMPLES[k].files[0]).is_file()
    ]
    assert sources.study_samples(tmp_path / "nowhere") == (tmp_path / "nowhere", [])
    for s in found:
        assert s.label == SAMPLES[s.key].label and s.format == SAMPLES[s.key].format


def test_calibrate_reads_a_generic_tape(tmp_path, capsys):
    from mmenv.data.loaders import save_tape

    path = save_tape(synthetic_tape(2500, seed=5), tmp_path / "tape.csv")
    out = tmp_path / "out"
    assert main(["calibrate", "--tape", str(path), "--no-plot", "--out", str(out)]) == 0
    d = json.loads((out / "calibration.json").read_text())
    assert d["A"] > 0 and d["k"] > 0 and d["n_trades"] > 100
    rc = main(["calibrate", "--tape", str(path), "--bars-csv", str(path), "--out", str(tmp_path / "o2")])
    assert rc == 2 and "give one source" in capsys.readouterr().err


def test_a_command_that_replays_one_tape_refuses_two(tmp_path, capsys):
    rc = main(["backtest", "--tape", "a.csv", "--lobster", "m.csv", "b.csv", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "give one tape" in err and not (tmp_path / "o").exists()
    rc = main(["train", "--market", "trend", "--tape", "a.csv", "--out", str(tmp_path / "t")])
    assert rc == 2 and "--market replay" in capsys.readouterr().err


def test_the_report_checks_its_real_data_before_it_runs(tmp_path, capsys):
    rc = main(["report", "--quick", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert rc == 2 and "no such folder" in capsys.readouterr().err
    rc = main(["report", "--quick", "--tape", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "missing.csv: file not found (given by --tape)" in err
    assert not (tmp_path / "o").exists()


def test_a_bad_tardis_or_databento_source_is_one_line_and_writes_nothing(tmp_path, capsys):
    book = str(FIXTURES / "binance-futures_book_ticker_2024-08-08_BTCUSDT.csv.gz")
    rc = main(["backtest", "--tardis", book, book, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and not (tmp_path / "o").exists()
    assert (
        err.startswith("mmenv backtest: error: tardis.dev files")
        and "got two book files (quotes, quotes)" in err
    )
    rc = main(
        [
            "calibrate",
            "--databento",
            str(FIXTURES / "xnas-itch-amzn.trades.dbn.zst"),
            "--out",
            str(tmp_path / "c"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and not (tmp_path / "c").exists()
    try:
        import databento  # noqa: F401
    except ImportError:
        assert 'install the databento extra: pip install -e ".[databento]"' in err
    else:
        assert "a trades file holds no book" in err and "--databento TRADES.dbn MBP1.dbn" in err
