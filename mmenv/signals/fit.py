"""What the signal-aware strategies fit on the in-sample part of a tape, and nothing else.

:func:`fit_signals` on the in-sample tape returns a :class:`SignalFit`:

* the micro-price table ``G*`` (:func:`mmenv.signals.microprice.fit_microprice`), put in the feature spec, so
  that the ``micro_ticks`` column of any later part of the tape reads the in-sample table;
* the drift line of one signal x (default the touch imbalance): the least-squares slope ``beta`` of the
  next mid move over ``horizon_s`` seconds (ticks, :func:`mmenv.signals.predictive.future_mid_moves`,
  computed on the in-sample tape alone, so no move reaches past its end) on x, over every in-sample event;
  the predicted drift is ``alpha = beta x`` ticks (the intercept, the in-sample trend, is reported and not
  used: it is no signal);
* the withdrawal threshold ``theta``: the median over the in-sample events of the half-spread
  ``(ask - bid) / 2`` in ticks, what a fill at the touch earns against the mid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mmenv.data.tape import Tape
from mmenv.signals.features import FeatureSpec, compute_features
from mmenv.signals.microprice import fit_microprice
from mmenv.signals.predictive import fit_line, future_mid_moves

__all__ = ["SignalFit", "fit_signals"]


@dataclass(frozen=True, eq=False)
class SignalFit:
    """The in-sample fit of the signal-aware strategies (module docstring).

    Attributes:
        spec: the feature spec with the in-sample micro-price table. signal: the drift's column name.
        horizon_s: the drift's horizon (s). beta_ticks: ticks of predicted move per unit of the signal.
        intercept_ticks: the line's intercept (reported, unused). r2_in: the line's in-sample R^2.
        theta_ticks: the withdrawal threshold (ticks). n_in: in-sample rows of the line.
    """

    spec: FeatureSpec
    signal: str
    horizon_s: float
    beta_ticks: float
    intercept_ticks: float
    r2_in: float
    theta_ticks: float
    n_in: int

    def to_dict(self) -> dict[str, Any]:
        """The fit as plain values (for metrics.json)."""
        micro = self.spec.micro
        return {
            "signal": self.signal,
            "horizon_s": self.horizon_s,
            "beta_ticks": self.beta_ticks,
            "intercept_ticks": self.intercept_ticks,
            "r2_in": self.r2_in,
            "theta_ticks": self.theta_ticks,
            "n_in": self.n_in,
            "microprice": None if micro is None else micro.to_dict(),
        }


def fit_signals(
    ins: Tape, spec: FeatureSpec | None = None, signal: str = "imbalance", horizon_s: float = 1.0
) -> SignalFit:
    """Fit the micro-price table, the drift line and the threshold on the in-sample tape ``ins``.

    Raises:
        ValueError: ``signal`` not a column of the spec, a bad horizon, or a tape too short to fit.
    """
    if not (isinstance(horizon_s, (int, float)) and math.isfinite(horizon_s) and horizon_s > 0):
        raise ValueError(f"horizon_s must be a finite number > 0 (seconds), got {horizon_s!r}")
    spec = replace(spec or FeatureSpec(), micro=fit_microprice(ins))
    names, m = compute_features(ins, spec)
    if signal not in names:
        raise ValueError(f"signal must be one of the feature columns {names}, got {signal!r}")
    y = future_mid_moves(ins, (horizon_s,))[:, 0]
    ok = np.isfinite(y)
    if ok.sum() < 2:
        raise ValueError(
            f"the in-sample tape is shorter than the drift horizon {horizon_s:g} s: nothing to fit"
        )
    x = m[ok, names.index(signal)]
    a, b = fit_line(x, y[ok])
    res = y[ok] - a - b * x
    sst = float(np.sum((y[ok] - y[ok].mean()) ** 2))
    return SignalFit(
        spec=spec,
        signal=signal,
        horizon_s=float(horizon_s),
        beta_ticks=b,
        intercept_ticks=a,
        r2_in=1.0 - float(np.sum(res**2)) / sst if sst > 0 else math.nan,
        theta_ticks=float(np.median(0.5 * (ins.ask_px - ins.bid_px))) / ins.tick,
        n_in=int(ok.sum()),
    )
