"""The one place that knows every market kind: :func:`make_market` builds a market source by name.

It sits above the market modules (:mod:`mmenv.markets`, :mod:`mmenv.markets.tick_market`,
:mod:`mmenv.markets.variants`), which know nothing of each other's kinds. A new market kind is a class
implementing :class:`mmenv.markets.Market` in its own module plus one entry here.
"""

from __future__ import annotations

from mmenv.config import MarketParams
from mmenv.markets import Market, ModelMarket

__all__ = ["MARKET_KINDS", "VARIANT_KINDS", "make_market"]

#: The weakness variants of :mod:`mmenv.markets.variants` (imported lazily).
VARIANT_KINDS = ("garch", "trend", "asymmetric", "toxic", "impact", "information")
#: Every kind :func:`make_market` builds.
MARKET_KINDS = ("model", "ticks", *VARIANT_KINDS)


def make_market(kind: str, params: MarketParams, num_paths: int, **kwargs) -> Market:
    """Build a market source by name.

    Args:
        kind: "model" (:class:`mmenv.markets.ModelMarket` from ``params``) or "ticks"
            (:class:`mmenv.markets.tick_market.TickMarket`, replaying ticks synthesized from ``bars=`` 1-minute bars;
            other keyword arguments go to it), or a weakness variant of :mod:`mmenv.markets.variants` (one of
            ``VARIANT_KINDS``, e.g. "garch", with its switches as keyword arguments).
        params: the market parameters. num_paths: N.
    """
    if kind == "model":
        crn = kwargs.pop("crn_groups", 1)
        if kwargs:
            raise ValueError(f"unknown arguments for market='model': {sorted(kwargs)}")
        return ModelMarket(params, num_paths, crn_groups=crn)
    if kind == "ticks":
        from mmenv.markets.tick_market import TickMarket

        return TickMarket.from_params(params, num_paths, **kwargs)
    if kind in VARIANT_KINDS:
        from mmenv.markets.variants import make_variant

        return make_variant(kind, params, num_paths, **kwargs)
    raise ValueError(f"market must be one of {list(MARKET_KINDS)}, got {kind!r}")
