"""Databento DBN files (mmenv.data.loaders.databento): the fixtures written from the LOBSTER sample with the
databento package's own encoder load into the same tape as the same events in the generic schema and as the
LOBSTER loader's tape, with the same calibration; the clocks, flags and sides as Databento documents them;
bad files named by file, record and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmenv.data.loaders import load, load_databento, load_lobster, load_tape
from mmenv.data.tape import QUOTE, TRADE
from tests.data.fixtures import make_fixtures as mk
from tests.data.test_tardis import assert_same_tape, fit

dbn = pytest.importorskip(
    "databento_dbn", reason="the databento extra is not installed (pip install -e '.[databento]')"
)

FIX = Path(mk.__file__).parent
DBN = {s: FIX / f"xnas-itch-amzn.{s}.dbn.zst" for s in ("mbp-1", "tbbo", "trades")}
TAPES = {s: FIX / f"xnas-itch-amzn.{s}.tape.csv.gz" for s in ("mbp-1", "tbbo", "trades+mbp-1")}


@pytest.mark.parametrize("schema", ["mbp-1", "tbbo"])
def test_each_schema_loads_the_fixture_into_the_tape_of_the_generic_schema(schema):
    tape = load_databento(DBN[schema])
    expected = load_tape(TAPES[schema])
    assert_same_tape(tape, expected)
    assert tape.n_trades > 600 and tape.report["schema"] == schema and tape.tick == 0.01
    assert fit(tape) == fit(expected)
    assert_same_tape(load("databento", DBN[schema]), tape)


def test_a_trades_file_is_joined_with_an_mbp1_file_in_either_order():
    joined = load_databento(DBN["trades"], DBN["mbp-1"])
    assert_same_tape(joined, load_tape(TAPES["trades+mbp-1"]))
    assert_same_tape(load_databento(DBN["mbp-1"], DBN["trades"]), joined)
    assert joined.report["book_file_trades_not_used"] == joined.report["records_read"]
    # the book before the first print of each market order is the same as in file order: the same calibration
    assert fit(joined) == fit(load_databento(DBN["mbp-1"]))


def test_a_trades_file_alone_is_refused_with_the_remedy():
    with pytest.raises(
        ValueError, match=r"trades.dbn.zst: a trades file holds no book .* --databento TRADES.dbn MBP1.dbn"
    ):
        load_databento(DBN["trades"])
    with pytest.raises(ValueError, match=r"two files are a trades file and an mbp-1 file"):
        load_databento(DBN["tbbo"], DBN["mbp-1"])


def _lobster_slice(tmp_path, files, n: int) -> list[Path]:
    """The first ``n`` lines of the LOBSTER sample's two files."""
    out = []
    for src in files:
        out.append(tmp_path / src.name)
        out[-1].write_text("".join(src.read_text().splitlines(keepends=True)[:n]))
    return out


def _same_as_lobster(tape, lob) -> None:
    """The DBN tape is the LOBSTER loader's tape, shifted from New York midnight to the Unix epoch."""
    np.testing.assert_array_equal(tape.time - mk.midnight_ns(), lob.time)
    for c in ("kind", "bid_px", "bid_qty", "ask_px", "ask_qty", "trade_px", "trade_qty", "side"):
        np.testing.assert_array_equal(getattr(tape, c), getattr(lob, c), err_msg=c)
    assert tape.tick == lob.tick


def test_the_mbp1_fixture_is_the_lobster_loaders_tape_of_the_same_messages(tmp_path, lobster_sample):
    lob = load_lobster(*_lobster_slice(tmp_path, lobster_sample, mk.LOBSTER_MESSAGES))
    _same_as_lobster(load_databento(DBN["mbp-1"]), lob)


@pytest.mark.slow
def test_the_whole_lobster_sample_as_mbp1_is_the_lobster_loaders_tape(tmp_path, lobster_sample):
    files = mk.databento_files(*lobster_sample, tmp_path, level=1)
    _same_as_lobster(load_databento(files["mbp-1"]), load_lobster(*lobster_sample))
    assert_same_tape(load_databento(files["tbbo"]), load_tape(files["tbbo_tape"]))


# ------------------------------------------------------------------------------- the rules, on small files
T0 = 1_723_161_256_000_000_000  # epoch ns
PX = 1_000_000_000  # one price unit


