"""Fill models of the replay engine on small hand-built tapes whose fills are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmenv.data.tape import QUOTE, TRADE, Tape
from mmenv.replay.engine import ReplayConfig, replay

MS = 1_000_000


def make_tape(events, tick=1.0) -> Tape:
    """Events: ("q", t_ms, bid, bid_qty, ask, ask_qty) or ("t", t_ms, price, qty, side)."""
    cols = {
        c: []
        for c in ("time", "kind", "bid_px", "bid_qty", "ask_px", "ask_qty", "trade_px", "trade_qty", "side")
    }
    book = None
    for e in events:
        if e[0] == "q":
            book = e[2:]
            row = (e[1] * MS, QUOTE, *book, math.nan, math.nan, 0)
        else:
            row = (e[1] * MS, TRADE, *book, e[2], e[3], e[4])
        for c, v in zip(cols, row, strict=True):
            cols[c].append(v)
    return Tape(**{c: np.array(v) for c, v in cols.items()}, tick=tick)


class Fixed:
    """Quotes fixed prices (NaN: no quote); ``schedule`` maps elapsed seconds to (bid, ask) changes."""

    name = "fixed"

    def __init__(self, bid, ask, schedule=(), horizon=1000.0):
        self.bid, self.ask, self.schedule, self.horizon = bid, ask, list(schedule), horizon

    def reset(self, n):
        pass

    def quote(self, s):
        elapsed = self.horizon - float(s.tau[0])
        bid, ask = self.bid, self.ask
        for t0, b, a in self.schedule:
            if elapsed >= t0 - 1e-12:
                bid, ask = b, a
        m = float(s.mid[0])
        return np.array([m - bid if bid == bid else math.nan]), np.array(
            [ask - m if ask == ask else math.nan]
        )


def run(events, bid=math.nan, ask=math.nan, schedule=(), lot=1.0, **cfg):
    cfg = {"order_size": 2.0, "q_max": 100.0, "horizon_s": 1000.0, **cfg}
    return replay(Fixed(bid, ask, schedule), make_tape(events), ReplayConfig(**cfg), lot=lot)


def sells(res):
    f = res.fills
    return [(float(p), float(z)) for p, z, s in zip(f["price"], f["size"], f["side"], strict=True) if s < 0]


def buys(res):
    f = res.fills
    return [(float(p), float(z)) for p, z, s in zip(f["price"], f["size"], f["side"], strict=True) if s > 0]


BOOK = ("q", 0, 99.0, 5.0, 101.0, 5.0)


def test_queue_join_at_touch_partial_fills():
    # we join the ask at 101 behind 5; prints of 3, 3, 4 at 101: ahead 5 -> 2 -> 0 (fill 1) -> fill 1
    ev = [BOOK, ("t", 1, 101.0, 3.0, 1), ("t", 2, 101.0, 3.0, 1), ("t", 3, 101.0, 4.0, 1)]
    res = run(ev, ask=101.0)
    assert sells(res) == [(101.0, 1.0), (101.0, 1.0)]
    assert res.states["inventory"][-1] == -2.0


def test_queue_cancels_ahead_fixed_share_and_proportional():
    ev = [("q", 0, 99.0, 5.0, 101.0, 10.0), ("q", 1, 99.0, 5.0, 101.0, 6.0), ("t", 2, 101.0, 7.0, 1)]
    # proportional, nobody behind us: the 4 cancelled were all ahead -> ahead 6, the print of 7 fills 1
    assert sells(run(ev, ask=101.0)) == [(101.0, 1.0)]
    # the queue ahead never exceeds the displayed size: with no cancel ahead, still min(10, 6) = 6
    assert sells(run(ev, ask=101.0, queue_model="fixed", cancel_ahead=0.0)) == [(101.0, 1.0)]
    # 10 ahead, 10 added behind, 4 cancelled: proportional share 1/2 -> ahead 8, the print of 9 fills 1;
    # share 0 -> ahead 10: no fill; share 1 -> ahead 6: fills the whole order
    ev1 = [
        ("q", 0, 99.0, 5.0, 101.0, 10.0),
        ("q", 1, 99.0, 5.0, 101.0, 20.0),
        ("q", 2, 99.0, 5.0, 101.0, 16.0),
        ("t", 3, 101.0, 9.0, 1),
    ]
    assert sells(run(ev1, ask=101.0)) == [(101.0, 1.0)]
    assert sells(run(ev1, ask=101.0, queue_model="fixed", cancel_ahead=0.0)) == []
    assert sells(run(ev1, ask=101.0, queue_model="fixed", cancel_ahead=1.0)) == [(101.0, 2.0)]
    # with 4 added behind us then 7 cancelled: share 10 / 14 -> ahead 10 - 5 = 5; print of 6 fills 1
    ev2 = [
        ("q", 0, 99.0, 5.0, 101.0, 10.0),
        ("q", 1, 99.0, 5.0, 101.0, 14.0),
        ("q", 2, 99.0, 5.0, 101.0, 7.0),
        ("t", 3, 101.0, 6.0, 1),
    ]
    assert sells(run(ev2, ask=101.0)) == [(101.0, 1.0)]
    # cancels never ahead (share 0): ahead stays min(10, displayed 7) = 7 > 6
    assert sells(run(ev2, ask=101.0, queue_model="fixed", cancel_ahead=0.0)) == []


def test_trades_at_our_level_are_not_counted_as_cancels():
    # ahead 5; a print of 3 at 101 then the book shows 2 left: no cancellation, ahead 2; print of 3 fills 1
    ev = [BOOK, ("t", 1, 101.0, 3.0, 1), ("q", 2, 99.0, 5.0, 101.0, 2.0), ("t", 3, 101.0, 3.0, 1)]
    assert sells(run(ev, ask=101.0)) == [(101.0, 1.0)]


def test_price_improving_the_best_is_first_in_queue():
    ev = [("q", 0, 99.0, 5.0, 102.0, 5.0), ("t", 1, 101.0, 1.0, 1), ("t", 2, 102.0, 3.0, 1)]
    # our ask at 101 improves the best (102): first in its queue; the print at 101 fills 1, the one at 102
    # goes through our price and fills the rest (1)
    assert sells(run(ev, ask=101.0)) == [(101.0, 1.0), (101.0, 1.0)]


def test_trade_through_model():
    ev = [BOOK, ("t", 1, 101.0, 1.0, 1), ("t", 2, 102.0, 5.0, 1)]
    assert sells(run(ev, ask=101.0, fill_model="trade_through")) == [(101.0, 1.0), (101.0, 1.0)]
    # strictly through: the print at our price does not fill
    assert sells(run(ev, ask=101.0, fill_model="trade_through", at_price=False)) == [(101.0, 2.0)]
    # share of each print
    assert sells(run(ev, ask=101.0, fill_model="trade_through", share=0.5, lot=0.5)) == [
        (101.0, 0.5),
        (101.0, 1.5),
    ]


def test_level_deeper_than_recorded_waits_for_touch():
    ev = [BOOK, ("t", 1, 102.0, 10.0, 1), ("q", 2, 99.0, 5.0, 102.0, 8.0), ("t", 3, 102.0, 9.0, 1)]
    # at 102 (deeper than the recorded best 101): the print at 102 meets an unknown queue -> no fill; when
    # 102 becomes the best showing 8, ahead = 8; the print of 9 fills 1
    assert sells(run(ev, ask=102.0)) == [(102.0, 1.0)]
    # assumption: half the displayed size ahead -> ahead 4, the print of 9 fills the whole order
    assert sells(run(ev, ask=102.0, deep_queue=0.5)) == [(102.0, 2.0)]


def test_latency_order_in_flight_fills_at_old_price():
    # ask at 101 (improving the best 102) from the first quote; at t = 10 ms the policy moves it to 105;
    # with 5 ms latency the print at 12 ms still meets the old order at 101, the one at 16 ms does not
    ev = [
        ("q", 0, 99.0, 5.0, 102.0, 5.0),
        ("q", 10, 99.0, 5.0, 102.0, 5.0),
        ("t", 12, 101.0, 1.0, 1),
        ("t", 16, 101.0, 1.0, 1),
    ]
    sched = [(0.010, math.nan, 105.0)]
    res = run(ev, ask=101.0, schedule=sched, entry_latency_s=0.002, feed_latency_s=0.003)
    assert sells(res) == [(101.0, 1.0)]
    # without latency the move is live at once: no fill
    assert sells(run(ev, ask=101.0, schedule=sched)) == []
    # the first order itself waits 5 ms: a print at 3 ms misses it
    ev2 = [("q", 0, 99.0, 5.0, 102.0, 5.0), ("t", 3, 101.0, 1.0, 1), ("t", 6, 101.0, 1.0, 1)]
    assert sells(run(ev2, ask=101.0, entry_latency_s=0.005)) == [(101.0, 1.0)]


def test_post_only_crossing_rule():
    book = ("q", 0, 100.0, 5.0, 101.0, 5.0)
    ev = [book, ("t", 1, 101.0, 10.0, 1), ("t", 2, 100.0, 10.0, -1)]
    # an ask at 100 would cross the bid: repriced to 101 (behind 5, the print of 10 fills 2)
    assert sells(run(ev, bid=99.0, ask=100.0)) == [(101.0, 2.0)]
    res = run(ev, bid=99.0, ask=100.0, cross="withdraw")
    assert sells(res) == [] and res.extra["n_withdrawn"] >= 1
    # a bid at 101 would cross the ask: repriced to 100
    assert buys(run(ev, bid=101.0, ask=102.0)) == [(100.0, 2.0)]


def test_book_moving_through_our_quote_fills_it():
    ev = [BOOK, ("q", 1, 101.0, 3.0, 102.0, 5.0)]
    assert sells(run(ev, ask=101.0)) == [(101.0, 2.0)]


def test_fees_maker_bps_and_per_unit():
    ev = [("q", 0, 99.0, 5.0, 102.0, 5.0), ("t", 1, 101.0, 5.0, 1)]
    res = run(ev, ask=101.0, maker_fee_bps=-1.0, maker_fee_per_unit=0.01)
    fee = 0.01 * 2.0 - 1e-4 * 2.0 * 101.0
    assert res.fills["fee"][0] == pytest.approx(fee, abs=1e-15)
    assert res.states["cash"][-1] == pytest.approx(202.0 - fee, abs=1e-12)
    # taker fee on the liquidation of the final inventory (-2 bought back at the ask 102)
    res = run(ev, ask=101.0, taker_fee_bps=10.0)
    assert res.extra["pnl_liquidated"] == pytest.approx(202.0 - 2 * 102.0 - 1e-3 * 2 * 102.0, abs=1e-9)


def test_inventory_limit_blocks_the_side():
    ev = [BOOK, ("t", 1, 99.0, 10.0, -1), ("q", 2, 99.0, 5.0, 101.0, 5.0), ("t", 3, 99.0, 10.0, -1)]
    res = run(ev, bid=100.0, q_max=2.0)
    assert buys(res) == [(100.0, 2.0)]
    assert res.states["inventory"][-1] == 2.0


def test_fully_filled_order_renews_at_back_of_queue():
    ev = [BOOK, ("t", 1, 101.0, 7.0, 1), ("q", 2, 99.0, 5.0, 101.0, 4.0), ("t", 3, 101.0, 5.0, 1)]
    # filled 2 behind 5; renewed at the quote at 2 ms behind the 4 displayed: the print of 5 fills 1
    assert sells(run(ev, ask=101.0)) == [(101.0, 2.0), (101.0, 1.0)]


def test_out_of_order_chunks_raise():
    tape = make_tape([BOOK, ("t", 5, 101.0, 1.0, 1)])
    late = make_tape([("q", 1, 99.0, 5.0, 101.0, 5.0)])
    with pytest.raises(ValueError, match="out of order at event 2"):
        replay(Fixed(math.nan, 101.0), [tape, late], ReplayConfig(), lot=1.0)


def test_config_validation_names_the_field():
    for kw, match in (
        ({"fill_model": "x"}, "fill_model"),
        ({"queue_model": "fixed", "cancel_ahead": 2.0}, "cancel_ahead"),
        ({"queue_model": "fixed"}, "cancel_ahead"),
        ({"cancel_ahead": "proportional"}, "queue_model='power'"),
        ({"queue_model": "lifo"}, "queue_model"),
        ({"queue_power": 0.0}, "queue_power"),
        ({"through_fill": "all"}, "through_fill"),
        ({"deep_queue": -1.0}, "deep_queue"),
        ({"cross": "take"}, "cross"),
        ({"entry_latency_s": -1.0}, "entry_latency_s"),
        ({"decide_every": 0}, "decide_every"),
    ):
        with pytest.raises(ValueError, match=match):
            ReplayConfig(**kw)
