"""The replay's accounting in the settlement currency: inverse contracts by hand, through the real replay."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmenv.analytics.scores import attribute, summarize_backtest
from mmenv.data.tape import QUOTE, TRADE, Tape
from mmenv.instrument import KNOWN_INSTRUMENTS, Instrument
from mmenv.replay.accounting import settle
from mmenv.replay.engine import ReplayConfig, TouchRule, replay

MS = 1_000_000
BTC = KNOWN_INSTRUMENTS["BTCUSD_PERP"]  # 100 USD contracts, P&L in BTC, maker 2 bps, taker 5 bps


def make_tape(events, tick=0.1) -> Tape:
    """Events: ("q", t_ms, bid, bid_qty, ask, ask_qty) or ("t", t_ms, price, qty, side)."""
    rows, book = [], None
    for e in events:
        if e[0] == "q":
            book = e[2:]
            rows.append((e[1] * MS, QUOTE, *book, math.nan, math.nan, 0))
        else:
            rows.append((e[1] * MS, TRADE, *book, e[2], e[3], e[4]))
    cols = list(zip(*rows, strict=True))
    names = ("time", "kind", "bid_px", "bid_qty", "ask_px", "ask_qty", "trade_px", "trade_qty", "side")
    return Tape(**{n: np.array(c) for n, c in zip(names, cols, strict=True)}, tick=tick, lot=1.0)


# The touch strategy joins the best bid and ask with 3 contracts; a sell print at 50,000 fills our bid
# (buy 3), the market falls to 39,999.9 / 40,000.0, a buy print at 40,000 fills our ask (sell 3); the
# last quote marks the book at 45,000.
ROUND_TRIP = [
    ("q", 0, 50_000.0, 10.0, 50_000.1, 10.0),
    ("t", 1000, 50_000.0, 5.0, -1),
    ("q", 2000, 39_999.9, 10.0, 40_000.0, 10.0),
    ("t", 3000, 40_000.0, 5.0, 1),
    ("q", 4000, 44_999.9, 10.0, 45_000.1, 10.0),
]


def run(events, instrument=BTC):
    cfg = ReplayConfig(
        fill_model="trade_through",
        order_size=3.0,
        q_max=30.0,
        maker_fee_bps=instrument.maker_fee_bps,
        taker_fee_bps=instrument.taker_fee_bps,
    )
    return replay(TouchRule(0), make_tape(events), cfg)


def test_inverse_round_trip_pnl_in_coin_matches_hand_computation():
    raw = run(ROUND_TRIP)
    assert [(int(s), float(p), float(z)) for s, p, z in raw.fills[["side", "price", "size"]]] == [
        (1, 50_000.0, 3.0),
        (-1, 40_000.0, 3.0),
    ]
    res = settle(raw, BTC)
    # buy 3 x 100 USD at 50,000 then sell them at 40,000: 300 (1/50,000 - 1/40,000) = -0.0015 BTC; maker
    # fees 2 bps of 300/50,000 = 0.006 BTC and of 300/40,000 = 0.0075 BTC: 1.2e-6 + 1.5e-6 BTC
    assert res.extra["currency"] == "BTC"
    assert res.pnl == pytest.approx(-0.0015 - 2.7e-6, rel=1e-12, abs=1e-18)
    assert res.fills["fee"].tolist() == pytest.approx([1.2e-6, 1.5e-6], rel=1e-12)
    assert res.extra["pnl_liquidated"] == res.pnl  # flat at the end: nothing to liquidate
    # at the mark of 45,000 USD per BTC: -67.6215 USD
    assert BTC.to_quote(res.pnl, 45_000.0) == pytest.approx(-67.6215, rel=1e-12)
    # the raw records are untouched, in prices and the replay's linear cash
    assert raw.fills["price"].tolist() == [50_000.0, 40_000.0]


def test_attribution_in_coin_adds_up_and_spread_capture_is_by_hand():
    res = settle(run(ROUND_TRIP), BTC)
    att = attribute(res.fills, res.states, (1.0,))
    assert att.residual == pytest.approx(0.0, abs=1e-15)
    # spread capture: the buy at 50,000 with the mid at 50,000.05, the sell at 40,000 with the mid at
    # 39,999.95: 300 (1/50,000 - 1/50,000.05) + 300 (1/39,999.95 - 1/40,000) BTC
    spread = 300 * (1 / 50_000.0 - 1 / 50_000.05) + 300 * (1 / 39_999.95 - 1 / 40_000.0)
    assert att.spread == pytest.approx(spread, rel=1e-9)
    assert att.fees == pytest.approx(2.7e-6, rel=1e-12)
    # markouts 1 s after each fill: the buy (mid 50,000.05) meets the mid 39,999.95, the sell (mid
    # 39,999.95) meets the mid 45,000: 300 (1/50,000.05 - 1/39,999.95) + 300 (1/45,000 - 1/39,999.95) BTC
    m = summarize_backtest(res, (1.0,))
    mk = 300 * (1 / 50_000.05 - 1 / 39_999.95) + 300 * (1 / 45_000.0 - 1 / 39_999.95)
    assert m["markout_1"] == pytest.approx(mk, rel=1e-9)


def test_open_inventory_is_marked_at_the_mid_and_liquidated_at_the_bid_in_coin():
    res = settle(run([*ROUND_TRIP[:2], ROUND_TRIP[-1]]), BTC)
    assert res.states["inventory"][-1] == 3.0
    cash = 300 / 50_000.0 - 1.2e-6
    # long 3 contracts at the mid 45,000: worth -300/45,000 BTC
    assert res.pnl == pytest.approx(cash - 300 / 45_000.0, rel=1e-12)
    # sold at the bid 44,999.9 with the 5 bps taker fee on 300/44,999.9 BTC
    liq = cash - 300 / 44_999.9 - 5e-4 * 300 / 44_999.9
    assert res.extra["pnl_liquidated"] == pytest.approx(liq, rel=1e-12)


def test_linear_contract_size_one_is_the_replay_accounting_bit_for_bit():
    usd = KNOWN_INSTRUMENTS["BTCUSDT"]
    raw = run(ROUND_TRIP, usd)
    states, fills = raw.states.copy(), raw.fills.copy()
    res = settle(raw, usd)
    assert res.states.tobytes() == states.tobytes() and res.fills.tobytes() == fills.tobytes()
    assert res.extra["currency"] == "USDT"
    # 3 BTC bought at 50,000 and sold at 40,000: -30,000 USDT, maker fees 2 bps of 150,000 + 120,000
    assert res.pnl == pytest.approx(-30_000.0 - 54.0, rel=1e-12)


def test_linear_multiplier_scales_the_money_not_the_fills():
    es = Instrument("ES", tick=0.1, lot=1.0, contract_size=50.0, maker_fee_bps=0.0)
    raw = run(ROUND_TRIP, es)
    res = settle(raw, es)
    assert res.pnl == pytest.approx(50.0 * raw.pnl, rel=1e-12)
    assert res.extra["currency"] == "USD"
