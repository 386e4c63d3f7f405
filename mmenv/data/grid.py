"""The grid that prices (the tick) or sizes (the lot) of a market live on, inferred robustly from the data.

An exchange's prices are whole multiples of its tick and its sizes whole multiples of its lot. Files store
them as decimal text or floats, so a value read back carries float noise (``0.1 * 3`` is
``0.30000000000000004``) and a corrupted file may hold a few values off the grid (one quote at 61234.55 on a
0.1 grid). :func:`infer_grid` finds the grid almost every value lies on, in two steps:

1. the **decimal resolution**: the fewest decimals ``D`` (0 to :data:`MAX_DECIMALS`) such that at least
   ``1 - max_share_off`` of the values (:data:`MAX_SHARE_OFF`: 99.9%, counted with repetitions) are whole
   multiples of ``10^-D`` within :data:`NOISE` of a unit (float noise);
2. the **step**: on those integers ``n_i = round(v_i 10^D)``, the largest ``g`` such that that share of the
   values are multiples of ``g`` (candidates: the most frequent gaps between consecutive distinct values
   and their greatest common divisors; the gcd of every value always qualifies). The grid is ``g 10^-D``.

A value off the grid (beyond float noise) is counted, never allowed to change the grid: one quote at
61234.55 among 66,000 on the 0.1 grid leaves the tick at 0.1. :func:`snap` puts values within float noise of
the grid exactly on it (as the decimal text would parse) and says which are off it.

Work is bounded whatever the data: one :func:`numpy.unique` (``O(n log n)``) and at most
``MAX_DECIMALS + 1 + MAX_CANDIDATES`` vectorised passes over the distinct values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MAX_DECIMALS",
    "MAX_LEVELS",
    "MAX_SHARE_OFF",
    "NOISE",
    "Grid",
    "check_grid",
    "infer_grid",
    "infer_lot",
    "infer_tick",
    "snap",
]

#: Largest share of the values (with repetitions) allowed off the inferred grid: 0.1%.
MAX_SHARE_OFF = 0.001
#: A value within this fraction of a grid unit of a grid point is on it (float noise; float64 data).
NOISE = 1e-3
#: Most decimals a grid step may have (1e-12); fewer when the values are large (see :func:`infer_grid`).
MAX_DECIMALS = 12
#: Candidate steps tried in step 2 of :func:`infer_grid`.
MAX_CANDIDATES = 64
#: Most price levels a given tick may make over the range of the prices (see :func:`check_grid`).
MAX_LEVELS = 1_000_000


@dataclass(frozen=True)
class Grid:
    """A grid inferred from values: ``step = units * 10^-decimals``.

    Attributes:
        step: the grid step (price units for a tick, size units for a lot), > 0.
        decimals: ``D`` of the decimal resolution.
        units: the step in units of ``10^-D`` (an integer >= 1).
        n_values: finite positive values examined (with repetitions).
        n_off: values further than :data:`NOISE` of a unit from the grid.
        lo, hi: smallest and largest value examined.
    """

    step: float
    decimals: int
    units: int
    n_values: int
    n_off: int
    lo: float
    hi: float

    @property
    def levels(self) -> float:
        """Grid points over ``[lo, hi]``: ``(hi - lo) / step + 1``."""
        return (self.hi - self.lo) / self.step + 1.0


def _positive(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    with np.errstate(invalid="ignore"):
        return v[np.isfinite(v) & (v > 0)]


def _on_units(x: np.ndarray) -> np.ndarray:
    """Whether each ``x`` (> 0) lies within :data:`NOISE` of an integer >= 1 (a value below the resolution is
    not on it)."""
    r = np.rint(x)
    return (np.abs(x - r) <= NOISE) & (r >= 1)


def infer_grid(values: Any, what: str = "value", max_share_off: float = MAX_SHARE_OFF) -> Grid:
    """The grid almost every finite positive value lies on (see the module docstring for the two steps).

    Args:
        values: prices or sizes (any shape; non-finite and non-positive values are left out).
        what: the word for the values in errors ("price", "size").
        max_share_off: largest share of the values that may lie off the grid.

    Raises:
        ValueError: fewer than two distinct values (prices) or none (sizes: one distinct size is its own
            grid), or values on no decimal grid of at most :data:`MAX_DECIMALS` decimals (continuous data).
    """
    if not (0.0 <= max_share_off < 0.5):
        raise ValueError(f"max_share_off must be in [0, 0.5), got {max_share_off!r}")
    v = _positive(values)
    u, w = np.unique(v, return_counts=True)
    if u.size == 0 or (u.size < 2 and what == "price"):
        step = {"price": "tick", "size": "lot"}.get(what, "grid step")
        raise ValueError(f"cannot infer the {step} from {u.size} distinct {what}(s); pass {step}=")
    n = int(w.sum())
    need = (1.0 - max_share_off) * n
    top = float(u[-1])
    # 10^D * top stays below 1e12, so float noise (~1e-16 relative) stays far below NOISE
    d_max = int(min(MAX_DECIMALS, max(0, math.floor(12 - math.log10(max(top, 1e-300))))))
    for d in range(d_max + 1):
        x = u * 10.0**d
        on = _on_units(x)
        if float(w[on].sum()) >= need:
            break
    else:
        raise ValueError(
            f"the {what}s lie on no decimal grid of up to {d_max} decimals (e.g. {u[u.size // 2]!r}): "
            f"continuous {what}s; pass the grid step"
        )
    ints = np.rint(x[on]).astype(np.int64)
    wn = w[on]
    g = _largest_step(ints, wn, need)
    return Grid(
        step=float(g) / 10.0**d,
        decimals=d,
        units=g,
        n_values=n,
        n_off=n - int(wn[ints % g == 0].sum()),
        lo=float(u[0]),
        hi=top,
    )


def _largest_step(ints: np.ndarray, weights: np.ndarray, need: float) -> int:
    """The largest ``g`` such that the weights of the ``ints`` divisible by ``g`` sum to ``need`` or more."""
    if ints.size == 1:
        return int(abs(ints[0])) or 1
    gaps = np.diff(ints)
    # the grid is anchored at zero: a step divides every value, not only the gaps between them
    full = int(np.gcd.reduce(ints))
    vals, cnt = np.unique(gaps, return_counts=True)
    frequent = vals[np.argsort(-cnt, kind="stable")][: MAX_CANDIDATES // 2]
    cands = set(int(c) for c in frequent)
    for a in frequent[:8]:  # gcds of the most frequent gaps (sparse grids: gaps of 2 and 3 ticks)
        for b in frequent[:8]:
            cands.add(math.gcd(int(a), int(b)))
    cands.add(full)
    best = max(full, 1)
    for c in sorted(cands, reverse=True)[:MAX_CANDIDATES]:
        if c <= best:
            break
        if float(weights[ints % c == 0].sum()) >= need:
            best = c
            break
    return best


def infer_tick(prices: Any) -> float:
    """The price tick: the step of :func:`infer_grid` over the prices (a few off-grid prices do not change it).

    Raises:
        ValueError: fewer than two distinct prices, or prices on no decimal grid; pass ``tick=``.
    """
    return infer_grid(prices, "price").step


def infer_lot(sizes: Any) -> float:
    """The size step (lot): the step of :func:`infer_grid` over the sizes (one distinct size is its own lot).

    Raises:
        ValueError: no finite positive size, or sizes on no decimal grid; pass ``lot=``.
    """
    return infer_grid(sizes, "size").step


def snap(values: Any, step: float) -> tuple[np.ndarray, np.ndarray]:
    """``(snapped, off)``: values within :data:`NOISE` of a unit of the grid of ``step`` moved exactly onto it
    (the double nearest the decimal ``k * step``, as its text parses), and the mask of finite values off the
    grid (left as they are). Non-finite values are left as they are and not flagged."""
    v = np.asarray(values, dtype=np.float64)
    d = _decimals_of(step)
    scale = 10.0**d
    units = round(step * scale)
    with np.errstate(invalid="ignore"):
        k = v * scale / units
        on = np.isfinite(v) & _on_units(k)
    out = np.where(on, np.rint(k) * units / scale, v)
    return out, np.isfinite(v) & ~on


def _decimals_of(step: float) -> int:
    """The fewest decimals that write ``step`` exactly within :data:`NOISE` (at most :data:`MAX_DECIMALS`)."""
    for d in range(MAX_DECIMALS + 1):
        x = step * 10.0**d
        if abs(x - round(x)) <= NOISE * max(1.0, x) * 1e-6 or abs(x - round(x)) <= 1e-9:
            return d
    return MAX_DECIMALS


def check_grid(values: Any, step: float, inferred: Grid, what: str, flag: str) -> int:
    """Check a grid step given by the user against the values; returns the count of values off it.

    Refused (ValueError naming ``flag``, the step and the inferred one) when the step would make more than
    ``max(MAX_LEVELS, inferred.levels)`` levels over the values' range (a step far below the data's grid,
    which would size loops and arrays by the data), or when more than :data:`MAX_SHARE_OFF` of the values
    lie off it (a step coarser than the data's grid).
    """
    if not (isinstance(step, (int, float, np.floating)) and math.isfinite(step) and step > 0):
        raise ValueError(f"{flag} must be a finite number > 0, got {step!r}; give the {what} step")
    levels = (inferred.hi - inferred.lo) / step + 1.0
    if levels > max(MAX_LEVELS, inferred.levels):
        raise ValueError(
            f"{flag} {step:g} makes {levels:.3g} {what} levels over the {what}s' range "
            f"[{inferred.lo:g}, {inferred.hi:g}] (at most {max(MAX_LEVELS, int(inferred.levels)):,}); "
            f"the data's grid is {inferred.step:g}: give {flag} {inferred.step:g} or leave it out"
        )
    _, off = snap(_positive(values), step)
    n_off = int(off.sum())
    if n_off > MAX_SHARE_OFF * max(inferred.n_values, 1):
        raise ValueError(
            f"{flag} {step:g}: {n_off:,} of {inferred.n_values:,} {what}s lie off its grid (the data's grid is "
            f"{inferred.step:g}); give {flag} {inferred.step:g} or leave it out"
        )
    return n_off
