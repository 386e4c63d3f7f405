"""The embedded synthetic high-beta market: NVDA-like 1-minute bars from a documented, seeded model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmenv.data.bars.validate import (
    MINUTES_PER_SESSION,
    NEW_YORK,
    SESSION_OPEN,
)


@dataclass(frozen=True)
class SyntheticTruth:
    """The latent quantities behind :func:`synthetic_bars`, for studies where the truth is known.

    Attributes:
        minute_sigma: (n_bars,) standard deviation of each bar's log return (per bar, no
            annualisation): sqrt(h_d / 390) * u(x) * exp(v_t - s_v^2).
        daily_variance: (n_days,) GARCH variance h_d of each day's intraday log return.
        substeps: sub-steps per bar used to draw the intrabar path (high and low come from it).
        intrabar_realized_variance: (n_bars,) sum of squared log sub-step returns of each bar.
    """

    minute_sigma: np.ndarray
    daily_variance: np.ndarray
    substeps: int
    intrabar_realized_variance: np.ndarray


def _u_shape(x: np.ndarray, depth: float) -> np.ndarray:
    """1 + depth * (2x - 1)^2 on x in [0, 1], normalised to mean one."""
    u = 1.0 + depth * (2.0 * x - 1.0) ** 2
    return u / u.mean()


def synthetic_bars(
    days: int = 20,
    seed: int = 0,
    *,
    start: str = "2024-01-02",
    s0: float = 130.0,
    daily_vol: float = 0.03,
    overnight_vol: float = 0.012,
    garch_alpha: float = 0.08,
    garch_beta: float = 0.90,
    intraday_vol_u: float = 1.2,
    volume_u: float = 2.5,
    logvol_phi: float = 0.98,
    logvol_std: float = 0.3,
    shares_per_day: float = 250e6,
    substeps: int = 20,
    tick_size: float = 0.01,
    return_truth: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, SyntheticTruth]:
    """NVDA-like 1-minute regular-hours bars from a seeded model (a model, not data).

    The model (defaults calibrated by eye to NVDA in 2024: ~$130, ~3% daily moves, i.e. ~48%
    annualised, ~250 M shares a day):

    * Sessions: ``days`` consecutive weekdays from ``start`` (holidays are not skipped), 390 bars
      each, 09:30-15:59 New York time (bar start times).
    * Day-level GARCH(1,1) (Bollerslev 1986) on the day's open-to-close log return r_d:
      ``h_d = w + alpha * r_{d-1}^2 + beta * h_{d-1}``, ``w = daily_vol^2 (1 - alpha - beta)``,
      ``h_0 = daily_vol^2``.
    * Intraday: bar t at session fraction x has log-return standard deviation
      ``sqrt(h_d / 390) * u(x) * exp(v_t - s_v^2)`` with the U shape
      ``u(x)^2 ∝ 1 + intraday_vol_u (2x - 1)^2`` (mean one) and an AR(1) log-volatility
      ``v_t = logvol_phi v_{t-1} + e_t`` of stationary std ``s_v = logvol_std`` (volatility
      clustering within and across days; the ``- s_v^2`` keeps the mean variance unchanged).
    * Each bar is a Gaussian random walk of ``substeps`` steps in log price; open = previous
      close (or the overnight-gapped price at the session start), close = the walk's end,
      high/low = its max/min; prices are rounded to ``tick_size``.
    * Overnight: the log price jumps by N(0, overnight_vol^2) between sessions.
    * Volume: ``shares_per_day * L_d / 390 * U(x) * (0.5 + |z_t|/ (2 E|z|)) * G_t`` shares with
      a day level ``L_d = sqrt(h_d)/daily_vol * LogNormal(0, 0.3)``, the U shape
      ``U(x) ∝ 1 + volume_u (2x - 1)^2``, ``z_t`` the bar's standardised return (volume rises
      with |return|) and ``G_t ~ Gamma(4, 1/4)``; rounded to whole shares.

    Args:
        days: number of sessions (> 0).
        seed: seed of the ``np.random.Generator`` (same seed, same bars, bit for bit).
        start: first session date (moved to the next weekday if it is a weekend).
        s0: first open price (> 0).
        daily_vol: long-run standard deviation of the open-to-close log return (>= 0).
        overnight_vol: standard deviation of the overnight log gap (>= 0).
        garch_alpha, garch_beta: GARCH(1,1) coefficients (>= 0, alpha + beta < 1).
        intraday_vol_u: depth of the intraday U shape of variance (>= 0).
        volume_u: depth of the intraday U shape of volume (>= 0).
        logvol_phi: per-bar AR(1) coefficient of the log volatility, in [0, 1).
        logvol_std: stationary standard deviation of the log volatility (>= 0).
        shares_per_day: mean daily volume (> 0).
        substeps: sub-steps per bar for the intrabar path (>= 1).
        tick_size: price rounding (> 0; 0.01 for US stocks above $1).
        return_truth: also return a :class:`SyntheticTruth`.

    Returns:
        Bars in the shape of :func:`load_bars` (New York index, float64 OHLCV), or
        ``(bars, truth)`` with ``return_truth=True``.
    """
    _check_positive_int("days", days)
    _check_positive_int("substeps", substeps)
    for name, val in (("s0", s0), ("shares_per_day", shares_per_day), ("tick_size", tick_size)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be > 0, got {val!r}")
    for name, val in (
        ("daily_vol", daily_vol),
        ("overnight_vol", overnight_vol),
        ("garch_alpha", garch_alpha),
        ("garch_beta", garch_beta),
        ("intraday_vol_u", intraday_vol_u),
        ("volume_u", volume_u),
        ("logvol_std", logvol_std),
    ):
        if not (np.isfinite(val) and val >= 0):
            raise ValueError(f"{name} must be >= 0, got {val!r}")
    if garch_alpha + garch_beta >= 1:
        raise ValueError(f"garch_alpha + garch_beta must be < 1, got {garch_alpha} + {garch_beta}")
    if not 0 <= logvol_phi < 1:
        raise ValueError(f"logvol_phi must be in [0, 1), got {logvol_phi!r}")

    rng = np.random.default_rng(seed)
    m = MINUTES_PER_SESSION
    sessions = pd.bdate_range(pd.Timestamp(start), periods=days)
    n = days * m
    x = (np.arange(m) + 0.5) / m
    vol_shape = np.sqrt(_u_shape(x, intraday_vol_u))
    vol_u = _u_shape(x, volume_u)

    # AR(1) log volatility, stationary start, vectorised with scipy's linear filter.
    from scipy.signal import lfilter

    innov = rng.standard_normal(n) * logvol_std * np.sqrt(1.0 - logvol_phi**2)
    v0 = rng.standard_normal() * logvol_std
    v = lfilter([1.0], [1.0, -logvol_phi], innov, zi=[logvol_phi * v0])[0]
    clustering = np.exp(v - logvol_std**2).reshape(days, m)

    z = rng.standard_normal((days, m, substeps))
    gaps = rng.standard_normal(days) * overnight_vol
    w = daily_vol**2 * (1.0 - garch_alpha - garch_beta)
    h = np.empty(days)
    h_d = daily_vol**2
    sigma_bar = np.empty((days, m))
    for d in range(days):  # a loop over days (not bars): GARCH needs the previous day's return
        h[d] = h_d
        sigma_bar[d] = np.sqrt(h_d / m) * vol_shape * clustering[d]
        r_d = float((z[d].sum(axis=1) * sigma_bar[d] / np.sqrt(substeps)).sum())
        h_d = w + garch_alpha * r_d**2 + garch_beta * h_d

    steps = z * (sigma_bar / np.sqrt(substeps))[:, :, None]
    bar_ret = steps.sum(axis=2)
    # Log price at each bar open: cumulative sum of bar returns and overnight gaps.
    day_ret = bar_ret.sum(axis=1)
    day_open = np.log(s0) + np.concatenate([[0.0], np.cumsum(day_ret[:-1] + gaps[1:])])
    open_log = day_open[:, None] + np.concatenate(
        [np.zeros((days, 1)), np.cumsum(bar_ret[:, :-1], axis=1)], axis=1
    )
    path = open_log[:, :, None] + np.cumsum(steps, axis=2)
    hi_log = np.maximum(open_log, path.max(axis=2))
    lo_log = np.minimum(open_log, path.min(axis=2))

    def to_price(a: np.ndarray) -> np.ndarray:
        return np.round(np.exp(a.ravel()) / tick_size) * tick_size

    zstd = bar_ret / sigma_bar
    level = np.sqrt(h) / max(daily_vol, 1e-12) * rng.lognormal(0.0, 0.3, days)
    if daily_vol == 0:
        level = rng.lognormal(0.0, 0.3, days)
    activity = 0.5 + np.abs(zstd) / (2.0 * np.sqrt(2.0 / np.pi))
    noise = rng.gamma(4.0, 0.25, (days, m))
    volume = np.round(shares_per_day / m * level[:, None] * vol_u[None, :] * activity * noise)

    offsets = SESSION_OPEN + pd.to_timedelta(np.arange(m), unit="min")
    index = pd.DatetimeIndex((sessions.values[:, None] + offsets.values[None, :]).ravel()).tz_localize(
        NEW_YORK
    )
    index.name = "datetime"
    bars = pd.DataFrame(
        {
            "open": to_price(open_log),
            "high": to_price(hi_log),
            "low": to_price(lo_log),
            "close": to_price(path[:, :, -1]),
            "volume": volume.ravel().astype(np.float64),
        },
        index=index,
    )
    if not return_truth:
        return bars
    truth = SyntheticTruth(
        minute_sigma=sigma_bar.ravel(),
        daily_variance=h,
        substeps=substeps,
        intrabar_realized_variance=(steps**2).sum(axis=2).ravel(),
    )
    return bars, truth


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
