"""Backtest on the Avellaneda-Stoikov model market: the simulation core stepped as an event loop."""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm.auto import tqdm

from mmenv.backtest.result import ERR_NAN_QUOTE, BacktestResult, raise_loop_error, records_from_arrays
from mmenv.config import MarketParams
from mmenv.markets import ModelMarket
from mmenv.policy import QuoteState
from mmenv.sim.core import SimulationCore

__all__ = ["backtest_model"]


def backtest_model(
    policy: Any,
    params: MarketParams | None = None,
    *,
    num_paths: int = 1,
    seed: int = 0,
    allow_withdraw: bool = False,
    progress: bool = False,
) -> list[BacktestResult]:
    """Backtest on the Avellaneda-Stoikov model market (the core's exponential or linear fill rule).

    Each decision step of :class:`mmenv.sim.core.SimulationCore` over a :class:`mmenv.markets.ModelMarket` is one
    event: the policy quotes at the mid ``m_j`` (time ``j dt``), the core matches both sides against the
    model's reach (:func:`mmenv.sim.fills.match_and_settle`, via ``step_paths``), then the mid moves to
    ``m_{j+1}``. Fills are recorded at ``time = j dt`` and ``mid = m_j``; the state of event j at
    ``time = (j + 1) dt`` with ``mid = m_{j+1}``.

    Args:
        policy: an :class:`mmenv.policy.Policy` (batched over paths). params: the market (default the paper's).
        num_paths: independent paths (episodes), one result each. seed: seeds the market's generator.
        allow_withdraw: NaN depths withdraw a side (else they raise). progress: tqdm bar over steps.

    Returns:
        One :class:`BacktestResult` per path.
    """
    params = MarketParams() if params is None else params
    market = ModelMarket(params, num_paths)
    core = SimulationCore.from_params(market, params)
    rng = np.random.default_rng(seed)
    core.reset(rng)
    policy.reset(num_paths)
    p, n, dt = num_paths, core.n_steps, market.dt
    mid = np.empty((p, n + 1))
    q = np.empty((p, n + 1))
    cash = np.empty((p, n + 1))
    bid = np.empty((p, n))
    ask = np.empty((p, n))
    bought = np.empty((p, n))
    sold = np.empty((p, n))
    fees = np.empty((p, n))
    mid[:, 0], q[:, 0], cash[:, 0] = market.mid, core.state.q, core.state.cash
    steps = range(n)
    if progress:
        steps = tqdm(steps, desc=f"model backtest {getattr(policy, 'name', '')}", leave=False)
    n_quoted = np.zeros(p, dtype=np.int64)
    for j in steps:
        state = QuoteState(
            q=core.state.q.copy(),
            tau=core.time_remaining(),
            mid=market.mid.copy(),
            sigma=market.sigma.copy(),
            s0=market.s0,
        )
        db, da = (np.asarray(x, dtype=np.float64).reshape(p) for x in policy.quote(state))
        bad = np.isnan(db) | np.isnan(da)
        if bad.any() and not allow_withdraw:
            i = int(np.flatnonzero(bad)[0])
            raise_loop_error(ERR_NAN_QUOTE, j, float(db[i]), float(da[i]))
        crossed = (state.mid - db) >= (state.mid + da)
        if crossed.any():
            i = int(np.flatnonzero(crossed)[0])
            raise ValueError(
                f"policy returned crossed quotes at event {j} (path {i}): bid={state.mid[i] - db[i]!r} "
                f">= ask={state.mid[i] + da[i]!r}"
            )
        res = core.step(db, da, rng)
        mid[:, j + 1], q[:, j + 1], cash[:, j + 1] = res.mid_after, core.state.q, core.state.cash
        bid[:, j], ask[:, j] = res.bid_price, res.ask_price
        bought[:, j], sold[:, j], fees[:, j] = res.bought, res.sold, res.fees
        n_quoted += np.isfinite(res.bid_price).astype(np.int64) + np.isfinite(res.ask_price)
    name = str(getattr(policy, "name", type(policy).__name__))
    out = []
    for i in range(p):
        fills, states = records_from_arrays(
            dt,
            mid[i],
            q[i],
            cash[i],
            bid[i],
            ask[i],
            bought[i],
            sold[i],
            fees[i],
            params.fee_per_unit,
            params.fee_rate,
        )
        out.append(
            BacktestResult(
                fills=fills,
                states=states,
                n_events=n,
                n_decisions=n,
                n_quoted=int(n_quoted[i]),
                config=None,
                strategy=name,
                order_size=params.order_size,
                q_max=params.q_max,
                dt=dt,
            )
        )
    return out
