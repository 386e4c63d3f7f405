"""Order-arrival intensity models beyond the single exponential, fitted by the truncated/censored
likelihood of :mod:`mmenv.calibration`, chosen out of sample, and estimated online.

Modules: :mod:`~mmenv.intensity.models` (the laws lambda(d | c) and their fitted form, a vectorised
``intensity(depth)`` callable), :mod:`~mmenv.intensity.likelihood` (maximum likelihood, standard
errors, chi-square goodness of fit), :mod:`~mmenv.intensity.tape` (orders and the half-spread path
in time, windows, synthetic tapes), :mod:`~mmenv.intensity.selection` (time-split model choice,
intensity table, per-hour fits) and :mod:`~mmenv.intensity.online` (rolling-window estimator,
walk-forward comparison).
"""

from __future__ import annotations

__all__: list[str] = []
