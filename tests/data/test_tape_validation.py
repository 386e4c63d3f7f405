"""The tape validator (mmenv.data.tape_validation), rule by rule on small synthetic tapes: what it drops,
repairs, keeps and refuses, with its thresholds; the market clock that leaves gaps out of every rate."""

from __future__ import annotations

import numpy as np
import pytest

from mmenv.calibration.trades import TradesAndQuotes
from mmenv.data import loaders
from mmenv.data.loaders import FORMATS, TapeFormat, load, load_tape, save_tape
from mmenv.data.loaders.common import assemble_tape
from mmenv.data.tape import QUOTE, TRADE, Tape, market_clock
from mmenv.data.tape_validation import RULES, TapeValidation, TapeValidationError

S = 1_000_000_000  # ns per second
T0 = 1_723_161_256_000 * 1_000_000


def market(n_quotes=2000, seconds=600.0, seed=0, tick=0.1, trades_every=4):
    """A random-walk book on a 0.1 grid (one quote every ``seconds / n_quotes``), a trade at the touch after
    every ``trades_every`` quotes: arrays for :func:`assemble_tape`."""
    rng = np.random.default_rng(seed)
    qt = T0 + np.round(np.linspace(0, seconds, n_quotes) * S).astype(np.int64)
    ticks = 600_000 + np.cumsum(rng.integers(-2, 3, n_quotes))
    bid = np.round(ticks * tick, 1)  # as the decimal text reads
    ask = np.round((ticks + 1 + rng.integers(0, 3, n_quotes)) * tick, 1)
    bq = np.round(rng.integers(1, 50, n_quotes) * 0.001, 3)
    aq = np.round(rng.integers(1, 50, n_quotes) * 0.001, 3)
    idx = np.arange(1, n_quotes, trades_every)
    tt = qt[idx] - 1000  # 1 us before the quote that follows it
    side = np.where(rng.random(idx.size) < 0.5, 1, -1).astype(np.int8)
    tpx = np.where(side > 0, ask[idx - 1], bid[idx - 1])
    tqty = np.round(rng.integers(1, 20, idx.size) * 0.001, 3)
    return {"q": [qt, bid, bq, ask, aq], "t": [tt, tpx, tqty, side]}


def build(m, **kw) -> Tape:
    report = kw.pop("report", {})
    return assemble_tape(
        *m["q"], *m["t"], tick=kw.pop("tick", None), origin="unix epoch", source="test", report=report, **kw
    )


def test_a_clean_tape_passes_untouched():
    tape = build(market())
    v = tape.validation
    assert v.clean and v.quotes_in == v.quotes_out == 2000 and v.trades_in == v.trades_out == 500
    assert tape.tick == 0.1 and tape.lot == 0.001 and not v.tick_given
    assert v.thresholds["sigma_1s"] is not None and v.thresholds["bad_print"] >= 20 * 0.1
    assert TapeValidation.from_dict(v.as_dict()) == v
    assert set(v.as_dict()) >= {"dropped", "repaired", "kept", "thresholds", "tick", "lot"}
    m = market()
    m["q"][1] = m["q"][1] * 3 / 3.0000000000001  # float residue of arithmetic: snapped onto the grid
    v = build(m).validation
    assert v.repaired["prices_snapped"] > 1000 and v.dropped["quotes_off_grid"] == 0


def test_bad_prints_are_dropped_and_sweeps_kept():
    m = market()
    tt, tpx, tqty, side = m["t"]
    tpx = tpx.copy()
    tpx[[10, 20, 30]] *= 10  # far outside the book
    tpx[40] /= 10
    tpx[50] += side[50] * 5 * 0.1  # five ticks through the touch: a sweep
    m["t"][1] = tpx
    tape = build(m)
    v = tape.validation
    assert v.dropped["trades_bad_print"] == 4 and v.trades_out == 496
    assert tape.trade_px[tape.kind == TRADE].max() < 70_000
    assert "dropped 4 trades bad print" in v.summary()