def rec(
    t: int,
    action: str = "M",
    *,
    recv: int | None = None,
    side: str = "N",
    px: float = 0.0,
    size: int = 0,
    bid: float = 100.0,
    ask: float = 100.5,
    bq: int = 10,
    aq: int = 20,
    flags: int | None = None,
    iid: int = 1,
):
    """An mbp-1 record at ``t`` ns (ts_recv ``recv``, default ``t``) whose top of book is (bid, bq, ask, aq)."""
    actions = {"M": dbn.Action.MODIFY, "A": dbn.Action.ADD, "C": dbn.Action.CANCEL, "T": dbn.Action.TRADE}
    sides = {"B": dbn.Side.BID, "A": dbn.Side.ASK, "N": dbn.Side.NONE}
    return dbn.MBP1Msg(
        publisher_id=2,
        instrument_id=iid,
        ts_event=T0 + t,
        ts_recv=T0 + (t if recv is None else recv),
        price=round(px * PX),
        size=size,
        action=actions[action],
        side=sides[side],
        depth=0,
        flags=dbn.F_LAST if flags is None else flags,
        levels=dbn.BidAskPair(bid_px=round(bid * PX), ask_px=round(ask * PX), bid_sz=bq, ask_sz=aq),
    )


def dbn_file(tmp_path, records, name="x.mbp-1.dbn", schema="mbp-1", symbols=None, level=None) -> Path:
    p = tmp_path / name
    p.write_bytes(mk.dbn_bytes(records, schema, symbols or {"X": 1}, level=level))
    return p


BASE = [
    rec(0),
    rec(10, "T", side="B", px=100.5, size=3),
    rec(10, "C", bid=100.0, ask=100.5, aq=17),
    rec(20, bid=100.5, ask=101.0),
]


def test_file_order_the_book_before_a_trade_and_the_book_after_it(tmp_path):
    tape = load_databento(dbn_file(tmp_path, BASE))
    assert list(tape.kind) == [QUOTE, TRADE, QUOTE, QUOTE]
    assert tape.ask_qty[1] == 20 and tape.ask_qty[2] == 17  # the trade met the book before it
    assert tape.side[1] == 1 and tape.trade_px[1] == 100.5 and tape.trade_qty[1] == 3.0
    assert list(tape.time) == [(T0 + t) for t in (0, 10, 10, 20)]


def test_sides_and_flags_as_databento_documents_them(tmp_path):
    records = [
        rec(0),
        rec(5, "T", side="N", px=100.5, size=1),  # no aggressor side: excluded, counted
        rec(6, "T", side="A", px=100.0, size=2),  # a sell aggressor
        rec(7, "C", bid=99.5, flags=0),  # an intermediate state of an event: not a quote
        rec(7, "A", bid=100.0, bq=4),  # the last record of the event
        rec(8, "A", bid=99.0, flags=dbn.F_LAST | dbn.F_MAYBE_BAD_BOOK),  # a gap in the feed: not used
        rec(9, "A", bid=100.0, bq=6),
    ]
    tape = load_databento(dbn_file(tmp_path, records))
    r = tape.report
    assert r["excluded_trades_no_side"] == 1 and r["book_records_within_event"] == 1
    assert r["quotes_maybe_bad_book"] == 1
    assert list(tape.side[tape.kind == TRADE]) == [-1]
    q = tape.kind == QUOTE
    assert list(zip(tape.bid_px[q], tape.bid_qty[q], strict=True)) == [
        (100.0, 10.0),
        (100.0, 4.0),
        (100.0, 6.0),
    ]


