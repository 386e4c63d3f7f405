"""Scores for every strategy, computed one way: terminal P&L, Sharpe, drawdown, inventory, fills, spread.

Inputs are the struct-of-arrays records of :class:`mmenv.envs.rollout.Rollout` (env episodes) or of the
backtester. Conventions (they change the numbers, so they are stated):

* P&L of a path: terminal mark-to-market wealth minus initial, X_T + q_T S_T - (X_0 + q_0 S_0) (price units).
* Sharpe ratio (``sharpe``): mean / std of the per-episode P&L across paths, one episode = one sample,
  not annualised (the paper's "profit / std(profit)"). ``sharpe_per_step`` uses per-step P&L increments
  pooled over paths, and ``annualised_sharpe`` scales it by sqrt(steps per year) when given.
* Max drawdown: per path, the largest fall of the equity curve from its running peak (price units),
  averaged over paths. A drawdown relative to the peak is ill-defined for P&L curves that start at 0, so
  ``max_drawdown_rel`` divides by the path's equity range, max_dd / (max W - min W), in [0, 1].
* Standard errors are Monte-Carlo: std / sqrt(P) for means; for the std, std / sqrt(2 (P - 1)).

P&L attribution (backtests and env rollouts alike, on the fill and state records of :mod:`mmenv.records`).
With W = cash + q m the mark-to-market equity, each event adds exactly

    dW = spread capture + inventory P&L - fees,

* spread capture of a fill: its distance from the mid at the fill times its size,
  ``(m_fill - price) * size`` for a buy at our bid and ``(price - m_fill) * size`` for a sell at our ask;
* inventory P&L: the inventory held times the mid's changes, ``sum q (m_next - m_prev)`` over the merged
  timeline of fills and states (q only changes at fills, so it is exact whatever the state sampling);
* fees: paid per fill (negative: rebates).

The three add up to the equity change to rounding (tested to 1e-9). Adverse selection at horizon h is the
markout of the fills, ``sum side * size * (m(t_fill + h) - m_fill)`` (side +1 for a buy): the part of the
inventory P&L explained by the mid moving against (or with) each fill right after it; the rest of the
inventory P&L is the ``residual`` (holding) part. ``m(t)`` is the mid of the last state recorded at or before t
(the last one if t lies beyond the record), so exact markouts need every event recorded
(``record_every=1``); event-count horizons use the state ``n`` events after the fill's event.

Risk metrics of one equity curve (:func:`risk_metrics`): the Sharpe ratio of equity increments sampled on a
fixed grid of ``interval`` time units, annualised by ``sqrt(periods_per_year / interval)`` when
``periods_per_year`` (time units per year) is given; the max drawdown in price units and relative to the
running peak of wealth ``capital + P&L`` (or, without capital, to the equity range as above); the
time-weighted inventory mean and variance; the share of time at the limit (``|q| + order_size > q_max``, so
one side is withdrawn); the fill ratio (fills per event at which the aggressor's side met a live quote of
ours); the turnover (units and notional traded, and notional per unit time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmenv.backtest.result import records_from_arrays

__all__ = [
    "Attribution",
    "attribute",
    "attribute_rollout",
    "drawdown",
    "episode_pnl",
    "episode_pnls",
    "markout_curve",
    "markouts",
    "max_drawdown",
    "mid_at",
    "risk_metrics",
    "rollout_records",
    "sharpe_from_grid",
    "sharpe_ratio",
    "summarize",
    "summarize_backtest",
    "summarize_rollout",
    "summarize_totals",
]


def episode_pnl(equity: np.ndarray) -> np.ndarray:
    """Terminal minus initial equity per path (price units); ``equity`` is (P, S + 1)."""
    return equity[:, -1] - equity[:, 0]


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Per-path maximum drawdown max_t (max_{u <= t} W_u - W_t) (price units), shape (P,)."""
    peak = np.maximum.accumulate(equity, axis=1)
    return (peak - equity).max(axis=1)


