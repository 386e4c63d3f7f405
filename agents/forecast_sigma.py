"""A policy that quotes with its own volatility forecast: any sigma-reading policy plus an online forecaster.

:class:`ForecastSigmaAgent` wraps a policy that reads ``state.sigma`` (AS, GLFT): each step it feeds the
forecaster the mid's change since the previous step (one update per path), converts the forecaster's
one-step variance v (price^2 per step) to a volatility sqrt(v / dt) and passes the state on with that sigma.
Forecasters: :class:`mmenv.calibration.volforecast.GarchFilter` (GARCH(1,1) fitted by maximum likelihood) or
:class:`mmenv.calibration.volforecast.HarFilter` (HAR-RV), started at their long-run variance every episode.
"""

from __future__ import annotations

import numpy as np

from agents.base import BasePolicy, QuoteState

__all__ = ["ForecastSigmaAgent"]


class ForecastSigmaAgent(BasePolicy):
    """``inner`` quoting with sigma = sqrt(forecaster.variance / dt) (module docstring).

    Args:
        inner: a policy reading ``state.sigma``. forecaster: an object with ``reset(num_paths)``,
            ``update(changes)`` and ``variance`` ((N,) one-step variance, price^2). dt: the step (time units).
        name: the policy's name.
    """

    def __init__(self, inner, forecaster, dt: float, name: str = "forecast_sigma") -> None:
        super().__init__(getattr(inner, "s0", 100.0))
        if not dt > 0:
            raise ValueError(f"dt must be > 0, got {dt!r}")
        self.inner, self.forecaster, self.dt, self.name = inner, forecaster, float(dt), name
        self._last: np.ndarray | None = None

    def reset(self, num_paths: int = 1) -> None:
        """New episodes: the forecaster back at its start, no previous mid."""
        self.inner.reset(num_paths)
        self.forecaster.reset(num_paths)
        self._last = None

    def quote(self, state: QuoteState) -> tuple[np.ndarray, np.ndarray]:
        """Update the forecaster with the mid's change, then quote with its volatility."""
        mid = np.asarray(state.mid, dtype=float)
        if self._last is not None:
            self.forecaster.update(mid - self._last)
        self._last = mid.copy()
        sigma = np.sqrt(np.asarray(self.forecaster.variance, dtype=float) / self.dt)
        return self.inner.quote(state._replace(sigma=np.broadcast_to(sigma, mid.shape)))