def test_absurd_quotes_are_dropped_and_the_book_before_stays():
    m = market()
    qt, bid, bq, ask, aq = (a.copy() for a in m["q"])
    ask[500:540] *= 1e6  # a stretch of absurd asks
    bid[900:905] *= 10  # a decimal shift of both sides for a moment
    ask[900:905] *= 10
    m["q"] = [qt, bid, bq, ask, aq]
    tape = build(m)
    v = tape.validation
    assert v.dropped["quotes_absurd_spread"] + v.dropped["quotes_absurd_level"] == 45
    assert tape.ask_px.max() < 70_000 and tape.bid_px.max() < 70_000


def test_off_grid_quote_is_dropped_and_never_changes_the_tick():
    m = market()
    m["q"][3] = m["q"][3].copy()
    m["q"][3][700] += 0.05
    tape = build(m)
    assert tape.tick == 0.1 and tape.validation.dropped["quotes_off_grid"] == 1


def test_trades_without_a_book_and_of_size_zero_are_dropped():
    m = market()
    tt, tpx, tqty, side = (a.copy() for a in m["t"])
    tt[0] = m["q"][0][0] - S  # before the first quote
    tqty[5] = 0.0
    tqty[6] = -0.002
    m["t"] = [tt, tpx, tqty, side]
    m["q"] = [a[:-100] for a in m["q"]]  # the last 100 quotes gone: 30 s of trades without a book
    v = build(m, max_gap_s=10.0).validation
    assert v.dropped["trades_before_first_quote"] == 1 and v.dropped["trades_zero_size"] == 2
    assert v.dropped["trades_after_last_quote"] > 0


def test_refusals_name_the_files_and_say_what_to_do():
    m = market()
    with pytest.raises(
        TapeValidationError, match=r"trades.csv and quotes.csv do not overlap in time: trades from"
    ):
        build(
            {"q": m["q"], "t": [m["t"][0] + 86_400 * S, *m["t"][1:]]},
            quote_file="quotes.csv",
            trade_file="trades.csv",
        )
    with pytest.raises(
        TapeValidationError,
        match=r"do not overlap in price: trades at 3000 to 3000.* quotes at 59.*median mid 60",
    ):
        build({"q": m["q"], "t": [m["t"][0], m["t"][1] / 20_000 * 1000, *m["t"][2:]]})
    with pytest.raises(TapeValidationError, match=r"wrong side of the book .* aggressor side is inverted"):
        build({"q": m["q"], "t": [*m["t"][:3], -m["t"][3]]})
    q = [a.copy() for a in m["q"]]
    q[0] = T0 + np.arange(q[0].size)  # 2,000 quotes in 2 microseconds
    with pytest.raises(TapeValidationError, match=r"per second\): the times are not in the unit"):
        build({"q": q, "t": [T0 + np.arange(500) * 4 + 1, *m["t"][1:]]})
    with pytest.raises(TapeValidationError, match=r"no valid quote is left|more than 50%"):
        q = [a.copy() for a in m["q"]]
        q[3][:1500] *= 1e6
        build({"q": q, "t": m["t"]})


def test_a_given_tick_is_checked():
    with pytest.raises(TapeValidationError, match=r"tick 1e-09 makes .* levels .* the data's grid is 0.1"):
        build(market(), tick=1e-9)
    tape = build(market(), tick=0.05)
    assert tape.tick == 0.05 and tape.validation.tick_given
    with pytest.raises(TapeValidationError, match=r"lot 0.01: .* sizes lie off its grid"):
        build(market(), lot=0.01)


