"""hftbacktest's event files: the writer and the reader (mmenv.data.loaders.hftbacktest) on the shared samples,
on a hand-built full-depth file whose top of book is known, and on corrupted files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmenv.data.loaders import load, load_binance, load_hftbacktest, save_hftbacktest
from mmenv.data.loaders.hftbacktest import (
    BUY_EVENT,
    DEPTH_BBO_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
    tape_to_events,
)
from mmenv.data.samples import SAMPLES
from mmenv.data.tape import QUOTE, TRADE
from tests.conftest import SAMPLE_FILES

X = EXCH_EVENT | LOCAL_EVENT
BID, ASK = DEPTH_EVENT | BUY_EVENT | X, DEPTH_EVENT | SELL_EVENT | X


def _events(rows) -> np.ndarray:
    """Rows (ev, exch_ts, px, qty) as an event array (local_ts = exch_ts)."""
    out = np.zeros(len(rows), EVENT_DTYPE)
    for i, (ev, t, px, qty) in enumerate(rows):
        out[i]["ev"], out[i]["exch_ts"], out[i]["local_ts"], out[i]["px"], out[i]["qty"] = ev, t, t, px, qty
    return out


def _write(tmp_path, arr, name="ev.npz"):
    p = tmp_path / name
    np.savez_compressed(p, data=arr)
    return p


def test_the_event_layout_is_hftbacktests():
    assert EVENT_DTYPE.itemsize == 64 and EVENT_DTYPE.names == (
        "ev",
        "exch_ts",
        "local_ts",
        "px",
        "qty",
        "order_id",
        "ival",
        "fval",
    )
    hbt = pytest.importorskip("hftbacktest.types", reason="hftbacktest is not installed")
    assert hbt.event_dtype == EVENT_DTYPE
    for name in (
        "DEPTH_EVENT",
        "TRADE_EVENT",
        "DEPTH_CLEAR_EVENT",
        "DEPTH_SNAPSHOT_EVENT",
        "DEPTH_BBO_EVENT",
    ):
        assert getattr(hbt, name) == globals()[name]
    assert (hbt.EXCH_EVENT, hbt.LOCAL_EVENT, hbt.BUY_EVENT, hbt.SELL_EVENT) == (
        EXCH_EVENT,
        LOCAL_EVENT,
        BUY_EVENT,
        SELL_EVENT,
    )


@pytest.mark.parametrize("key", ["binance", "binance_cm_btcusd"])
def test_a_sample_written_and_read_back_is_the_same_tape(tmp_path, key):
    if key not in SAMPLE_FILES:
        pytest.skip(f"the shared sample {key!r} is absent")
    tape = load(SAMPLES[key].format, *SAMPLE_FILES[key])
    ev = tape_to_events(tape, feed_latency_s=0.002)
    assert ((ev["ev"] & X) == X).all()
    np.testing.assert_array_equal(ev["local_ts"] - ev["exch_ts"], 2_000_000)
    assert (np.diff(ev["exch_ts"]) >= 0).all()
    back = load_hftbacktest(save_hftbacktest(tape, tmp_path / "t.npz"))
    assert back.tick == pytest.approx(tape.tick) and back.lot == pytest.approx(
        0.001 if key == "binance" else 1.0
    )
    # quote rows that change nothing on either side are not written (hftbacktest's fusion sends nothing)
    q = np.flatnonzero(tape.kind == QUOTE)
    same = np.zeros(len(tape), bool)
    cols = ("bid_px", "bid_qty", "ask_px", "ask_qty")
    same[q[1:]] = np.logical_and.reduce([getattr(tape, c)[q[1:]] == getattr(tape, c)[q[:-1]] for c in cols])
    keep = ~same
    assert len(back) == int(keep.sum())
    np.testing.assert_array_equal(back.time, tape.time[keep])
    np.testing.assert_array_equal(back.kind, tape.kind[keep])
    for c in cols:
        np.testing.assert_allclose(getattr(back, c), getattr(tape, c)[keep], rtol=0, atol=1e-9)
    tr = tape.kind[keep] == TRADE
    for c in ("trade_px", "trade_qty", "side"):
        np.testing.assert_array_equal(getattr(back, c)[tr], getattr(tape, c)[keep][tr])
    assert back.report["trades_outside_book"] == tape.report["trades_outside_book"]


def test_a_full_depth_file_reduces_to_its_top_of_book(tmp_path):
    rows = [
        (BID, 1, 99.0, 5.0),
        (BID, 1, 98.0, 3.0),
        (ASK, 1, 101.0, 2.0),
        (ASK, 1, 102.0, 4.0),  # one run at t = 1: one quote 99 x 5 / 101 x 2
        (BID, 2, 99.0, 0.0),  # the best bid deleted: 98 x 3
        (TRADE_EVENT | SELL_EVENT | X, 3, 98.0, 1.0),
        (103 | X, 3, 98.5, 1.0),  # a custom event (bookTicker's best bid): counted, not read
        (DEPTH_CLEAR_EVENT | BUY_EVENT | X, 4, 97.0, 0.0),  # clear the bids from 97 up
        (DEPTH_SNAPSHOT_EVENT | BUY_EVENT | X, 4, 97.0, 7.0),
        (DEPTH_SNAPSHOT_EVENT | BUY_EVENT | X, 4, 96.0, 1.0),  # snapshot: 97 x 7
        (DEPTH_BBO_EVENT | SELL_EVENT | X, 5, 100.0, 1.0),  # a best ask at 100 (101 and 102 stay behind)
        (ASK, 6, 100.0, 0.0),  # gone: back to 101 x 2
        (DEPTH_EVENT | X, 6, 50.0, 1.0),  # no side: counted
        (TRADE_EVENT | X, 6, 101.0, 1.0),  # no aggressor: counted
        (BID, 7, 97.0, 7.0),  # nothing changes: no quote row
        (BID, 8, 101.0, 1.0),  # locks the book: excluded, the previous book stays in force
        (TRADE_EVENT | BUY_EVENT | X, 8, 101.0, 0.5),
        (BID, 9, 101.0, 0.0),
        (DEPTH_EVENT | BUY_EVENT | LOCAL_EVENT, 9, 99.5, 9.0),  # a local-only row: not the exchange's
    ]
    tape = load_hftbacktest(_write(tmp_path, _events(rows)), lot=0.5)
    got = [
        (int(t), int(k), float(b), float(bq), float(a), float(aq))
        for t, k, b, bq, a, aq in zip(
            tape.time, tape.kind, tape.bid_px, tape.bid_qty, tape.ask_px, tape.ask_qty, strict=True
        )
    ]
    assert got == [
        (1, QUOTE, 99.0, 5.0, 101.0, 2.0),
        (2, QUOTE, 98.0, 3.0, 101.0, 2.0),
        (3, TRADE, 98.0, 3.0, 101.0, 2.0),
        (4, QUOTE, 97.0, 7.0, 101.0, 2.0),
        (5, QUOTE, 97.0, 7.0, 100.0, 1.0),
        (6, QUOTE, 97.0, 7.0, 101.0, 2.0),
        (8, TRADE, 97.0, 7.0, 101.0, 2.0),
        (9, QUOTE, 97.0, 7.0, 101.0, 2.0),
    ]
    assert tape.trade_px[tape.kind == TRADE].tolist() == [98.0, 101.0]
    assert tape.side[tape.kind == TRADE].tolist() == [-1, 1]
    r = tape.report
    assert r["events_read"] == len(rows) and r["exchange_events"] == len(rows) - 1
    assert r["excluded_events_other_kind"] == 1
    assert r["excluded_depth_events_no_side"] == 1 and r["excluded_trades_no_side"] == 1
    assert r["excluded_quotes_locked"] == 1 and r["excluded_quotes_crossed"] == 0
    assert tape.tick == 1.0 and tape.lot == 0.5  # inferred from the prices; given


def test_sizes_under_half_a_lot_delete_a_level_as_in_hftbacktest(tmp_path):
    rows = [(BID, 1, 99.0, 2.0), (BID, 1, 98.0, 1.0), (ASK, 1, 101.0, 1.0), (BID, 2, 99.0, 0.0004)]
    tape = load_hftbacktest(_write(tmp_path, _events(rows)), tick=1.0, lot=0.001)
    assert tape.bid_px.tolist() == [99.0, 98.0]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a["exch_ts"].__setitem__(3, 0), r"row 4, field 'exch_ts': exchange time going backwards"),
        (lambda a: a["px"].__setitem__(2, math.nan), r"row 3, field 'px': must be finite and > 0, got nan"),
        (lambda a: a["qty"].__setitem__(1, -1.0), r"row 2, field 'qty': must be finite and >= 0, got -1.0"),
        (lambda a: a["px"].__setitem__(5, 0.0), r"row 6, field 'px'"),
    ],
)
def test_corrupted_events_are_errors_naming_the_row_and_the_field(tmp_path, change, match):
    rows = [(BID, 1, 99.0, 2.0), (BID, 2, 98.0, 1.0), (ASK, 2, 101.0, 1.0), (BID, 3, 99.0, 1.0)]
    rows += [(TRADE_EVENT | BUY_EVENT | X, 4, 101.0, 1.0), (ASK, 5, 102.0, 1.0)]
    arr = _events(rows)
    change(arr)
    with pytest.raises(ValueError, match=match):
        load_hftbacktest(_write(tmp_path, arr))


def test_a_corrupted_slice_of_a_real_sample_names_its_row(tmp_path, binance_sample):
    ev = tape_to_events(load_binance(*binance_sample).slice(0, 5000))
    bad = ev.copy()
    bad["exch_ts"][1000] = bad["exch_ts"][999] - 1
    with pytest.raises(ValueError, match=r"row 1,001, field 'exch_ts'"):
        load_hftbacktest(_write(tmp_path, bad))
    bad = ev.copy()
    bad["qty"][2345] = math.inf
    with pytest.raises(ValueError, match=r"row 2,346, field 'qty'"):
        load_hftbacktest(_write(tmp_path, bad))
    # without the processor flags (a raw file) every row is read: the same tape
    raw = ev.copy()
    raw["ev"] &= np.uint64(0xFFFFFFFF) ^ np.uint64(X)
    a, b = load_hftbacktest(_write(tmp_path, raw, "raw.npz")), load_hftbacktest(_write(tmp_path, ev))
    np.testing.assert_array_equal(a.time, b.time)
    np.testing.assert_array_equal(a.bid_qty, b.bid_qty)


def test_files_that_are_not_event_files_are_errors_naming_the_file(tmp_path):
    text = tmp_path / "t.npz"
    text.write_text("time,price\n1,2\n")
    with pytest.raises(ValueError, match=r"t\.npz: this is a text file, not an hftbacktest event file"):
        load_hftbacktest(text)
    good = _write(tmp_path, _events([(BID, 1, 99.0, 1.0), (ASK, 1, 101.0, 1.0)]), "good.npz")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ValueError, match=r"cut\.npz: cannot be read"):
        load_hftbacktest(cut)
    plain = tmp_path / "plain.npz"
    np.savez(plain, data=np.arange(3.0))
    with pytest.raises(ValueError, match="has no fields"):
        load_hftbacktest(plain)
    fields = tmp_path / "fields.npz"
    np.savez(fields, data=np.zeros(2, [("ev", "u8"), ("px", "f8")]))
    with pytest.raises(ValueError, match=r"lack the field\(s\) \['exch_ts', 'qty'\]"):
        load_hftbacktest(fields)
    trades = _write(tmp_path, _events([(TRADE_EVENT | BUY_EVENT | X, 1, 101.0, 1.0)]), "trades.npz")
    with pytest.raises(ValueError, match="no depth event with a side"):
        load_hftbacktest(trades)
    one_sided = _write(tmp_path, _events([(BID, 1, 99.0, 1.0), (BID, 2, 98.0, 1.0)]), "bids.npz")
    with pytest.raises(ValueError, match="never two-sided"):
        load_hftbacktest(one_sided)
    with pytest.raises(ValueError, match=r"is a \.npz"):
        save_hftbacktest(load_hftbacktest(good), tmp_path / "x.csv")
