"""Volatility of the mid from its path (:func:`estimate_sigma`), price units per sqrt(second)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass

from mmenv.calibration.samples import as_1d


@dataclass(frozen=True)
class SigmaEstimate:
    """Volatility of an arithmetic Brownian mid, sigma (price units per sqrt(second)).

    Attributes:
        sigma: sqrt(sum (Delta m)^2 / T) (realised variance over the window).
        sigma_se: its asymptotic standard error sigma / sqrt(2 n) (Gaussian increments).
        n_increments: number of increments used; sampling_s: grid step (None: every quote change).
    """

    sigma: float
    sigma_se: float
    n_increments: int
    sampling_s: float | None


#: Grid points sampled at a time by :func:`estimate_sigma` (memory stays bounded on long windows).
GRID_BLOCK = 1 << 22


def estimate_sigma(
    times_s: Any, mid: Any, *, sampling_s: float | None = None, segments: Any = None
) -> SigmaEstimate:
    """Realised-variance estimate of sigma for ds = sigma dW (AS 2008 eq. 2.1), in price / sqrt(s).

    ``sigma^2 = sum_j (m_{j+1} - m_j)^2 / (t_end - t_start)``. With ``sampling_s`` the mid is first
    sampled on a regular grid by the previous-tick rule, which damps the bid-ask bounce of
    tick-by-tick mids (the grid is walked in blocks of :data:`GRID_BLOCK` points).

    ``segments`` (optional, one integer label per point, non-decreasing) marks continuous pieces of the
    path, e.g. trading sessions: an increment between two pieces (an overnight gap, a halt) is a jump
    over time that is not in the clock, so it is left out together with its time, and
    ``sigma^2 = sum of within-piece squared increments / within-piece time``.

    Raises:
        ValueError: unsorted times, fewer than 2 distinct times, non-positive sampling_s, or segments
            of another shape.
    """
    t = as_1d("times_s", times_s)
    m = as_1d("mid", mid)
    if t.shape != m.shape:
        raise ValueError(f"mid must have the shape of times_s {t.shape}, got {m.shape}")
    if t.size < 2 or t[-1] <= t[0]:
        raise ValueError(f"times_s must span a positive time with >= 2 points, got {t.size} points")
    if (np.diff(t) < 0).any():
        raise ValueError("times_s must be sorted in increasing order")
    seg = None
    if segments is not None:
        seg = np.asarray(segments)
        if seg.shape != t.shape:
            raise ValueError(f"segments must have the shape of times_s {t.shape}, got {seg.shape}")
    if sampling_s is not None:
        if not (math.isfinite(sampling_s) and sampling_s > 0):
            raise ValueError(f"sampling_s must be > 0, got {sampling_s!r}")
        n_grid = int((t[-1] - t[0]) // sampling_s) + 1
        if n_grid < 2:
            raise ValueError(f"sampling_s={sampling_s!r} leaves fewer than 2 grid points in the window")
        ss, n_inc = 0.0, 0
        carry: tuple[float, Any] | None = None
        for lo in range(0, n_grid, GRID_BLOCK):
            grid = t[0] + sampling_s * np.arange(lo, min(n_grid, lo + GRID_BLOCK))
            j = np.searchsorted(t, grid, side="right") - 1
            mm, sg = m[j], (None if seg is None else seg[j])
            if carry is not None:
                mm = np.r_[carry[0], mm]
                sg = None if sg is None else np.r_[carry[1], sg]
            inc = np.diff(mm)
            if sg is not None:
                inc = inc[sg[1:] == sg[:-1]]
            ss += float((inc**2).sum())
            n_inc += int(inc.size)
            carry = (mm[-1], None if sg is None else sg[-1])
        span = n_inc * sampling_s
    else:
        inc, dt = np.diff(m), np.diff(t)
        if seg is not None:
            keep = seg[1:] == seg[:-1]
            inc, dt = inc[keep], dt[keep]
        ss, n_inc, span = float((inc**2).sum()), int(inc.size), float(dt.sum())
    if n_inc == 0 or span <= 0:
        raise ValueError("no increment of the mid lies within one segment: sigma is not identified")
    sigma = math.sqrt(ss / span)
    return SigmaEstimate(
        sigma=sigma,
        sigma_se=sigma / math.sqrt(2 * n_inc),
        n_increments=n_inc,
        sampling_s=sampling_s,
    )