def summarize(
    equity: np.ndarray,
    inventory: np.ndarray,
    bought: np.ndarray,
    sold: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    steps_per_year: float | None = None,
) -> dict[str, Any]:
    """Scores of a set of episodes.

    Args:
        equity: (P, S + 1) mark-to-market wealth (price units). inventory: (P, S + 1) q (units).
        bought, sold: (P, S) units filled at the bid / ask. bid, ask: (P, S) quotes (NaN: not quoted).
        steps_per_year: if given, also report the per-step Sharpe annualised by sqrt(steps_per_year).

    Returns:
        A flat dict of floats: n_paths, mean_pnl, mean_pnl_se, std_pnl, std_pnl_se, sharpe,
        sharpe_per_step, [annualised_sharpe], max_drawdown, max_drawdown_rel, final_q_mean, final_q_std,
        inventory_mean, inventory_std, max_abs_q, n_fills, mean_spread, spread_quoted_share.
    """
    pnl = episode_pnl(equity)
    inc = np.diff(equity, axis=1)
    inc_std = float(inc.std())
    dd = drawdown(equity)
    rng = equity.max(axis=1) - equity.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dd_rel = np.where(rng > 0, dd / rng, 0.0)
    spread = ask - bid
    live = np.isfinite(spread)
    out: dict[str, Any] = {
        **_pnl_scores(pnl),
        "sharpe_per_step": float(inc.mean() / inc_std) if inc_std > 0 else float("nan"),
        "max_drawdown": float(dd.mean()),
        "max_drawdown_rel": float(dd_rel.mean()),
        **_final_q_scores(inventory[:, -1]),
        "inventory_mean": float(inventory.mean()),
        "inventory_std": float(inventory.std()),
        "max_abs_q": float(np.abs(inventory).max()),
        "n_fills": float((np.count_nonzero(bought, axis=1) + np.count_nonzero(sold, axis=1)).mean()),
        "mean_spread": float(spread[live].mean()) if live.any() else float("nan"),
        "spread_quoted_share": float(live.mean()),
    }
    if steps_per_year is not None:
        out["annualised_sharpe"] = out["sharpe_per_step"] * float(np.sqrt(steps_per_year))
    return out


def _pnl_scores(pnl: np.ndarray) -> dict[str, Any]:
    """n_paths, mean_pnl, mean_pnl_se, std_pnl, std_pnl_se and sharpe of the per-path P&L ``pnl`` (P,)."""
    p = pnl.shape[0]
    std = float(pnl.std(ddof=1)) if p > 1 else 0.0
    mean = float(pnl.mean())
    return {
        "n_paths": int(p),
        "mean_pnl": mean,
        "mean_pnl_se": std / np.sqrt(p) if p > 1 else float("nan"),
        "std_pnl": std,
        "std_pnl_se": std / np.sqrt(2.0 * (p - 1)) if p > 1 else float("nan"),
        "sharpe": mean / std if std > 0 else float("nan"),
    }


def _final_q_scores(final_q: np.ndarray) -> dict[str, float]:
    """final_q_mean and final_q_std (ddof 1) of the per-path final inventory ``final_q`` (P,)."""
    p = final_q.shape[0]
    return {
        "final_q_mean": float(final_q.mean()),
        "final_q_std": float(final_q.std(ddof=1)) if p > 1 else 0.0,
    }


