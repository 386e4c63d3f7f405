"""Instrument specs: validation, linear and inverse P&L by hand, the JSON spec file."""

from __future__ import annotations

import json

import pytest

from mmenv.instrument import KNOWN_INSTRUMENTS, Instrument, load_instrument


def test_inverse_pnl_matches_the_contract_formula_by_hand():
    btc = KNOWN_INSTRUMENTS["BTCUSD_PERP"]
    # long 10 contracts of 100 USD bought at 60,000 and sold at 62,000: 1000 * (1/60000 - 1/62000) BTC
    assert btc.pnl(10, 60_000.0, 62_000.0) == pytest.approx(
        1000.0 * 2000.0 / (60_000.0 * 62_000.0), rel=1e-15
    )
    assert btc.pnl(10, 60_000.0, 62_000.0) == pytest.approx(5.376344086021505e-4, rel=1e-12)
    # a short gains when the price falls; the P&L of a round trip is cash + value, both in coins
    assert btc.pnl(-3, 62_000.0, 60_000.0) == pytest.approx(
        300.0 * (1 / 62_000.0 - 1 / 60_000.0) * -1, rel=1e-12
    )
    cash = btc.cash_flow(-10, 60_000.0)  # buy 10 at 60,000 (sell -10): +1000/60,000 BTC of cash
    assert cash + btc.value(10, 62_000.0) == pytest.approx(btc.pnl(10, 60_000.0, 62_000.0), rel=1e-12)
    assert btc.notional(10, 50_000.0) == pytest.approx(0.02)  # 1000 USD at 50,000 is 0.02 BTC


def test_linear_pnl_and_notional():
    usdt = KNOWN_INSTRUMENTS["BTCUSDT"]
    assert usdt.pnl(0.5, 60_000.0, 60_100.0) == pytest.approx(50.0)
    assert usdt.notional(-0.002, 60_000.0) == pytest.approx(120.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tick", 0.0),
        ("lot", -1.0),
        ("contract_size", float("nan")),
        ("maker_fee_bps", float("inf")),
        ("tick", True),
    ],
)
def test_bad_fields_are_named(field, value):
    with pytest.raises(ValueError, match=f"Instrument.{field}"):
        Instrument(**{"symbol": "X", "tick": 0.01, "lot": 1.0, field: value})


def test_a_linear_contract_settles_in_its_quote_currency():
    with pytest.raises(ValueError, match="settles in its quote currency"):
        Instrument("X", tick=0.01, lot=1.0, quote_currency="USD", settlement_currency="BTC")


def test_load_by_symbol_and_from_a_json_file(tmp_path):
    assert load_instrument("ETHUSD_PERP").contract_size == 10.0
    spec = tmp_path / "x.json"
    spec.write_text(
        json.dumps(
            {
                "symbol": "SOLUSDT",
                "tick": 0.001,
                "lot": 1.0,
                "quote_currency": "USDT",
                "settlement_currency": "USDT",
                "maker_fee_bps": -0.5,
            }
        )
    )
    assert load_instrument(spec).maker_fee_bps == -0.5
    spec.write_text(json.dumps({"symbol": "X", "tick": 0.01, "lot": 1.0, "colour": "red"}))
    with pytest.raises(ValueError, match="unknown instrument field"):
        load_instrument(spec)
    with pytest.raises(ValueError, match="neither a known symbol"):
        load_instrument(tmp_path / "missing.json")
