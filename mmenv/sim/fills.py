"""The one fill rule: quotes against order flow, the hard inventory limit, fills, fees, inventory and cash.

Every loop that fills a quote calls :func:`match_and_settle` (compiled and inlined) or its Python twin
``match_and_settle.py_func``: the env step over N paths (:mod:`mmenv.sim.env_step`), the tick backtester
(:mod:`mmenv.backtest`), the fused rollout (:mod:`mmenv.envs.rollout`) and the real-tape replay
(:mod:`mmenv.replay`). The model market's fused step (:mod:`mmenv.sim.model_step`) is the same rule written
branch-free (tested equal).

* Hard inventory limit: the bid is live only if ``q + size <= q_max`` and the ask only if
  ``q - size >= -q_max`` (tolerance ``EPS``); a NaN or +inf depth means "no quote" on that side.
* Fill rule: a live ask at depth ``delta_a`` is filled iff the buy side of the flow reached depth
  ``>= delta_a``; a live bid at depth ``delta_b`` iff the sell side reached ``>= delta_b``; in the
  Avellaneda-Stoikov model this is exactly the Poisson fill model (AS 2008 eqs. 2.10-2.12).
* Fills at the quoted price, ``min(size, available)`` units; fees ``fee_per_unit * units + fee_rate *
  notional`` (negative: rebates); ``q += b - a`` and ``cash += a * ask - b * bid - fees``.
"""

from __future__ import annotations

import math

from mmenv.jit import njit

__all__ = ["EPS", "match_and_settle"]

#: Tolerance of the hard inventory limit (units).
EPS = 1e-9


@njit(cache=True, inline="always")
def match_and_settle(
    q: float,
    cash: float,
    mid: float,
    bid_depth: float,
    ask_depth: float,
    reach_bid: float,
    reach_ask: float,
    avail_bid: float,
    avail_ask: float,
    q_max: float,
    size: float,
    fee_per_unit: float,
    fee_rate: float,
) -> tuple[float, float, float, float, float, float, float]:
    """Apply the hard limit, match both quotes against the order flow and settle the fills.

    Args:
        q, cash: inventory (units) and cash (price units) before the interval.
        mid: mid-price at quote time (price units).
        bid_depth, ask_depth: quote depths from the mid (price units); NaN or +inf means no quote.
        reach_bid, reach_ask: depth reached by sellers / buyers in the interval (-inf: nobody came).
        avail_bid, avail_ask: units the flow can give each side (inf in the model market).
        q_max: hard inventory limit (units); size: order size (units).
        fee_per_unit: fee per unit traded; fee_rate: fee per unit of notional (negative: rebates).

    Returns:
        (q, cash, bought, sold, fees, bid_price, ask_price): the new inventory and cash, units bought
        at the bid and sold at the ask, fees paid, and the live quote prices (NaN where not quoted).
    """
    bid_live = (q + size <= q_max + EPS) and (bid_depth < math.inf)  # NaN or +inf: no quote
    ask_live = (q - size >= -q_max - EPS) and (ask_depth < math.inf)
    bid_price = mid - bid_depth if bid_live else math.nan
    ask_price = mid + ask_depth if ask_live else math.nan
    bought = min(size, avail_bid) if (bid_live and reach_bid >= bid_depth) else 0.0
    sold = min(size, avail_ask) if (ask_live and reach_ask >= ask_depth) else 0.0
    notional = 0.0
    flow = 0.0
    if bought > 0.0:
        notional += bought * bid_price
        flow -= bought * bid_price
    if sold > 0.0:
        notional += sold * ask_price
        flow += sold * ask_price
    fees = fee_per_unit * (bought + sold) + fee_rate * notional
    return q + bought - sold, cash + flow - fees, bought, sold, fees, bid_price, ask_price