def summarize_totals(tot) -> dict[str, Any]:
    """The scores of :func:`summarize` that per-path totals determine (:class:`mmenv.envs.rollout.RolloutTotals`).

    Returns n_paths, mean_pnl, mean_pnl_se, std_pnl, std_pnl_se, sharpe, final_q_mean, final_q_std,
    n_fills (mean fills per path), mean_spread (mean quoted ask - bid over the steps with both sides quoted),
    spread_quoted_share and clipped_quote_share (share of the quotes, bid and ask apart, below the linear
    fill model's clipping depth).
    """
    quoted = float(tot.quoted.sum())
    steps = tot.num_paths * tot.n_steps
    return {
        **_pnl_scores(tot.pnl),
        **_final_q_scores(tot.final_q),
        "n_fills": float(tot.fills.mean()),
        "mean_spread": float(tot.spread_sum.sum() / quoted) if quoted > 0 else float("nan"),
        "spread_quoted_share": quoted / steps if steps else float("nan"),
        "clipped_quote_share": float(tot.clipped.sum()) / (2 * steps) if steps else float("nan"),
    }


def summarize_rollout(ro, steps_per_year: float | None = None) -> dict[str, Any]:
    """:func:`summarize` on a :class:`mmenv.envs.rollout.Rollout`."""
    return summarize(ro.equity, ro.inventory, ro.bought, ro.sold, ro.bid, ro.ask, steps_per_year)


# ------------------------------------------------------------------------------------------ attribution
@dataclass
class Attribution:
    """P&L attribution of one run (price units).

    Attributes:
        total: final minus initial equity. spread: spread capture. inventory: inventory P&L.
        fees: fees paid (subtracted). adverse_selection: {horizon: markout P&L of the fills at that horizon}.
        n_fills: number of fills. cum_time, cum_spread, cum_inventory, cum_fees: the timeline's times and the
            cumulative components along it (for the stacked plot); the merged timeline of fills and states.
    """

    total: float
    spread: float
    inventory: float
    fees: float
    adverse_selection: dict[float, float]
    n_fills: int
    cum_time: np.ndarray = field(repr=False)
    cum_spread: np.ndarray = field(repr=False)
    cum_inventory: np.ndarray = field(repr=False)
    cum_fees: np.ndarray = field(repr=False)

    @property
    def residual(self) -> float:
        """total - (spread + inventory - fees): zero to rounding."""
        return self.total - (self.spread + self.inventory - self.fees)

    def inventory_residual(self, horizon: float) -> float:
        """Inventory P&L not explained by the markout at ``horizon``."""
        return self.inventory - self.adverse_selection[horizon]


def _check_records(fills: np.ndarray, states: np.ndarray) -> None:
    for name, rec, need in (
        ("fills", fills, ("event", "time", "side", "price", "size", "mid", "fee", "inventory")),
        ("states", states, ("event", "time", "mid", "inventory", "cash", "equity")),
    ):
        names = getattr(getattr(rec, "dtype", None), "names", None) or ()
        missing = [f for f in need if f not in names]
        if missing:
            raise ValueError(f"{name} record lacks field(s) {missing}; use mmenv.records dtypes")
    if len(states) < 1:
        raise ValueError("states must hold at least the initial state")


def mid_at(states: np.ndarray, when: np.ndarray, by: str = "time") -> np.ndarray:
    """Mid of the last state at or before ``when`` (times, or event indices with ``by="events"``).

    Points before the first state get the first state's mid; points after the last get the last mid.
    Times are compared with a slack of 8 ulps (rounding of ``t + h``).
    """
    key = np.asarray(states["time"] if by == "time" else states["event"])
    if by not in ("time", "events"):
        raise ValueError(f"by must be 'time' or 'events', got {by!r}")
    when = np.asarray(when, dtype=np.float64)
    if (
        by == "time"
    ):  # a few ulps of slack: t_fill + h computed as j dt + n dt must find the state at (j + n) dt
        when = when + 8.0 * np.spacing(np.abs(when))
    idx = np.searchsorted(key, when, side="right") - 1
    return np.asarray(states["mid"])[np.clip(idx, 0, len(key) - 1)]


