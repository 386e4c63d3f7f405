"""Instrument specs: validation, linear and inverse P&L by hand, the JSON spec file."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

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


def test_the_worked_example_of_the_real_data_guide_is_what_the_code_computes():
    guide = Path(__file__).parents[1] / "docs" / "guide" / "real-data.md"
    res = doctest.testfile(str(guide), module_relative=False, verbose=False)
    assert res.attempted >= 6 and res.failed == 0


def test_units_and_descriptions():
    btc, eth = KNOWN_INSTRUMENTS["BTCUSD_PERP"], KNOWN_INSTRUMENTS["ETHUSD_PERP"]
    assert btc.size_unit == "contracts of 100 USD" and eth.size_unit == "contracts of 10 USD"
    assert KNOWN_INSTRUMENTS["BTCUSDT"].size_unit == "units"
    assert "inverse, 100 USD per contract" in btc.describe() and "P&L in BTC" in btc.describe()
    # the unit value is increasing in the price for both kinds, and linear in it for a linear contract
    assert btc.unit_value(40_000.0) < btc.unit_value(50_000.0) < 0
    assert Instrument("ES", tick=0.25, lot=1.0, contract_size=50.0).unit_value(5000.0) == 250_000.0
    assert btc.to_quote(-0.001, 60_000.0) == pytest.approx(-60.0)
    assert KNOWN_INSTRUMENTS["BTCUSDT"].to_quote(-60.0, 60_000.0) == -60.0
    lin = Instrument.linear("tape x.csv", 0.01, 1.0)
    assert (lin.inverse, lin.contract_size, lin.maker_fee_bps, lin.settlement_currency) == (
        False,
        1.0,
        0.0,
        "quote currency",
    )


def test_every_shared_sample_names_a_known_instrument():
    from mmenv.data.samples import SAMPLES

    for s in SAMPLES.values():
        assert s.spec is KNOWN_INSTRUMENTS[s.instrument], s.key
    assert (
        SAMPLES["binance_cm_btcusd"].spec.inverse and SAMPLES["binance_cm_ethusd"].spec.contract_size == 10.0
    )
    assert not SAMPLES["binance"].spec.inverse and SAMPLES["lobster"].spec.symbol == "AMZN"
