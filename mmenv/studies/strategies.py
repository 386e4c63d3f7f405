"""The strategies of the studies: their names per study and how each is built from a market's parameters.

Three families of callers, one table of names each:

* :data:`BACKTEST_STRATEGIES` and :func:`make_strategy`: the synthetic-tick backtest (``mmenv backtest``);
  AS, symmetric and naive are :class:`mmenv.backtest.QuoteRule` (the compiled loop), the others agents.
* :data:`COMPARE_STRATEGIES` and :func:`strategies_for`: the env studies (``compare``, ``robustness``, the
  report), every parameter from the market's A, k, sigma, T, dt and one dimensionless risk aversion.
* :data:`TAPE_STRATEGIES`, :func:`tape_policies` and :func:`law_policies`: the real-tape studies, built from a
  calibration (time in seconds, inventory in lots), with the risk aversion per lot of :func:`gamma_per_lot`;
  and the fixed offset from the touch (``touch``), which needs no calibration; :data:`SIGNAL_STRATEGIES` and
  :func:`signal_policies`: the signal-aware quotes of :mod:`agents.signal_quotes`, from the calibration and
  the in-sample signal fit (:func:`mmenv.signals.fit.fit_signals`).
"""

from __future__ import annotations

import math
from typing import Any

from agents import (
    AvellanedaStoikovAgent,
    CJPAgent,
    GLFTAgent,
    NaiveAgent,
    PassiveAgent,
    SymmetricAgent,
    TouchAgent,
    TrendFollowingAgent,
)
from agents.intensity_quotes import IntensityASAgent, IntensityGLFTAgent
from agents.signal_quotes import SignalQuotes
from mmenv.backtest import QuoteRule
from mmenv.engine import liquidity_term

__all__ = [
    "BACKTEST_STRATEGIES",
    "COMPARE_STRATEGIES",
    "SIGNAL_STRATEGIES",
    "TAPE_DEFAULT",
    "TAPE_STRATEGIES",
    "gamma_per_lot",
    "law_policies",
    "make_strategy",
    "signal_policies",
    "strategies_for",
    "tape_policies",
]

#: The strategies of the synthetic-tick backtest (:func:`make_strategy`).
BACKTEST_STRATEGIES = ("as", "naive", "symmetric", "passive", "trend")
#: The strategies compared on the simulated markets (:func:`strategies_for`).
COMPARE_STRATEGIES = ("as", "symmetric", "naive", "passive", "trend", "glft", "optimal")
#: The signal-aware strategies of :mod:`agents.signal_quotes` (:func:`signal_policies`).
SIGNAL_STRATEGIES = ("as-micro", "glft-micro", "imbalance")
#: The strategies replayed on real tapes (:func:`tape_policies`, :func:`signal_policies`); ``touch`` quotes
#: at a fixed offset from the best bid and ask (:class:`agents.TouchAgent`).
TAPE_STRATEGIES = ("as", "glft", "optimal", "naive", "passive", "trend", "touch", *SIGNAL_STRATEGIES)
#: The ones the real-tape backtest replays when none is named.
TAPE_DEFAULT = ("as", "glft", "optimal", "naive", "passive", "trend", *SIGNAL_STRATEGIES)


def make_strategy(
    name: str, *, gamma: float, k: float, s0: float, order_size: float = 1.0, naive_depth: float | None = None
):
    """The backtest policy ``name`` of :data:`BACKTEST_STRATEGIES`: a QuoteRule (compiled loop) or an agent.

    Args:
        gamma: AS risk aversion (1 / price unit). k: depth decay of the flow (1 / price unit). s0: first mid.
        order_size: units per order. naive_depth: depth of the naive quotes (price units); None: one mean
            trade depth 1/k.
    """
    if name == "as":
        return QuoteRule("as", gamma=gamma, k=k)
    if name == "symmetric":
        return QuoteRule("symmetric", gamma=gamma, k=k)
    if name == "naive":
        return QuoteRule("naive", depth=1.0 / k if naive_depth is None else naive_depth)
    if name == "trend":
        return TrendFollowingAgent(half_spread=1.0 / k, beta=2.0, lam=0.2, s0=s0)
    if name == "passive":
        # Pool depth such that one order moves the pool price by about 1/k: x0 = 2 size s0 k units.
        x0 = 2.0 * order_size * s0 * k
        return PassiveAgent(liquidity=x0 * math.sqrt(s0), fee=1.0 / (k * s0), size=order_size, s0=s0)
    raise ValueError(f"strategy must be one of {BACKTEST_STRATEGIES}, got {name!r}")


