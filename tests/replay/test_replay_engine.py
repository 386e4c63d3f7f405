"""Replay engine on real samples: compiled rule and Python policy give the same records bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from mmenv.backtest import QuoteRule
from mmenv.replay.engine import ReplayConfig, replay


@pytest.mark.parametrize(("model", "latency"), [("queue", 0.0), ("queue", 0.01), ("trade_through", 0.001)])
def test_fast_and_reference_paths_agree_bit_for_bit(model, latency, binance_sample):
    from mmenv.data.loaders import load_binance

    tape = load_binance(*binance_sample).slice(0, 20_000)
    cfg = ReplayConfig(
        fill_model=model,
        entry_latency_s=latency,
        order_size=0.01,
        q_max=0.05,
        sigma=7.5,
        horizon_s=60.0,
        maker_fee_bps=-0.5,
    )
    rule = QuoteRule("as", gamma=1e-4, k=5.0)
    fast = replay(rule, tape, cfg)
    from agents import AvellanedaStoikovAgent

    agent = AvellanedaStoikovAgent(gamma=1e-4, k=5.0)
    assert len(fast.fills) > 50
    for ref in (
        replay(rule.to_policy(), tape, cfg, path="reference"),
        replay(agent, tape, cfg, path="reference"),
    ):
        for rec in ("fills", "states"):
            a, b = getattr(fast, rec), getattr(ref, rec)
            assert a.dtype == b.dtype and len(a) == len(b)
            for name in a.dtype.names:
                np.testing.assert_array_equal(a[name], b[name], err_msg=f"{rec}.{name}")
    # chunking does not change anything
    small = replay(
        rule,
        tape,
        ReplayConfig(**{**cfg.to_dict(), "chunk_size": 777, "fill_capacity": 8, "state_capacity": 64}),
    )
    np.testing.assert_array_equal(small.states["equity"], fast.states["equity"])
    np.testing.assert_array_equal(small.fills["price"], fast.fills["price"])


def test_equity_is_cash_plus_inventory_at_mid_and_attribution_adds_up(binance_sample):
    from mmenv.analytics import attribute
    from mmenv.data.loaders import load_binance

    tape = load_binance(*binance_sample)
    res = replay(
        QuoteRule("as", gamma=1e-4, k=5.0),
        tape,
        ReplayConfig(order_size=0.01, q_max=0.05, sigma=7.5, maker_fee_bps=1.0),
    )
    st = res.states
    np.testing.assert_allclose(st["equity"], st["cash"] + st["inventory"] * st["mid"], rtol=0, atol=1e-9)
    att = attribute(res.fills, res.states)
    assert att.total == pytest.approx(att.spread + att.inventory - att.fees, abs=1e-8)
    assert (np.abs(st["inventory"]) <= 0.05 + 1e-12).all()
    # fill prices lie on the tick grid
    np.testing.assert_allclose(res.fills["price"] / 0.1, np.round(res.fills["price"] / 0.1), atol=1e-6)
