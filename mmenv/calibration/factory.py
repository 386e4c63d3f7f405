"""The calibration of a market (:func:`calibrate`) and the env it parameterises."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import gymnasium

from mmenv.calibration.leastsq import LeastSquaresFit, fit_intensity_ls
from mmenv.calibration.mle import IntensityFit, fit_intensity
from mmenv.calibration.volatility import estimate_sigma
from mmenv.config import MarketParams


@dataclass(frozen=True)
class CalibrationResult:
    """A complete calibrated market: the intensity fit, sigma and the starting mid.

    Attributes:
        intensity: the MLE of A and k (A per second per side).
        sigma: mid volatility (price units per sqrt(second)); sigma_se its standard error.
        s0: mid at the end of the window (price units), the natural start of a simulated episode.
        source: where the data came from (for the report).
        least_squares: the second estimator on the same data, if computed.
        notes: free-text remarks (exclusions, conventions) for the report.
    """

    intensity: IntensityFit
    sigma: float
    sigma_se: float
    s0: float
    source: str = ""
    least_squares: LeastSquaresFit | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be >= 0 and finite, got {self.sigma!r}")
        if not (math.isfinite(self.s0) and self.s0 > 0):
            raise ValueError(f"s0 must be > 0, got {self.s0!r}")

    @property
    def A(self) -> float:
        return self.intensity.A

    @property
    def k(self) -> float:
        return self.intensity.k

    def market_kwargs(self, time_unit_s: float = 1.0) -> dict[str, float]:
        """A, k, sigma, s0 with time measured in units of ``time_unit_s`` seconds.

        A scales with the unit (orders per unit), sigma with its square root, k and s0 do not.
        """
        if not (math.isfinite(time_unit_s) and time_unit_s > 0):
            raise ValueError(f"time_unit_s must be > 0, got {time_unit_s!r}")
        return {
            "A": self.A * time_unit_s,
            "k": self.k,
            "sigma": self.sigma * math.sqrt(time_unit_s),
            "s0": self.s0,
        }

    def to_market_params(self, time_unit_s: float = 1.0, **overrides: Any) -> MarketParams:
        """MarketParams with the calibrated A, k, sigma, s0 (time in ``time_unit_s`` seconds);
        overrides win.

        Example: ``result.to_market_params(time_unit_s=60.0, T=30.0, dt=0.1)`` gives a 30-minute
            episode with
        a decision every 6 seconds.
        """
        return MarketParams(**{**self.market_kwargs(time_unit_s), **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The calibration.json content: A, k, A_se, k_se, sigma, loglik, n_trades, duration_s, and
        more."""
        out = self.intensity.to_dict()
        out.update(
            sigma=self.sigma,
            sigma_se=self.sigma_se,
            s0=self.s0,
            source=self.source,
            notes=list(self.notes),
        )
        if self.least_squares is not None:
            ls = self.least_squares
            out["least_squares"] = {"A": ls.A, "k": ls.k, "A_se": ls.A_se, "k_se": ls.k_se}
        return out


def calibrate(
    data: Any,
    *,
    aggregate: bool = True,
    sides: int = 2,
    censor: bool = True,
    sampling_s: float | None = 1.0,
    least_squares: bool = True,
) -> CalibrationResult:
    """Calibrate A, k (MLE), sigma and s0 from a :class:`mmenv.calibration.trades.TradesAndQuotes`.

    Args:
        data: trades and quotes (any loader of :mod:`mmenv.calibration.trades`).
        aggregate: merge the prints of one market order (same time and side) into one order.
        sides: 2 pools buys and sells, each side with intensity lambda (AS 2008 eq. 2.11-2.12).
        censor: treat depths as interval-censored on the tick grid when the data have a tick.
        sampling_s: grid step (s) for the realised volatility of the mid (None: every quote).
        least_squares: also compute the log-linear least-squares estimate for comparison.
    """
    sample = data.depth_sample(aggregate=aggregate, sides=sides, censor=censor)
    fit = fit_intensity(sample)
    t, mid = data.mid_path()
    segments = data.mid_segments() if hasattr(data, "mid_segments") else None  # sessions: gaps left out
    sig = estimate_sigma(t, mid, sampling_s=sampling_s, segments=segments)
    ls = None
    if least_squares:
        try:
            ls = fit_intensity_ls(sample)
        except ValueError as exc:
            warnings.warn(f"least-squares comparison skipped: {exc}", stacklevel=2)
    notes = [f"{k}: {v}" for k, v in getattr(data, "report", {}).items()]
    if sample.n_excluded:
        notes.append(f"orders below their touch excluded: {sample.n_excluded}")
    return CalibrationResult(
        intensity=fit,
        sigma=sig.sigma,
        sigma_se=sig.sigma_se,
        s0=float(mid[-1]),
        source=getattr(data, "source", ""),
        least_squares=ls,
        notes=tuple(notes),
    )


def make_env_from_calibration(
    result: CalibrationResult, *, time_unit_s: float = 1.0, **env_kwargs: Any
) -> gymnasium.Env:
    """``gymnasium.make("mmenv/MarketMaking-v0", A=..., k=..., sigma=..., s0=..., **env_kwargs)``.

    Time in the env is measured in units of ``time_unit_s`` seconds (see
    :meth:`CalibrationResult.market_kwargs`); ``env_kwargs`` (T, dt, gamma, ...) override.
    """
    return gymnasium.make("mmenv/MarketMaking-v0", **{**result.market_kwargs(time_unit_s), **env_kwargs})
