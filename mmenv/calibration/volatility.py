"""Volatility of the mid from its path (:func:`estimate_sigma`), price units per sqrt(second)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass

from mmenv.calibration.samples import _as_1d


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


def estimate_sigma(times_s: Any, mid: Any, *, sampling_s: float | None = None) -> SigmaEstimate:
    """Realised-variance estimate of sigma for ds = sigma dW (AS 2008 eq. 2.1), in price / sqrt(s).

    ``sigma^2 = sum_j (m_{j+1} - m_j)^2 / (t_end - t_start)``. With ``sampling_s`` the mid is first
    sampled on a regular grid by the previous-tick rule, which damps the bid-ask bounce of
    tick-by-tick mids.

    Raises:
        ValueError: unsorted times, fewer than 2 distinct times, or non-positive sampling_s.
    """
    t = _as_1d("times_s", times_s)
    m = _as_1d("mid", mid)
    if t.shape != m.shape:
        raise ValueError(f"mid must have the shape of times_s {t.shape}, got {m.shape}")
    if t.size < 2 or t[-1] <= t[0]:
        raise ValueError(f"times_s must span a positive time with >= 2 points, got {t.size} points")
    if (np.diff(t) < 0).any():
        raise ValueError("times_s must be sorted in increasing order")
    if sampling_s is not None:
        if not (math.isfinite(sampling_s) and sampling_s > 0):
            raise ValueError(f"sampling_s must be > 0, got {sampling_s!r}")
        grid = t[0] + sampling_s * np.arange(int((t[-1] - t[0]) // sampling_s) + 1)
        if grid.size < 2:
            raise ValueError(f"sampling_s={sampling_s!r} leaves fewer than 2 grid points in the window")
        m = m[np.searchsorted(t, grid, side="right") - 1]
        span = float(grid[-1] - grid[0])
    else:
        span = float(t[-1] - t[0])
    inc = np.diff(m)
    sigma = math.sqrt(float((inc**2).sum()) / span)
    return SigmaEstimate(
        sigma=sigma,
        sigma_se=sigma / math.sqrt(2 * inc.size),
        n_increments=int(inc.size),
        sampling_s=sampling_s,
    )
