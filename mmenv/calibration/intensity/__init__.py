"""Order-arrival intensity models beyond the single exponential, fitted by the truncated/censored
likelihood of :mod:`mmenv.calibration`, chosen out of sample, and estimated online.

Modules: :mod:`~mmenv.calibration.intensity.models` (the laws lambda(d | c) and their fitted form, a vectorised
``intensity(depth)`` callable), :mod:`~mmenv.calibration.intensity.likelihood` (maximum likelihood, standard
errors, chi-square goodness of fit), :mod:`~mmenv.calibration.intensity.tape` (orders and the half-spread path
in time, windows, synthetic tapes), :mod:`~mmenv.calibration.intensity.selection` (time-split model choice,
intensity table, per-hour fits) and :mod:`~mmenv.calibration.intensity.online` (rolling-window estimator,
walk-forward comparison).
"""

from __future__ import annotations

__all__: list[str] = []