def test_the_ts_recv_clock_repairs_flagged_stamps_and_ts_event_raises_the_ones_that_step_back(tmp_path):
    records = [
        rec(0),
        rec(10, recv=10**9, bid=100.1, flags=dbn.F_LAST | dbn.F_BAD_TS_RECV),  # an inaccurate ts_recv
        rec(5, recv=20, bid=100.2),  # ts_event steps back
        rec(30, bid=100.3),
    ]
    p = dbn_file(tmp_path, records)
    recv = load_databento(p)
    assert list(recv.time) == [T0, T0, T0 + 20, T0 + 30] and recv.report["times_replaced_bad_ts_recv"] == 1
    ev = load_databento(p, clock="ts_event")
    assert list(ev.time) == [T0, T0 + 10, T0 + 10, T0 + 30] and ev.report["times_raised"] == 1
    with pytest.raises(ValueError, match=r"clock must be one of \['ts_recv', 'ts_event'\]"):
        load_databento(p, clock="exchange")
    seconds = dbn_file(tmp_path, [rec(0), rec(10, recv=-T0 + 1_723_161_256)], name="seconds.dbn")
    with pytest.raises(
        ValueError,
        match=r"seconds.dbn: record 2, field 'ts_recv': 1723161256 is not an epoch time in nanoseconds \(looks like seconds\)",
    ):
        load_databento(seconds)
    backwards = dbn_file(tmp_path, [rec(0), rec(10), rec(5)], name="back.dbn")
    with pytest.raises(ValueError, match=r"back.dbn: record 3, field 'ts_recv': .* out of order"):
        load_databento(backwards)


def test_a_file_of_several_instruments_needs_a_symbol(tmp_path):
    records = [
        rec(0, iid=1),
        rec(1, iid=2, bid=50.0, ask=50.5),
        rec(2, "T", side="B", px=100.5, size=1, iid=1),
        rec(3, "T", side="A", px=50.0, size=1, iid=2, bid=50.0, ask=50.5),
    ]
    p = dbn_file(tmp_path, records, symbols={"AAA": 1, "BBB": 2})
    with pytest.raises(
        ValueError, match=r"holds 2 instruments \(AAA, BBB\); choose one with symbol= \(--databento-symbol\)"
    ):
        load_databento(p)
    b = load_databento(p, symbol="BBB")
    assert list(b.trade_px[b.kind == TRADE]) == [50.0] and "BBB" in b.source
    with pytest.raises(ValueError, match=r"no instrument 'CCC' in the file; it holds AAA, BBB"):
        load_databento(p, symbol="CCC")


def test_bad_files_are_named(tmp_path):
    raw = mk.dbn_bytes(BASE, "mbp-1", {"X": 1}, level=None)
    (tmp_path / "cut.dbn").write_bytes(raw[:-9])
    with pytest.raises(
        ValueError, match=r"cut.dbn: the file is truncated \(an incomplete record after record 3\)"
    ):
        load_databento(tmp_path / "cut.dbn")
    (tmp_path / "junk.dbn").write_bytes(b"not a dbn file at all")
    with pytest.raises(ValueError, match=r"junk.dbn: cannot read it as a DBN file"):
        load_databento(tmp_path / "junk.dbn")
    bar = dbn.OHLCVMsg(
        rtype=dbn.RType.OHLCV_1M,
        publisher_id=2,
        instrument_id=1,
        ts_event=T0,
        open=PX,
        high=PX,
        low=PX,
        close=PX,
        volume=1,
    )
    bars = tmp_path / "bars.dbn"
    bars.write_bytes(_ohlcv_bytes(bar))
    with pytest.raises(
        ValueError, match=r"bars.dbn: schema 'ohlcv-1m' is not read here; give an mbp-1 or tbbo"
    ):
        load_databento(bars)
    nan_trade = [rec(0), rec(1, "T", side="B", px=0, size=1)]
    bad = dbn_file(
        tmp_path,
        [*nan_trade[:1], dbn.MBP1Msg(**{**_fields(nan_trade[1]), "price": dbn.UNDEF_PRICE})],
        name="undef.dbn",
    )
    with pytest.raises(
        ValueError, match=r"undef.dbn: record 2, field 'price': undefined price on a trade record"
    ):
        load_databento(bad)


def _fields(r) -> dict:
    return dict(
        publisher_id=r.publisher_id,
        instrument_id=r.instrument_id,
        ts_event=r.ts_event,
        ts_recv=r.ts_recv,
        price=r.price,
        size=r.size,
        action=dbn.Action.TRADE,
        side=dbn.Side.BID,
        depth=0,
        flags=r.flags,
        levels=r.levels[0],
    )


def _ohlcv_bytes(bar) -> bytes:
    from types import SimpleNamespace

    meta = dbn.Metadata(
        dataset=mk.DATASET,
        start=T0,
        end=T0 + 1,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.OHLCV_1M,
        symbols=["X"],
        mappings=[SimpleNamespace(raw_symbol="X", intervals=[])],
    )
    return meta.encode() + bytes(bar)
