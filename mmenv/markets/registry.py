"""The one table of market kinds: every name ``market=`` accepts, what builds it, its kernel and its arguments.

Each row of :data:`MARKETS` is a :class:`MarketKind`: the name (``gymnasium.make("mmenv/MarketMaking-v0",
market=name, ...)``), what builds it from a :class:`mmenv.config.MarketParams` and N, the code of its
per-path kernel in :mod:`mmenv.sim.market_kernels` (None: the market moves in Python and the core steps
after it) and a one-line summary. The keyword arguments a kind takes besides the market parameters
(:attr:`MarketKind.arguments`) are read from its builder's signature, so the env, the vector env and
:func:`make_market` accept exactly what the market's constructor does. Everything else asks this table:
:func:`make_market` builds, :func:`market_arguments` names the arguments, :func:`has_kernel` tells the
rollout whether the compiled paths apply.

It sits above the market modules (:mod:`mmenv.markets.model`, :mod:`mmenv.markets.variants`,
:mod:`mmenv.markets.tick_market`), which know nothing of each other's kinds. A new market kind is a class
implementing :class:`mmenv.markets.Market` in its own module plus one row here (and, for a compiled
market, a kernel code and its branch in :mod:`mmenv.sim.market_kernels`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mmenv.config import MarketParams
from mmenv.markets.model import Market, ModelMarket
from mmenv.markets.variants import (
    AsymmetricMarket,
    GarchMarket,
    ImpactMarket,
    InformationMarket,
    ToxicMarket,
    TrendMarket,
)
from mmenv.sim import market_kernels as mk

__all__ = [
    "MARKETS",
    "MARKET_KINDS",
    "VARIANT_KINDS",
    "MarketKind",
    "has_kernel",
    "make_market",
    "market_arguments",
    "market_kind",
]

#: Parameters of every builder that are not the kind's own arguments.
_COMMON = frozenset({"params", "num_paths"})


@dataclass(frozen=True)
class MarketKind:
    """One market kind.

    Attributes:
        name: the value of ``market=``.
        build: ``build(params, num_paths, **arguments)`` returns the market; or ``"module:attribute"``
            naming it, imported on first use (for a market whose module is costly to import: the tick
            market needs pandas).
        kernel: its kind code in :mod:`mmenv.sim.market_kernels` (the fused env step and the compiled
            rollouts run it), or None for a market without a kernel.
        summary: what the market is, in one line.
    """

    name: str
    build: Callable[..., Market] | str
    kernel: int | None
    summary: str

    @cached_property
    def builder(self) -> Callable[..., Market]:
        """The callable behind :attr:`build` (imported now if named by a string)."""
        if callable(self.build):
            return self.build
        module, _, attribute = self.build.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attribute.split("."):
            obj = getattr(obj, part)
        return obj

    @cached_property
    def arguments(self) -> frozenset[str]:
        """The keyword arguments the kind takes besides :class:`~mmenv.config.MarketParams` and N."""
        names = inspect.signature(self.builder).parameters
        return frozenset(
            n
            for n, p in names.items()
            if n not in _COMMON and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        )


#: Every market kind, by name.
MARKETS: dict[str, MarketKind] = {
    row.name: row
    for row in (
        MarketKind(
            "model", ModelMarket, mk.MODEL, "Avellaneda-Stoikov: Brownian or binomial mid, Poisson order flow"
        ),
        MarketKind(
            "ticks",
            "mmenv.markets.tick_market:TickMarket.from_params",
            None,
            "a tick stream synthesized from 1-minute bars (bars=), replayed from a random start per path",
        ),
        MarketKind("garch", GarchMarket, mk.GARCH, "GARCH(1,1) stochastic volatility, long-run sigma"),
        MarketKind(
            "trend", TrendMarket, mk.TRENDING, "a drift of +-trend per episode, unknown to the policy"
        ),
        MarketKind("asymmetric", AsymmetricMarket, mk.ASYMMETRIC, "different intensities A_bid and A_ask"),
        MarketKind("toxic", ToxicMarket, mk.TOXIC, "a share of the flow informed of the next mid move"),
        MarketKind("impact", ImpactMarket, mk.IMPACT, "our own fills move the mid (permanent and transient)"),
        MarketKind("information", InformationMarket, mk.INFORMATION, "every market order moves the mid"),
    )
}
#: Every name :func:`make_market` builds, in table order.
MARKET_KINDS = tuple(MARKETS)
#: The weakness variants of :mod:`mmenv.markets.variants` (kernel markets other than the model market).
VARIANT_KINDS = tuple(n for n, row in MARKETS.items() if row.kernel not in (None, mk.MODEL))


def market_kind(kind: str) -> MarketKind:
    """The row of ``kind``; ValueError naming the valid kinds otherwise."""
    row = MARKETS.get(kind) if isinstance(kind, str) else None
    if row is None:
        raise ValueError(f"market must be one of {list(MARKET_KINDS)}, got {kind!r}")
    return row


def market_arguments(kind: str) -> frozenset[str]:
    """The keyword arguments the market ``kind`` takes besides :class:`~mmenv.config.MarketParams`."""
    return market_kind(kind).arguments


def has_kernel(kind: str) -> bool:
    """Whether ``kind`` is a market of :mod:`mmenv.sim.market_kernels` (False for unknown names)."""
    row = MARKETS.get(kind)
    return row is not None and row.kernel is not None


def make_market(kind: str, params: MarketParams, num_paths: int, **kwargs: Any) -> Market:
    """Build a market source by name.

    Args:
        kind: a name of :data:`MARKETS`: "model" (:class:`mmenv.markets.ModelMarket`), "ticks"
            (:class:`mmenv.markets.tick_market.TickMarket`, replaying ticks synthesized from ``bars=``
            1-minute bars) or a weakness variant of :mod:`mmenv.markets.variants` (e.g. "garch").
        params: the market parameters. num_paths: N.
        kwargs: the kind's own arguments (:func:`market_arguments`); an unknown one raises ValueError.
    """
    row = market_kind(kind)
    unknown = sorted(set(kwargs) - row.arguments)
    if unknown:
        raise ValueError(
            f"unknown arguments for market={kind!r}: {unknown}; it takes {sorted(row.arguments)}"
        )
    return row.builder(params, num_paths, **kwargs)
