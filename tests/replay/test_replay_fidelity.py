"""Replay fidelity on hand-built tapes whose fills are known by hand: sizes on the lot grid (no dust), no fill
from the sweep that triggered the decision, trades at our level counted once, the queue-model family, the
through-fill and partial-fill rules, orders in flight, remembered levels; and the policy state on a tape."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmenv.replay.config import ReplayConfig, parse_queue_model
from mmenv.replay.engine import TouchRule, replay, tape_lot
from tests.replay.test_replay_fills import BOOK, Fixed, buys, make_tape, run, sells


def test_float_residue_of_the_queue_never_becomes_a_fill():
    # 0.3 displayed ahead of our ask, prints of 0.1 and 0.2: in float 0.3 - 0.1 = 0.19999999999999998, so the
    # 0.2 print would leave 2.8e-17 for us; on the lot grid nothing reaches us, and the next 0.001 fills a lot
    ev = [
        ("q", 0, 99.0, 1.0, 101.0, 0.3),
        ("t", 1, 101.0, 0.1, 1),
        ("t", 2, 101.0, 0.2, 1),
        ("t", 3, 101.0, 0.001, 1),
    ]
    res = run(ev, ask=101.0, order_size=0.002, lot=0.001)
    assert sells(res) == [(101.0, 0.001)]
    assert 0.3 - 0.1 < 0.2  # the residue the old arithmetic settled as a fill


def test_fills_are_whole_lots_on_a_real_tape(binance_sample):
    from mmenv.backtest import QuoteRule
    from mmenv.data.loaders import load_binance

    tape = load_binance(*binance_sample).slice(0, 30_000)
    lot = tape_lot(tape)
    assert lot == 0.001
    for model in ("queue", "trade_through"):
        cfg = ReplayConfig(fill_model=model, order_size=0.011, q_max=0.11, sigma=7.5, share=0.3)
        f = replay(QuoteRule("as", gamma=1e-4, k=5.0), tape, cfg).fills
        lots = f["size"] / lot
        assert len(f) > 20
        np.testing.assert_allclose(lots, np.round(lots), rtol=0, atol=1e-9)
        assert (lots >= 1 - 1e-9).all()


def test_no_fill_under_half_a_lot():
    ev = [BOOK, ("t", 1, 101.0, 1.0, 1), ("t", 2, 101.0, 2.0, 1)]
    # trade_through with share 0.4: 0.4 lot of the first print fills nothing, 0.8 of the second a whole lot
    assert sells(run(ev, ask=101.0, fill_model="trade_through", share=0.4)) == [(101.0, 1.0)]
    assert sells(run(ev, ask=101.0, fill_model="trade_through", share=0.5)) == [(101.0, 1.0), (101.0, 1.0)]


def test_the_sweep_that_triggered_a_decision_cannot_fill_it():
    # a buy sweep prints 102 then 103 in one millisecond; the policy (deciding on trades, no latency) places
    # an ask at 101 after the first print: the rest of the sweep (same time, same aggressor) is not for it;
    # the next print, a millisecond later, goes through 101 and fills it
    ev = [
        ("q", 0, 99.0, 5.0, 102.0, 5.0),
        ("t", 1, 102.0, 5.0, 1),
        ("t", 1, 103.0, 2.0, 1),
        ("t", 2, 103.0, 1.0, 1),
    ]
    for decide_on in ("trade", "event"):
        res = run(ev, schedule=[(0.001, math.nan, 101.0)], decide_on=decide_on)
        assert sells(res) == [(101.0, 1.0)], decide_on
        assert res.fills["time"][0] == pytest.approx(0.002)


def test_an_order_in_flight_meets_only_the_events_stamped_after_its_arrival():
    # decided after the quote at 0 ms, 5 ms latency: arrives at 5 ms; the print stamped 5 ms does not meet it,
    # the one at 6 ms does
    ev = [("q", 0, 99.0, 5.0, 102.0, 5.0), ("t", 5, 101.0, 1.0, 1), ("t", 6, 101.0, 1.0, 1)]
    res = run(ev, ask=101.0, entry_latency_s=0.005)
    assert [round(float(t), 6) for t in res.fills["time"]] == [0.006]


def test_trades_at_our_level_are_counted_once_across_quotes_of_the_other_side():
    # ahead 5; a print of 3 at our ask; a quote that changes only the bid (our side still shows the stale 5);
    # then our side shows 2: the fall of 3 is the print, not cancellations: ahead 2, a print of 3 fills 1
    ev = [
        BOOK,
        ("t", 1, 101.0, 3.0, 1),
        ("q", 2, 98.0, 5.0, 101.0, 5.0),
        ("q", 3, 98.0, 5.0, 101.0, 2.0),
        ("t", 4, 101.0, 3.0, 1),
    ]
    assert sells(run(ev, ask=101.0)) == [(101.0, 1.0)]


# ahead 10 behind 30 (displayed 40), then 32: 8 cancelled; a print of 10 at our price; order of 5 lots
FAMILY = [
    ("q", 0, 99.0, 5.0, 101.0, 10.0),
    ("q", 1, 99.0, 5.0, 101.0, 40.0),
    ("q", 2, 99.0, 5.0, 101.0, 32.0),
    ("t", 3, 101.0, 10.0, 1),
]


@pytest.mark.parametrize(
    ("spec", "ahead"),
    [
        ("risk_averse", 10.0),  # cancellations all behind us
        ("power", 10.0 - 8.0 * 10.0 / 40.0),  # a / (a + b)
        ("power:2", 10.0 - 8.0 * 100.0 / (100.0 + 900.0)),  # a^2 / (a^2 + b^2)
        ("log", 10.0 - 8.0 * math.log1p(10.0) / (math.log1p(10.0) + math.log1p(30.0))),
        ("fixed:1", 2.0),
    ],
)
def test_the_queue_model_family(spec, ahead):
    res = replay(
        Fixed(math.nan, 101.0),
        make_tape(FAMILY),
        ReplayConfig.with_queue_model(spec, order_size=5.0, q_max=100.0, horizon_s=1000.0),
        lot=1.0,
    )
    expected = min(5, math.floor(10.0 - ahead + 0.5))  # the print's lots past the queue, whole lots
    assert sum(z for _, z in sells(res)) == expected, (spec, ahead)


def test_parse_queue_model_and_its_errors():
    assert parse_queue_model("power:2") == {"queue_model": "power", "queue_power": 2.0, "cancel_ahead": None}
    assert parse_queue_model("fixed:0.25")["cancel_ahead"] == 0.25
    assert ReplayConfig.with_queue_model("power:1.5").queue_spec == "power:1.5"
    for bad, match in (
        ("lifo", "queue model must be one of"),
        ("power:x", "queue model must be one of"),
        ("power:0", "N > 0"),
        ("fixed", r"S in \[0, 1\]"),
        ("fixed:2", r"S in \[0, 1\]"),
        ("log:3", "takes no parameter"),
    ):
        with pytest.raises(ValueError, match=match):
            parse_queue_model(bad)


def test_through_fill_print_or_whole_order_and_no_partial_fills():
    ev = [BOOK, ("t", 1, 102.0, 1.0, 1)]
    assert sells(run(ev, ask=101.0, order_size=3.0)) == [(101.0, 1.0)]
    assert sells(run(ev, ask=101.0, order_size=3.0, through_fill="order")) == [(101.0, 3.0)]
    at = [BOOK, ("t", 1, 101.0, 6.0, 1)]  # passes the 5 ahead, 1 lot reaches us
    assert sells(run(at, ask=101.0, order_size=3.0)) == [(101.0, 1.0)]
    assert sells(run(at, ask=101.0, order_size=3.0, partial_fills=False)) == [(101.0, 3.0)]


def test_wait_for_ack_holds_a_side_while_its_action_is_in_flight():
    # 10 ms latency, 2 lots: ask 101 decided at 0 arrives at 10; at 5 ms the policy wants 105. Without waiting,
    # 105 follows (arrives 15): the print at 12 fills a lot at 101, the one at 18 meets 105. Waiting, the side
    # sends nothing while 101 is in flight: 105 goes after the quote at 13 (arrives 23), so 18 fills at 101
    ev = [
        ("q", 0, 99.0, 5.0, 102.0, 5.0),
        ("q", 5, 99.0, 5.0, 102.0, 5.0),
        ("t", 12, 101.0, 1.0, 1),
        ("q", 13, 99.0, 5.0, 102.0, 5.0),
        ("t", 18, 101.0, 1.0, 1),
    ]
    sched = [(0.004, math.nan, 105.0)]
    assert sells(run(ev, ask=101.0, schedule=sched, entry_latency_s=0.01)) == [(101.0, 1.0)]
    res = run(ev, ask=101.0, schedule=sched, entry_latency_s=0.01, wait_for_ack=True)
    assert sells(res) == [(101.0, 1.0), (101.0, 1.0)]


def test_a_level_the_best_moved_away_from_keeps_its_last_size():
    # the bid improves from 99 (shown 4) to 100; an order joining 99 after that has 4 ahead (the size last
    # shown there), not the unknown queue of a level never seen: a sell sweep through 100 printing 5 at 99
    # fills one lot
    ev = [
        ("q", 0, 99.0, 4.0, 101.0, 5.0),
        ("q", 1, 100.0, 2.0, 101.0, 5.0),
        ("t", 2, 100.0, 2.0, -1),
        ("t", 2, 99.0, 5.0, -1),
    ]
    assert buys(run(ev, schedule=[(0.001, 99.0, math.nan)])) == [(99.0, 1.0)]
    # a level never shown: unknown, nothing fills at its price (deep_queue 1), or first in line (deep_queue 0)
    ev2 = [("q", 0, 100.0, 4.0, 101.0, 5.0), ("t", 2, 100.0, 4.0, -1), ("t", 2, 99.0, 1.0, -1)]
    assert buys(run(ev2, bid=99.0)) == []
    assert buys(run(ev2, bid=99.0, deep_queue=0.0)) == [(99.0, 1.0)]


def test_order_size_and_lot_are_checked():
    tape = make_tape([BOOK, ("t", 1, 101.0, 1.0, 1)])
    with pytest.raises(ValueError, match=r"order_size must be a whole number of lots \(lot 1\), got 2.5"):
        replay(Fixed(math.nan, 101.0), tape, ReplayConfig(order_size=2.5), lot=1.0)
    for bad in (0.0, -1.0, math.nan, math.inf, "1"):
        with pytest.raises(ValueError, match="lot must be a finite number > 0"):
            replay(Fixed(math.nan, 101.0), tape, ReplayConfig(), lot=bad)
    with pytest.raises(ValueError, match="tick must be a finite number > 0"):
        replay(Fixed(math.nan, 101.0), tape, ReplayConfig(), tick=0.0, lot=1.0)
    assert tape_lot(tape) == 1.0  # inferred from the sizes (5, 1)


def test_the_policy_state_carries_the_book_and_the_own_orders():
    seen = []

    class Join:
        name = "join"

        def reset(self, n):
            pass

        def quote(self, s):
            seen.append((s.book, s.orders))
            m = float(s.mid[0])
            return np.array([m - s.book.bid]), np.array([s.book.ask - m])

    ev = [BOOK, ("t", 1, 101.0, 7.0, 1), ("q", 2, 99.0, 5.0, 102.0, 3.0), ("q", 3, 99.0, 5.0, 102.0, 2.0)]
    res = replay(Join(), make_tape(ev), ReplayConfig(order_size=2.0, q_max=100.0), lot=1.0)
    assert sells(res) == [(101.0, 2.0)]
    book, orders = seen[0]
    assert (book.bid, book.bid_size, book.ask, book.ask_size, book.tick, book.lot) == (99, 5, 101, 5, 1, 1)
    assert math.isnan(orders.bid) and orders.bid_size == 0 and orders.ask_size == 0
    book, orders = seen[1]  # after the print filled our 2 at 101 and the ask moved to 102
    assert (orders.bid, orders.bid_size) == (99.0, 2.0) and orders.ask_size == 0 and math.isnan(orders.ask)
    assert (book.ask, book.ask_size) == (102.0, 3.0)


@pytest.mark.parametrize("offset", [0, 1, 3])
def test_touch_agent_and_touch_rule_give_the_same_records(offset, binance_sample):
    from agents import TouchAgent
    from mmenv.data.loaders import load_binance

    tape = load_binance(*binance_sample).slice(0, 20_000)
    cfg = ReplayConfig(order_size=0.002, q_max=0.02, entry_latency_s=0.002 * abs(offset))
    fast = replay(TouchAgent(offset), tape, cfg)
    ref = replay(TouchAgent(offset), tape, cfg, path="reference")
    assert fast.strategy == ref.strategy == TouchRule(offset).name
    assert len(fast.fills) > 20
    for rec in ("fills", "states"):
        a, b = getattr(fast, rec), getattr(ref, rec)
        for name in a.dtype.names:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{rec}.{name}")
    q = ref.fills["price"][ref.fills["side"] > 0]
    assert len(q) > 0


def test_the_touch_strategy_needs_a_book():
    from agents import TouchAgent
    from mmenv.policy import QuoteState

    one = np.ones(1)
    with pytest.raises(ValueError, match="needs the top of the book"):
        TouchAgent().quote(QuoteState(0 * one, one, 100 * one, one, 100 * one))
    for bad in (0.5, -1, True):
        with pytest.raises(ValueError, match="offset_ticks must be an integer >= 0"):
            TouchRule(bad)
