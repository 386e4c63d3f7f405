"""tardis.dev CSV files (mmenv.data.loaders.tardis): the fixtures written from the Binance sample load into the
same tape as the same events in the generic schema, with the same calibration; the incremental L2 book
against a plain-Python book; every documented rule (clock, ties, snapshots, messages); bad input named by
file, line and column on corrupted slices of the fixtures."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmenv.calibration import fit_intensity
from mmenv.calibration.trades import TradesAndQuotes
from mmenv.data.loaders import load, load_binance, load_tape, load_tardis
from mmenv.data.loaders.l2book import top_of_book
from mmenv.data.loaders.tardis import tardis_data_type
from mmenv.data.tape import COLUMNS, QUOTE, TRADE
from tests.conftest import SAMPLE_FILES, needs_sample
from tests.data.fixtures import make_fixtures as mk

FIX = Path(mk.__file__).parent
PREFIX = "binance-futures_{}_2024-08-08_BTCUSDT.csv.gz"
TRADES = FIX / PREFIX.format("trades")
BOOKS = {
    kind: FIX / PREFIX.format(kind) for kind in ("book_ticker", "book_snapshot_5", "incremental_book_L2")
}
TAPE = FIX / "binance-futures_BTCUSDT.tape.csv.gz"  # the events in the generic schema
L2_TAPE = (
    FIX / "binance-futures_BTCUSDT.l2.tape.csv.gz"
)  # the same, as an incremental L2 reader sees the book


def assert_same_tape(a, b) -> None:
    for c in COLUMNS:
        np.testing.assert_array_equal(getattr(a, c), getattr(b, c), err_msg=c)
    assert a.tick == b.tick


def fit(tape):
    """(A, k) of the exponential intensity fitted on the tape's market orders (the warning about orders
    inside the spread, the same for both tapes, silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        r = fit_intensity(TradesAndQuotes.from_tape(tape).depth_sample())
    return r.A, r.k


@pytest.mark.parametrize("kind", sorted(BOOKS))
def test_each_book_type_loads_the_fixture_into_the_tape_of_the_generic_schema(kind):
    tape = load_tardis(BOOKS[kind], TRADES)
    expected = load_tape(L2_TAPE if kind == "incremental_book_L2" else TAPE)
    assert_same_tape(tape, expected)
    assert tape.n_trades > 300 and tape.report["book_type"] == ("quotes" if kind == "book_ticker" else kind)
    assert fit(tape) == fit(expected)  # the same calibration numbers, exactly
    # the files in either order, by name through the table of formats
    assert_same_tape(load("tardis", TRADES, BOOKS[kind]), tape)


def test_the_book_ticker_fixture_is_the_binance_loaders_tape_of_the_same_window(tmp_path, binance_sample):
    tr, bbo = mk.read_binance(*binance_sample, mk.BINANCE_WINDOW_S)
    tr.to_csv(tmp_path / "t.csv", index=False)
    bbo.to_csv(tmp_path / "q.csv", index=False)
    assert_same_tape(
        load_tardis(BOOKS["book_ticker"], TRADES), load_binance(tmp_path / "t.csv", tmp_path / "q.csv")
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("key", "exchange", "symbol"),
    [
        pytest.param("binance", "binance-futures", "BTCUSDT", marks=needs_sample("binance")),
        pytest.param(
            "binance_cm_btcusd", "binance-delivery", "BTCUSD_PERP", marks=needs_sample("binance_cm_btcusd")
        ),
    ],
)
def test_a_whole_real_sample_in_tardis_layout_is_the_binance_loaders_tape(tmp_path, key, exchange, symbol):
    files = mk.tardis_files(*SAMPLE_FILES[key], tmp_path, exchange, symbol, level=1)
    direct = load_binance(*SAMPLE_FILES[key])
    assert_same_tape(load_tardis(files["book_ticker"], files["trades"]), direct)
    assert_same_tape(load_tardis(files["book_snapshot_5"], files["trades"]), direct)
    l2 = load_tardis(files["incremental_book_L2"], files["trades"])
    assert_same_tape(l2, load_tape(files["l2_tape"]))
    assert l2.report["book_snapshots"] == 2 and l2.report["book_messages"] < l2.report["book_rows_read"]


def test_the_data_type_is_read_from_the_header_not_the_name(tmp_path):
    assert [tardis_data_type(p) for p in (TRADES, *BOOKS.values())] == [
        "trades",
        "quotes",
        "book_snapshot_5",
        "incremental_book_L2",
    ]
    renamed = tmp_path / "BTCUSDT.csv.gz"  # the name of a file downloaded from its URL
    renamed.write_bytes(BOOKS["book_snapshot_5"].read_bytes())
    assert tardis_data_type(renamed) == "book_snapshot_5"
    plain = tmp_path / "trades.csv"  # not gzip'd
    plain.write_bytes(gzip.decompress(TRADES.read_bytes()))
    assert_same_tape(load_tardis(renamed, plain), load_tardis(BOOKS["book_snapshot_5"], TRADES))


