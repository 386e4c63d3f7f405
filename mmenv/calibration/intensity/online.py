"""Rolling-window (online) estimation of the intensity law and sigma, and its walk-forward test.

Production market makers re-estimate their fill intensity continuously (e.g. the Avellaneda-Stoikov
strategy of Hummingbot keeps rolling buffers of trades and refits A and k); this module does the same
with the likelihood of :mod:`mmenv.calibration.intensity.likelihood`:

* :class:`RollingEstimator` takes the market in chunks of event rows (time, bid, ask, and for trades
  the price and aggressor side, the book being the one the trade met, as the rows of a replay tape)
  and gives at any time the maximum-likelihood fit of the chosen law on the last ``window_s``
  seconds (warm-started from the previous fit), the exponential's A and k, and sigma (realised
  variance of the mid sampled every ``sigma_sampling_s`` seconds, :func:`mmenv.calibration.estimate_sigma`).
  Only data stamped before the estimation time are used.
* :func:`walk_forward` runs it over the held-out part of a tape, refitting every ``step_s`` seconds
  and scoring the next step's orders, against the fixed fit on the first part (the in-sample fit of
  record): held-out log-likelihood per order of each.

Units: seconds, price units; rates per second per side.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmenv.calibration import CalibrationError, estimate_sigma
from mmenv.calibration.intensity.likelihood import fit_law, log_likelihood, typical_half_spread
from mmenv.calibration.intensity.models import FittedIntensity, make_law
from mmenv.calibration.intensity.tape import IntensityTape

__all__ = ["OnlineEstimate", "RollingEstimator", "WalkForward", "walk_forward"]


@dataclass(frozen=True)
class OnlineEstimate:
    """The estimate at time ``t`` from the window [t - window_s, t).

    Attributes:
        t: estimation time (s, the estimator's clock); window_s: window length (s).
        n_orders: orders in the window.
        model: the law fitted; params, se: its natural parameters and standard errors.
        A, k: the exponential's parameters on the same window (the AS calibration).
        sigma: mid volatility (price units per sqrt(second)); NaN with fewer than 2 grid points.
        fit: the fitted law (its ``intensity`` callable gives lambda(delta)).
    """

    t: float
    window_s: float
    n_orders: int
    model: str
    params: dict[str, float]
    se: dict[str, float]
    A: float
    k: float
    sigma: float
    fit: FittedIntensity

    def intensity(self, depth: Any) -> np.ndarray:
        """lambda(delta) of the current fit (orders per second per side)."""
        return self.fit.intensity(depth)


@dataclass
class RollingEstimator:
    """Rolling-window estimator of an intensity law, A, k and sigma.

    Usage::

        est = RollingEstimator(window_s=600.0, model="two_part", tick=0.01)
        for chunk in chunks:          # any consecutive slices of the market's event rows
            est.update(chunk_time_s, bid, ask, trade_px, side)
            e = est.estimate()         # None until the window holds min_orders orders
            if e is not None: quotes = policy(e.intensity, e.sigma, ...)

    Attributes:
        window_s: window length (s).
        model: law to fit (``exponential``, ``power_law``, ``two_part``).
        sides: book sides pooled (2: buys and sells, each with intensity lambda).
        tick: tick size (depths snapped to the half-tick grid and interval-censored), or None.
        c_ref: reference half-spread of the two-part law (default: the typical half-spread of the
            first window estimated, then fixed so that A stays comparable).
        sigma_sampling_s: grid step of the realised volatility (s).
        min_orders: fewer orders in the window give no estimate.
    """

    window_s: float
    model: str = "exponential"
    sides: int = 2
    tick: float | None = None
    c_ref: float | None = None
    sigma_sampling_s: float = 1.0
    min_orders: int = 30
    n_excluded: int = 0
    _q_t: list[np.ndarray] = field(default_factory=list, repr=False)
    _q_c: list[np.ndarray] = field(default_factory=list, repr=False)
    _q_m: list[np.ndarray] = field(default_factory=list, repr=False)
    _o_t: list[np.ndarray] = field(default_factory=list, repr=False)
    _o_d: list[np.ndarray] = field(default_factory=list, repr=False)
    _o_c: list[np.ndarray] = field(default_factory=list, repr=False)
    _last: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _q_clock: float = -math.inf
    _o_clock: float = -math.inf

    def __post_init__(self) -> None:
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError(f"window_s must be > 0, got {self.window_s!r}")
        make_law(self.model, tick=self.tick)  # validates the name and the tick requirement
        if not (math.isfinite(self.sigma_sampling_s) and self.sigma_sampling_s > 0):
            raise ValueError(f"sigma_sampling_s must be > 0, got {self.sigma_sampling_s!r}")

    def _snap(self, x: np.ndarray) -> np.ndarray:
        return x if self.tick is None else np.round(x / (0.5 * self.tick)) * (0.5 * self.tick)

    def add_quotes(self, times_s: Any, half_spread: Any, mid: Any) -> None:
        """Quote changes: from each time on, the half-spread and mid in force (times sorted, not
        before quotes already added)."""
        t = np.asarray(times_s, dtype=np.float64)
        if t.size == 0:
            return
        if (np.diff(t) < 0).any() or t[0] < self._q_clock:
            raise ValueError(
                f"quote times must be sorted and >= the last one {self._q_clock!r}, got {t[0]!r}"
            )
        self._q_t.append(t)
        self._q_c.append(self._snap(np.asarray(half_spread, dtype=np.float64)))
        self._q_m.append(np.asarray(mid, dtype=np.float64))
        self._q_clock = float(t[-1])

    def add_orders(self, times_s: Any, depths: Any, half_spread: Any) -> None:
        """Market orders: time, reach depth from the mid before the order, half-spread it met. Orders
        below their touch are excluded and counted in ``n_excluded`` (times sorted, not before orders
        already added)."""
        t = np.asarray(times_s, dtype=np.float64)
        if t.size == 0:
            return
        if (np.diff(t) < 0).any() or t[0] < self._o_clock:
            raise ValueError(
                f"order times must be sorted and >= the last one {self._o_clock!r}, got {t[0]!r}"
            )
        d, c = (
            self._snap(np.asarray(depths, dtype=np.float64)),
            self._snap(np.asarray(half_spread, dtype=np.float64)),
        )
        ok = d >= c - 1e-9 * np.maximum(1.0, np.abs(c))
        self.n_excluded += int((~ok).sum())
        self._o_t.append(t[ok])
        self._o_d.append(np.maximum(d[ok], c[ok]))
        self._o_c.append(c[ok])
        self._o_clock = float(t[-1])

    def update(self, times_s: Any, bid: Any, ask: Any, trade_px: Any = None, side: Any = None) -> None:
        """A chunk of event rows in time order: quote rows (side 0 or trade_px NaN) set the book from
        their time on; trade rows are prints against the book given on the row (the one they met),
        reaching ``side * (trade_px - mid)``; consecutive prints with the same time and side are merged
        into one market order (its deepest print)."""
        t = np.asarray(times_s, dtype=np.float64)
        b, a = np.asarray(bid, dtype=np.float64), np.asarray(ask, dtype=np.float64)
        if trade_px is None:
            is_trade = np.zeros(t.size, dtype=bool)
            px = sd = np.zeros(t.size)
        else:
            px, sd = np.asarray(trade_px, dtype=np.float64), np.asarray(side, dtype=np.float64)
            is_trade = (sd != 0) & np.isfinite(px)
        for i0, i1, trade in _runs(is_trade):
            sl = slice(i0, i1)
            mid, half = 0.5 * (a[sl] + b[sl]), 0.5 * (a[sl] - b[sl])
            if trade:
                depth = sd[sl] * (px[sl] - mid)
                # consecutive prints with one time and side are one market order: its deepest print,
                # measured from the book before its first print
                ts, ss = t[sl], sd[sl]
                first = np.ones(ts.size, dtype=bool)
                first[1:] = (ts[1:] != ts[:-1]) | (ss[1:] != ss[:-1])
                starts = np.flatnonzero(first)
                self.add_orders(ts[starts], np.maximum.reduceat(depth, starts), half[starts])
            else:
                self.add_quotes(t[sl], half, mid)

    def update_tape(self, chunk: Any) -> None:
        """A chunk of a :class:`mmenv.data.tape.Tape` (time in nanoseconds, book, trade price and side per
        row): :meth:`update` with times in seconds since the tape's origin. A market order whose prints
        straddle two chunks counts as two orders."""
        self.update(
            np.asarray(chunk.time, dtype=np.float64) * 1e-9,
            chunk.bid_px,
            chunk.ask_px,
            chunk.trade_px,
            np.asarray(chunk.side, dtype=np.float64),
        )

    def _compact(self, start: float) -> tuple[np.ndarray, ...]:
        """Concatenate the buffers and drop what lies before ``start`` (keeping the quote in force)."""
        qt, qc, qm = (np.concatenate(x) if x else np.empty(0) for x in (self._q_t, self._q_c, self._q_m))
        ot, od, oc = (np.concatenate(x) if x else np.empty(0) for x in (self._o_t, self._o_d, self._o_c))
        i = max(int(np.searchsorted(qt, start, "right")) - 1, 0)
        j = int(np.searchsorted(ot, start, "left"))
        qt, qc, qm, ot, od, oc = qt[i:], qc[i:], qm[i:], ot[j:], od[j:], oc[j:]
        self._q_t, self._q_c, self._q_m = [qt], [qc], [qm]
        self._o_t, self._o_d, self._o_c = [ot], [od], [oc]
        return qt, qc, qm, ot, od, oc

    def estimate(self, t: float | None = None) -> OnlineEstimate | None:
        """The fit on [t - window_s, t) (t defaults to the last time seen); None while the window
        holds fewer than ``min_orders`` orders or no quote, or when the fit fails."""
        t = max(self._q_clock, self._o_clock) if t is None else float(t)
        a = t - self.window_s
        qt, qc, qm, ot, od, oc = self._compact(a)
        if qt.size == 0 or qt[0] >= t:
            return None
        o1 = int(np.searchsorted(ot, t, "left"))
        if o1 < self.min_orders:
            return None
        base = max(float(qt[0]), a)
        q1 = int(np.searchsorted(qt, t, "left"))
        tape = IntensityTape(
            order_t=ot[:o1] - base,
            order_d=od[:o1],
            order_c=oc[:o1],
            order_side=np.ones(o1),
            seg_t=np.maximum(qt[:q1], base) - base,
            seg_c=qc[:q1],
            seg_mid=qm[:q1],
            end_s=t - base,
            sides=self.sides,
            tick=self.tick,
        )
        sample = tape.window(0.0, t - base)
        if sample.n < self.min_orders:
            return None
        if self.c_ref is None:
            self.c_ref = typical_half_spread(sample.levels, sample.seconds)
        try:
            fit = self._fit(sample, self.model)
            exp_fit = fit if self.model == "exponential" else self._fit(sample, "exponential")
        except (CalibrationError, ValueError):
            return None
        sigma = math.nan
        mt, mm = tape.mid_path()
        if mt.size >= 2 and mt[-1] - mt[0] >= 2 * self.sigma_sampling_s:
            sigma = estimate_sigma(mt, mm, sampling_s=self.sigma_sampling_s).sigma
        return OnlineEstimate(
            t=t,
            window_s=self.window_s,
            n_orders=sample.n,
            model=self.model,
            params=fit.params,
            se=fit.se,
            A=exp_fit.params["A"],
            k=exp_fit.params["k"],
            sigma=sigma,
            fit=fit,
        )

    def _fit(self, sample: Any, model: str) -> FittedIntensity:
        prev = self._last.get(model)
        law = make_law(model, tick=self.tick, c_ref=self.c_ref or 0.0)
        fit = None
        if prev is not None:
            try:
                fit = fit_law(sample, law, x0=law.natural(prev), min_orders=self.min_orders, gof=False)
            except (CalibrationError, ValueError):
                fit = None
        if fit is None:
            fit = fit_law(sample, law, min_orders=self.min_orders, gof=False)
        self._last[model] = fit.theta
        return fit


def _runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, stop, value) of the runs of equal values of a boolean array."""
    if mask.size == 0:
        return []
    cut = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    starts = np.concatenate([[0], cut])
    stops = np.concatenate([cut, [mask.size]])
    return [(int(s), int(e), bool(mask[s])) for s, e in zip(starts, stops, strict=True)]


@dataclass(frozen=True)
class WalkForward:
    """Result of :func:`walk_forward`.

    Attributes:
        model: the law; window_s, step_s: rolling window and refit step (s).
        split_s: start of the held-out part (s from the tape start).
        loglik_rolling, loglik_fixed: held-out log-likelihood per order of the rolling estimate
            (each step scored with the fit on the window before it) and of the fixed fit on the
            first part, over the steps where the rolling estimate exists.
        n_orders: held-out orders scored; n_steps: steps scored; n_steps_without_estimate: steps
            where the window held too few orders (scored by neither, so that both are compared on
            the same orders).
        path: rows {t, A, k, sigma, n_orders, <params>} of the rolling estimates.
        fixed: the fixed fit's natural parameters.
    """

    model: str
    window_s: float
    step_s: float
    split_s: float
    loglik_rolling: float
    loglik_fixed: float
    n_orders: int
    n_steps: int
    n_steps_without_estimate: int
    path: list[dict[str, float]]
    fixed: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "window_s": self.window_s,
            "step_s": self.step_s,
            "split_s": self.split_s,
            "heldout_loglik_per_order_rolling": self.loglik_rolling,
            "heldout_loglik_per_order_fixed": self.loglik_fixed,
            "n_orders": self.n_orders,
            "n_steps": self.n_steps,
            "n_steps_without_estimate": self.n_steps_without_estimate,
            "fixed": self.fixed,
            "path": self.path,
        }