def test_gaps_are_reported_and_left_out_of_every_rate():
    m = market(seconds=600.0)
    jump = 3 * 3600 * S
    half = T0 + 300 * S
    m["q"][0] = np.where(m["q"][0] > half, m["q"][0] + jump, m["q"][0])
    m["t"][0] = np.where(m["t"][0] > half, m["t"][0] + jump, m["t"][0])
    tape = build(m)
    v = tape.validation
    assert v.kept["gaps"] == 1 and v.kept["gap_time_s"] > 3 * 3600
    clock, seg = market_clock(tape.time, 60.0)
    assert (clock[-1] - clock[0]) / S < 601 and seg[-1] == 1
    tq = TradesAndQuotes.from_tape(tape)
    lv, sec = tq.exposure()
    assert sec.sum() < 601  # the three hours are not exposure
    assert tq.mid_segments() is not None and set(np.unique(tq.mid_segments())) == {0, 1}
    clean = TradesAndQuotes.from_tape(build(market(seconds=600.0)))
    assert tq.mid_segments() is not None and clean.mid_segments() is None


def test_stretches_are_reported():
    m = market(n_quotes=3000, seconds=900.0, trades_every=2)
    qt = m["q"][0]
    frozen = (qt >= T0 + 400 * S) & (qt <= T0 + 430 * S)  # 30 s without a quote while trades print
    one_sided = (qt >= T0 + 600 * S) & (qt < T0 + 615 * S)  # 15 s of quotes with an empty side
    m["q"] = [a[~frozen & ~one_sided] for a in m["q"]]
    empty = qt[one_sided]
    v = build(m, empty_t=empty).validation
    assert v.kept["frozen_stretches"] == 1 and v.kept["longest_frozen_stretch"] >= 30
    assert v.kept["one_sided_stretches"] == 1


def test_ties_trades_first_or_the_given_sequence(tmp_path):
    tape = build(market())
    # a generic file with the quote before the trade at one time: read back trades first
    df = tape.to_frame()
    i = int(np.flatnonzero(df["trade_px"].notna())[3])
    df.loc[i, "time_ns"] = df.loc[i + 1, "time_ns"]
    df.iloc[[i, i + 1]] = df.iloc[[i + 1, i]].to_numpy()  # quote first in the file
    p = tmp_path / "t.csv"
    df.to_csv(p, index=False)
    back = load_tape(p)
    j = int(np.flatnonzero(back.time == df.loc[i, "time_ns"])[0])
    assert back.kind[j] == TRADE and back.kind[j + 1] == QUOTE
    df["seq"] = np.arange(len(df))  # the file's own sequence is honoured
    df.to_csv(p, index=False)
    back = load_tape(p)
    assert back.kind[j] == QUOTE and back.kind[j + 1] == TRADE
    again = load_tape(save_tape(back, tmp_path / "again.csv"))
    np.testing.assert_array_equal(again.kind, back.kind)


def test_a_format_without_the_validator_is_validated_by_load(tmp_path, monkeypatch):
    tape = build(market())

    def bare(path, *, tick=None, max_gap_s=60.0):
        t = build(market())
        t.trade_px[t.kind == TRADE][:1]  # no change: a loader that builds its own Tape
        return Tape(
            **{
                c: getattr(t, c)
                for c in (
                    "time",
                    "kind",
                    "bid_px",
                    "bid_qty",
                    "ask_px",
                    "ask_qty",
                    "trade_px",
                    "trade_qty",
                    "side",
                )
            },
            tick=1.0,
            source="bare",
        )

    monkeypatch.setitem(FORMATS, "bare", TapeFormat("bare", bare, ("file",), "x", "ns", "row order"))
    got = load("bare", tmp_path / "x")
    assert got.validation is not None and got.tick == 0.1 == tape.tick and got.lot == 0.001
    assert loaders.infer_lot(got.trade_qty[got.kind == TRADE]) == 0.001


def test_every_rule_is_described():
    for name, (rows, action, text) in RULES.items():
        assert rows and action in ("dropped", "repaired", "kept", "refused", "excluded") and text, name
