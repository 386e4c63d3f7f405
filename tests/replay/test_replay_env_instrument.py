"""The event-clock env's reward and info in the instrument's settlement currency, by hand on a tiny tape."""

from __future__ import annotations

import numpy as np
import pytest

from mmenv.instrument import KNOWN_INSTRUMENTS, Instrument
from mmenv.replay.accounting import settle
from mmenv.replay.engine import ReplayConfig
from mmenv.replay.env import ReplayEnv
from tests.replay.test_accounting import ROUND_TRIP, make_tape

BTC = KNOWN_INSTRUMENTS["BTCUSD_PERP"]  # 100 USD contracts, P&L in BTC, maker 2 bps


def episode(instrument, **config):
    """Join the touch (half a tick from the mid) at every quote of ROUND_TRIP; (rewards, infos, env)."""
    cfg = ReplayConfig(fill_model="trade_through", order_size=3.0, q_max=30.0, maker_fee_bps=2.0, **config)
    env = ReplayEnv(make_tape(ROUND_TRIP), cfg, start="first", episode_s=10.0, instrument=instrument)
    _, info = env.reset(seed=0)
    rewards, infos, done = [], [info], False
    while not done:
        _, r, _, done, info = env.step(np.array([0.5, 0.5]))
        rewards.append(r)
        infos.append(info)
    return rewards, infos, env


def test_inverse_reward_is_coin_pnl_by_hand():
    rewards, infos, env = episode(BTC)
    # step 1: bought 3 contracts at 50,000 (maker fee 2 bps of 300/50,000 BTC), marked at the next mid
    # 39,999.95: cash 300/50,000 - 1.2e-6 BTC, position -300/39,999.95 BTC
    cash1 = 300 / 50_000 - 1.2e-6
    assert infos[1]["q"] == 3.0 and infos[1]["currency"] == "BTC"
    assert infos[1]["cash"] == pytest.approx(cash1, rel=1e-12)
    assert rewards[0] == pytest.approx(cash1 - 300 / 39_999.95, rel=1e-12)
    # the round trip: 300 (1/50,000 - 1/40,000) BTC less the two maker fees (1.2e-6 + 1.5e-6 BTC)
    total = -0.0015 - 2.7e-6
    assert infos[-1]["q"] == 0.0
    assert sum(rewards) == pytest.approx(total, rel=1e-12)
    assert infos[-1]["equity"] == pytest.approx(total, rel=1e-12)
    res = settle(env.result("ppo"), BTC)
    assert res.extra["currency"] == "BTC"
    assert res.pnl == pytest.approx(total, rel=1e-12)


def test_linear_instrument_of_contract_size_one_is_the_native_reward_bit_for_bit():
    native, info_n, _ = episode(None)
    lin, info_l, _ = episode(Instrument.linear("X", tick=0.1, lot=1.0))
    assert native == lin
    assert [i["equity"] for i in info_n] == [i["equity"] for i in info_l]
    assert "currency" not in info_n[-1] and info_l[-1]["currency"] == "quote currency"


def test_linear_multiplier_scales_the_reward():
    native, _, _ = episode(None)
    doubled, _, _ = episode(Instrument("X2", tick=0.1, lot=1.0, contract_size=2.0))
    assert doubled == pytest.approx([2 * r for r in native], rel=1e-12, abs=1e-9)


def test_fills_flushed_between_decisions_are_all_counted():
    # between two quotes, three 1-contract prints hit our bid and three lift our ask: six fills in one
    # decision interval with record buffers of 4 rows, so fills leave the buffer before the next decision;
    # the coin equity must be the settled result's, and the same as with large buffers
    q0, q1 = ("q", 0, 50_000.0, 10.0, 50_000.1, 10.0), ("q", 9000, 50_009.9, 10.0, 50_010.0, 10.0)
    sells = [("t", 1000 + i, 50_000.0, 1.0, -1) for i in range(3)]
    buys = [("t", 2000 + i, 50_000.1, 1.0, 1) for i in range(3)]
    events = [q0, *sells, *buys, q1]
    out = []
    for cap in (4, 1 << 16):
        cfg = ReplayConfig(
            fill_model="trade_through", order_size=3.0, q_max=30.0, maker_fee_bps=2.0, fill_capacity=cap
        )
        env = ReplayEnv(make_tape(events), cfg, start="first", episode_s=40.0, instrument=BTC)
        env.reset(seed=0)
        rewards, done = [], False
        while not done:
            _, r, _, done, info = env.step(np.array([0.5, 0.5]))
            rewards.append(r)
        res = settle(env.result("x"), BTC)
        assert len(res.fills) == 6
        assert info["equity"] == pytest.approx(res.pnl + res.states["equity"][0], rel=1e-12, abs=1e-15)
        out.append(rewards)
    assert out[0] == out[1]


def test_recorder_last_reads_flushed_and_buffered_rows():
    from mmenv.records import FILL_DTYPE, Recorder

    rec = Recorder(FILL_DTYPE, capacity=2)
    for i in range(5):
        rec.append((i, 0.0, 1, 1.0, 1.0, 1.0, 0.0, 0.0))
    assert rec.last(3)["event"].tolist() == [2, 3, 4]
    assert rec.last(0).size == 0
    with pytest.raises(ValueError, match="k must be an integer"):
        rec.last(6)


def test_instrument_must_be_an_instrument():
    with pytest.raises(ValueError, match="instrument must be an Instrument"):
        ReplayEnv(make_tape(ROUND_TRIP), instrument="BTCUSD_PERP")