def test_a_snapshot_of_25_levels_reads_its_level_0_as_one_of_5_does(tmp_path):
    df = pd.read_csv(BOOKS["book_snapshot_5"], dtype=str, keep_default_na=False)
    head = {c: df[c] for c in mk.TARDIS}
    bbo = pd.DataFrame(
        {
            "transaction_time_ms": df["timestamp"].astype("int64") // 1000,
            "local_ts_ns": df["local_timestamp"].astype("int64") * 1000,
            "ask_px": df["asks[0].price"].astype(float),
            "ask_qty": df["asks[0].amount"].astype(float),
            "bid_px": df["bids[0].price"].astype(float),
            "bid_qty": df["bids[0].amount"].astype(float),
        }
    )
    deep = mk.tardis_snapshot(bbo, *(head[c].iloc[0] for c in ("exchange", "symbol")), levels=25)
    assert list(deep.columns[4:8]) == ["asks[0].price", "asks[0].amount", "bids[0].price", "bids[0].amount"]
    assert deep.columns[-1] == "bids[24].amount" and len(deep.columns) == 4 + 25 * 4
    path = tmp_path / "book_snapshot_25.csv.gz"
    path.write_bytes(mk.csv_bytes(deep, gz=True))
    assert tardis_data_type(path) == "book_snapshot_25"
    assert_same_tape(load_tardis(path, TRADES), load_tardis(BOOKS["book_snapshot_5"], TRADES))


def test_the_local_clock_reads_local_timestamp_and_the_exchange_clock_is_the_default():
    ex = load_tardis(BOOKS["book_ticker"], TRADES)
    loc = load_tardis(BOOKS["book_ticker"], TRADES, clock="local")
    raw = pd.read_csv(BOOKS["book_ticker"])
    assert loc.time[loc.kind == QUOTE][0] == raw["local_timestamp"].iloc[0] * 1000
    assert ex.time[ex.kind == QUOTE][0] == raw["timestamp"].iloc[0] * 1000
    assert loc.report["clock"] == "local" and loc.n_trades == ex.n_trades
    with pytest.raises(ValueError, match=r"clock must be one of \['exchange', 'local'\], got 'utc'"):
        load_tardis(BOOKS["book_ticker"], TRADES, clock="utc")


# ------------------------------------------------------------------------------- the rules, on small files
HEAD = "exchange,symbol,timestamp,local_timestamp,"
T0 = 1_723_161_256_000_000  # epoch microseconds


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(HEAD + header + "\n" + "".join(r + "\n" for r in rows))
    return path


def quotes_file(tmp_path, rows: list[str]) -> Path:
    return write(tmp_path / "quotes.csv", "ask_amount,ask_price,bid_price,bid_amount", rows)


def trades_file(tmp_path, rows: list[str]) -> Path:
    return write(tmp_path / "trades.csv", "id,side,price,amount", rows)


def l2_file(tmp_path, rows: list[str]) -> Path:
    return write(tmp_path / "l2.csv", "is_snapshot,side,price,amount", rows)


Q = [f"x,S,{T0 + 10 * i},{T0 + 10 * i + 5},1,100.{i + 1},100.{i},2" for i in range(3)]
TR = [f"x,S,{T0 + 10},{T0 + 16},7,buy,100.2,0.5", f"x,S,{T0 + 25},{T0 + 26},8,sell,100.1,0.25"]


def test_trades_meet_the_book_stamped_strictly_before_them_and_unknown_sides_are_counted(tmp_path):
    trades = [*TR, f"x,S,{T0 + 27},{T0 + 28},9,unknown,100.1,1"]
    tape = load_tardis(quotes_file(tmp_path, Q), trades_file(tmp_path, trades))
    assert list(tape.kind) == [
        QUOTE,
        TRADE,
        QUOTE,
        QUOTE,
        TRADE,
    ]  # the trade at +10 sorts before the quote at +10
    tr = tape.kind == TRADE
    assert list(tape.side[tr]) == [1, -1] and list(tape.bid_px[tr]) == [100.0, 100.2]
    assert tape.report["excluded_trades_unknown_side"] == 1 and tape.report["trades"] == 2


def test_an_empty_side_of_a_quote_is_excluded_and_counted(tmp_path):
    q = [*Q[:2], f"x,S,{T0 + 12},{T0 + 17},,,100.1,3", Q[2]]  # no ask: the book before stays in force
    tape = load_tardis(quotes_file(tmp_path, q), trades_file(tmp_path, TR))
    assert tape.report["excluded_quotes_empty_side"] == 1 and tape.report["quotes"] == 3
    assert tape.bid_qty[tape.kind == TRADE][1] == 2.0  # the trade at +25 met the quote of +10