def walk_forward(
    tape: IntensityTape,
    *,
    model: str = "exponential",
    window_s: float | None = None,
    step_s: float | None = None,
    fit_fraction: float = 0.7,
    min_orders: int = 30,
) -> WalkForward:
    """Rolling estimator against the fixed in-sample fit, out of sample.

    The fixed fit uses [start, split) with split at ``fit_fraction`` of the tape; the rolling
    estimator is fed the tape's rows chunk by chunk (through :meth:`RollingEstimator.add_quotes` /
    ``add_orders``) and, at each step time t >= split, estimated on [t - window_s, t); the orders of
    [t, t + step_s) are scored under both fits with that step's exposure. Defaults: window a tenth of
    the tape, step a fiftieth of the held-out part.

    Raises:
        ValueError: bad fractions or lengths, or the fixed fit fails.
    """
    if not 0 < fit_fraction < 1:
        raise ValueError(f"fit_fraction must lie in (0, 1), got {fit_fraction!r}")
    t0, t1 = float(tape.seg_t[0]), tape.end_s
    split = t0 + fit_fraction * (t1 - t0)
    window_s = 0.1 * (t1 - t0) if window_s is None else float(window_s)
    step_s = (t1 - split) / 50.0 if step_s is None else float(step_s)
    if not (window_s > 0 and step_s > 0):
        raise ValueError(f"window_s and step_s must be > 0, got {window_s!r}, {step_s!r}")
    first = tape.window(t0, split)
    c_ref = typical_half_spread(first.levels, first.seconds)
    fixed = fit_law(first, make_law(model, tick=tape.tick, c_ref=c_ref), gof=False)
    est = RollingEstimator(
        window_s=window_s, model=model, sides=tape.sides, tick=tape.tick, c_ref=c_ref, min_orders=min_orders
    )
    ll_roll = ll_fixed = 0.0
    n_orders = n_steps = n_missing = 0
    path: list[dict[str, float]] = []
    fed = t0
    t = split
    while t < t1 - 1e-9:
        b = min(t + step_s, t1)
        _feed(est, tape, fed, t)
        fed = t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = est.estimate(t)
        block = tape.window(t, b)
        if e is None:
            n_missing += 1
        else:
            path.append({"t": t, "A": e.A, "k": e.k, "sigma": e.sigma, "n_orders": e.n_orders, **e.params})
            if block.n:
                ll_roll += log_likelihood(e.fit.law, e.fit.theta, block)[0]
                ll_fixed += log_likelihood(fixed.law, fixed.theta, block)[0]
                n_orders += block.n
            n_steps += 1
        t = b
    if n_orders == 0:
        raise ValueError("the walk-forward scored no held-out order: lengthen the tape or shorten window_s")
    return WalkForward(
        model=model,
        window_s=window_s,
        step_s=step_s,
        split_s=split,
        loglik_rolling=ll_roll / n_orders,
        loglik_fixed=ll_fixed / n_orders,
        n_orders=n_orders,
        n_steps=n_steps,
        n_steps_without_estimate=n_missing,
        path=path,
        fixed=fixed.params,
    )


def _feed(est: RollingEstimator, tape: IntensityTape, a: float, b: float) -> None:
    """Hand the estimator the tape's quote changes and orders stamped in [a, b)."""
    i0, i1 = int(np.searchsorted(tape.seg_t, a, "left")), int(np.searchsorted(tape.seg_t, b, "left"))
    est.add_quotes(tape.seg_t[i0:i1], tape.seg_c[i0:i1], tape.seg_mid[i0:i1])
    sl = tape.order_slice(a, b)
    est.add_orders(tape.order_t[sl], tape.order_d[sl], tape.order_c[sl])
