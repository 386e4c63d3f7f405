"""The accounting of a replay in the instrument's settlement currency: linear and inverse contracts alike.

The replay (:mod:`mmenv.replay.engine`) matches orders in *size units* (shares, coins or contracts) at
*prices* (quote currency per unit) and keeps its cash as ``-sum side * size * price``: the accounting of a
linear contract of contract size 1. Fills, queue positions and inventory do not depend on the accounting, so
the accounting of any :class:`mmenv.instrument.Instrument` is a layer over the replay's records:

* every money amount of a run is linear in the *unit value* ``v(P)`` of the price, the value of one size
  unit at ``P`` in the settlement currency (:meth:`mmenv.instrument.Instrument.unit_value`):
  ``v(P) = c * P`` for a linear contract of contract size ``c`` and ``v(P) = -c / P`` for an inverse one
  (``c`` its face value in the quote currency). A fill of ``s`` units at ``P`` on side ``side`` (+1 buy)
  brings the cash ``-side * s * v(P)`` (:meth:`~mmenv.instrument.Instrument.cash_flow`); the inventory
  ``q`` is worth ``q * v(m)`` at the mid ``m`` (:meth:`~mmenv.instrument.Instrument.value`); a long of
  ``n`` inverse contracts bought at ``P0`` and sold at ``P1`` earns ``n c (1/P0 - 1/P1)`` coins (Binance,
  "Coin-margined futures: contract specifications"; the formula of :mod:`mmenv.instrument`);
* fees are ``maker_fee_bps`` of the notional ``|s v(P)|`` plus ``maker_fee_per_unit`` (settlement
  currency per size unit) per fill; the liquidation of the final inventory at the opposite best costs
  ``taker_fee_bps`` of its notional plus ``taker_fee_per_unit`` per unit (the replay's settings).

:func:`settle` rewrites the records with unit values in place of prices (fills' ``price`` and ``mid``,
states' ``mid``, ``bid`` and ``ask``), the fees, cash and equity in the settlement currency, so that every
score of :mod:`mmenv.analytics` computed on them (P&L, spread capture, inventory P&L, markouts, drawdown)
is in the settlement currency, and the identity equity change = spread + inventory - fees holds in it.
``v`` is increasing in the price, so the order of prices (bid below ask, a buy below the mid) is kept.
A linear instrument of contract size 1 is the replay's own accounting: its result is returned unchanged
(bit for bit).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from mmenv.backtest.result import BacktestResult
from mmenv.instrument import Instrument

__all__ = ["fill_flows", "is_native", "settle"]


def is_native(instrument: Instrument) -> bool:
    """Whether the replay's own accounting is the instrument's: linear, contract size 1."""
    return not instrument.inverse and instrument.contract_size == 1.0


def fill_flows(
    fills: np.ndarray, replay: dict[str, Any], instrument: Instrument
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fills' unit values, maker fees and cash flows in ``instrument``'s settlement currency.

    For fill ``i`` of side ``s_i`` (+1 bought), size ``n_i`` and price ``P_i``: unit value ``u_i =
    unit_value(P_i)`` (:meth:`mmenv.instrument.Instrument.unit_value`), fee ``f_i = maker_fee_bps * 1e-4 *
    |n_i u_i| + maker_fee_per_unit * n_i`` and cash flow ``-s_i n_i u_i - f_i``.

    Args:
        fills: fill records (:data:`mmenv.records.FILL_DTYPE`). replay: the replay's settings
            (:meth:`mmenv.replay.config.ReplayConfig.to_dict`). instrument: the contract traded.
    """
    size = np.asarray(fills["size"], dtype=np.float64)
    side = np.asarray(fills["side"], dtype=np.float64)
    px = instrument.unit_value(np.asarray(fills["price"], dtype=np.float64))
    fee = replay["maker_fee_bps"] * 1e-4 * np.abs(size * px) + replay["maker_fee_per_unit"] * size
    return px, fee, -side * size * px - fee


def settle(result: BacktestResult, instrument: Instrument) -> BacktestResult:
    """The replay ``result`` accounted in ``instrument``'s settlement currency (module docstring).

    Args:
        result: a replay's result (:func:`mmenv.replay.engine.replay` or the event-clock env's), whose
            ``extra`` holds its settings (``replay``) and the book in force at its end (``final_book``).
        instrument: the contract traded.

    Returns:
        A :class:`mmenv.backtest.BacktestResult` whose records hold unit values and settlement-currency
        amounts (the input's when the instrument is linear of contract size 1), with ``extra["currency"]``
        (the settlement currency), ``extra["instrument"]`` (the spec as a dict) and ``pnl_liquidated`` in
        the settlement currency.
    """
    if is_native(instrument):
        result.extra.update(currency=instrument.settlement_currency, instrument=instrument.to_dict())
        return result
    cfg = result.extra["replay"]
    fills, states = result.fills, result.states
    v = instrument.unit_value
    px, fee, flow = fill_flows(fills, cfg, instrument)
    # cash at each state: the flows of the fills of its event and before (fills come first in an event)
    before = np.searchsorted(np.asarray(fills["event"]), np.asarray(states["event"]), side="right")
    cum = np.concatenate([[0.0], np.cumsum(flow)])
    q = np.asarray(states["inventory"], dtype=np.float64)
    mid = v(np.asarray(states["mid"], dtype=np.float64))
    cash = cum[before]
    new_fills = np.array(fills, copy=True)
    new_fills["price"], new_fills["mid"], new_fills["fee"] = px, v(np.asarray(fills["mid"])), fee
    new_states = np.array(states, copy=True)
    new_states["mid"], new_states["cash"], new_states["equity"] = mid, cash, cash + q * mid
    for k in ("bid", "ask"):
        new_states[k] = v(np.asarray(states[k], dtype=np.float64))
    out = replace(result, fills=new_fills, states=new_states, extra=dict(result.extra))
    q_end = float(q[-1]) if q.size else 0.0
    pnl_liq = out.pnl
    if q_end != 0:
        bid, ask = result.extra["final_book"]
        exit_v = float(v(bid if q_end > 0 else ask))
        taker = cfg["taker_fee_bps"] * 1e-4 * abs(q_end * exit_v) + cfg["taker_fee_per_unit"] * abs(q_end)
        pnl_liq = float(cash[-1] + q_end * exit_v - taker - new_states["equity"][0])
    out.extra.update(
        currency=instrument.settlement_currency,
        instrument=instrument.to_dict(),
        pnl_liquidated=pnl_liq if math.isfinite(pnl_liq) else math.nan,
    )
    return out
