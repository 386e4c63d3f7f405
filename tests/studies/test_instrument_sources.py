"""Every source flag in every command that reads a tape, ``--instrument`` and ``--hftbacktest`` among them; the
instrument's grids checked against the data; the same numbers from every format of the same events."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from mmenv.cli import build_parser, main
from mmenv.data.loaders import FORMATS, load_tape, save_hftbacktest, save_tape
from mmenv.data.samples import SAMPLES
from mmenv.instrument import KNOWN_INSTRUMENTS
from mmenv.studies import sources
from tests.conftest import SAMPLE_FILES
from tests.data.test_loader_formats import _files

#: The commands that read a tape.
TAPE_COMMANDS = ("calibrate", "backtest", "train", "rl-study", "vol-forecast", "report")
#: The flag of each format of the loaders' table.
FLAGS = {
    "lobster": ["--lobster"],
    "binance": ["--trades", None, "--quotes"],
    "tardis": ["--tardis"],
    "databento": ["--databento"],
    "hftbacktest": ["--hftbacktest"],
    "generic": ["--tape"],
}
FIXTURES = Path(__file__).parents[1] / "data" / "fixtures"


def _parser(name: str) -> argparse.ArgumentParser:
    action = next(a for a in build_parser(name)._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _argv(fmt: str, files: tuple) -> list[str]:
    if fmt == "binance":
        return ["--trades", str(files[0]), "--quotes", str(files[1])]
    return [FLAGS[fmt][0], *map(str, files)]


def test_the_flags_cover_every_format_of_the_table():
    assert set(FLAGS) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_command_parses_and_loads_every_source(tmp_path, fmt):
    files = _files(tmp_path, fmt)
    loaded = None
    for name in TAPE_COMMANDS:
        args = _parser(name).parse_args([*_argv(fmt, files), "--instrument", "BTCUSDT"])
        given = sources.tape_sources(args)
        assert [(s.format, s.paths, s.instrument) for s in given] == [
            (fmt, tuple(Path(f) for f in files), "BTCUSDT")
        ], name
        if loaded is None:  # the same source whatever the command: loaded once
            loaded = given[0].load()
    assert loaded.tick == 0.1 and loaded.lot == 0.001 and loaded.n_trades == 2
    assert given[0].instrument_of(loaded) is KNOWN_INSTRUMENTS["BTCUSDT"]


def test_instrument_without_a_tape_and_a_tick_that_is_not_the_instruments(tmp_path):
    p = argparse.ArgumentParser()
    sources.add_tape_arguments(p)
    with pytest.raises(ValueError, match="--instrument BTCUSDT applies to a tape given by flags"):
        sources.tape_sources(p.parse_args(["--instrument", "BTCUSDT"]))
    files = _files(tmp_path, "generic")
    src = sources.one_tape_source(
        p.parse_args(["--tape", str(files[0]), "--tick", "0.5", "--instrument", "BTCUSDT"])
    )
    with pytest.raises(ValueError, match=r"--tick 0.5 is not the tick 0.1 of the instrument BTCUSDT"):
        src.load()
    bad = sources.one_tape_source(p.parse_args(["--tape", str(files[0]), "--instrument", "NOPE"]))
    with pytest.raises(ValueError, match="--instrument NOPE: instrument 'NOPE' is neither a known symbol"):
        bad.load()


def test_data_off_the_instruments_grids_is_an_error_naming_both(tmp_path):
    files = _files(tmp_path, "generic")  # sizes of 0.5 and 0.2 BTC: off a lot of one contract
    src = sources.one_tape_source(_args("--tape", str(files[0]), "--instrument", "BTCUSD_PERP"))
    with pytest.raises(
        ValueError, match=r"do not fit the instrument BTCUSD_PERP \(tick 0.1, lot 1\).*lie off"
    ):
        src.load()
    spec = tmp_path / "coarse.json"
    spec.write_text(json.dumps({"symbol": "C", "tick": 0.5, "lot": 0.1}))
    src = sources.one_tape_source(_args("--tape", str(files[0]), "--instrument", str(spec)))
    with pytest.raises(ValueError, match=r"do not fit the instrument C \(tick 0.5, lot 0.1\).*tick 0.5"):
        src.load()


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    sources.add_tape_arguments(p)
    return p.parse_args(list(argv))


def test_without_an_instrument_a_shared_sample_has_its_own_and_other_data_a_linear_one(tmp_path):
    for key in ("binance", "binance_cm_btcusd", "binance_cm_ethusd"):
        s = SAMPLES[key]
        given = sources.tape_sources(_args("--trades", f"x/{s.files[0]}", "--quotes", f"x/{s.files[1]}"))
        assert given[0].instrument == s.instrument
    files = _files(tmp_path, "generic")
    src = sources.one_tape_source(_args("--tape", str(files[0])))
    tape = src.load()
    inst = src.instrument_of(tape)
    assert (inst.tick, inst.lot, inst.inverse, inst.maker_fee_bps) == (0.1, 0.1, False, 0.0)


def test_hftbacktest_gives_the_calibration_of_the_same_events_in_the_generic_schema(tmp_path):
    generic = FIXTURES / "binance-futures_BTCUSDT.tape.csv.gz"
    npz = save_hftbacktest(load_tape(generic), tmp_path / "events.npz")
    runs = {}
    for name, argv in (("hftbacktest", ["--hftbacktest", str(npz)]), ("generic", ["--tape", str(generic)])):
        argv = [*argv, "--instrument", "BTCUSDT", "--no-plot", "--out", str(tmp_path / name)]
        assert main(["calibrate", *argv]) == 0
        runs[name] = json.loads((tmp_path / name / "calibration.json").read_text())
    for key in ("A", "k", "n_trades", "tick"):
        assert runs["hftbacktest"][key] == runs["generic"][key], key
    assert runs["generic"]["instrument"]["symbol"] == "BTCUSDT"
    assert runs["generic"]["units"] == {"size": "units", "depth": "USDT (price units)"}


@pytest.mark.skipif("binance_cm_btcusd" not in SAMPLE_FILES, reason="the shared COIN-M sample is absent")
def test_a_coin_m_sample_backtests_in_coin_with_the_same_numbers_from_every_format(tmp_path):
    """The first 3,000 quotes of the BTCUSD_PERP capture and its trades up to the last of them, as Binance
    CSVs (cut), the generic schema and hftbacktest's events: the same replay in BTC, with the sample's
    instrument."""
    trades, bbo = SAMPLE_FILES["binance_cm_btcusd"]
    quotes = bbo.read_text().splitlines(keepends=True)[:3001]
    end = int(quotes[-1].split(",")[2])  # transaction_time_ms of the last quote kept
    lines = trades.read_text().splitlines(keepends=True)
    kept = [lines[0]] + [r for r in lines[1:] if int(r.split(",")[2]) <= end]  # trade_time_ms
    cut = [tmp_path / trades.name, tmp_path / bbo.name]
    cut[0].write_text("".join(kept))
    cut[1].write_text("".join(quotes))
    tape = sources.TapeSource("x", "x", "x", "binance", tuple(cut), instrument="BTCUSD_PERP").load()
    generic = save_tape(tape, tmp_path / "cm.csv")
    npz = save_hftbacktest(tape, tmp_path / "cm.npz")
    common = ["--instrument", "BTCUSD_PERP", "--replay-strategies", "naive", "as", "--replay-latencies-ms"]
    runs = {}
    for name, argv in (
        ("binance", ["--trades", str(cut[0]), "--quotes", str(cut[1])]),
        ("generic", ["--tape", str(generic)]),
        ("hftbacktest", ["--hftbacktest", str(npz)]),
    ):
        assert main(["backtest", *argv, *common, "--no-progress", "--out", str(tmp_path / name)]) == 0
        runs[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    m = runs["binance"]
    assert m["currency"] == "BTC" and m["instrument"]["symbol"] == "BTCUSD_PERP"
    assert m["replay"]["maker_fee_bps"] == 2.0 and m["replay"]["taker_fee_bps"] == 5.0
    for name in ("generic", "hftbacktest"):
        for s in ("naive", "as"):
            for key in ("total_pnl", "fees", "spread_pnl", "n_fills"):
                assert runs[name]["strategies"][s][key] == m["strategies"][s][key], (name, s, key)
    naive = m["strategies"]["naive"]
    assert naive["n_fills"] > 0 and abs(naive["total_pnl"]) < 0.01  # coins: a few 100 USD contracts
    mark = float(np.mean([tape.bid_px[-1], tape.ask_px[-1]]))
    assert naive["total_pnl_quote"] == pytest.approx(naive["total_pnl"] * mark, rel=1e-12)


def test_a_wrong_instrument_is_one_error_line_and_no_output(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["backtest", "--tape", str(FIXTURES / "binance-futures_BTCUSDT.tape.csv.gz"), "--instrument"]
    assert main([*argv, "ETHUSD_PERP", "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mmenv backtest: error: the data do not fit the instrument")
    assert "(the data's grid is 0.001); give the instrument these data trade" in err[0]
    assert not out.exists()
