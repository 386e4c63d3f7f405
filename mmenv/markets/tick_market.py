"""A market source that replays a synthetic tick stream (the :class:`mmenv.markets.Market` interface).

:class:`TickMarket` drives the simulation core with trades synthesized from 1-minute bars by
:func:`mmenv.data.ticks.synthesize_ticks`, instead of the Avellaneda-Stoikov model market. Each of the
N paths replays the same stream from its own starting point, drawn uniformly among the trades in
``reset`` (from the caller's generator), so that a whole episode fits in the stream.

Clock and units. The stream runs on the trading clock of :class:`mmenv.data.ticks.Ticks` (seconds of
regular-session time; the overnight gap is a jump of the mid between two consecutive bars). The
market's time unit is ``time_unit_seconds`` seconds (default 3600: an hour, so that the AS
defaults T = 1, dt = 0.005 mean one-hour episodes of 18-second decisions, and NVDA-like sigma and A
come out near the paper's values). ``dt``, ``sigma`` (price / sqrt(time unit)) and ``A`` (trades
per time unit per side) are expressed in it.

One decision interval ``(t, t + dt]`` on a path, with ``m`` the mid at t (the mid of the last
trade at or before t):

* ``reach_ask = max(price of buyer-initiated trades in the interval) - m`` (the depth of an ask
  that the deepest buyer would have lifted); ``reach_bid = m - min(price of seller-initiated
  trades)``; ``-inf`` on a side without trades. The core fills an ask at depth delta iff
  ``reach_ask >= delta`` (mmenv.markets).
* the mid moves to the mid of the last trade at or before ``t + dt``;
* ``sigma`` becomes the causal estimate of the trade's bar (below).

The stream's own depths follow ``lambda(d) = A exp(-k d)`` measured from each trade's own mid; the
reach above is measured from the mid at quote time, so over an interval in which the mid moves
the fill intensity of a fixed quote departs from the AS formula by the mid's move: that is the
point of running on ticks rather than on the model.

Volatility estimate: ``sigma`` at a trade of bar i is the EWMA (RiskMetrics, decay ``sigma_lam``
per bar) of the squared intrabar mid changes ``(close_j - open_j)^2`` of bars ``j < i`` divided
by the bar length, i.e. an estimate of ``E[(dS)^2] / dt`` in price^2 per second, converted to the
time unit; it uses only bars completed before the trade (the first bar uses the mean of the first
``init`` bars: a look-ahead confined to the stream's first minutes). Overnight gaps are excluded.

Everything per step is numpy on (N,) arrays: two ``searchsorted`` over the trade clock and one
gather of at most ``K`` trades per path, ``K`` the largest number of trades in any path's interval
this step (no Python loop over trades or paths).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from mmenv.data.bars.synthetic import synthetic_bars
from mmenv.data.ticks import Ticks, ewma_vol, synthesize_ticks

if TYPE_CHECKING:
    import pandas as pd

    from mmenv.config import MarketParams

__all__ = ["TickMarket"]

_GATHER_CHUNK = 1 << 22  # elements per gather block (bounds memory at large N * K)


class TickMarket:
    """Replay of a synthetic tick stream as a market source for the core.

    Args:
        ticks: the trade stream (from :func:`mmenv.data.ticks.synthesize_ticks`).
        num_paths: N >= 1.
        dt: decision interval in time units (> 0).
        n_steps: decision steps per episode (>= 1).
        time_unit_seconds: length of the time unit in seconds (> 0).
        sigma_lam: EWMA decay per bar of the volatility estimate, in (0, 1).

    Attributes:
        num_paths, dt, n_steps, mid, sigma, s0: the :class:`mmenv.markets.Market` interface.
        A: trades per time unit per side of the stream (``ticks.A * time_unit_seconds``).
        k: depth decay of the stream (per price unit).
        ticks: the stream. t: (N,) current trading-clock time of each path (seconds).
        start_index: (N,) index of the trade each path's episode started at.

    Raises:
        ValueError: a bad argument, or a stream shorter than one episode.
    """

    def __init__(
        self,
        ticks: Ticks,
        num_paths: int = 1,
        *,
        dt: float,
        n_steps: int,
        time_unit_seconds: float = 3600.0,
        sigma_lam: float = 0.94,
    ) -> None:
        if not isinstance(ticks, Ticks):
            raise TypeError(f"ticks must be a mmenv.data.ticks.Ticks, got {type(ticks).__name__}")
        if isinstance(num_paths, bool) or int(num_paths) != num_paths or num_paths < 1:
            raise ValueError(f"num_paths must be an integer >= 1, got {num_paths!r}")
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be > 0, got {dt!r}")
        if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
            raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
        if not (math.isfinite(time_unit_seconds) and time_unit_seconds > 0):
            raise ValueError(f"time_unit_seconds must be > 0, got {time_unit_seconds!r}")
        if len(ticks) < 2:
            raise ValueError(f"ticks must hold at least 2 trades, got {len(ticks)}")
        self.ticks = ticks
        self.num_paths = int(num_paths)
        self.dt = float(dt)
        self.n_steps = int(n_steps)
        self.time_unit_seconds = float(time_unit_seconds)
        self.dt_seconds = self.dt * self.time_unit_seconds
        self.episode_seconds = self.n_steps * self.dt_seconds
        self.A = float(ticks.A) * self.time_unit_seconds
        self.k = float(ticks.k)

        clock = ticks.clock
        self._clock = clock
        self._mid = ticks.mid
        self._buy_px = np.where(ticks.side > 0, ticks.price, -np.inf)
        self._sell_px = np.where(ticks.side < 0, ticks.price, np.inf)
        self._n_starts = int(np.searchsorted(clock, clock[-1] - self.episode_seconds, "right"))
        if self._n_starts < 1:
            raise ValueError(
                f"the tick stream covers {clock[-1] - clock[0]:.0f} s of trading time, less than "
                f"one episode (n_steps * dt = {self.episode_seconds:.0f} s); use more bars or a "
                "shorter episode"
            )
        self._sigma_tick = self._bar_sigma(ticks, sigma_lam)[ticks.bar] * math.sqrt(self.time_unit_seconds)
        n = self.num_paths
        self.start_index = np.zeros(n, dtype=np.int64)
        self.t = np.full(n, clock[0])
        self._last = np.zeros(n, dtype=np.int64)
        self.mid = np.full(n, self._mid[0])
        self.s0 = self.mid.copy()
        self.sigma = np.full(n, self._sigma_tick[0])

    @staticmethod
    def _bar_sigma(ticks: Ticks, lam: float) -> np.ndarray:
        """Per-bar causal sigma (price / sqrt(second)) from the intrabar mid changes of earlier bars."""
        if not 0.0 < lam < 1.0:
            raise ValueError(f"sigma_lam must be in (0, 1), got {lam!r}")
        first, end = ticks.bar_start[:-1], ticks.bar_start[1:]
        has = end > first
        change = np.full(len(first), np.nan)
        change[has] = ticks.mid[end[has] - 1] - ticks.mid[first[has]]
        vol = np.asarray(ewma_vol(change, lam))  # through bar i, per bar
        out = np.empty_like(vol)
        out[1:] = vol[:-1]  # known before bar i starts
        out[0] = vol[0]
        return out / math.sqrt(ticks.bar_seconds)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_bars(
        cls,
        bars: pd.DataFrame,
        num_paths: int = 1,
        *,
        dt_seconds: float = 18.0,
        episode_seconds: float = 3600.0,
        seed: int = 0,
        time_unit_seconds: float = 3600.0,
        ticks_per_bar: tuple[int, int] = (10, 20),
        k: float = 50.0,
        half_spread: float = 0.005,
        sigma_lam: float = 0.94,
    ) -> TickMarket:
        """Synthesize ticks from ``bars`` (seeded) and build the market over them.

        Args:
            bars: validated 1-minute bars (see :mod:`mmenv.data`).
            num_paths: N.
            dt_seconds: decision interval in seconds; ``episode_seconds / dt_seconds`` must be an
                integer.
            episode_seconds: episode length in trading seconds.
            seed: seed of the tick synthesis (the stream is fixed; episode starts are drawn from
                the generator passed to ``reset``).
            time_unit_seconds, sigma_lam: see the class.
            ticks_per_bar, k, half_spread: passed to :func:`mmenv.data.ticks.synthesize_ticks`.
        """
        n = episode_seconds / dt_seconds
        if not (math.isfinite(n) and n >= 1 and abs(n - round(n)) <= 1e-9 * n):
            raise ValueError(
                f"episode_seconds / dt_seconds must be a whole number of steps >= 1, got "
                f"{episode_seconds!r} / {dt_seconds!r}"
            )
        ticks = synthesize_ticks(bars, ticks_per_bar, seed, k=k, half_spread=half_spread)
        return cls(
            ticks,
            num_paths,
            dt=dt_seconds / time_unit_seconds,
            n_steps=round(n),
            time_unit_seconds=time_unit_seconds,
            sigma_lam=sigma_lam,
        )

    @classmethod
    def from_params(
        cls,
        params: MarketParams,
        num_paths: int = 1,
        *,
        bars: pd.DataFrame | None = None,
        ticks: Ticks | None = None,
        time_unit_seconds: float = 3600.0,
        tick_seed: int = 0,
        ticks_per_bar: tuple[int, int] = (10, 20),
        tick_k: float = 50.0,
        half_spread: float = 0.005,
        synthetic_days: int = 20,
        sigma_lam: float = 0.94,
        **unknown: Any,
    ) -> TickMarket:
        """Build the market for ``gymnasium.make(..., market="ticks")``.

        Only ``params.T`` and ``params.dt`` are used (in units of ``time_unit_seconds``); the
        mid, sigma, A and k come from the stream (``params.s0, sigma, A, k, mu, mid_model,
        fill_model`` are ignored).

        Args:
            params: the market parameters (T, dt).
            num_paths: N.
            bars: 1-minute bars; default: ``mmenv.data.synthetic_bars(synthetic_days, tick_seed)``.
            ticks: an already synthesized stream (then ``bars`` must be None).
            time_unit_seconds: seconds per time unit of T and dt (default 3600: T = 1 is an hour).
            tick_seed: seed of the synthetic bars (if used) and of the tick synthesis.
            ticks_per_bar, tick_k, half_spread: passed to :func:`mmenv.data.ticks.synthesize_ticks`.
            synthetic_days: sessions of synthetic bars when ``bars`` is None.
            sigma_lam: see the class.
        """
        if unknown:
            raise ValueError(f"unknown arguments for market='ticks': {sorted(unknown)}")
        if ticks is not None and bars is not None:
            raise ValueError("give bars or ticks, not both")
        if ticks is None:
            if bars is None:
                bars = synthetic_bars(synthetic_days, tick_seed)
            ticks = synthesize_ticks(bars, ticks_per_bar, tick_seed, k=tick_k, half_spread=half_spread)
        return cls(
            ticks,
            num_paths,
            dt=float(params.dt),
            n_steps=params.n_steps,
            time_unit_seconds=time_unit_seconds,
            sigma_lam=sigma_lam,
        )

    # ------------------------------------------------------------------ the Market interface
    def reset(self, rng: np.random.Generator, mask: np.ndarray | None = None) -> None:
        """Start the paths in ``mask`` (all if None) at trades drawn uniformly from the stream.

        Draws ``rng.integers(0, n_starts, size=number of paths reset)``: the start trades among
        those leaving a whole episode of stream after them.
        """
        if mask is None:
            idx = np.arange(self.num_paths)
        else:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (self.num_paths,):
                raise ValueError(f"mask must have shape ({self.num_paths},), got {mask.shape}")
            idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return
        start = rng.integers(0, self._n_starts, size=len(idx))
        self.start_index[idx] = start
        self._last[idx] = start
        self.t[idx] = self._clock[start]
        self.mid[idx] = self._mid[start]
        self.s0[idx] = self._mid[start]
        self.sigma[idx] = self._sigma_tick[start]

    def advance(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Replay ``(t, t + dt]`` on every path; return ``(reach_bid, reach_ask)``.

        Uses no randomness (``rng`` is accepted for the interface). Past the end of the stream the
        interval is empty: no trades, the mid stays.
        """
        t_end = self.t + self.dt_seconds
        lo = self._last + 1
        hi = np.searchsorted(self._clock, t_end, "right")
        hi = np.maximum(hi, lo)
        reach_bid, reach_ask = self._window_extremes(lo, hi)
        mid_before = self.mid
        reach_ask -= mid_before
        reach_bid = mid_before - reach_bid
        last = hi - 1
        self._last = last
        self.t = t_end
        self.mid = self._mid[last]
        self.sigma = self._sigma_tick[last]
        return reach_bid, reach_ask

    def _window_extremes(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(min seller price, max buyer price) over trades ``[lo, hi)`` per path (+inf / -inf if none)."""
        n = len(lo)
        count = hi - lo
        kmax = int(count.max()) if n else 0
        min_sell = np.full(n, np.inf)
        max_buy = np.full(n, -np.inf)
        if kmax == 0:
            return min_sell, max_buy
        last = len(self._clock) - 1
        rows = max(1, _GATHER_CHUNK // kmax)
        offs = np.arange(kmax)
        for s in range(0, n, rows):  # one block unless N * K > 4M elements
            e = min(n, s + rows)
            idx = lo[s:e, None] + offs
            valid = offs < count[s:e, None]
            np.minimum(idx, last, out=idx)
            sell = np.where(valid, self._sell_px[idx], np.inf)
            buy = np.where(valid, self._buy_px[idx], -np.inf)
            min_sell[s:e] = sell.min(axis=1)
            max_buy[s:e] = buy.max(axis=1)
        return min_sell, max_buy
