"""The one table of data formats (mmenv.data.loaders.FORMATS): every row loads through ``load`` and the
calibration's view, every shared sample names a format of the table, and the tick has one home."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from mmenv.calibration.trades import TradesAndQuotes, load_trades_and_quotes
from mmenv.data import loaders
from mmenv.data.loaders import FORMATS, infer_tick, load, load_binance, save_hftbacktest, save_tape
from mmenv.data.samples import SAMPLES
from mmenv.data.tape import TRADE

TRADES = "trade_time_ms,trade_id,price,qty,is_buyer_maker\n1723161256003,1,100.1,0.5,0\n1723161256007,2,100.0,0.2,1\n"
QUOTES = (
    "transaction_time_ms,bid_px,bid_qty,ask_px,ask_qty\n"
    "1723161256000,100.0,1,100.1,1\n1723161256005,100.0,2,100.1,1\n1723161256009,100.1,1,100.2,3\n"
)
MESSAGES = "34200.0,1,1,100,1001000,-1\n34200.5,4,1,10,1001000,-1\n34201.0,4,2,10,1000000,1\n"
BOOK = "1001000,100,1000000,100\n1001000,90,1000000,100\n1001000,90,1000000,90\n"


def _files(tmp_path, name: str) -> tuple:
    """Small files of format ``name``: LOBSTER's own, the others the Binance files' events in their layout
    (the generic one written by save_tape)."""
    if name == "lobster":
        m, b = tmp_path / "X_message_1.csv", tmp_path / "X_orderbook_1.csv"
        m.write_text(MESSAGES)
        b.write_text(BOOK)
        return m, b
    t, q = tmp_path / "trades.csv", tmp_path / "bbo.csv"
    t.write_text(TRADES)
    q.write_text(QUOTES)
    if name == "binance":
        return t, q
    if name == "tardis":
        return tardis_files(tmp_path, TRADES, QUOTES)
    if name == "databento":
        return (databento_file(tmp_path, TRADES, QUOTES),)
    if name == "hftbacktest":
        return (save_hftbacktest(load_binance(t, q), tmp_path / "tape.npz"),)
    return (save_tape(load_binance(t, q), tmp_path / "tape.csv"),)


def tardis_files(tmp_path, trades: str, quotes: str) -> tuple:
    """The events of Binance trades and best bid/ask CSV text as tardis.dev ``book_ticker`` and ``trades`` files
    (docs.tardis.dev, data types: ``timestamp`` in microseconds, the taker's ``side``)."""
    head = "exchange,symbol,timestamp,local_timestamp,"
    b = [head + "ask_amount,ask_price,bid_price,bid_amount"]
    for row in quotes.splitlines()[1:]:
        ms, bid, bq, ask, aq = row.split(",")
        b.append(f"binance-futures,BTCUSDT,{int(ms) * 1000},{int(ms) * 1000 + 7},{aq},{ask},{bid},{bq}")
    t = [head + "id,side,price,amount"]
    for row in trades.splitlines()[1:]:
        ms, tid, px, qty, maker = row.split(",")
        side = "sell" if maker == "1" else "buy"
        t.append(f"binance-futures,BTCUSDT,{int(ms) * 1000},{int(ms) * 1000 + 9},{tid},{side},{px},{qty}")
    bp, tp = tmp_path / "book_ticker.csv", tmp_path / "trades_tardis.csv"
    bp.write_text("\n".join(b) + "\n")
    tp.write_text("\n".join(t) + "\n")
    return bp, tp


def databento_file(tmp_path, trades: str, quotes: str):
    """The events of Binance trades and best bid/ask CSV text as a Databento mbp-1 DBN file (prices in units of
    1e-9, sizes scaled to integers by 10, time in ns): each quote a book record, each trade a trade record
    carrying the book before it."""
    dbn = pytest.importorskip("databento_dbn", reason="the databento extra is not installed")
    from tests.data.fixtures.make_fixtures import dbn_bytes

    events = []
    for row in quotes.splitlines()[1:]:
        ms, bid, bq, ask, aq = row.split(",")
        events.append((int(ms) * 10**6, 1, (bid, bq, ask, aq)))
    for row in trades.splitlines()[1:]:
        ms, _, px, qty, maker = row.split(",")
        events.append((int(ms) * 10**6, 0, (px, qty, maker)))
    events.sort(key=lambda e: (e[0], e[1]))  # trades before quotes at equal times
    recs, book = [], None
    for t, is_quote, v in events:
        common = dict(publisher_id=2, instrument_id=1, ts_event=t, ts_recv=t, depth=0, flags=dbn.F_LAST)
        if is_quote:
            book = dbn.BidAskPair(
                bid_px=round(float(v[0]) * 1e9),
                ask_px=round(float(v[2]) * 1e9),
                bid_sz=int(float(v[1]) * 10),
                ask_sz=int(float(v[3]) * 10),
            )
            recs.append(
                dbn.MBP1Msg(
                    **common,
                    price=book.bid_px,
                    size=book.bid_sz,
                    action=dbn.Action.MODIFY,
                    side=dbn.Side.BID,
                    levels=book,
                )
            )
        else:
            recs.append(
                dbn.MBP1Msg(
                    **common,
                    price=round(float(v[0]) * 1e9),
                    size=int(float(v[1]) * 10),
                    action=dbn.Action.TRADE,
                    side=dbn.Side.ASK if v[2] == "1" else dbn.Side.BID,
                    levels=book,
                )
            )
    p = tmp_path / "x.mbp-1.dbn.zst"
    p.write_bytes(dbn_bytes(recs, "mbp-1", {"X": 1}))
    return p


def test_the_table_names_its_rows_and_each_row_says_what_the_format_is():
    assert set(FORMATS) == {"lobster", "binance", "tardis", "databento", "hftbacktest", "generic"}
    for name, f in FORMATS.items():
        assert f.name == name and f.files and f.provides and f.time_unit and f.ties
        params = inspect.signature(f.loader).parameters
        assert {"tick", "max_gap_s"} <= set(params)  # the options every loader takes
        positional = [
            p for p in params.values() if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty
        ]
        assert len(positional) == len(f.files)
        optional = [p for p in params.values() if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is None]
        assert len(optional) == len(f.optional_files)
        assert getattr(loaders, f.loader.__name__) is f.loader  # importable from mmenv.data.loaders


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_loads_by_name_and_as_trades_and_quotes(tmp_path, name):
    files = _files(tmp_path, name)
    tape = load(name, *files, tick=0.1)
    assert tape.tick == 0.1 and tape.n_trades == 2
    direct = FORMATS[name].loader(*files, tick=0.1)
    np.testing.assert_array_equal(tape.time, direct.time)
    tq = load_trades_and_quotes(name, *files, tick=0.1)
    assert isinstance(tq, TradesAndQuotes) and len(tq.trades) == 2
    assert tq.trades["price"].tolist() == pytest.approx(tape.trade_px[tape.kind == TRADE].tolist())


def test_load_refuses_an_unknown_format_and_the_wrong_number_of_files(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"format must be one of \['lobster', 'binance', 'tardis', 'databento', 'hftbacktest', 'generic'\]",
    ):
        load("csv", tmp_path / "x.csv")
    with pytest.raises(
        ValueError, match=r"format 'lobster' reads 2 file\(s\) \(message file, order book file\), got 1"
    ):
        load("lobster", tmp_path / "x.csv")
    with pytest.raises(ValueError, match=r"format 'databento' reads 1 file\(s\) .*\[\+ mbp-1 file .*got 3"):
        load("databento", *(tmp_path / f"{i}.dbn" for i in range(3)))


def test_every_shared_sample_is_read_by_a_format_of_the_table():
    for s in SAMPLES.values():
        assert s.format in FORMATS, s.key
        assert len(s.files) == len(FORMATS[s.format].files), s.key


def test_infer_tick_is_the_grid_of_the_finite_prices():
    assert infer_tick([100.0, 100.1, 100.3]) == pytest.approx(0.1)
    assert infer_tick(np.array([100.0, math.nan, 100.25, math.inf, 100.5])) == 0.25
    assert infer_tick([0.1 + 0.2, 0.4]) == pytest.approx(0.1)  # decimal float noise rounded away
    with pytest.raises(ValueError, match="cannot infer the tick from 1 distinct price"):
        infer_tick([1.0, 1.0, math.nan])
