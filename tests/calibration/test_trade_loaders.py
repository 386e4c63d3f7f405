"""Tests of mmenv.calibration.trades: the trades-and-quotes table and its views of the LOBSTER and Binance
formats (load_trades_and_quotes)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmenv.calibration import calibrate, fit_intensity
from mmenv.calibration.trades import (
    aggregate_market_orders,
    load_trades_and_quotes,
    simulate_trades_and_quotes,
    trades_from_table,
)


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": [1.0, 1.0, 1.0, 2.0, 3.0],
            "price": [100.1, 100.2, 100.3, 99.9, 99.8],
            "side": [1, 1, 1, -1, -1],
            "bid": [99.9, 99.9, 99.9, 99.9, 99.9],
            "ask": [100.1, 100.1, 100.1, 100.1, 100.1],
        }
    )


def test_aggregate_market_orders_keeps_first_quote_and_deepest_price() -> None:
    tq = trades_from_table(_table(), tick=0.1)
    agg = aggregate_market_orders(tq.trades)
    assert len(agg) == 3
    assert agg["price"].tolist() == pytest.approx([100.3, 99.9, 99.8])
    assert agg["n_prints"].tolist() == [3, 1, 1] and agg["size"].tolist() == [3.0, 1.0, 1.0]
    s = tq.depth_sample(aggregate=True)
    assert s.depths.tolist() == pytest.approx([0.3, 0.1, 0.2])


def test_trades_from_table_validation() -> None:
    bad = _table().drop(columns="bid")
    with pytest.raises(ValueError, match="missing"):
        trades_from_table(bad)
    bad = _table()
    bad.loc[2, "price"] = np.nan
    with pytest.raises(ValueError, match="price"):
        trades_from_table(bad)
    bad = _table()
    bad.loc[1, "ask"] = 99.0
    with pytest.raises(ValueError, match=r"bid must be < trades\.ask"):
        trades_from_table(bad)
    bad = _table()
    bad.loc[1, "side"] = 0
    with pytest.raises(ValueError, match="side"):
        trades_from_table(bad)


def test_simulated_table_recovers_parameters() -> None:
    tq = simulate_trades_and_quotes(140.0, 1.5, 200.0, np.random.default_rng(0), sigma=0.05, half_spread=0.05)
    r = calibrate(tq)
    f = r.intensity
    assert abs(f.A - 140.0) < 3 * f.A_se and abs(f.k - 1.5) < 3 * f.k_se
    assert abs(r.sigma - 0.05) < 3 * r.sigma_se
    assert r.least_squares is not None and abs(r.least_squares.k - 1.5) < 0.1


def _write_lobster(tmp: Path) -> tuple[Path, Path]:
    # t, type, id, size, price*1e4, direction ; book after each message: ask, asz, bid, bsz
    msg = [
        (1.0, 1, 1, 100, 1001000, -1),
        (2.0, 4, 1, 10, 1001000, -1),  # buyer-initiated at the ask 100.10, mid 100.05 -> depth 0.05
        (3.0, 5, 9, 10, 1000500, 1),  # hidden sell into a hidden bid inside the spread (depth 0)
        (4.0, 4, 2, 10, 1000000, 1),  # seller-initiated at the bid 100.00 -> depth 0.05
        (5.0, 3, 3, 10, 1000000, 1),
    ]
    book = [
        (1001000, 100, 1000000, 100),
        (1001000, 90, 1000000, 100),
        (1001000, 90, 1000000, 100),
        (1001000, 90, 1000000, 90),
        (1001000, 90, 999000, 50),
    ]
    m, b = tmp / "X_message_1.csv", tmp / "X_orderbook_1.csv"
    pd.DataFrame(msg).to_csv(m, header=False, index=False)
    pd.DataFrame(book).to_csv(b, header=False, index=False)
    return m, b


def test_lobster_loader_on_written_files(tmp_path: Path) -> None:
    assert load_trades_and_quotes("lobster", *_write_lobster(tmp_path)).tick == pytest.approx(
        0.1
    )  # inferred from the book
    tq = load_trades_and_quotes("lobster", *_write_lobster(tmp_path), tick=0.01)
    assert tq.report["executions"] == 3 and tq.tick == 0.01
    assert tq.trades["side"].tolist() == [1.0, -1.0, -1.0]
    assert tq.trades["bid"].tolist() == pytest.approx([100.0, 100.0, 100.0])
    with pytest.warns(UserWarning, match="1 of 3"):
        s = tq.depth_sample()
    assert s.depths.tolist() == pytest.approx([0.05, 0.05])


def test_lobster_loader_rejects_mismatched_files(tmp_path: Path) -> None:
    m, b = _write_lobster(tmp_path)
    pd.read_csv(b, header=None).iloc[:3].to_csv(b, header=False, index=False)
    with pytest.raises(ValueError, match="one row per message"):
        load_trades_and_quotes("lobster", m, b)


def test_trades_bbo_matches_the_quote_strictly_before(tmp_path: Path) -> None:
    T0 = 1_723_161_256_000  # epoch milliseconds (times in seconds are refused)
    q = pd.DataFrame(
        {
            "local_ts_ns": [0, 0, 0],
            "event_time_ms": [T0 + 1000, T0 + 2000, T0 + 3000],
            "transaction_time_ms": [T0 + 1000, T0 + 2000, T0 + 3000],
            "update_id": [1, 2, 3],
            "bid_px": [100.0, 100.1, 100.2],
            "bid_qty": [1.0, 1.0, 1.0],
            "ask_px": [100.1, 100.2, 100.3],
            "ask_qty": [1.0, 1.0, 1.0],
        }
    )
    t = pd.DataFrame(
        {
            "local_ts_ns": [0, 0, 0],
            "event_time_ms": [T0 + 500, T0 + 2000, T0 + 2500],
            "trade_time_ms": [T0 + 500, T0 + 2000, T0 + 2500],
            "trade_id": [1, 2, 3],
            "price": [100.0, 100.1, 100.1],
            "qty": [0.1, 0.2, 0.3],
            "is_buyer_maker": [0, 0, 1],
        }
    )
    tp, qp = tmp_path / "trades.csv", tmp_path / "bbo.csv"
    t.to_csv(tp, index=False)
    q.to_csv(qp, index=False)
    with pytest.warns(UserWarning, match="excluded: 1 trades before first quote"):
        tq = load_trades_and_quotes("binance", tp, qp)
    assert len(tq.trades) == 2 and tq.tick == pytest.approx(0.1)
    # the trade at 2000 ms meets the quote of 1000 ms (the 2000 ms quote may already reflect it)
    assert tq.trades["ask"].tolist() == pytest.approx([100.1, 100.2])
    assert tq.trades["side"].tolist() == [1.0, -1.0]


def test_binance_sample(binance_sample) -> None:
    tq = load_trades_and_quotes("binance", *binance_sample)
    assert tq.report["trades_read"] == 21_313 and tq.report["quotes_read"] == 66_089
    assert len(tq.trades) == 21_313 and tq.tick == pytest.approx(0.1)
    t0, t1 = tq.window
    assert 330 < t1 - t0 < 350  # 23:54:16 to 23:59:58
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = calibrate(tq)
    f = r.intensity
    assert f.k > 0 and f.k_se > 0 and 1.0 < f.A < 100.0  # orders / s / side
    assert 1_000 < f.n_trades < 21_313  # prints merged into market orders
    assert 0.1 < r.sigma < 100.0  # USD / sqrt(s) for BTC near 61,800


def test_lobster_sample(lobster_sample) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tq = load_trades_and_quotes("lobster", *lobster_sample)
        r = calibrate(tq)
    assert tq.report["messages"] == 57_515
    assert 11_300 <= tq.report["executions"] <= 11_500
    assert tq.tick == pytest.approx(0.01)
    t0, t1 = tq.window
    assert (t1 - t0) / 3600 == pytest.approx(6.5, abs=0.01)
    f = r.intensity
    assert f.k > 0 and 0.05 < f.A < 50.0
    assert 0.001 < r.sigma < 1.0


def test_lobster_unaggregated_visible_prints_do_not_identify_k(lobster_sample) -> None:
    """Level-1 visible executions all print at the touch: only merged market orders show depth."""
    from mmenv.calibration import CalibrationError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tq = load_trades_and_quotes("lobster", *lobster_sample)
        s = tq.depth_sample(aggregate=False)
    with pytest.raises(CalibrationError, match="touch"):
        fit_intensity(s)
