"""What is traded: tick, lot, contract size, linear or inverse, currencies and fees, in one place.

An :class:`Instrument` is the contract spec every part of mmenv reads: the replay and the backtester (prices on
the tick grid, sizes on the lot grid, fees, the currency P&L is settled in), calibration (depths in price
units, sizes in contracts or units as stated) and the report.

**Linear** contracts (equities, USD-M perpetuals such as Binance BTCUSDT): a size ``q`` counts units of the
asset (shares, BTC) times ``contract_size``; P&L is in the quote currency, ``q * contract_size * (P1 - P0)``.

**Inverse** contracts (Binance COIN-M perpetuals such as BTCUSD_PERP): a size counts contracts of a fixed
face value ``contract_size`` in the quote currency (100 USD for BTCUSD_PERP, 10 USD for ETHUSD_PERP), and
P&L settles in the base coin: a long of ``n`` contracts bought at ``P0`` and sold at ``P1`` earns
``n * contract_size * (1 / P0 - 1 / P1)`` coins (Binance, "Coin-margined futures: contract specifications";
BitMEX's inverse contracts use the same formula). A position of ``n`` contracts is worth ``-n * contract_size
/ P`` coins of the settlement currency at price ``P`` plus its cash, so accounting in coins is linear in
``1 / P``: see :meth:`Instrument.value` and :meth:`Instrument.cash_flow`.

Fees are rates of notional in basis points (negative: a rebate), the notional being ``|q| * contract_size *
P`` (linear, quote currency) or ``|q| * contract_size / P`` (inverse, coins).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["KNOWN_INSTRUMENTS", "Instrument", "load_instrument"]


@dataclass(frozen=True)
class Instrument:
    """The contract spec of one instrument.

    Attributes:
        symbol: the exchange's name for it (``"BTCUSDT"``, ``"BTCUSD_PERP"``, ``"AMZN"``).
        tick: price tick (quote currency per unit or contract), > 0.
        lot: size step (units or contracts), > 0; orders and fills are whole multiples of it.
        contract_size: quote currency per contract for inverse contracts (face value), units of the asset per
            size unit for linear ones (1 for shares and USD-M coins), > 0.
        inverse: True for an inverse contract (P&L in the base coin), False for a linear one.
        quote_currency: the currency prices are in (``"USD"``, ``"USDT"``).
        settlement_currency: the currency P&L and fees are settled in (the quote currency for linear
            contracts, the base coin for inverse ones: ``"BTC"``, ``"ETH"``).
        maker_fee_bps, taker_fee_bps: fees in basis points of notional (negative: rebates), finite.
        venue: where it trades (for headers and the report).
    """

    symbol: str
    tick: float
    lot: float
    contract_size: float = 1.0
    inverse: bool = False
    quote_currency: str = "USD"
    settlement_currency: str = "USD"
    maker_fee_bps: float = 0.0
    taker_fee_bps: float = 0.0
    venue: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, str) or not self.symbol:
            raise ValueError(f"Instrument.symbol must be a non-empty string, got {self.symbol!r}")
        for name in ("tick", "lot", "contract_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"Instrument.{name} must be a finite number > 0, got {v!r}")
            object.__setattr__(self, name, float(v))
        for name in ("maker_fee_bps", "taker_fee_bps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"Instrument.{name} must be a finite number (bps), got {v!r}")
            object.__setattr__(self, name, float(v))
        if not isinstance(self.inverse, bool):
            raise ValueError(f"Instrument.inverse must be true or false, got {self.inverse!r}")
        for name in ("quote_currency", "settlement_currency"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"Instrument.{name} must be a non-empty string, got {getattr(self, name)!r}")
        if not self.inverse and self.settlement_currency != self.quote_currency:
            raise ValueError(
                f"Instrument {self.symbol}: a linear contract settles in its quote currency "
                f"({self.quote_currency}), got settlement_currency {self.settlement_currency!r}"
            )

    def value(self, q: float, price: float) -> float:
        """Mark-to-market value of a position of ``q`` size units at ``price``, in the settlement currency.

        Linear: ``q * contract_size * price``. Inverse: ``-q * contract_size / price`` (a long of contracts is
        short the coin's reciprocal price), so that ``cash + value`` changes by exactly the P&L formula of
        the module docstring.
        """
        if self.inverse:
            return -q * self.contract_size / price
        return q * self.contract_size * price

    def cash_flow(self, q: float, price: float) -> float:
        """Cash received (settlement currency) for *selling* ``q`` size units at ``price`` (negative ``q``:
        buying). Linear: ``q * contract_size * price``; inverse: ``-q * contract_size / price``, the opposite
        of the value the position loses, so a round trip at ``P0`` then ``P1`` earns the P&L formula."""
        return self.value(q, price)

    def notional(self, q: float, price: float) -> float:
        """|notional| of ``q`` size units at ``price`` in the settlement currency (the base of fees)."""
        return abs(self.value(q, price))

    def unit_value(self, price: Any) -> Any:
        """Value of one size unit at ``price`` in the settlement currency (scalar or array): ``contract_size *
        price`` (linear) or ``-contract_size / price`` (inverse).

        It is increasing in the price and every money amount of a run is linear in it (cash flows, the
        value of the inventory, spread capture, markouts), so the linear accounting applied to unit values
        instead of prices is the accounting in the settlement currency (:mod:`mmenv.replay.accounting`).
        """
        if self.inverse:
            return -self.contract_size / price
        return self.contract_size * price

    def to_quote(self, amount: float, mark: float) -> float:
        """An ``amount`` of the settlement currency in the quote currency at the price ``mark`` (for
        display): ``amount * mark`` for an inverse contract (coins times USD per coin), ``amount`` as it is
        for a linear one (it settles in the quote currency)."""
        return amount * mark if self.inverse else amount

    @classmethod
    def linear(cls, symbol: str, tick: float, lot: float, currency: str = "quote currency") -> Instrument:
        """A linear instrument of contract size 1 on the grids of a tape (its tick and lot), no fees: the
        default of a tape whose instrument is not known."""
        return cls(symbol, tick=tick, lot=lot, quote_currency=currency, settlement_currency=currency)

    @property
    def size_unit(self) -> str:
        """What one size unit is, in words: ``"contracts of 100 USD"`` (inverse), ``"units"`` (linear of
        contract size 1: shares, coins) or ``"lots of 50 units"`` (a linear multiplier)."""
        if self.inverse:
            return f"contracts of {self.contract_size:g} {self.quote_currency}"
        return "units" if self.contract_size == 1.0 else f"lots of {self.contract_size:g} units"

    def describe(self) -> str:
        """One line for headers: symbol, venue, kind, tick, lot, settlement currency and fees."""
        kind = (
            f"inverse, {self.contract_size:g} {self.quote_currency} per contract"
            if self.inverse
            else ("linear" if self.contract_size == 1.0 else f"linear, {self.contract_size:g} units per lot")
        )
        venue = f" ({self.venue})" if self.venue else ""
        return (
            f"instrument {self.symbol}{venue}: {kind}; tick {self.tick:g} {self.quote_currency}, lot "
            f"{self.lot:g}; P&L in {self.settlement_currency}; fees maker {self.maker_fee_bps:g} bps, taker "
            f"{self.taker_fee_bps:g} bps"
        )

    def pnl(self, q: float, entry: float, exit: float) -> float:
        """P&L of a long of ``q`` size units bought at ``entry`` and sold at ``exit`` (settlement currency)."""
        return self.cash_flow(q, exit) - self.cash_flow(q, entry)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain values (for ``metrics.json``)."""
        return asdict(self)


#: Specs of the instruments of the shared samples (Binance's exchangeInfo and fee schedule of August 2024,
#: VIP 0: maker 2 bps and taker 5 bps on USD-M, maker 2 bps and taker 5 bps on COIN-M; LOBSTER's AMZN on
#: NASDAQ: cent tick, one-share lot, no fee modelled).
KNOWN_INSTRUMENTS: dict[str, Instrument] = {
    i.symbol: i
    for i in (
        Instrument(
            "AMZN", tick=0.01, lot=1.0, quote_currency="USD", settlement_currency="USD", venue="NASDAQ"
        ),
        Instrument(
            "BTCUSDT",
            tick=0.1,
            lot=0.001,
            quote_currency="USDT",
            settlement_currency="USDT",
            maker_fee_bps=2.0,
            taker_fee_bps=5.0,
            venue="Binance USD-M",
        ),
        Instrument(
            "BTCUSD_PERP",
            tick=0.1,
            lot=1.0,
            contract_size=100.0,
            inverse=True,
            quote_currency="USD",
            settlement_currency="BTC",
            maker_fee_bps=2.0,
            taker_fee_bps=5.0,
            venue="Binance COIN-M",
        ),
        Instrument(
            "ETHUSD_PERP",
            tick=0.01,
            lot=1.0,
            contract_size=10.0,
            inverse=True,
            quote_currency="USD",
            settlement_currency="ETH",
            maker_fee_bps=2.0,
            taker_fee_bps=5.0,
            venue="Binance COIN-M",
        ),
    )
}


def load_instrument(spec: str | Path) -> Instrument:
    """An instrument by symbol (:data:`KNOWN_INSTRUMENTS`) or from a JSON file of its fields.

    Raises:
        ValueError: an unknown symbol, a file that is not a JSON object of :class:`Instrument` fields, or
            an invalid field (named, with the file).
    """
    text = str(spec)
    if text in KNOWN_INSTRUMENTS:
        return KNOWN_INSTRUMENTS[text]
    path = Path(text)
    if not path.is_file():
        raise ValueError(
            f"instrument {text!r} is neither a known symbol ({', '.join(KNOWN_INSTRUMENTS)}) nor a file; "
            "give one of those symbols or a JSON file of the instrument's fields"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file of instrument fields ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: must hold a JSON object of instrument fields, got {type(raw).__name__}")
    known = {f.name for f in fields(Instrument)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{path}: unknown instrument field(s) {unknown}; fields are {sorted(known)}")
    try:
        return Instrument(**raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
