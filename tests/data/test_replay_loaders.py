"""Tape loaders: LOBSTER, Binance, the generic schema; bad input is an error naming file, line and column,
or a counted exclusion; calibration reads the tape."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from mmenv.data.loaders import load_binance, load_lobster, load_tape, save_tape
from mmenv.data.tape import QUOTE, TRADE, Tape, iter_chunks, tile

TRADES_HEAD = "trade_time_ms,trade_id,price,qty,is_buyer_maker\n"
QUOTES_HEAD = "transaction_time_ms,bid_px,bid_qty,ask_px,ask_qty\n"
T0 = 1723161256000


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def binance_files(tmp_path, trades: list[str], quotes: list[str]):
    t = write(tmp_path / "trades.csv", TRADES_HEAD + "".join(r + "\n" for r in trades))
    q = write(tmp_path / "quotes.csv", QUOTES_HEAD + "".join(r + "\n" for r in quotes))
    return t, q


GOOD_Q = [f"{T0},100.0,1,100.1,1", f"{T0 + 5},100.0,2,100.1,1", f"{T0 + 9},100.1,1,100.2,3"]
GOOD_T = [f"{T0 + 3},1,100.1,0.5,0", f"{T0 + 7},2,100.0,0.2,1"]


def test_binance_small_files(tmp_path):
    tape = load_binance(*binance_files(tmp_path, GOOD_T, GOOD_Q))
    assert tape.tick == pytest.approx(0.1)
    assert list(tape.kind) == [QUOTE, TRADE, QUOTE, TRADE, QUOTE]
    assert list(tape.side[tape.kind == TRADE]) == [1, -1]
    assert tape.bid_qty[3] == 2.0  # the trade at +7 ms met the quote of +5 ms
    assert tape.time[1] == (T0 + 3) * 1_000_000


def test_binance_trade_before_first_quote_and_same_ms_order(tmp_path):
    trades = [f"{T0 - 1},1,100.1,0.5,0", f"{T0 + 5},2,100.1,0.5,0"]
    tape = load_binance(*binance_files(tmp_path, trades, GOOD_Q))
    assert tape.report["excluded_trades_before_first_quote"] == 1
    # a trade stamped with a quote's millisecond meets the quote before it
    i = int(np.flatnonzero(tape.kind == TRADE)[0])
    assert tape.time[i] == (T0 + 5) * 1_000_000 and tape.bid_qty[i] == 1.0


@pytest.mark.parametrize(
    ("trades", "quotes", "match"),
    [
        (
            [f"{T0 + 3},1,100.1,0.5,0", ",2,100.1,0.5,0"],
            GOOD_Q,
            r"trades.csv: line 3, column 'trade_time_ms': blank",
        ),
        ([f"{T0 + 3},1,100.1,abc,0"], GOOD_Q, r"trades.csv: line 2, column 'qty': not a number"),
        (
            [f"{(T0 + 3) // 1000},1,100.1,0.5,0"],
            GOOD_Q,
            r"line 2, column 'trade_time_ms'.*looks like seconds",
        ),
        (
            [f"{T0 + 3},1,100.1,0.5,0", f"{T0 + 1},2,100.1,0.5,0"],
            GOOD_Q,
            r"line 3, column 'trade_time_ms'.*out of order",
        ),
        (GOOD_T + GOOD_T, GOOD_Q, r"line 4, column 'trade_id': trade id 1 repeats line 2"),
        ([f"{T0 + 3},1,100.1,0.5,maybe"], GOOD_Q, r"line 2, column 'is_buyer_maker'"),
        (
            GOOD_T,
            [f"{T0},100.2,1,100.1,1", f"{T0 + 1},100.1,1,100.1,1"],
            r"quotes.csv: no valid quote in 2 rows .*1 crossed, 1 locked",
        ),
        (GOOD_T, [f"{T0},,1,100.1,1"], r"quotes.csv: line 2, column 'bid_px': blank"),
    ],
)
def test_binance_bad_input_names_file_line_column(tmp_path, trades, quotes, match):
    with pytest.raises(ValueError, match=match):
        load_binance(*binance_files(tmp_path, trades, quotes))


def test_binance_counted_exclusions(tmp_path):
    quotes = [
        *GOOD_Q[:1],
        f"{T0 + 1},100.2,1,100.1,1",
        f"{T0 + 2},100.1,1,100.1,1",
        f"{T0 + 4},100.0,0,100.1,1",
    ]
    quotes += GOOD_Q[1:]
    trades = [*GOOD_T, f"{T0 + 8},3,100.1,0,0", f"{T0 + 8},4,99.0,0.1,0"]
    tape = load_binance(*binance_files(tmp_path, trades, quotes))
    r = tape.report
    assert (r["excluded_quotes_crossed"], r["excluded_quotes_locked"], r["excluded_quotes_empty_side"]) == (
        1,
        1,
        1,
    )
    assert r["excluded_trades_zero_size"] == 1
    assert r["trades_outside_book"] == 1  # a buy at 99.0 below the bid 100.0: kept, counted
    assert r["trades"] == 3


def test_binance_gap_counted(tmp_path):
    quotes = [f"{T0},100.0,1,100.1,1", f"{T0 + 120_000},100.0,1,100.1,1"]
    tape = load_binance(*binance_files(tmp_path, [f"{T0 + 1},1,100.1,1,0"], quotes), max_gap_s=60.0)
    assert tape.report["gaps"] == 1 and tape.report["longest_gap_s"] == pytest.approx(119.999)


def lobster_files(tmp_path, msgs: list[str], book: list[str], header=False):
    m = write(
        tmp_path / "X_2020-01-02_0_1_message_1.csv",
        ("a,b,c,d,e,f\n" if header else "") + "\n".join(msgs) + "\n",
    )
    b = write(
        tmp_path / "X_2020-01-02_0_1_orderbook_1.csv",
        ("w,x,y,z\n" if header else "") + "\n".join(book) + "\n",
    )
    return m, b


MSGS = [
    "34200.0,1,1,100,1001000,1",
    "34200.5,4,2,30,1002000,-1",
    "34200.5,4,3,20,1003000,-1",
    "34201.0,3,1,100,1001000,1",
]
BOOK_ROWS = [
    "1002000,50,1001000,100",
    "1002000,50,1001000,100",
    "1003000,20,1001000,100",
    "1003000,20,1000000,10",
]


def test_lobster_small_files_one_row_per_print(tmp_path):
    tape = load_lobster(*lobster_files(tmp_path, MSGS, BOOK_ROWS))
    tr = np.flatnonzero(tape.kind == TRADE)
    # two executions at one time and direction (one buy market order walking the book): two prints, each
    # meeting the book before it
    assert tape.trade_px[tr].tolist() == [pytest.approx(100.2), pytest.approx(100.3)]
    assert tape.trade_qty[tr].tolist() == [30.0, 20.0] and tape.side[tr].tolist() == [1, 1]
    assert tape.ask_px[tr].tolist() == [pytest.approx(100.2), pytest.approx(100.2)]
    assert tape.time[tr[0]] == 34200_500_000_000
    assert tape.report["market_orders"] == 1 and tape.report["executions"] == 2


def test_lobster_header_rows_are_skipped_and_counted(tmp_path):
    tape = load_lobster(*lobster_files(tmp_path, MSGS, BOOK_ROWS, header=True))
    assert tape.report["header_rows"] == 2 and tape.report["executions"] == 2


def test_lobster_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"4 columns per level .* got 3 columns"):
        load_lobster(*lobster_files(tmp_path, MSGS, [r.rsplit(",", 1)[0] for r in BOOK_ROWS]))
    crossed = ["1000000,50,1001000,100"] * 4
    with pytest.raises(
        ValueError, match=r"orderbook_1.csv: no valid quote in 4 rows \(0 empty side, 4 crossed"
    ):
        load_lobster(*lobster_files(tmp_path, MSGS, crossed))
    empty = ["9999999999,0,-9999999999,0"] * 4
    with pytest.raises(ValueError, match="4 empty side"):
        load_lobster(*lobster_files(tmp_path, MSGS, empty))
    with pytest.raises(ValueError, match=r"message_1.csv: line 2, column 'time'.*out of order"):
        load_lobster(*lobster_files(tmp_path, [MSGS[0], "34100.0,1,1,1,1,1", *MSGS[2:]], BOOK_ROWS))
    with pytest.raises(ValueError, match=r"line 2, column 'type': event type must be 1..7"):
        load_lobster(*lobster_files(tmp_path, [MSGS[0], "34200.5,9,2,30,1002000,-1", *MSGS[2:]], BOOK_ROWS))
    with pytest.raises(ValueError, match="one row per message"):
        load_lobster(*lobster_files(tmp_path, MSGS, BOOK_ROWS[:3]))


def test_generic_roundtrip_csv_and_parquet(tmp_path):
    from mmenv.data.loaders import load_binance as lb

    tape = lb(*binance_files(tmp_path, GOOD_T, GOOD_Q))
    for name in ("tape.csv", "tape.parquet"):
        if name.endswith("parquet"):
            pytest.importorskip("pyarrow")
        back = load_tape(save_tape(tape, tmp_path / name), tick=tape.tick)
        for c in ("time", "kind", "bid_px", "bid_qty", "ask_px", "ask_qty", "side"):
            np.testing.assert_array_equal(getattr(back, c), getattr(tape, c))
        np.testing.assert_array_equal(np.isnan(back.trade_px), np.isnan(tape.trade_px))


def test_generic_bad_rows(tmp_path):
    head = "time_ns,bid_px,bid_qty,ask_px,ask_qty,trade_px,trade_qty,trade_side\n"
    p = write(tmp_path / "t.csv", head + "1,100,1,101,1,,,\n2,100,1,101,1,101,1,1\n")
    with pytest.raises(ValueError, match=r"t.csv: line 3.*both"):
        load_tape(p)
    p = write(tmp_path / "t.csv", head + "1,100,1,101,1,,,\n2,,,,,101,1,2\n")
    with pytest.raises(ValueError, match=r"line 3, column 'trade_side'"):
        load_tape(p)
    p = write(tmp_path / "t.csv", head + "5,100,1,101,1,,,\n2,,,,,101,1,1\n")
    with pytest.raises(ValueError, match=r"line 3, column 'time_ns'.*out of order"):
        load_tape(p)


def test_tape_invariants_and_chunks():
    t = np.array([0, 1, 2], dtype=np.int64)
    kw = {
        "kind": [0, 1, 0],
        "bid_px": [1.0] * 3,
        "bid_qty": [1.0] * 3,
        "ask_px": [2.0] * 3,
        "ask_qty": [1.0] * 3,
        "trade_px": [math.nan, 2.0, math.nan],
        "trade_qty": [math.nan, 1.0, math.nan],
        "side": [0, 1, 0],
    }
    tape = Tape(time=t, **kw, tick=1.0)
    assert [len(c) for c in iter_chunks(tape, 2)] == [2, 1]
    chunks = list(tile(tape, 7, chunk_size=2))
    assert sum(len(c) for c in chunks) == 7
    with pytest.raises(ValueError, match=r"Tape\.time decreases"):
        Tape(time=t[::-1].copy(), **kw, tick=1.0)
    with pytest.raises(ValueError, match=r"Tape\.side must be"):
        Tape(time=t, **{**kw, "side": [0, 3, 0]}, tick=1.0)
    with pytest.raises(ValueError, match=r"Tape\.bid_px must be < ask_px"):
        Tape(time=t, **{**kw, "bid_px": [2.0] * 3}, tick=1.0)


# The calibration of record on the shared samples, computed by the trades-and-quotes loaders before they were
# made views of the tape loaders: the tape reproduces it.
LOBSTER_AKS = (2.864009173644048, 62.00536793436771, 0.019899234383254832)
BINANCE_AKS = (8.503305927642732, 1.5313561815475232, 7.502435651018617)


def test_lobster_sample_calibration_reads_the_tape(lobster_sample):
    from mmenv.calibration import calibrate
    from mmenv.calibration.trades import TradesAndQuotes

    tape = load_lobster(*lobster_sample)
    assert tape.tick == pytest.approx(0.01)
    r = tape.report
    assert r["executions"] == r["trades"] + r["excluded_trades_before_first_quote"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = calibrate(TradesAndQuotes.from_tape(tape))
    assert (new.A, new.k, new.sigma) == pytest.approx(LOBSTER_AKS, rel=1e-9)


def test_binance_sample_calibration_reads_the_tape(binance_sample):
    from mmenv.calibration import calibrate
    from mmenv.calibration.trades import TradesAndQuotes

    tape = load_binance(*binance_sample)
    assert tape.report["trades"] == 21313 and tape.report["quotes"] == 66089
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = calibrate(TradesAndQuotes.from_tape(tape))
    assert (new.A, new.k, new.sigma) == pytest.approx(BINANCE_AKS, rel=1e-8)
