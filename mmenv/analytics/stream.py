"""Backtest scores computed while the backtest runs, batch by batch, in memory that does not grow with the stream.

:class:`StreamingSummary` is a *record sink* for :func:`mmenv.backtest.backtest` (``sink=``): instead of
keeping every fill and every state, the loop hands it the records of consecutive event ranges each time its
buffers fill (fills and states of the same events, in event order) and forgets them. It computes the numbers
of :func:`mmenv.analytics.summarize_backtest`, :func:`mmenv.analytics.markout_curve` and
:func:`mmenv.analytics.attribute` with the same definitions (see :mod:`mmenv.analytics`); they equal the
full-record results up to the rounding of summing in another order (tested against them):

* fills: spread capture ``side (m_fill - price) size``, fees, units and notional traded, the fill count;
* the merged timeline of fills and states (fills first within an event): the inventory P&L
  ``sum q_k (m_{k+1} - m_k)``, carrying the last point from one batch to the next;
* states: the running peak of equity and the max drawdown, the equity range, max |q|, the time-weighted mean
  and variance of the inventory (weights: time to the next state; batches merged with the pairwise update of
  Chan, Golub and LeVeque 1979) and the share of time at the inventory limit;
* the equity at the episode grid ``t_0 + j * episode`` (episode P&L, Sharpe) and at the grid of the
  interval Sharpe ratio (``numpy.arange(t_0, t_end + interval / 2, interval)``): each grid time is resolved to
  the last state at or before it as soon as a later state has been seen;
* markouts: each fill waits until a state later than ``t_fill + h`` has been seen, then takes the mid of the
  last state at or before ``t_fill + h`` (the rule and slack of :func:`mmenv.analytics.mid_at`).

Memory: one record buffer, the equity at the grid points, the fills of the last markout horizon still
pending, and a sample of the states for the figures: every ``stride``-th state (the stride doubles whenever
more than ``2 * max_points`` are kept) plus the last one, each with the cumulative attribution at that state.
The figures drawn from the sample are exact at its points; :attr:`StreamingSummary.sampling` states it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mmenv.analytics.scores import Attribution, risk_dict, sharpe_from_grid, summary_dict
from mmenv.records import STATE_DTYPE

__all__ = ["StreamingSummary"]


def _with_prev(prev: tuple[float, float] | None, key: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, ...]:
    """(key, val) with the point ``prev`` (the previous batch's last state) in front, if any."""
    if prev is None:
        return key, val
    return np.concatenate(([prev[0]], key)), np.concatenate(([prev[1]], val))


def _last_at_or_before(key: np.ndarray, val: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Value of the last point at or before each of ``when`` (the first point's before them all)."""
    idx = np.searchsorted(key, when, side="right") - 1
    return val[np.clip(idx, 0, len(key) - 1)]


class _Grid:
    """Equity at a grid of times ``time_of(j)``, j = 0, 1, ... (non-decreasing), resolved as states arrive."""

    def __init__(self, t0: float, step: float, time_of) -> None:
        self.t0, self.step, self.time_of = t0, step, time_of
        self.j = 0  # next unresolved grid index
        self.parts: list[np.ndarray] = []

    def resolve(self, key: np.ndarray, eq: np.ndarray) -> None:
        """Resolve the grid times strictly before the last state of this batch (no later state can change
        them); ``key``, ``eq``: times and equity of the previous batch's last state and this batch's states."""
        t_last = float(key[-1])
        j_max = math.floor((t_last - self.t0) / self.step) + 2
        if j_max <= self.j:
            return
        g = self.time_of(np.arange(self.j, j_max, dtype=np.float64))
        g = g[g < t_last]
        if g.size:
            self.parts.append(_last_at_or_before(key, eq, g))
            self.j += g.size

    def values(self, count: int, eq_last: float) -> np.ndarray:
        """The equity at grid points 0..count-1; points not resolved lie at or after the last state."""
        got = np.concatenate(self.parts) if self.parts else np.zeros(0)
        if got.size >= count:
            return got[:count]
        return np.concatenate([got, np.full(count - got.size, eq_last)])


class StreamingSummary:
    """Scores of one backtest computed from its records as they stream in (see the module docstring).

    Args:
        config: the run's :class:`mmenv.backtest.BacktestConfig` (order size and limit for the time at the
            limit; ``horizon`` is the default episode).
        horizons: markout horizons (time units, or events with ``by="events"``); the first one gives
            ``adverse_selection_pnl``. episode: window of the episode P&L and of the interval Sharpe ratio
            (time units; default ``config.horizon``). periods_per_year, capital: see
            :func:`mmenv.analytics.risk_metrics`. max_points: states kept for the figures (about 1 to 2 times).

    Use: ``s = StreamingSummary(cfg, hz); res = backtest(policy, stream, cfg, sink=s); s.summary(res)``.
    """

    def __init__(
        self,
        config: Any,
        horizons: tuple[float, ...] | list[float] = (),
        *,
        by: str = "time",
        episode: float | None = None,
        periods_per_year: float | None = None,
        capital: float | None = None,
        max_points: int = 5000,
    ) -> None:
        if by not in ("time", "events"):
            raise ValueError(f"by must be 'time' or 'events', got {by!r}")
        h = np.asarray(horizons, dtype=np.float64)
        if (h < 0).any() or not np.isfinite(h).all():
            raise ValueError(f"horizons must be finite and >= 0, got {list(horizons)!r}")
        episode = float(config.horizon if episode is None else episode)
        if not (episode > 0 and math.isfinite(episode)):
            raise ValueError(f"episode must be > 0, got {episode!r}")
        if capital is not None and not capital > 0:
            raise ValueError(f"capital must be > 0, got {capital!r}")
        if isinstance(max_points, bool) or int(max_points) != max_points or max_points < 2:
            raise ValueError(f"max_points must be an integer >= 2, got {max_points!r}")
        self.horizons = tuple(float(x) for x in h)
        self.by, self.episode, self.ppy, self.capital = by, episode, periods_per_year, capital
        self.order_size, self.q_max = float(config.order_size), float(config.q_max)
        self.max_points = int(max_points)
        # fills
        self.n_fills, self.spread, self.fees, self.units, self.notional = 0, 0.0, 0.0, 0.0, 0.0
        self.size_total = 0.0
        # merged timeline
        self._point: tuple[float, float] | None = None  # (q, mid) of the last timeline point
        self.inventory = 0.0
        self._cum = np.zeros(3)  # cumulative spread, inventory, fees at the last timeline point
        self._last_cum = np.zeros(3)  # ... and at the last state
        # states
        self.n_states = 0
        self._last: np.ndarray | None = None  # the last state (a copy)
        self.t0 = self.eq0 = math.nan
        self._peak = -math.inf
        self.mdd = 0.0
        self.mdd_rel_capital = 0.0
        self.eq_min, self.eq_max, self.max_abs_q = math.inf, -math.inf, 0.0
        self._tw = np.zeros(4)  # time-weighted: weight, mean, M2, weight at the limit
        self._uw = np.zeros(4)  # unweighted: count, mean, M2, count at the limit
        self._grids: tuple[_Grid, _Grid] | None = None
        # markouts: per horizon, pending (target, side * size, fill mid) and the resolved sum
        self._pending = [(np.zeros(0), np.zeros(0), np.zeros(0)) for _ in self.horizons]
        self._markout = np.zeros(len(self.horizons))
        # states sampled for the figures
        self.stride = 1
        self._kept: list[np.ndarray] = []  # (state row, index, cum spread, cum inventory, cum fees) batches
        self._kept_n = 0
        self._done = False

    # ------------------------------------------------------------------------------------------- batches
    def update(self, fills: np.ndarray, states: np.ndarray) -> None:
        """Take the records of the next event range (fills and states of the same events, in order)."""
        if self._done:
            raise RuntimeError("this StreamingSummary has already been summarized; make a new one per run")
        nf, ns = len(fills), len(states)
        if self._point is None and nf and (ns == 0 or states["event"][0] >= fills["event"][0]):
            raise ValueError("the first state (event -1) must precede every fill")
        pos_states = self._timeline(fills, states)
        if nf:
            self._add_fills(fills)
        if ns:
            self._add_states(states, pos_states)

    def _timeline(self, fills: np.ndarray, states: np.ndarray) -> np.ndarray:
        """Merge the batch's fills and states by event; accumulate the attribution; return the cumulative
        (spread, inventory, fees) at each state, shape (ns, 3)."""
        nf, ns = len(fills), len(states)
        if nf + ns == 0:
            return np.zeros((0, 3))
        # both are sorted by event: a fill goes after the states of earlier events, a state after the fills of
        # its own and earlier events (fills first within an event)
        f_ev, s_ev = np.asarray(fills["event"]), np.asarray(states["event"])
        pos = np.concatenate(
            [
                np.arange(nf) + np.searchsorted(s_ev, f_ev, "left"),
                np.arange(ns) + np.searchsorted(f_ev, s_ev, "right"),
            ]
        )
        mid = np.empty(nf + ns)
        q = np.empty(nf + ns)
        mid[pos] = np.concatenate([fills["mid"], states["mid"]])
        q[pos] = np.concatenate([fills["inventory"], states["inventory"]])
        inc = np.zeros((mid.size, 3))
        if self._point is not None:
            inc[0, 1] = self._point[0] * (mid[0] - self._point[1])
        inc[1:, 1] = q[:-1] * np.diff(mid)
        self.inventory += float(inc[:, 1].sum())
        if nf:
            side = fills["side"].astype(np.float64)
            inc[pos[:nf], 0] = side * (fills["mid"] - fills["price"]) * fills["size"]
            inc[pos[:nf], 2] = fills["fee"]
        cum = self._cum + np.cumsum(inc, axis=0)
        self._cum = cum[-1].copy()
        if ns:
            self._last_cum = cum[pos[-1]].copy()
        self._point = (float(q[-1]), float(mid[-1]))
        return cum[pos[nf:]]

    def _add_fills(self, fills: np.ndarray) -> None:
        side = fills["side"].astype(np.float64)
        size, price, mid = fills["size"], fills["price"], fills["mid"]
        self.n_fills += len(fills)
        self.spread += float(np.sum(side * (mid - price) * size))
        self.fees += float(np.sum(fills["fee"]))
        self.units += float(np.sum(size))
        self.notional += float(np.sum(size * price))
        if not self.horizons:
            return
        base = fills["time"] if self.by == "time" else fills["event"].astype(np.float64)
        sgn = side * size
        for i, h in enumerate(self.horizons):
            when = base + h
            if self.by == "time":  # the slack of mid_at
                when = when + 8.0 * np.spacing(np.abs(when))
            t, s, m = self._pending[i]
            self._pending[i] = (np.concatenate([t, when]), np.concatenate([s, sgn]), np.concatenate([m, mid]))

    def _prev(self, field: str) -> tuple[float, float] | None:
        if self._last is None:
            return None
        key = self._last["time"] if self.by == "time" or field == "equity" else self._last["event"]
        return float(key), float(self._last[field])

    def _add_states(self, states: np.ndarray, cum: np.ndarray) -> None:
        t = np.asarray(states["time"], dtype=np.float64)
        eq = np.asarray(states["equity"], dtype=np.float64)
        q = np.asarray(states["inventory"], dtype=np.float64)
        if self._last is None:
            self.t0, self.eq0 = float(t[0]), float(eq[0])
            # numpy.arange(start, stop, step) holds start + j * ((start + step) - start)
            d = (self.t0 + self.episode) - self.t0
            self._grids = (
                _Grid(self.t0, self.episode, lambda j: self.t0 + self.episode * j),
                _Grid(self.t0, self.episode, lambda j: self.t0 + j * d),
            )
        # drawdown, range, inventory extremes
        peak = np.maximum.accumulate(np.concatenate(([self._peak], eq)))[1:]
        dd = peak - eq
        self.mdd = max(self.mdd, float(dd.max()))
        if self.capital is not None:
            self.mdd_rel_capital = max(
                self.mdd_rel_capital, float((dd / (self.capital + peak - self.eq0)).max())
            )
        self._peak = float(peak[-1])
        self.eq_min, self.eq_max = min(self.eq_min, float(eq.min())), max(self.eq_max, float(eq.max()))
        self.max_abs_q = max(self.max_abs_q, float(np.abs(q).max()))
        limit = (np.abs(q) + self.order_size > self.q_max + 1e-9).astype(np.float64)
        _merge(self._uw, np.ones_like(q), q, limit)
        # time weights: the time to the next state (the last state of a batch waits for the next batch)
        if self._last is not None:
            tq = np.concatenate(([self._last["time"]], t))
            qq = np.concatenate(([self._last["inventory"]], q))
            lim = np.concatenate(([float(abs(qq[0]) + self.order_size > self.q_max + 1e-9)], limit))
        else:
            tq, qq, lim = t, q, limit
        _merge(self._tw, np.diff(tq), qq[:-1], lim[:-1])
        # grids and markouts, against the previous batch's last state and this batch
        key_eq = _with_prev(self._prev("equity"), t, eq)
        for g in self._grids:
            g.resolve(*key_eq)
        key = t if self.by == "time" else np.asarray(states["event"], dtype=np.float64)
        key_mid = _with_prev(self._prev("mid"), key, np.asarray(states["mid"], dtype=np.float64))
        for i in range(len(self.horizons)):
            when, sgn, m = self._pending[i]
            k = int(np.searchsorted(when, key[-1], side="left"))  # targets strictly before the last state
            if k:
                later = _last_at_or_before(*key_mid, when[:k])
                self._markout[i] += float(np.sum(sgn[:k] * (later - m[:k])))
                self._pending[i] = (when[k:], sgn[k:], m[k:])
        self._sample(states, cum)
        self._last = states[-1].copy()
        self.n_states += len(states)

    def _sample(self, states: np.ndarray, cum: np.ndarray) -> None:
        keep = np.arange((-self.n_states) % self.stride, len(states), self.stride)
        if keep.size:
            self._kept.append((states[keep], self.n_states + keep, cum[keep]))  # fancy indexing: copies
            self._kept_n += keep.size
        while self._kept_n > 2 * self.max_points:
            self.stride *= 2
            parts = []
            for rows, ix, c in self._kept:
                k = ix % self.stride == 0
                parts.append((rows[k], ix[k], c[k]))
            self._kept = parts
            self._kept_n = sum(len(p[1]) for p in parts)

    # ------------------------------------------------------------------------------------------- results
    def _finish(self) -> None:
        if self._done:
            return
        if self._last is None:
            raise ValueError("no state was recorded: the backtest must run with sink=this summary")
        self._done = True
        mid_last = float(self._last["mid"])
        for i in range(len(self.horizons)):
            _, sgn, m = self._pending[i]
            self._markout[i] += float(np.sum(sgn * (mid_last - m)))
            self._pending[i] = (np.zeros(0), np.zeros(0), np.zeros(0))
        if self._kept and self._kept[-1][1][-1] != self.n_states - 1:
            self._kept.append(
                (self._last.reshape(1), np.array([self.n_states - 1]), self._last_cum.reshape(1, 3))
            )

    @property
    def states(self) -> np.ndarray:
        """The sampled states (:data:`mmenv.records.STATE_DTYPE`), the first and the last included."""
        self._finish()
        return np.concatenate([p[0] for p in self._kept]) if self._kept else np.zeros(0, STATE_DTYPE)

    @property
    def sampling(self) -> str:
        """What the sampled states are, in words (for the figures' notes)."""
        self._finish()
        n = sum(len(p[1]) for p in self._kept)
        if self.stride == 1:
            return f"every recorded state ({n:,} points)"
        return f"one recorded state in {self.stride:,} and the last ({n:,} of {self.n_states:,} points)"

    @property
    def t_last(self) -> float:
        """Time of the last state."""
        self._finish()
        return float(self._last["time"])

    def attribution(self) -> Attribution:
        """The P&L attribution (:class:`mmenv.analytics.Attribution`); its cumulative series are at the
        sampled states (:attr:`states`)."""
        self._finish()
        eq_last = float(self._last["equity"])
        cum = np.concatenate([p[2] for p in self._kept])
        return Attribution(
            total=eq_last - self.eq0,
            spread=self.spread,
            inventory=self.inventory,
            fees=self.fees,
            adverse_selection={h: float(v) for h, v in zip(self.horizons, self._markout, strict=True)},
            n_fills=self.n_fills,
            cum_time=np.asarray(self.states["time"]),
            cum_spread=cum[:, 0],
            cum_inventory=cum[:, 1],
            cum_fees=cum[:, 2],
        )

    def markout_curve(self) -> np.ndarray:
        """Mean markout per unit filled at each horizon (:func:`mmenv.analytics.markout_curve`)."""
        self._finish()
        if self.units == 0.0:
            return np.zeros(len(self.horizons))
        return self._markout / self.units

    def episode_pnls(self) -> np.ndarray:
        """P&L of consecutive episodes (:func:`mmenv.analytics.episode_pnls`)."""
        self._finish()
        eq_last = float(self._last["equity"])
        n = math.floor((self.t_last - self.t0) / self.episode + 1e-12)
        if n < 1:
            return np.array([eq_last - self.eq0])
        return np.diff(self._grids[0].values(n + 1, eq_last))

    def risk(self, result: Any) -> dict[str, float]:
        """:func:`mmenv.analytics.risk_metrics` of the run (interval: the episode)."""
        self._finish()
        eq_last = float(self._last["equity"])
        duration = self.t_last - self.t0
        count = math.ceil((self.t_last + 0.5 * self.episode - self.t0) / self.episode)
        grid = self._grids[1].values(max(count, 0), eq_last)
        w, mean, m2, lim = self._tw if self._tw[0] > 0 else self._uw
        if self.capital is not None:
            mdd_rel = self.mdd_rel_capital
        else:
            rng = self.eq_max - self.eq_min
            mdd_rel = self.mdd / rng if rng > 0 else 0.0
        return risk_dict(
            pnl=eq_last - self.eq0,
            duration=duration,
            sharpe=sharpe_from_grid(grid, self.episode, None),
            sharpe_annualised=sharpe_from_grid(grid, self.episode, self.ppy) if self.ppy else math.nan,
            interval=self.episode,
            mdd=self.mdd,
            mdd_rel=mdd_rel,
            q_mean=float(mean),
            q_var=float(m2 / w),
            max_abs_q=self.max_abs_q,
            at_limit=float(lim / w),
            n_fills=self.n_fills,
            n_quoted=int(result.n_quoted),
            units=self.units,
            notional=self.notional,
        )

    def summary(self, result: Any) -> dict[str, Any]:
        """The metrics of :func:`mmenv.analytics.summarize_backtest` (same keys, same definitions)."""
        return summary_dict(self.attribution(), self.episode_pnls(), self.risk(result), result.n_events)


def _merge(acc: np.ndarray, w: np.ndarray, x: np.ndarray, flag: np.ndarray) -> None:
    """Merge a batch into ``acc = (W, mean, M2, sum w flag)`` (weighted; Chan, Golub and LeVeque 1979)."""
    wb = float(w.sum())
    if wb <= 0:
        return
    mb = float(np.sum(w * x) / wb)
    m2b = float(np.sum(w * (x - mb) ** 2))
    wa, ma = acc[0], acc[1]
    tot = wa + wb
    delta = mb - ma
    acc[1] = ma + delta * wb / tot
    acc[2] = acc[2] + m2b + delta * delta * wa * wb / tot
    acc[0] = tot
    acc[3] += float(np.sum(w * flag))