def test_the_exchange_clock_keeps_the_file_order_and_counts_the_stamps_it_raises(tmp_path):
    q = [*Q[:2], f"x,S,{T0 + 5},{T0 + 30},1,100.3,100.2,2"]  # received last, stamped before the quote at +10
    tape = load_tardis(quotes_file(tmp_path, q), trades_file(tmp_path, TR[:1]))
    assert tape.report["book_times_raised"] == 1
    quotes = tape.time[tape.kind == QUOTE]
    assert list(quotes) == [T0 * 1000, (T0 + 10) * 1000, (T0 + 10) * 1000] and tape.bid_px[-1] == 100.2


def test_an_incremental_book_is_rebuilt_per_message_and_cleared_by_each_snapshot(tmp_path):
    rows = [
        f"x,S,{T0 + 1},{T0 + 9},false,bid,99.0,1",  # before the first snapshot: excluded, counted
        f"x,S,{T0 + 2},{T0 + 10},true,bid,100.0,1",
        f"x,S,{T0 + 2},{T0 + 10},true,bid,99.5,4",
        f"x,S,{T0 + 2},{T0 + 10},true,ask,100.5,2",
        # one message: the best bid leaves and a lower one is added; the book is read once, after both rows
        f"x,S,{T0 + 3},{T0 + 11},false,bid,100.0,0",
        f"x,S,{T0 + 3},{T0 + 11},false,ask,100.4,3",
        f"x,S,{T0 + 4},{T0 + 12},false,bid,99.5,5",  # a size change at the top
        f"x,S,{T0 + 5},{T0 + 13},false,bid,90.0,1",  # a deeper level: the top does not change
        # a new snapshot (a reconnection): the old levels are cleared, the bid of 99.5 is gone
        f"x,S,{T0 + 6},{T0 + 14},true,bid,99.0,7",
        f"x,S,{T0 + 6},{T0 + 14},true,ask,100.6,8",
    ]
    tape = load_tardis(
        l2_file(tmp_path, rows), trades_file(tmp_path, [f"x,S,{T0 + 7},{T0 + 15},1,buy,100.6,1"])
    )
    q = tape.kind == QUOTE
    assert list(zip(tape.bid_px[q], tape.bid_qty[q], tape.ask_px[q], tape.ask_qty[q], strict=True)) == [
        (100.0, 1.0, 100.5, 2.0),
        (99.5, 4.0, 100.4, 3.0),
        (99.5, 5.0, 100.4, 3.0),
        (99.0, 7.0, 100.6, 8.0),
    ]
    r = tape.report
    assert r["excluded_updates_before_snapshot"] == 1 and r["book_snapshots"] == 2
    assert r["book_messages"] == 5 and r["book_top_unchanged"] == 1
    assert list(tape.time[q]) == [(T0 + t) * 1000 for t in (2, 3, 4, 6)]


def test_the_compiled_book_matches_a_plain_python_book_on_random_updates():
    rng = np.random.default_rng(7)
    n = 4000
    price = np.round(100 + rng.integers(-30, 30, n) * 0.5, 1)
    is_bid = price < 100 + rng.normal(0, 3, n)
    amount = np.where(rng.random(n) < 0.3, 0.0, rng.integers(1, 9, n).astype(float))
    reset = rng.random(n) < 0.01
    emit = rng.random(n) < 0.5
    got = top_of_book(price, amount, is_bid, reset, emit)
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    want = []
    for i in range(n):
        if reset[i]:
            bids.clear()
            asks.clear()
        side = bids if is_bid[i] else asks
        if amount[i] > 0:
            side[price[i]] = amount[i]
        else:
            side.pop(price[i], None)
        if emit[i]:
            b = max(bids) if bids else np.nan
            a = min(asks) if asks else np.nan
            want.append((b, bids.get(b, 0.0), a, asks.get(a, 0.0)))
    np.testing.assert_array_equal(np.array(got).T, np.array(want))


# ------------------------------------------------------------------------------------------------ bad input
def _corrupt(tmp_path, src: Path, line: int, col: str, value: str, name: str | None = None) -> Path:
    """A copy of a fixture with one cell replaced (``line`` 1-based, the header is line 1)."""
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    df.loc[line - 2, col] = value
    out = tmp_path / (name or src.name)
    out.write_bytes(mk.csv_bytes(df, gz=True))
    return out


