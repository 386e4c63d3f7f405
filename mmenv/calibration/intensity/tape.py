"""Market orders and the half-spread path in time: the tape that time splits, per-hour fits and the
rolling estimator cut into windows.

An :class:`IntensityTape` holds each order's time, reach depth and the half-spread in force (as
:meth:`mmenv.calibration.trades.TradesAndQuotes.depth_sample` measures them) and the quote path as
piecewise-constant segments (start time, half-spread, mid). :meth:`IntensityTape.window` turns any
time window into the :class:`mmenv.calibration.DepthSample` of the likelihood, with the exposure
(seconds per half-spread level) of that window only. :func:`simulate_tape` draws a tape from any
law of :mod:`mmenv.calibration.intensity.models` with a known spread path (the synthetic checks).

Times in seconds from the start of the tape; depths and half-spreads in price units.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmenv.calibration import DepthSample
from mmenv.calibration.intensity.models import IntensityLaw, make_law

__all__ = ["REFERENCE_LEVELS", "REFERENCE_TICK", "IntensityTape", "reference_law", "simulate_tape"]

REFERENCE_TICK = 0.01
REFERENCE_LEVELS = (0.005, 0.015, 0.025)


def reference_law(name: str) -> tuple[IntensityLaw, np.ndarray]:
    """A law of each kind with equity-like parameters on a 0.01 tick (the synthetic checks and the
    benchmark): exponential A = 3 /s, k = 60 per price unit; power law A = 3 /s, d0 = 0.01, alpha =
    1.5; two-part at c_ref = 0.015: A = 0.5 /s, beta = 40, p = 0.1, k = 30. Returns (law, theta)."""
    if name == "exponential":
        return make_law(name), np.log([3.0, 60.0])
    if name == "power_law":
        return make_law(name), np.log([3.0, 0.01, 1.5])
    law = make_law(name, tick=REFERENCE_TICK, c_ref=0.015)
    return law, law.to_theta([0.5, 40.0, 0.1, 30.0])


def _f64(name: str, v: Any) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if not np.isfinite(a).all():
        i = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{name} must be finite, got {name}[{i}] = {a[i]!r}")
    return a


@dataclass(frozen=True)
class IntensityTape:
    """Orders and the piecewise-constant quote path over [0, end_s].

    Attributes:
        order_t, order_d, order_c: (n,) order times (s, sorted), reach depths and half-spreads.
        order_side: (n,) aggressor side (+1 / -1).
        seg_t: (m,) start times of the quote segments (s, sorted, seg_t[0] = 0); each lasts until
            the next start (the last until end_s).
        seg_c: (m,) half-spread of each segment; seg_mid: (m,) mid of each segment.
        end_s: end of the tape (s); sides: book sides pooled; tick: tick size or None.
        origin_s: clock time of t = 0 in the source's convention (for labels).
        source: description of the origin.
    """

    order_t: np.ndarray
    order_d: np.ndarray
    order_c: np.ndarray
    order_side: np.ndarray
    seg_t: np.ndarray
    seg_c: np.ndarray
    seg_mid: np.ndarray
    end_s: float
    sides: int = 2
    tick: float | None = None
    origin_s: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        n = _f64("order_t", self.order_t).size
        for name in ("order_d", "order_c", "order_side"):
            if _f64(name, getattr(self, name)).size != n:
                raise ValueError(f"{name} must have the length of order_t ({n})")
        m = _f64("seg_t", self.seg_t).size
        for name in ("seg_c", "seg_mid"):
            if _f64(name, getattr(self, name)).size != m:
                raise ValueError(f"{name} must have the length of seg_t ({m})")
        if m == 0 or (np.diff(self.seg_t) < 0).any() or (np.diff(self.order_t) < 0).any():
            raise ValueError("seg_t must be non-empty and seg_t, order_t sorted in increasing order")
        if not (math.isfinite(self.end_s) and self.end_s > self.seg_t[0]):
            raise ValueError(
                f"end_s must exceed the first segment start {self.seg_t[0]!r}, got {self.end_s!r}"
            )

    @classmethod
    def from_trades_and_quotes(
        cls, data: Any, *, aggregate: bool = True, sides: int = 2, censor: bool = True
    ) -> IntensityTape:
        """Build the tape from a :class:`mmenv.calibration.trades.TradesAndQuotes` (same depths and
        exclusions as its ``depth_sample``; half-spreads snapped to the half-tick grid)."""
        s = data.depth_sample(aggregate=aggregate, sides=sides, censor=censor)
        t0, t1 = data.window
        q = data.quotes
        qt = q["time"].to_numpy(dtype=np.float64) - t0
        bid, ask = q["bid"].to_numpy(dtype=np.float64), q["ask"].to_numpy(dtype=np.float64)
        half = 0.5 * (ask - bid)
        tick = s.tick
        unit = 0.5 * data.tick if data.tick is not None else None
        if unit is not None:
            half = np.round(half / unit) * unit
        return cls(
            order_t=s.times,
            order_d=s.depths,
            order_c=s.thresholds,
            order_side=s.side,
            seg_t=qt[:-1],
            seg_c=half[:-1],
            seg_mid=0.5 * (bid + ask)[:-1],
            end_s=float(t1 - t0),
            sides=sides,
            tick=tick,
            origin_s=float(t0),
            source=getattr(data, "source", ""),
        )

    @classmethod
    def from_sample(cls, sample: DepthSample, mid: float = 0.0, source: str = "") -> IntensityTape:
        """A tape from a sample with order times and one half-spread level (sources without a quote
        path, e.g. synthetic ticks): the level holds over [0, duration).

        Raises:
            ValueError: the sample has no times or several half-spread levels.
        """
        if sample.times is None or sample.levels.size != 1:
            raise ValueError(
                f"a tape needs order times and one half-spread level without a quote path, got "
                f"times={'None' if sample.times is None else 'given'}, {sample.levels.size} levels"
            )
        o = np.argsort(sample.times, kind="stable")
        return cls(
            order_t=sample.times[o],
            order_d=sample.depths[o],
            order_c=sample.thresholds[o],
            order_side=np.ones(sample.n) if sample.side is None else sample.side[o],
            seg_t=np.zeros(1),
            seg_c=sample.levels.copy(),
            seg_mid=np.array([float(mid)]),
            end_s=sample.duration_s,
            sides=sample.sides,
            tick=sample.tick,
            source=source,
        )

    @property
    def n(self) -> int:
        return int(self.order_t.size)

    def _seg_durations(self, a: float, b: float) -> np.ndarray:
        ends = np.append(self.seg_t[1:], self.end_s)
        return np.clip(np.minimum(ends, b) - np.maximum(self.seg_t, a), 0.0, None)

    def exposure(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        """(levels, seconds) of the half-spread over [a, b)."""
        tau = self._seg_durations(a, b)
        keep = tau > 0
        if not keep.any():
            raise ValueError(f"the window [{a!r}, {b!r}) holds no quoted time")
        levels, inv = np.unique(self.seg_c[keep], return_inverse=True)
        return levels, np.bincount(inv, weights=tau[keep])

    def order_slice(self, a: float, b: float) -> slice:
        """Index range of the orders with a <= t < b."""
        return slice(
            int(np.searchsorted(self.order_t, a, "left")), int(np.searchsorted(self.order_t, b, "left"))
        )

    def window(self, a: float = 0.0, b: float | None = None) -> DepthSample:
        """The likelihood sample of the orders and exposure in [a, b) (b defaults to end_s)."""
        b = self.end_s if b is None else b
        if not b > a:
            raise ValueError(f"the window end must exceed its start, got [{a!r}, {b!r})")
        sl = self.order_slice(a, b)
        levels, seconds = self.exposure(a, b)
        return DepthSample(
            depths=self.order_d[sl],
            thresholds=self.order_c[sl],
            levels=levels,
            seconds=seconds,
            sides=self.sides,
            tick=self.tick,
            times=self.order_t[sl] - a,
            side=self.order_side[sl],
        )

    def mid_path(self, a: float = 0.0, b: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(times, mids) of the quote segments that start in [a, b), preceded by the mid in force at a."""
        b = self.end_s if b is None else b
        i0 = max(int(np.searchsorted(self.seg_t, a, "right")) - 1, 0)
        i1 = int(np.searchsorted(self.seg_t, b, "left"))
        t = np.maximum(self.seg_t[i0:i1], a)
        return t, self.seg_mid[i0:i1]

    def clock_label(self, t: float) -> str:
        """HH:MM of tape time t: seconds after midnight when the origin is below one day (LOBSTER),
        else UTC of epoch seconds."""
        s = self.origin_s + t
        if s < 86_400 * 2:
            s = s % 86_400
            return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}"
        return datetime.datetime.fromtimestamp(s, tz=datetime.timezone.utc).strftime("%H:%M")