def markouts(
    fills: np.ndarray, states: np.ndarray, horizons: tuple[float, ...] | list[float], by: str = "time"
) -> np.ndarray:
    """Markout P&L of every fill at every horizon, ``side * size * (m(t_fill + h) - m_fill)``, (F, H).

    Args:
        fills, states: records (see :mod:`mmenv.records`). horizons: time units (``by="time"``) or events
            (``by="events"``: the mid of the state ``h`` events after the fill's event).
    """
    h = np.asarray(horizons, dtype=np.float64).reshape(1, -1)
    if (h < 0).any() or not np.isfinite(h).all():
        raise ValueError(f"horizons must be finite and >= 0, got {list(horizons)!r}")
    base = np.asarray(fills["time"] if by == "time" else fills["event"], dtype=np.float64)
    later = mid_at(states, base[:, None] + h, by=by)
    sgn = np.asarray(fills["side"], dtype=np.float64) * np.asarray(fills["size"])
    return sgn[:, None] * (later - np.asarray(fills["mid"])[:, None])


def markout_curve(
    fills: np.ndarray, states: np.ndarray, horizons: tuple[float, ...] | list[float], by: str = "time"
) -> np.ndarray:
    """Mean markout per unit filled at each horizon (price units per unit; negative: adverse selection)."""
    size = float(np.sum(fills["size"]))
    if size == 0.0:
        return np.zeros(len(horizons))
    return markouts(fills, states, horizons, by).sum(axis=0) / size


def attribute(
    fills: np.ndarray,
    states: np.ndarray,
    horizons: tuple[float, ...] | list[float] = (),
    by: str = "time",
) -> Attribution:
    """Split the equity change of a run into spread capture, inventory P&L and fees; markouts per horizon.

    The timeline merges fills and states by event (fills first within an event): q is piecewise constant
    between its points, so ``sum q_k (m_{k+1} - m_k)`` over it is the exact inventory P&L (module docstring).
    """
    _check_records(fills, states)
    f_ev = np.asarray(fills["event"])
    s_ev = np.asarray(states["event"])
    ev = np.concatenate([f_ev, s_ev])
    kind = np.concatenate([np.zeros(len(f_ev), np.int8), np.ones(len(s_ev), np.int8)])
    order = np.lexsort((kind, ev))
    mid = np.concatenate([np.asarray(fills["mid"]), np.asarray(states["mid"])])[order]
    q = np.concatenate([np.asarray(fills["inventory"]), np.asarray(states["inventory"])])[order]
    tm = np.concatenate([np.asarray(fills["time"]), np.asarray(states["time"])])[order]
    # The first point must be the initial state (event -1): q before any fill.
    if order.size and order[0] != len(f_ev):
        raise ValueError("the first state (event -1) must precede every fill")
    side = np.asarray(fills["side"], dtype=np.float64)
    spread_f = side * (np.asarray(fills["mid"]) - np.asarray(fills["price"])) * np.asarray(fills["size"])
    fee_f = np.asarray(fills["fee"], dtype=np.float64)
    inv_inc = np.zeros(mid.size)
    inv_inc[1:] = q[:-1] * np.diff(mid)
    sp_inc = np.zeros(mid.size)
    fee_inc = np.zeros(mid.size)
    pos = np.empty(mid.size, dtype=np.int64)
    pos[order] = np.arange(mid.size)
    sp_inc[pos[: len(f_ev)]] = spread_f
    fee_inc[pos[: len(f_ev)]] = fee_f
    eq = np.asarray(states["equity"])
    adverse = {}
    if len(horizons):
        mk = markouts(fills, states, horizons, by).sum(axis=0)
        adverse = {float(h): float(v) for h, v in zip(horizons, mk, strict=True)}
    return Attribution(
        total=float(eq[-1] - eq[0]),
        spread=float(spread_f.sum()),
        inventory=float(inv_inc.sum()),
        fees=float(fee_f.sum()),
        adverse_selection=adverse,
        n_fills=len(f_ev),
        cum_time=tm,
        cum_spread=np.cumsum(sp_inc),
        cum_inventory=np.cumsum(inv_inc),
        cum_fees=np.cumsum(fee_inc),
    )