@pytest.mark.parametrize(
    ("src", "line", "col", "value", "match"),
    [
        (
            TRADES,
            40,
            "price",
            "abc",
            r"trades_2024-08-08_BTCUSDT.csv.gz: line 40, column 'price': not a number: 'abc'; correct or remove",
        ),
        (TRADES, 12, "amount", "", r"line 12, column 'amount': blank field"),
        (TRADES, 13, "price", "0", r"line 13, column 'price': must be a number > 0, got 0.0"),
        (
            TRADES,
            7,
            "side",
            "BUY",
            r"line 7, column 'side': must be one of \['buy', 'sell', 'unknown'\], got 'BUY'",
        ),
        (
            TRADES,
            3,
            "timestamp",
            "1723161256322",
            r"line 3, column 'timestamp': 1723161256322 is not an epoch time in microseconds \(looks like milliseconds\)",
        ),
        (
            TRADES,
            5,
            "local_timestamp",
            "1.5",
            r"line 5, column 'local_timestamp': expected an integer number of microseconds, got '1.5'",
        ),
        (TRADES, 9, "id", "5266583936", r"line 9, column 'id': trade id '5266583936' repeats line 3"),
        (
            BOOKS["book_ticker"],
            100,
            "bid_price",
            "n/a",
            r"book_ticker_2024-08-08_BTCUSDT.csv.gz: line 100, column 'bid_price'",
        ),
        (
            BOOKS["book_ticker"],
            20,
            "local_timestamp",
            "1723161255000000",
            r"line 20, column 'local_timestamp': timestamps out of order",
        ),
        (BOOKS["book_snapshot_5"], 30, "asks[0].amount", "x", r"line 30, column 'asks\[0\].amount'"),
        (
            BOOKS["incremental_book_L2"],
            50,
            "amount",
            "-1",
            r"line 50, column 'amount': must be a number >= 0, got -1.0",
        ),
        (
            BOOKS["incremental_book_L2"],
            60,
            "is_snapshot",
            "yes",
            r"line 60, column 'is_snapshot': expected true or false, got 'yes'",
        ),
        (
            BOOKS["incremental_book_L2"],
            61,
            "side",
            "buy",
            r"line 61, column 'side': must be one of \['bid', 'ask'\]",
        ),
    ],
)
def test_a_corrupted_cell_is_an_error_naming_file_line_and_column(tmp_path, src, line, col, value, match):
    bad = _corrupt(tmp_path, src, line, col, value)
    book, trades = (BOOKS["book_ticker"], bad) if src == TRADES else (bad, TRADES)
    with pytest.raises(ValueError, match=match):
        load_tardis(book, trades)


def test_a_missing_column_an_unknown_layout_or_an_empty_file_is_named(tmp_path):
    df = pd.read_csv(TRADES).drop(columns="amount")
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        ValueError, match=r"t.csv: line 1: a tardis.dev trades file needs the columns \['amount'\]"
    ):
        load_tardis(BOOKS["book_ticker"], tmp_path / "t.csv")
    (tmp_path / "bars.csv").write_text("time,open,high,low,close\n1,2,3,1,2\n")
    with pytest.raises(ValueError, match=r"bars.csv: not a tardis.dev CSV file of a data type read here"):
        load_tardis(tmp_path / "bars.csv", TRADES)
    (tmp_path / "empty.csv.gz").write_bytes(gzip.compress(b"", mtime=0))
    with pytest.raises(
        ValueError, match=r"empty.csv.gz: the file is empty \(tardis.dev serves an empty file"
    ):
        load_tardis(tmp_path / "empty.csv.gz", TRADES)


def test_two_files_of_one_kind_or_of_two_symbols_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"got two book files \(quotes, book_snapshot_5\)"):
        load_tardis(BOOKS["book_ticker"], BOOKS["book_snapshot_5"])
    with pytest.raises(ValueError, match="got two trades files"):
        load_tardis(TRADES, TRADES)
    df = pd.read_csv(TRADES, dtype=str)
    df["symbol"] = "ETHUSDT"
    df.to_csv(tmp_path / "eth.csv", index=False)
    with pytest.raises(
        ValueError, match=r"is binance-futures BTCUSDT but eth.csv is binance-futures ETHUSDT"
    ):
        load_tardis(BOOKS["book_ticker"], tmp_path / "eth.csv")
    df.loc[3, "symbol"] = "BTCUSDT"
    df.to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(ValueError, match=r"two.csv: the file holds 2 symbols"):
        load_tardis(BOOKS["book_ticker"], tmp_path / "two.csv")


def test_an_incremental_file_without_a_snapshot_is_refused(tmp_path):
    rows = [f"x,S,{T0 + 1},{T0 + 9},false,bid,99.0,1", f"x,S,{T0 + 1},{T0 + 9},false,ask,99.5,1"]
    with pytest.raises(ValueError, match="no row with is_snapshot=true"):
        load_tardis(l2_file(tmp_path, rows), trades_file(tmp_path, TR))
