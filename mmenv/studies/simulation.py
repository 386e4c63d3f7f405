"""The simulated markets of the studies, and how a policy is run and scored on them.

:data:`MODEL_MARKET` (the Avellaneda-Stoikov model market) and :data:`TICK_MARKET` (ticks synthesized from
1-minute bars) are the env arguments of the markets that ``compare``, ``sensitivity``, ``robustness``,
``sweep`` and the report run on; :func:`market_info` gives their parameters as the strategies see them.
:func:`simulate` runs a policy over N paths of any market through :func:`mmenv.envs.rollout.rollout` (the
core calls the market's ``on_fills(bought, sold)`` hook after matching, which the market-impact variant
needs) and :func:`score` computes every metric of the run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmenv.analytics import scores as analytics
from mmenv.envs.env import build_simulation
from mmenv.envs.rollout import rollout

__all__ = [
    "MODEL_MARKET",
    "TICK_MARKET",
    "TICK_MARKET_MAX_BARS",
    "bars_for_tick_market",
    "market_info",
    "score",
    "simulate",
]

#: The AS 2008 market (continuous fills, a hard limit of 25 units).
MODEL_MARKET: dict[str, Any] = {"market": "model", "q_max": 25.0}
#: The synthetic tick market: T = 1 hour, decisions every 10 s.
TICK_MARKET: dict[str, Any] = {"market": "ticks", "T": 1.0, "dt": 10.0 / 3600.0, "q_max": 25.0}
#: Most bars a tick market synthesizes its trades from. The market holds every trade of its bars in memory
#: (about 15 per bar), so a longer file is cut to its last bars, and says so.
TICK_MARKET_MAX_BARS = 20_000


def market_info(env_kwargs: dict[str, Any]) -> dict[str, float]:
    """A, k, sigma, s0, T, dt, q_max of a market as the strategies see it (built once with one path)."""
    params, _, core = build_simulation(1, dict(env_kwargs))
    m = core.market
    return {
        "A": float(getattr(m, "A", params.A)),
        "k": float(getattr(m, "k", params.k)),
        "sigma": float(np.asarray(m.sigma)[0]),
        "s0": float(np.asarray(m.s0)[0]),
        "T": float(m.n_steps * m.dt),
        "dt": float(m.dt),
        "q_max": float(params.q_max),
    }


def bars_for_tick_market(bars):
    """``bars``, or their last :data:`TICK_MARKET_MAX_BARS` bars when there are more; the cut is printed and
    recorded as ``bars_used`` in the validation summary (``bars.attrs["validation"]``) that the outputs store."""
    if bars is None or len(bars) <= TICK_MARKET_MAX_BARS:
        return bars
    kept = bars.iloc[-TICK_MARKET_MAX_BARS:].copy()
    note = (
        f"the last {TICK_MARKET_MAX_BARS:,} of the {len(bars):,} bars ({kept.index[0]:%Y-%m-%d} to "
        f"{kept.index[-1]:%Y-%m-%d}): a tick market holds every synthesized trade of its bars in memory "
        "(mmenv calibrate --bars-csv and mmenv backtest --market bars-csv use the whole file in bounded memory)"
    )
    print(f"tick market: {note}")
    kept.attrs = {**bars.attrs, "validation": {**bars.attrs.get("validation", {}), "bars_used": note}}
    return kept


def simulate(policy, num_paths: int, seed: int, progress: bool = False, **env_kwargs: Any):
    """Run one episode of ``policy`` on ``num_paths`` paths: :func:`mmenv.envs.rollout.rollout` on the market.

    The core reports fills to markets that have an ``on_fills`` hook (market impact). Task arguments
    (reward, phi, alpha, action_mode) are dropped: the reward column is the P&L change.

    Args:
        policy: an :class:`mmenv.policy.Policy` (depths in price units; +inf withdraws a side).
        num_paths: P. seed: seeds the market's generator (common random numbers across policies).
        progress: tqdm bar over the steps. env_kwargs: the env's market arguments (MarketParams fields,
            ``market=`` and its switches).
    """
    kw = {k: v for k, v in env_kwargs.items() if k not in ("reward", "phi", "alpha", "action_mode")}
    return rollout(policy, num_paths, seed, progress=progress, **kw)


def score(ro, horizon: int = 5) -> dict[str, Any]:
    """Every metric of a rollout: :func:`mmenv.analytics.summarize_rollout` plus the attribution and fill rate.

    The attribution is :func:`mmenv.analytics.attribute_rollout` (spread + inventory - fees = P&L exactly),
    averaged over paths; adverse selection is the markout of the fills at ``horizon`` steps (and at 1 step).
    """
    out = dict(analytics.summarize_rollout(ro))
    a = analytics.attribute_rollout(ro, (1, horizon))
    out.update(
        spread_pnl=float(a["spread"].mean()),
        inventory_pnl=float(a["inventory"].mean()),
        adverse_selection_pnl=float(a[f"adverse_{horizon}"].mean()),
        adverse_selection_1=float(a["adverse_1"].mean()),
        fees=float(a["fees"].mean()),
    )
    quoted = np.isfinite(ro.bid).sum() + np.isfinite(ro.ask).sum()
    fills = np.count_nonzero(ro.bought) + np.count_nonzero(ro.sold)
    out["fill_rate"] = float(fills / quoted) if quoted else float("nan")
    out["inventory_var"] = out["inventory_std"] ** 2
    return out