def strategies_for(
    info: dict[str, float], risk: float = 0.6, naive_depth: float | None = None, names=COMPARE_STRATEGIES
) -> dict[str, Any]:
    """The policies ``names`` with parameters from the market ``info`` (:func:`mmenv.studies.simulation.market_info`).

    gamma = risk / (k sigma^2 T); naive depth: ``naive_depth`` or 1/k (the zero-risk-aversion optimum);
    passive pool: half the naive depth from the curve's curvature (reserves x = 2 s0 / depth, L = x sqrt(s0))
    and half from the fee (depth / (2 s0));
    CJP phi = gamma sigma^2 / 2 (Gueant 2016), alpha = 0.
    """
    A, k, sigma, T, dt, q_max, s0 = (info[x] for x in ("A", "k", "sigma", "T", "dt", "q_max", "s0"))
    gamma = risk / (k * sigma * sigma * T)
    depth = 1.0 / k if naive_depth is None else naive_depth
    make = {
        "as": lambda: AvellanedaStoikovAgent(gamma=gamma, k=k, s0=s0),
        "symmetric": lambda: SymmetricAgent(gamma=gamma, k=k, s0=s0),
        "naive": lambda: NaiveAgent(depth=depth, s0=s0),
        "passive": lambda: PassiveAgent(liquidity=2.0 * s0**1.5 / depth, fee=0.5 * depth / s0, s0=s0),
        "trend": lambda: TrendFollowingAgent(half_spread=depth, s0=s0),
        "glft": lambda: GLFTAgent(gamma=gamma, A=A, k=k, q_max=q_max, s0=s0),
        "optimal": lambda: CJPAgent(
            phi=0.5 * gamma * sigma * sigma, A=A, k=k, T=T, dt=dt, q_max=q_max, s0=s0
        ),
    }
    return {n: make[n]() for n in names}


def gamma_per_lot(risk_aversion: float, k: float, sigma: float, horizon: float) -> float:
    """AS / GLFT / CJP risk aversion per lot on a tape: ``risk_aversion / (k sigma^2 T)`` (1 / price unit).

    Scale-free: the AS inventory term then moves the quotes by at most ``risk_aversion / k`` per lot held
    over the horizon T (seconds); without volatility (sigma = 0), ``risk_aversion / k``.
    """
    return risk_aversion / (k * sigma * sigma * horizon) if sigma > 0 else risk_aversion / k


def tape_policies(
    names,
    cal,
    *,
    max_lots: float,
    risk_aversion: float,
    horizon: float,
    s0: float,
    offset_ticks: int = 0,
) -> dict[str, Any]:
    """Fresh policies ``names`` (of :data:`TAPE_STRATEGIES`) from a calibration (A, k, sigma per second).

    Time in seconds, inventory in lots (one lot per order, at most ``max_lots``); gamma from
    :func:`gamma_per_lot` with the AS horizon ``horizon`` (s); the CJP optimum on a grid of 600 steps;
    ``touch`` quotes ``offset_ticks`` ticks behind the best bid and ask (no calibration).
    """
    A, k, sigma = float(cal.A), float(cal.k), float(cal.sigma)
    gamma = gamma_per_lot(risk_aversion, k, sigma, horizon)
    out: dict[str, Any] = {}
    for name in names:
        if name in SIGNAL_STRATEGIES:
            continue  # signal_policies
        if name == "touch":
            out[name] = TouchAgent(offset_ticks, s0=s0)
        elif name == "glft":
            out[name] = GLFTAgent(gamma=gamma, A=A, k=k, sigma=sigma, q_max=max_lots, order_size=1.0, s0=s0)
        elif name == "optimal":
            out[name] = CJPAgent(
                gamma=gamma,
                sigma=sigma,
                A=A,
                k=k,
                T=horizon,
                dt=horizon / 600.0,
                q_max=max_lots,
                order_size=1.0,
                s0=s0,
            )
        else:
            out[name] = make_strategy(name, gamma=gamma, k=k, s0=s0, order_size=1.0)
    return out


