"""What the intensity likelihood needs from trade records (:class:`DepthSample`), and simulated samples."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass


MIN_TRADES_DEFAULT = 20


class CalibrationError(RuntimeError):
    """The data cannot identify the parameters, or the optimiser failed."""


def as_1d(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be finite: {int(bad.sum())} non-finite values, first {name}[{i}] = {arr[i]!r}"
        )
    return arr


@dataclass(frozen=True)
class DepthSample:
    """Market orders with their reach depth, and the exposure under which they were observed.

    Attributes:
        depths: (n,) reach depth of each market order from the mid quoted before it (price units,
            >= 0).
        thresholds: (n,) half-spread (touch depth) c(t_i) in force for each order (price units);
            every order satisfies ``depths >= thresholds``.
        levels: (m,) distinct half-spread levels c_s of the exposure (price units).
        seconds: (m,) time spent at each level (seconds, summed over the observation window, one
            side).
        sides: how many book sides the orders pool (2: bid and ask pooled, each with intensity
            lambda).
        tick: price tick h (price units) when depths are on a tick grid (interval-censored); None
            for
            continuous depths.
        times: (n,) optional order times (seconds from the start of the window), for the report.
        side: (n,) optional aggressor side (+1 buyer-initiated, -1 seller-initiated), for the
            report.
        n_excluded: orders removed while building the sample (e.g. below the touch), already warned
            about.
    """

    depths: np.ndarray
    thresholds: np.ndarray
    levels: np.ndarray
    seconds: np.ndarray
    sides: int = 1
    tick: float | None = None
    times: np.ndarray | None = None
    side: np.ndarray | None = None
    n_excluded: int = 0

    def __post_init__(self) -> None:
        d = as_1d("depths", self.depths)
        c = as_1d("thresholds", self.thresholds)
        lv = as_1d("levels", self.levels)
        sec = as_1d("seconds", self.seconds)
        if c.shape != d.shape:
            raise ValueError(f"thresholds must have the shape of depths {d.shape}, got {c.shape}")
        if lv.shape != sec.shape or lv.size == 0:
            raise ValueError(
                f"levels and seconds must be non-empty and of one shape, got {lv.shape}, {sec.shape}"
            )
        if (sec < 0).any() or sec.sum() <= 0:
            raise ValueError(f"seconds must be >= 0 with a positive total, got total {sec.sum()!r}")
        if (lv < 0).any():
            raise ValueError(f"levels must be >= 0, got min {lv.min()!r}")
        if (c < 0).any():
            raise ValueError(f"thresholds must be >= 0, got min {c.min()!r}")
        below = d < c - 1e-12 * np.maximum(1.0, np.abs(c))
        if below.any():
            i = int(np.flatnonzero(below)[0])
            raise ValueError(
                f"depths must be >= thresholds: {int(below.sum())} orders below their touch, first "
                f"depths[{i}] = {d[i]!r} < thresholds[{i}] = {c[i]!r}; build the sample with "
                "DepthSample.build(...), which excludes them with a warning"
            )
        if not isinstance(self.sides, (int, np.integer)) or self.sides < 1:
            raise ValueError(f"sides must be a positive integer, got {self.sides!r}")
        if self.tick is not None and not (math.isfinite(self.tick) and self.tick > 0):
            raise ValueError(f"tick must be > 0 or None, got {self.tick!r}")
        for name in ("times", "side"):
            v = getattr(self, name)
            if v is not None:
                v = as_1d(name, v)
                if v.shape != d.shape:
                    raise ValueError(f"{name} must have the shape of depths {d.shape}, got {v.shape}")
                object.__setattr__(self, name, v)
        if self.n_excluded < 0:
            raise ValueError(f"n_excluded must be >= 0, got {self.n_excluded!r}")
        for name, v in (("depths", d), ("thresholds", c), ("levels", lv), ("seconds", sec)):
            object.__setattr__(self, name, v)

    @classmethod
    def build(
        cls,
        depths: Any,
        duration_s: float | None = None,
        *,
        thresholds: Any = None,
        min_depth: float = 0.0,
        exposure: tuple[Any, Any] | None = None,
        sides: int = 1,
        tick: float | None = None,
        times: Any = None,
        side: Any = None,
    ) -> DepthSample:
        """Build a sample, excluding (with a warning that gives the count) orders below their
        threshold.

        Args:
            depths: reach depth of each order (price units).
            duration_s: observation time (seconds); with ``exposure`` it must equal its total.
            thresholds: per-order touch depth; default ``min_depth`` for all.
            min_depth: the constant threshold c when neither ``thresholds`` nor ``exposure`` is
                given.
            exposure: ``(levels, seconds)``: half-spread levels and the time spent at each.
            sides: number of book sides pooled.
            tick: tick size for interval-censored depths, or None.
            times, side: optional per-order arrays kept for the report.
        """
        d = as_1d("depths", depths)
        if exposure is None:
            if duration_s is None:
                raise ValueError("duration_s is required when exposure is not given, got None")
            if not (math.isfinite(duration_s) and duration_s > 0):
                raise ValueError(f"duration_s must be > 0, got {duration_s!r}")
            if not (math.isfinite(min_depth) and min_depth >= 0):
                raise ValueError(f"min_depth must be >= 0, got {min_depth!r}")
            levels, seconds = np.array([float(min_depth)]), np.array([float(duration_s)])
        else:
            levels, seconds = (
                as_1d("exposure levels", exposure[0]),
                as_1d("exposure seconds", exposure[1]),
            )
            total = float(seconds.sum())
            if duration_s is not None and not math.isclose(total, duration_s, rel_tol=1e-6):
                raise ValueError(f"duration_s must equal the exposure's total {total!r}, got {duration_s!r}")
        c = np.full_like(d, float(levels.min())) if thresholds is None else as_1d("thresholds", thresholds)
        if c.shape != d.shape:
            raise ValueError(f"thresholds must have the shape of depths {d.shape}, got {c.shape}")
        keep = d >= c - 1e-9 * np.maximum(1.0, np.abs(c))
        n_out = int(d.size - keep.sum())
        if n_out:
            warnings.warn(
                f"{n_out} of {d.size} orders lie below their threshold (depth < half-spread, "
                "e.g. hidden liquidity inside the spread or a stale quote) and are excluded "
                "from the fit",
                stacklevel=2,
            )
        extra = {}
        for name, v in (("times", times), ("side", side)):
            extra[name] = None if v is None else as_1d(name, v)[keep]
        return cls(
            depths=np.maximum(d[keep], c[keep]),
            thresholds=c[keep],
            levels=levels,
            seconds=seconds,
            sides=int(sides),
            tick=tick,
            n_excluded=n_out,
            **extra,
        )

    @property
    def n(self) -> int:
        """Number of market orders."""
        return int(self.depths.size)

    @property
    def duration_s(self) -> float:
        """Observation time T (seconds)."""
        return float(self.seconds.sum())

    def exposure(self, k: float) -> tuple[float, float, float]:
        """E(k) = sum_s tau_s exp(-k c_s) and its first two derivatives in k (seconds, per side)."""
        w = self.seconds * np.exp(-k * self.levels)
        return float(w.sum()), float(-(w * self.levels).sum()), float((w * self.levels**2).sum())

    def expected_beyond(self, b: np.ndarray, A: float, k: float) -> np.ndarray:
        """Expected number of observed orders with reach >= b: sides * A * sum_s tau_s exp(-k
        max(b, c_s))."""
        b = np.asarray(b, dtype=np.float64)
        top = np.maximum(b[:, None], self.levels[None, :])
        return self.sides * A * (self.seconds[None, :] * np.exp(-k * top)).sum(axis=1)


def simulate_depth_sample(
    A: float,
    k: float,
    duration_s: float,
    rng: np.random.Generator,
    *,
    sides: int = 2,
    half_spread: float = 0.0,
    tick: float | None = None,
) -> DepthSample:
    """Draw market orders from the AS model: per side Poisson(A exp(-k c) T) orders, reach c +
    Exp(k).

    With ``tick`` the reach is floored to the grid c + j h (what a trade print at a price level
    shows). Times are uniform on [0, T] and sorted; ``side`` alternates +1 / -1 by side.
    """
    if A <= 0 or k <= 0 or duration_s <= 0:
        raise ValueError(f"A, k and duration_s must be > 0, got A={A!r}, k={k!r}, duration_s={duration_s!r}")
    rate = A * math.exp(-k * half_spread) * duration_s
    counts = rng.poisson(rate, size=sides)
    n = int(counts.sum())
    depth = half_spread + rng.exponential(1.0 / k, size=n)
    if tick is not None:
        depth = half_spread + tick * np.floor((depth - half_spread) / tick)
    times = rng.uniform(0.0, duration_s, size=n)
    side = np.repeat(np.where(np.arange(sides) % 2 == 0, 1.0, -1.0), counts)
    order = np.argsort(times, kind="stable")
    return DepthSample.build(
        depth[order],
        duration_s,
        min_depth=half_spread,
        sides=sides,
        tick=tick,
        times=times[order],
        side=side[order],
    )
