"""Predictive power of the signals: the next mid moves they forecast, in sample and out of sample, and the
markout of our fills by the signal's bucket at fill time.

* :func:`future_mid_moves`: ``y_i(h) = (M(t_i + h) - M_i) / tick``, the change of the mid in ticks over the
  next ``h`` seconds (``M(t)`` the mid in force at t: that of the last event stamped at or before t); NaN
  where ``t_i + h`` lies past the tape's last event.
* :func:`predictive_power`: per signal and horizon, the least-squares line ``y = a + b x`` fitted on the
  in-sample rows, its R^2 in sample and out of sample, ``R^2_oos = 1 - sum (y - a - b x)^2 /
  sum (y - ybar_in)^2`` over the out-of-sample rows (Campbell & Thompson 2008, Rev. Financial Studies
  21(4), eq. 5: the benchmark is the in-sample mean, so a line that does not generalise scores below 0),
  and the mean move per bucket of the signal (bucket edges: in-sample quantiles), in and out of sample.
  Overlapping horizons make neighbouring rows dependent: the R^2 are descriptive, no standard error is
  claimed for them.
* :func:`markout_by_bucket`: fills grouped by the signal seen from our side at the fill's event
  (``side * x``: for a bid fill, a positive imbalance is a signal in our favour), with the markout per unit
  and in total per bucket: does the signal see the toxic fills coming?
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mmenv.data.tape import Tape

__all__ = ["IMBALANCE_EDGES", "fit_line", "future_mid_moves", "markout_by_bucket", "predictive_power"]

#: Bucket edges of a signal in [-1, 1] (imbalance, order-flow imbalance, trade-sign flow) for the markout
#: breakdown: five buckets, strongly against us ... strongly for us.
IMBALANCE_EDGES = (-1.0, -0.6, -0.2, 0.2, 0.6, 1.0)


def future_mid_moves(tape: Tape, horizons_s: tuple[float, ...] | list[float]) -> np.ndarray:
    """(len(tape), H) mid moves in ticks over each horizon (seconds, > 0); NaN past the tape's end."""
    hs = [float(h) for h in horizons_s]
    for h in hs:
        if not (math.isfinite(h) and h > 0):
            raise ValueError(f"horizons_s must hold finite numbers > 0 (seconds), got {h!r}")
    t, mid = tape.time, tape.mid
    out = np.full((len(tape), len(hs)), np.nan)
    if len(tape) == 0:
        return out
    for k, h in enumerate(hs):
        target = t + round(h * 1e9)
        j = np.searchsorted(t, target, side="right") - 1
        ok = target <= t[-1]
        out[ok, k] = (mid[j[ok]] - mid[ok]) / tape.tick
    return out


def fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) of the least-squares line y = a + b x (b = 0 for a constant x)."""
    xm, ym = x.mean(), y.mean()
    vx = float(np.mean((x - xm) ** 2))
    b = float(np.mean((x - xm) * (y - ym)) / vx) if vx > 0 else 0.0
    return float(ym - b * xm), b


def _bucket_means(x, y, edges) -> tuple[list[float], list[int]]:
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    cnt = np.bincount(idx, minlength=len(edges) - 1)
    s = np.bincount(idx, weights=y, minlength=len(edges) - 1)
    return [float(s[k] / cnt[k]) if cnt[k] else math.nan for k in range(len(cnt))], cnt.tolist()


def predictive_power(
    names: list[str],
    features_in: np.ndarray,
    moves_in: np.ndarray,
    features_out: np.ndarray,
    moves_out: np.ndarray,
    horizons_s: tuple[float, ...] | list[float],
    n_buckets: int = 5,
) -> dict[str, Any]:
    """Per signal and horizon: the in-sample line, R^2 in and out of sample, and the bucket table.

    Args:
        names: the feature columns (:func:`mmenv.signals.compute_features`). features_in, moves_in: the
            in-sample rows and their :func:`future_mid_moves` (ticks). features_out, moves_out: the
            out-of-sample rows. horizons_s: the horizons of the move columns. n_buckets: quantile buckets.

    Returns:
        ``{signal: {"<h>s": {"intercept", "slope" (ticks per unit of the signal), "r2_in", "r2_out",
        "corr_in", "corr_out", "n_in", "n_out", "edges", "mean_move_in", "mean_move_out", "count_in",
        "count_out"}}}``.
    """
    if isinstance(n_buckets, bool) or not isinstance(n_buckets, int) or n_buckets < 2:
        raise ValueError(f"n_buckets must be an integer >= 2, got {n_buckets!r}")
    out: dict[str, Any] = {}
    for c, name in enumerate(names):
        per: dict[str, Any] = {}
        for k, h in enumerate(horizons_s):
            mi, mo = np.isfinite(moves_in[:, k]), np.isfinite(moves_out[:, k])
            xi, yi = features_in[mi, c], moves_in[mi, k]
            xo, yo = features_out[mo, c], moves_out[mo, k]
            row: dict[str, Any] = {"n_in": int(xi.size), "n_out": int(xo.size)}
            if xi.size < 2 or xo.size < 2:
                per[f"{h:g}s"] = row
                continue
            a, b = fit_line(xi, yi)
            ybar = yi.mean()
            sst_in, sst_out = float(np.sum((yi - ybar) ** 2)), float(np.sum((yo - ybar) ** 2))
            row["intercept"], row["slope"] = a, b
            row["r2_in"] = 1.0 - float(np.sum((yi - a - b * xi) ** 2)) / sst_in if sst_in > 0 else math.nan
            row["r2_out"] = 1.0 - float(np.sum((yo - a - b * xo) ** 2)) / sst_out if sst_out > 0 else math.nan
            row["corr_in"] = float(np.corrcoef(xi, yi)[0, 1]) if xi.std() > 0 and yi.std() > 0 else math.nan
            row["corr_out"] = float(np.corrcoef(xo, yo)[0, 1]) if xo.std() > 0 and yo.std() > 0 else math.nan
            edges = np.unique(np.quantile(xi, np.linspace(0.0, 1.0, n_buckets + 1)))
            if edges.size < 2:
                edges = np.array([xi.min(), xi.min() + 1.0])
            row["edges"] = edges.tolist()
            row["mean_move_in"], row["count_in"] = _bucket_means(xi, yi, edges)
            row["mean_move_out"], row["count_out"] = _bucket_means(xo, yo, edges)
            per[f"{h:g}s"] = row
        out[name] = per
    return out


def markout_by_bucket(
    signal_for_us: np.ndarray,
    markout: np.ndarray,
    size: np.ndarray,
    edges: tuple[float, ...] | list[float] = IMBALANCE_EDGES,
) -> dict[str, Any]:
    """Fills grouped by the signal from our side at fill time (``side * x``, see the module docstring).

    Args:
        signal_for_us: (F,) the signal at each fill's event times the fill's side (+1 we bought, -1 sold).
        markout: (F,) the markout P&L of each fill at one horizon (price units x size,
            :func:`mmenv.analytics.scores.markouts`). size: (F,) units filled. edges: bucket edges
            (increasing; values outside fall in the first or last bucket).

    Returns:
        ``{"edges", "n_fills", "units", "markout_total", "markout_per_unit"}``, lists over the buckets
        (per unit NaN in an empty bucket).
    """
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not (np.diff(e) > 0).all():
        raise ValueError(f"edges must be at least two increasing numbers, got {list(edges)!r}")
    x = np.asarray(signal_for_us, dtype=np.float64)
    mk, sz = np.asarray(markout, dtype=np.float64), np.asarray(size, dtype=np.float64)
    if not (x.shape == mk.shape == sz.shape):
        raise ValueError(
            f"signal_for_us, markout and size must have one shape, got {x.shape}, {mk.shape}, {sz.shape}"
        )
    nb = e.size - 1
    idx = np.clip(np.searchsorted(e, x, side="right") - 1, 0, nb - 1)
    n = np.bincount(idx, minlength=nb)
    units = np.bincount(idx, weights=sz, minlength=nb)
    tot = np.bincount(idx, weights=mk, minlength=nb)
    return {
        "edges": e.tolist(),
        "n_fills": n.tolist(),
        "units": units.tolist(),
        "markout_total": tot.tolist(),
        "markout_per_unit": [float(tot[k] / units[k]) if units[k] > 0 else math.nan for k in range(nb)],
    }