def simulate_tape(
    law: IntensityLaw,
    theta: Any,
    duration_s: float,
    rng: np.random.Generator,
    *,
    levels: Any = (0.5,),
    probs: Any = None,
    segment_s: float = 1.0,
    sides: int = 2,
    tick: float | None = 1.0,
    sigma: float = 0.0,
) -> IntensityTape:
    """A tape drawn from ``law`` (theta on its unconstrained scale) with a random half-spread path.

    The half-spread is constant over segments of ``segment_s`` seconds, each drawn from ``levels``
    with ``probs``; in a segment at c, each side receives Poisson(lambda(c | c) tau) orders at
    uniform times, whose reach beyond c comes from ``law.sample_excess`` (floored to the tick grid).
    The mid is an arithmetic Brownian motion of volatility ``sigma`` sampled at the segment starts.
    """
    if not (duration_s > 0 and segment_s > 0):
        raise ValueError(f"duration_s and segment_s must be > 0, got {duration_s!r}, {segment_s!r}")
    theta = np.asarray(theta, dtype=np.float64)
    lv = _f64("levels", levels)
    m = math.ceil(duration_s / segment_s)
    seg_t = segment_s * np.arange(m)
    seg_c = lv[rng.choice(lv.size, size=m, p=probs)]
    tau = np.minimum(seg_t + segment_s, duration_s) - seg_t
    rate = np.exp(law.log_lambda(seg_c, seg_c, theta)[0])
    counts = rng.poisson(sides * rate * tau)
    seg_of = np.repeat(np.arange(m), counts)
    t = seg_t[seg_of] + rng.uniform(size=seg_of.size) * tau[seg_of]
    c = seg_c[seg_of]
    d = c + law.sample_excess(rng, c, theta, tick)
    side = np.where(rng.uniform(size=seg_of.size) < 0.5, 1.0, -1.0)
    o = np.argsort(t, kind="stable")
    mid = 100.0 + np.concatenate([[0.0], np.cumsum(sigma * np.sqrt(tau[:-1]) * rng.standard_normal(m - 1))])
    return IntensityTape(
        order_t=t[o],
        order_d=d[o],
        order_c=c[o],
        order_side=side[o],
        seg_t=seg_t,
        seg_c=seg_c,
        seg_mid=mid,
        end_s=float(duration_s),
        sides=sides,
        tick=tick,
        source=f"synthetic {law.name} tape",
    )
