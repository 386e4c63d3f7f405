"""Maximum-likelihood calibration of the order-arrival intensity lambda(d) = A exp(-k d), and sigma.

The model is the fill model of Avellaneda & Stoikov (2008), "High-frequency trading in a limit order
book", Quantitative Finance 8(3), eq. (2.10)-(2.12): on each side of the book, market orders that
reach depth ``d`` (price units from the mid) arrive as a Poisson process of intensity ``lambda(d) =
A exp(-k d)`` (orders per second), so the *reach* ``D`` of one market order is a mark with tail
``P(D >= d) = exp(-k d)`` and the market orders form a marked Poisson process on time x depth with
intensity ``A k exp(-k D)``.

What a trade record shows is the deepest price level the order executed at, measured from the mid
that was quoted just before it (see :mod:`mmenv.calibration.trades`). An order is only visible if it
reached the touch, ``D >= c(t)`` with ``c(t)`` the quoted half-spread at time ``t``, so the data are
left-truncated at ``c(t)``; on a tick grid of size ``h`` the reach is also interval-censored: a
trade at depth ``d_i`` says ``D_i in [d_i, d_i + h)``. Everything the likelihood needs is in
:class:`DepthSample`.

Log-likelihood (point process on [0, T] x depth, Daley & Vere-Jones 2003, eq. 7.1.2), in A and k::

    l(A, k) = n log A + sum_i log g(k) - k S - A * sides * E(k)

    S    = sum_i d_i                                   (sum of observed depths)
    E(k) = sum_s tau_s exp(-k c_s)                     (exposure: tau_s seconds spent at
    half-spread c_s) g(k) = k                   (continuous depths)     -> the density A k exp(-k
    d) of each point g(k) = 1 - exp(-k h)       (tick size h)           -> P(D in [d, d+h)) /
    exp(-k d)

up to a constant free of (A, k). It is maximised by :func:`scipy.optimize.minimize`
(``trust-exact``) over the log-parameters ``(a, kappa) = (log A, log k)``, so that A, k > 0, with
the analytic gradient and Hessian. Standard errors come from the observed information ``-H`` at the
optimum, mapped to (A, k) by the delta method (``cov(A, k) = J (-H)^-1 J``, ``J = diag(A, k)``).
With one constant threshold c and continuous depths the maximum has the closed form
``k = n / (S - n c)``, ``A = n exp(k c) / (sides T)``, which the tests check the optimiser against.

Goodness of fit: Pearson's chi-square of observed against expected counts in depth bins
(equal-probability bins of the fitted law, or tick levels), adjacent bins merged until each expects
>= 5 orders; degrees of freedom = bins - 2 (two fitted parameters, the total count being matched by
A).

Units: depths in price units, times in seconds, A in orders per second per side, k per price unit,
sigma in price units per sqrt(second).

Modules: :mod:`~mmenv.calibration.samples` (depth samples), :mod:`~mmenv.calibration.mle` (the likelihood
fit), :mod:`~mmenv.calibration.gof` (chi-square), :mod:`~mmenv.calibration.leastsq` (least-squares check),
:mod:`~mmenv.calibration.volatility` (sigma), :mod:`~mmenv.calibration.factory` (:func:`calibrate` and the
env factory).
"""

from __future__ import annotations

from mmenv.calibration.factory import CalibrationResult, calibrate, make_env_from_calibration
from mmenv.calibration.leastsq import LeastSquaresFit, empirical_intensity, fit_intensity_ls
from mmenv.calibration.mle import IntensityFit, fit_intensity
from mmenv.calibration.samples import (
    MIN_TRADES_DEFAULT,
    CalibrationError,
    DepthSample,
    simulate_depth_sample,
)
from mmenv.calibration.volatility import SigmaEstimate, estimate_sigma

__all__ = [
    "MIN_TRADES_DEFAULT",
    "CalibrationError",
    "CalibrationResult",
    "DepthSample",
    "IntensityFit",
    "LeastSquaresFit",
    "SigmaEstimate",
    "calibrate",
    "empirical_intensity",
    "estimate_sigma",
    "fit_intensity",
    "fit_intensity_ls",
    "make_env_from_calibration",
    "simulate_depth_sample",
]