def law_policies(
    fit, cal, *, max_lots: float, risk_aversion: float, horizon: float, s0: float
) -> dict[str, Any]:
    """``as-<law>`` and ``glft-<law>``: the AS-style and GLFT-style quotes of
    :func:`agents.intensity_quotes.policies_for` for a fitted non-exponential law (rates per second), with
    the exponential calibration's risk aversion per lot and sigma; empty for the exponential."""
    if fit is None or fit.name == "exponential":
        return {}
    gamma = gamma_per_lot(risk_aversion, float(cal.k), float(cal.sigma), horizon)
    sigma = float(cal.sigma)
    # the law is fitted beyond the touch c_ref: the GLFT search starts half a tick past it, the AS grid at it
    consts = fit.law.constants()
    touch = float(consts.get("c_ref", 0.0) or 0.0)
    start = touch + 0.5 * float(consts.get("tick", 0.0) or 0.0)
    glft = IntensityGLFTAgent(
        fit.intensity,
        gamma=gamma,
        sigma=sigma,
        q_max=max_lots,
        order_size=1.0,
        s0=s0,
        start_depth=start,
        min_depth=start,
    )
    asp = IntensityASAgent(
        fit.intensity, gamma=gamma, sigma=sigma, min_depth=touch, max_depth=start + 20.0 / glft.k, s0=s0
    )
    return {f"as-{fit.name}": asp, f"glft-{fit.name}": glft}


def signal_policies(
    names,
    cal,
    fit,
    features,
    *,
    max_lots: float,
    risk_aversion: float,
    horizon: float,
    s0: float,
    tick: float,
) -> dict[str, SignalQuotes]:
    """The signal-aware strategies ``names`` (those of :data:`SIGNAL_STRATEGIES` among them) from a
    calibration (A, k, sigma per second) and the in-sample signal fit ``fit``
    (:class:`mmenv.signals.fit.SignalFit`); ``features`` the feature matrix of the tape they replay (one row
    per event, columns of ``fit.spec``).

    gamma per lot from :func:`gamma_per_lot` as the AS family; GLFT's c1, c2 of :class:`agents.GLFTAgent`;
    the imbalance strategy's beta and theta in price units (``tick`` times the fit's ticks).
    """
    from mmenv.signals import feature_names

    cols = feature_names(fit.spec)
    micro = float(cols.index("micro_ticks")) if "micro_ticks" in cols else -1.0
    A, k, sigma = float(cal.A), float(cal.k), float(cal.sigma)
    gamma = gamma_per_lot(risk_aversion, k, sigma, horizon)
    liq = liquidity_term(gamma, k)
    stated = {**fit.to_dict(), "gamma_per_lot": gamma, "liquidity_term": liq}
    out: dict[str, SignalQuotes] = {}
    for name in names:
        if name == "as-micro":
            p = {"gamma": gamma, "liquidity": liq, "micro_col": micro}
        elif name == "glft-micro":
            g = GLFTAgent(gamma=gamma, A=A, k=k, sigma=sigma, q_max=max_lots, order_size=1.0, s0=s0)
            c1, c2 = g.coefficients(sigma)
            p = {"c1": float(c1), "c2": float(c2), "q_max": float(max_lots), "micro_col": micro}
        elif name == "imbalance":
            p = {
                "gamma": gamma,
                "liquidity": liq,
                "signal_col": float(cols.index(fit.signal)),
                "beta": fit.beta_ticks * tick,
                "theta": fit.theta_ticks * tick,
            }
        else:
            continue
        out[name] = SignalQuotes(name, p, features=features, fit=stated, s0=s0)
    return out
