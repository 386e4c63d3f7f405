"""Market sources: the AS model market, the variants that each break one AS assumption, the tick market,
and the registry (the one table of market kinds).

:mod:`~mmenv.markets.model` (the ``Market`` interface and ``ModelMarket``), :mod:`~mmenv.markets.variants`
(GARCH, trend, toxic flow, ...), :mod:`~mmenv.markets.tick_market` (a synthetic tick stream) and
:mod:`~mmenv.markets.registry` (``MARKETS``, the one table of market kinds, and ``make_market(kind, ...)``).
"""

from __future__ import annotations

from mmenv.markets.model import Market, ModelMarket

__all__ = ["Market", "ModelMarket"]