def rollout_records(ro, path: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fill and state records of one path of a :class:`mmenv.envs.rollout.Rollout` (step j = event j).

    Fills of step j are at time ``j dt`` and the mid ``m_j`` they were quoted at; the state of step j is at
    ``(j + 1) dt`` with the mid ``m_{j+1}`` after the move (the env's order: quote, fill, move).
    """
    if not 0 <= path < ro.num_paths:
        raise ValueError(f"path must lie in [0, {ro.num_paths}), got {path!r}")
    return records_from_arrays(
        float(ro.dt),
        ro.mid[path],
        ro.inventory[path],
        ro.cash[path],
        ro.bid[path],
        ro.ask[path],
        ro.bought[path],
        ro.sold[path],
        ro.fees[path],
        fee_per_unit=float(getattr(ro, "fee_per_unit", 0.0)),
        fee_rate=float(getattr(ro, "fee_rate", 0.0)),
    )


def attribute_rollout(ro, horizons_steps: tuple[int, ...] = (1, 5, 20)) -> dict[str, np.ndarray]:
    """Per-path attribution of env episodes, vectorised over paths (the same identities as :func:`attribute`).

    Returns:
        Arrays of shape (P,): total, spread, inventory, fees, and ``adverse_<n>`` for each horizon of n steps
        (markout ``side * size * (m_{j+n} - m_j)`` of the fills of step j, the mid clamped at the last step).
    """
    mid, q = ro.mid, ro.inventory
    s = ro.bought.shape[1]
    bought, sold = ro.bought, ro.sold
    m0 = mid[:, :-1]
    with np.errstate(invalid="ignore"):
        spread = np.where(bought > 0, bought * (m0 - ro.bid), 0.0) + np.where(
            sold > 0, sold * (ro.ask - m0), 0.0
        )
    inv = q[:, 1:] * np.diff(mid, axis=1)
    out = {
        "total": ro.equity[:, -1] - ro.equity[:, 0],
        "spread": spread.sum(axis=1),
        "inventory": inv.sum(axis=1),
        "fees": ro.fees.sum(axis=1),
    }
    j = np.arange(s)
    for n in horizons_steps:
        later = mid[:, np.minimum(j + int(n), s)]
        out[f"adverse_{n}"] = ((bought - sold) * (later - m0)).sum(axis=1)
    return out


# ----------------------------------------------------------------------------------------- risk metrics
def sharpe_ratio(
    time: np.ndarray, equity: np.ndarray, interval: float, periods_per_year: float | None = None
) -> float:
    """Sharpe ratio of equity increments on a grid of ``interval`` time units (no risk-free rate).

    The equity is sampled (last value at or before each grid time) at ``t_0 + j * interval``; the ratio is
    mean / std (ddof=1) of the increments, times ``sqrt(periods_per_year / interval)`` if ``periods_per_year``
    (time units per year, e.g. 252 * 6.5 for hours of a US session year) is given. NaN with < 2 increments.
    """
    if not (interval > 0 and math.isfinite(interval)):
        raise ValueError(f"interval must be > 0, got {interval!r}")
    time = np.asarray(time, dtype=np.float64)
    equity = np.asarray(equity, dtype=np.float64)
    grid = np.arange(time[0], time[-1] + 0.5 * interval, interval)
    idx = np.clip(np.searchsorted(time, grid, side="right") - 1, 0, len(time) - 1)
    return sharpe_from_grid(equity[idx], interval, periods_per_year)


def sharpe_from_grid(
    equity_on_grid: np.ndarray, interval: float, periods_per_year: float | None = None
) -> float:
    """The Sharpe ratio of :func:`sharpe_ratio` from the equity already sampled on its grid."""
    inc = np.diff(np.asarray(equity_on_grid, dtype=np.float64))
    if inc.size < 2 or inc.std(ddof=1) == 0:
        return float("nan")
    sr = float(inc.mean() / inc.std(ddof=1))
    if periods_per_year is not None:
        sr *= math.sqrt(periods_per_year / interval)
    return sr


def max_drawdown(equity: np.ndarray, capital: float | None = None) -> tuple[float, float]:
    """(absolute, relative) maximum drawdown of one equity curve.

    Absolute: ``max_t (max_{u<=t} W_u - W_t)`` (price units). Relative: ``max_t (peak_t - W_t) / peak_t`` with
    the wealth ``capital + W - W_0`` (capital > 0); without capital, abs / (max W - min W) (0 if flat).
    """
    w = np.asarray(equity, dtype=np.float64)
    peak = np.maximum.accumulate(w)
    dd = peak - w
    mdd = float(dd.max()) if dd.size else 0.0
    if capital is not None:
        if not capital > 0:
            raise ValueError(f"capital must be > 0, got {capital!r}")
        wealth_peak = capital + peak - w[0]
        return mdd, float((dd / wealth_peak).max())
    rng = float(w.max() - w.min()) if w.size else 0.0
    return mdd, (mdd / rng if rng > 0 else 0.0)


def _time_weights(time: np.ndarray) -> np.ndarray:
    w = np.diff(np.asarray(time, dtype=np.float64))
    return np.append(w, 0.0)


def risk_metrics(
    result,
    interval: float | None = None,
    periods_per_year: float | None = None,
    capital: float | None = None,
) -> dict[str, float]:
    """Risk metrics of one backtest (:class:`mmenv.backtest.BacktestResult`), see the module docstring.

    Args:
        result: the backtest. interval: Sharpe sampling interval (time units; default: the run's duration
            / 100). periods_per_year: time units per year for the annualised Sharpe. capital: for the relative
            drawdown.
    """
    st, fl = result.states, result.fills
    t = np.asarray(st["time"])
    eq = np.asarray(st["equity"])
    q = np.asarray(st["inventory"])
    duration = float(t[-1] - t[0])
    if interval is None:
        interval = duration / 100.0 if duration > 0 else 1.0
    w = _time_weights(t)
    if w.sum() > 0:
        q_mean = float(np.average(q, weights=w))
        q_var = float(np.average((q - q_mean) ** 2, weights=w))
        at_limit = float(np.sum(w * (np.abs(q) + result.order_size > result.q_max + 1e-9)) / w.sum())
    else:
        q_mean, q_var, at_limit = (
            float(q.mean()),
            float(q.var()),
            float(np.mean(np.abs(q) + result.order_size > result.q_max + 1e-9)),
        )
    mdd, mdd_rel = max_drawdown(eq, capital)
    return risk_dict(
        pnl=float(eq[-1] - eq[0]),
        duration=duration,
        sharpe=sharpe_ratio(t, eq, interval, None),
        sharpe_annualised=sharpe_ratio(t, eq, interval, periods_per_year) if periods_per_year else math.nan,
        interval=interval,
        mdd=mdd,
        mdd_rel=mdd_rel,
        q_mean=q_mean,
        q_var=q_var,
        max_abs_q=float(np.abs(q).max()),
        at_limit=at_limit,
        n_fills=len(fl),
        n_quoted=result.n_quoted,
        units=float(np.sum(fl["size"])),
        notional=float(np.sum(np.asarray(fl["size"]) * np.asarray(fl["price"]))),
    )


def risk_dict(
    *,
    pnl: float,
    duration: float,
    sharpe: float,
    sharpe_annualised: float,
    interval: float,
    mdd: float,
    mdd_rel: float,
    q_mean: float,
    q_var: float,
    max_abs_q: float,
    at_limit: float,
    n_fills: int,
    n_quoted: int,
    units: float,
    notional: float,
) -> dict[str, float]:
    """The dict of :func:`risk_metrics` (shared with :mod:`mmenv.analytics.stream`)."""
    return {
        "pnl": float(pnl),
        "duration": float(duration),
        "sharpe": sharpe,
        "sharpe_annualised": sharpe_annualised,
        "sharpe_interval": float(interval),
        "max_drawdown": float(mdd),
        "max_drawdown_rel": float(mdd_rel),
        "inventory_mean": float(q_mean),
        "inventory_var": float(q_var),
        "inventory_std": math.sqrt(q_var),
        "max_abs_q": float(max_abs_q),
        "time_at_limit": float(at_limit),
        "n_fills": float(n_fills),
        "fill_ratio": float(n_fills / n_quoted) if n_quoted else float("nan"),
        "turnover_units": float(units),
        "turnover_notional": float(notional),
        "turnover_per_time": notional / duration if duration > 0 else float("nan"),
    }


def episode_pnls(states: np.ndarray, horizon: float) -> np.ndarray:
    """P&L of consecutive windows of ``horizon`` time units from the first state (the last partial one dropped
    unless it is the only one): equity at each boundary minus the previous (last state at or before it)."""
    t = np.asarray(states["time"])
    eq = np.asarray(states["equity"])
    n = math.floor((t[-1] - t[0]) / horizon + 1e-12)
    if n < 1:
        return np.array([eq[-1] - eq[0]])
    grid = t[0] + horizon * np.arange(n + 1)
    idx = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 1)
    return np.diff(eq[idx])


def summarize_backtest(
    result,
    horizons: tuple[float, ...] = (),
    by: str = "time",
    episode: float | None = None,
    periods_per_year: float | None = None,
    capital: float | None = None,
) -> dict[str, Any]:
    """The report of one backtest: the metrics.json keys, attribution and risk metrics.

    Args:
        result: :class:`mmenv.backtest.BacktestResult`. horizons: markout horizons (the first one gives
            ``adverse_selection_pnl``). by: "time" or "events" horizons. episode: window (time units) over which
            mean_pnl / std_pnl / sharpe are taken (default: the backtest's ``horizon``; the model backtest's
            whole path). periods_per_year, capital: see :func:`risk_metrics`.

    Returns:
        mean_pnl, std_pnl (per episode window), sharpe (mean / std of the episode P&L, not annualised),
        max_drawdown, inventory_std, spread_pnl, inventory_pnl, adverse_selection_pnl, fees, n_fills, and the
        rest of :func:`risk_metrics` and the markouts as ``markout_<h>``.
    """
    att = attribute(result.fills, result.states, horizons, by)
    if episode is None:
        episode = result.config.horizon if result.config is not None else None
    pnls = episode_pnls(result.states, episode) if episode else np.array([result.pnl])
    risk = risk_metrics(result, episode, periods_per_year, capital)
    return summary_dict(att, pnls, risk, result.n_events)


def summary_dict(att: Attribution, pnls: np.ndarray, risk: dict[str, float], n_events: int) -> dict[str, Any]:
    """The dict of :func:`summarize_backtest` (shared with :mod:`mmenv.analytics.stream`)."""
    std = float(pnls.std(ddof=1)) if pnls.size > 1 else float("nan")
    first = next(iter(att.adverse_selection.values()), float("nan"))
    out: dict[str, Any] = {
        "mean_pnl": float(pnls.mean()),
        "std_pnl": std,
        "n_episodes": int(pnls.size),
        "sharpe": float(pnls.mean() / std) if std and std > 0 else float("nan"),
        "max_drawdown": risk["max_drawdown"],
        "inventory_std": risk["inventory_std"],
        "spread_pnl": att.spread,
        "inventory_pnl": att.inventory,
        "adverse_selection_pnl": first,
        "fees": att.fees,
        "n_fills": att.n_fills,
        "total_pnl": att.total,
        "attribution_residual": att.residual,
        "n_events": int(n_events),
    }
    for k, v in risk.items():
        out.setdefault(k if k != "sharpe" else "sharpe_per_interval", v)
    for h, v in att.adverse_selection.items():
        out[f"markout_{h:g}"] = v
    return out
