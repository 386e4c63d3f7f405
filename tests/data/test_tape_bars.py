"""Real bars from a tape (mmenv.data.tape_bars): OHLCV of the mid and of the prints, and the realised variance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mmenv.data import validate_bars
from mmenv.data.tape import Tape
from mmenv.data.tape_bars import tape_bars


def _tape() -> Tape:
    """Six events over two minutes from 09:30 (times in seconds after midnight, exchange time)."""
    nan = math.nan
    rows = [  # time, kind, bid, ask, trade px, trade qty, side
        (34200.0, 0, 10.00, 10.02, nan, nan, 0),
        (34210.0, 1, 10.00, 10.02, 10.02, 3.0, 1),
        (34230.0, 0, 10.02, 10.04, nan, nan, 0),
        (34265.0, 0, 9.98, 10.00, nan, nan, 0),
        (34270.0, 1, 9.98, 10.00, 9.98, 2.0, -1),
        (34290.0, 0, 10.00, 10.02, nan, nan, 0),
    ]
    a = np.array(rows, dtype=float)
    return Tape(
        time=np.round(a[:, 0] * 1e9).astype(np.int64),
        kind=a[:, 1],
        bid_px=a[:, 2],
        bid_qty=np.ones(6),
        ask_px=a[:, 3],
        ask_qty=np.ones(6),
        trade_px=a[:, 4],
        trade_qty=a[:, 5],
        side=a[:, 6],
        tick=0.01,
        origin="2012-06-21 00:00 exchange time",
    )


def test_mid_bars_by_hand():
    b = tape_bars(_tape(), 60.0, sample_s=30.0)
    assert list(b.index) == [
        pd.Timestamp("2012-06-21 09:30", tz="America/New_York"),
        pd.Timestamp("2012-06-21 09:31", tz="America/New_York"),
    ]
    # bar 0: open = the first mid 10.01; mid at 09:30:30 (events strictly before) 10.01; close 10.03
    # bar 1: open 10.03; mid at 09:31:30 is 9.99 (the event at :05); close 10.01 (the event at :30)
    np.testing.assert_allclose(b["open"], [10.01, 10.03])
    np.testing.assert_allclose(b["high"], [10.03, 10.03])
    np.testing.assert_allclose(b["low"], [10.01, 9.99])
    np.testing.assert_allclose(b["close"], [10.03, 10.01])
    np.testing.assert_allclose(b["volume"], [3.0, 2.0])
    np.testing.assert_allclose(b["n_trades"], [1.0, 1.0])
    rv0 = math.log(10.03 / 10.01) ** 2
    rv1 = math.log(9.99 / 10.03) ** 2 + math.log(10.01 / 9.99) ** 2
    np.testing.assert_allclose(b["rv"], [rv0, rv1], rtol=1e-12)
    # the bar's log return is the sum of its sub-interval returns, and the bars pass the validator untouched
    clean, rep = validate_bars(b)
    assert rep.n_dropped == 0 and len(clean) == 2 and rep.n_missing_bars == 0


def test_trade_bars_by_hand_and_empty_bars():
    b = tape_bars(_tape(), 60.0, price="trade", sample_s=30.0)
    np.testing.assert_allclose(b[["open", "high", "low", "close"]].to_numpy(), [[10.02] * 4, [9.98] * 4])
    # 30-second bars: the bar 09:31:30-09:32:00 holds no print: NaN prices, zero volume, dropped and counted
    b30 = tape_bars(_tape(), 30.0, price="trade", sample_s=30.0)
    assert len(b30) == 4 and b30["close"].isna().sum() == 2 and b30["volume"].iloc[1] == 0.0
    clean, rep = validate_bars(b30, "1m", check_spacing=False)
    assert rep.n_nonfinite == 2 and len(clean) == 2


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="price"):
        tape_bars(_tape(), price="vwap")
    with pytest.raises(ValueError, match="sample_s"):
        tape_bars(_tape(), 60.0, sample_s=7.0)
    t = _tape()
    odd = Tape(
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
        tick=0.01,
        origin="session clock",
    )
    with pytest.raises(ValueError, match="origin"):
        tape_bars(odd)
    assert len(tape_bars(odd, start_day=pd.Timestamp("2012-06-21", tz="America/New_York"))) == 2


def test_lobster_day_gives_390_real_minutes(lobster_sample):
    from mmenv.data.loaders import load_lobster

    b = tape_bars(load_lobster(*lobster_sample))
    clean, rep = validate_bars(b)
    assert len(clean) == 390 and rep.n_dropped == 0 and rep.n_missing_bars == 0
    assert clean.index[0] == pd.Timestamp("2012-06-21 09:30", tz="America/New_York")
    r = np.diff(np.log(b["close"].to_numpy()))
    # consecutive bars chain (close = next open) and the realised variance is of the size of r^2
    np.testing.assert_allclose(b["open"].to_numpy()[1:], b["close"].to_numpy()[:-1])
    assert 0.5 < b["rv"].sum() / np.sum(r**2) < 2.0


def test_bars_are_bounded_by_the_span():
    """A clock jump of decades in a tape is refused before any array is sized by it."""
    from mmenv.data.tape_bars import MAX_BARS, bar_edges

    tape = _tape()
    far = Tape(
        **{
            c: getattr(tape, c)
            for c in ("kind", "bid_px", "bid_qty", "ask_px", "ask_qty", "trade_px", "trade_qty", "side")
        },
        time=np.r_[tape.time[:-1], tape.time[-1] + 40 * 365 * 86_400 * 10**9],
        tick=tape.tick,
    )
    with pytest.raises(ValueError, match=f"at most {MAX_BARS:,}\\): a clock jump"):
        bar_edges(far, 60.0)
