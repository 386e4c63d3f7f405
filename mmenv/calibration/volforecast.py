"""Volatility forecasts for the quotes: GARCH(1,1) by maximum likelihood (``arch``), HAR-RV, EWMA, rolling.

* GARCH(1,1) (Bollerslev 1986): r_t = sqrt(v_t) z_t, v_{t+1} = omega + alpha r_t^2 + beta v_t, fitted by
  Gaussian maximum likelihood with the ``arch`` package (Sheppard; the ``data`` extra, imported lazily), zero
  mean. The forecast of the variance summed over the next m steps, from the one-step forecast v_{t+1}, is
  m V + (v_{t+1} - V) (1 - p^m) / (1 - p) with p = alpha + beta and V = omega / (1 - p).
* HAR-RV (Corsi 2009, "A simple approximate long-memory model of realized volatility", J. Financial
  Econometrics 7(2)): the realised variance of the next block (sum of m squared changes) regressed by OLS
  on the mean RV of the last l_1, l_2, l_3 blocks (default 1, 5, 22: day, week, month).
* EWMA (RiskMetrics 1996, decay 0.94) of squared changes, times m; "rolling": the mean RV of the last
  l_2 blocks; "constant": the mean RV of the fitting window.

:func:`rolling_forecasts` refits GARCH (and HAR) on a rolling window and forecasts each later block out
of sample; :func:`forecast_losses` scores the forecasts h against the realised variance RV by QLIKE,
RV/h - ln(RV/h) - 1 (Patton 2011, "Volatility forecast comparison using imperfect volatility proxies",
J. Econometrics 160(1), robust to the noise of the proxy), and the squared error (RV - h)^2.

:class:`GarchFilter` and :class:`HarFilter` run a fitted model online on N paths at once (one update per
observed change): what a quoting policy reads as its volatility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GarchFilter",
    "GarchFit",
    "HarFilter",
    "HarFit",
    "fit_garch",
    "fit_har",
    "forecast_losses",
    "realized_blocks",
    "rolling_forecasts",
]


def _returns(returns) -> np.ndarray:
    r = np.asarray(returns, dtype=float).ravel()
    bad = np.flatnonzero(~np.isfinite(r))
    if bad.size:
        raise ValueError(f"returns must be finite; non-finite at positions {bad[:5].tolist()}")
    return r


@dataclass(frozen=True)
class GarchFit:
    """A GARCH(1,1) fit (module docstring), in the units of the returns.

    Attributes:
        omega, alpha, beta: the parameters. se: their standard errors (same keys; robust "sandwich" SEs of
            ``arch`` by default). loglik: the maximised log-likelihood. nobs: observations fitted.
        v_last: the one-step variance forecast after the last fitted observation.
    """

    omega: float
    alpha: float
    beta: float
    se: dict
    loglik: float
    nobs: int
    v_last: float

    @property
    def persistence(self) -> float:
        """alpha + beta."""
        return self.alpha + self.beta

    @property
    def long_run_variance(self) -> float:
        """omega / (1 - alpha - beta) (inf when not stationary)."""
        p = self.persistence
        return self.omega / (1.0 - p) if p < 1.0 else math.inf

    def block_forecast(self, v_next: np.ndarray | float, m: int) -> np.ndarray | float:
        """Expected variance summed over the next m steps from the one-step forecast ``v_next``."""
        p = self.persistence
        if p >= 1.0 or abs(1.0 - p) < 1e-12:
            return m * v_next + self.omega * m * (m - 1) / 2.0
        lr = self.long_run_variance
        return m * lr + (v_next - lr) * (1.0 - p**m) / (1.0 - p)


def fit_garch(returns, cov_type: str = "robust") -> GarchFit:
    """Gaussian MLE of a zero-mean GARCH(1,1) with ``arch`` (the returns are rescaled to unit variance for
    the optimiser, the result scaled back). Raises ValueError for fewer than 100 or non-finite returns and
    RuntimeError when the optimiser reports no convergence."""
    from arch import arch_model

    r = _returns(returns)
    if r.size < 100:
        raise ValueError(f"returns must hold at least 100 observations for a GARCH fit, got {r.size}")
    scale = float(np.sqrt(np.mean(r * r)))
    if not scale > 0:
        raise ValueError("returns must not all be zero")
    res = arch_model(r / scale, mean="Zero", vol="GARCH", p=1, q=1, dist="normal", rescale=False).fit(
        disp="off", cov_type=cov_type
    )
    if res.convergence_flag != 0:
        raise RuntimeError(f"GARCH(1,1) fit did not converge (arch flag {res.convergence_flag})")
    par, se = res.params, res.std_err
    s2 = scale * scale
    omega, alpha, beta = float(par["omega"]) * s2, float(par["alpha[1]"]), float(par["beta[1]"])
    v_t = float(res.conditional_volatility[-1]) ** 2 * s2
    return GarchFit(
        omega=omega,
        alpha=alpha,
        beta=beta,
        se={"omega": float(se["omega"]) * s2, "alpha": float(se["alpha[1]"]), "beta": float(se["beta[1]"])},
        loglik=float(res.loglikelihood) - r.size * math.log(scale),
        nobs=int(r.size),
        v_last=omega + alpha * r[-1] ** 2 + beta * v_t,
    )


def realized_blocks(returns, m: int) -> np.ndarray:
    """Realised variance of consecutive blocks of m changes (sum of squares); a last partial block is dropped."""
    r = _returns(returns)
    if int(m) != m or m < 1:
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    n = r.size // m
    return (r[: n * m] ** 2).reshape(n, m).sum(axis=1)


@dataclass(frozen=True)
class HarFit:
    """HAR-RV coefficients: RV_{b+1} = c + sum_i beta_i mean(RV_{b-l_i+1..b}) (module docstring).

    Attributes:
        coef: (c, beta_1, ..., beta_L). lags: (l_1, ..., l_L) in blocks. nobs: regression rows.
        floor: smallest forecast (a tenth of the smallest positive RV fitted).
    """

    coef: np.ndarray
    lags: tuple[int, ...]
    nobs: int
    floor: float = 0.0

    def features(self, rv_hist: np.ndarray) -> np.ndarray:
        """Regressors (1, means over the lags) from the history ``rv_hist`` (..., >= max lag), last = newest."""
        cols = [np.ones(rv_hist.shape[:-1])] + [rv_hist[..., -lag:].mean(axis=-1) for lag in self.lags]
        return np.stack(cols, axis=-1)

    def forecast(self, rv_hist: np.ndarray) -> np.ndarray:
        """Next block's RV, floored at ``floor`` (an OLS forecast can go negative)."""
        return np.maximum(self.features(rv_hist) @ self.coef, self.floor)


def fit_har(rv, lags: tuple[int, ...] = (1, 5, 22)) -> HarFit:
    """OLS of the HAR-RV regression on the block realised variances ``rv`` (oldest first)."""
    rv = _returns(rv)
    lags = tuple(int(x) for x in lags)
    if not lags or min(lags) < 1:
        raise ValueError(f"lags must be positive integers, got {lags!r}")
    lmax = max(lags)
    if rv.size < lmax + 10:
        raise ValueError(f"rv must hold at least max(lags) + 10 = {lmax + 10} blocks, got {rv.size}")
    idx = np.arange(lmax, rv.size)  # predict rv[b] from rv[..b-1]
    windows = np.lib.stride_tricks.sliding_window_view(rv, lmax)[: rv.size - lmax]  # rows end at b - 1
    probe = HarFit(coef=np.zeros(len(lags) + 1), lags=lags, nobs=0)
    x = probe.features(windows)
    coef, *_ = np.linalg.lstsq(x, rv[idx], rcond=None)
    pos = rv[rv > 0]
    floor = 0.1 * float(pos.min()) if pos.size else 0.0
    return HarFit(coef=coef, lags=lags, nobs=int(idx.size), floor=floor)


def rolling_forecasts(
    returns,
    m: int,
    window: int,
    refit_every: int,
    lags: tuple[int, ...] = (1, 5, 22),
    ewma_lambda: float = 0.94,
    true_variance: np.ndarray | None = None,
    true_garch: tuple[float, float, float] | None = None,
    realized=None,
) -> dict[str, np.ndarray]:
    """Out-of-sample block-variance forecasts, refitting on a rolling window.

    Blocks of ``m`` changes; forecasts start at block ``window`` (the first fitting window) and the models
    are refitted every ``refit_every`` blocks on the last ``window`` blocks' changes; between refits the
    GARCH filter runs on with the fitted parameters and HAR with its coefficients (each forecast uses only
    changes before its block). With ``true_variance`` (the one-step conditional variance of each change,
    known on a simulated market) and ``true_garch`` (omega, alpha, beta), an "oracle" forecast is added.
    With ``realized`` (one realised variance per change, e.g. from sub-interval returns of a tape; same
    length as ``returns``) a block's realised variance is the sum of ``realized`` over it instead of the sum
    of squared changes: the target of the losses, and what HAR, "rolling" and "constant" are built from
    (GARCH and EWMA still read the changes).

    Returns:
        {"realized": RV of the forecast blocks, "constant", "rolling", "ewma", "garch", "har"[, "oracle"]}.
    """
    r = _returns(returns)
    if realized is None:
        rv = realized_blocks(r, m)
    else:
        per = _returns(realized)
        if per.shape != r.shape or (per < 0).any():
            raise ValueError(
                f"realized must hold one value >= 0 per return ({r.size}), got shape {per.shape}"
            )
        nb0 = r.size // m
        rv = per[: nb0 * m].reshape(nb0, m).sum(axis=1)
    nb = rv.size
    if window < max(lags) + 10 or window >= nb:
        raise ValueError(f"window must lie in [max(lags) + 10, {nb - 1}] blocks, got {window!r}")
    if refit_every < 1:
        raise ValueError(f"refit_every must be >= 1, got {refit_every!r}")
    out = {k: np.empty(nb - window) for k in ("constant", "rolling", "ewma", "garch", "har")}
    # EWMA of squared changes, the value before each change
    ew = np.empty(r.size + 1)
    ew[0] = np.mean(r[: window * m] ** 2)
    lam = ewma_lambda
    for t in range(r.size):
        ew[t + 1] = lam * ew[t] + (1.0 - lam) * r[t] * r[t]
    garch = har = None
    v = 0.0
    const = 0.0
    lroll = lags[1] if len(lags) > 1 else lags[0]
    for b in range(window, nb):
        j = b - window
        start = b * m
        if j % refit_every == 0:
            lo = (b - window) * m
            garch = fit_garch(r[lo:start])
            v = garch.v_last
            har = fit_har(rv[b - window : b], lags)
            const = float(rv[b - window : b].mean())
        else:  # run the GARCH filter over the previous block's changes
            for x in r[start - m : start]:
                v = garch.omega + garch.alpha * x * x + garch.beta * v
        out["garch"][j] = garch.block_forecast(v, m)
        out["har"][j] = har.forecast(rv[b - max(lags) : b])
        out["constant"][j] = const
        out["rolling"][j] = rv[b - lroll : b].mean()
        out["ewma"][j] = m * ew[start]
    out["realized"] = rv[window:]
    if true_variance is not None and true_garch is not None:
        w, a, bb = true_garch
        oracle = GarchFit(omega=w, alpha=a, beta=bb, se={}, loglik=math.nan, nobs=0, v_last=math.nan)
        tv = np.asarray(true_variance, dtype=float)
        out["oracle"] = np.array([oracle.block_forecast(tv[b * m], m) for b in range(window, nb)])
    return out


def forecast_losses(forecasts: dict[str, np.ndarray], baseline: str = "garch") -> dict[str, dict]:
    """Mean QLIKE and MSE of each forecast against ``forecasts["realized"]``, with SEs, and the paired
    difference of each loss to ``baseline`` (forecast - baseline, with its SE; negative: better)."""
    rv = forecasts["realized"]
    ok = rv > 0  # QLIKE needs a positive proxy; blocks with RV = 0 are counted, not scored
    losses = {}
    for name, h in forecasts.items():
        if name == "realized":
            continue
        ratio = rv[ok] / h[ok]
        losses[name] = {"qlike": ratio - np.log(ratio) - 1.0, "mse": (rv - h) ** 2}

    def stat(x: np.ndarray) -> dict:
        return {"mean": float(x.mean()), "se": float(x.std(ddof=1) / math.sqrt(x.size))}

    out = {}
    for name, ls in losses.items():
        out[name] = {k: stat(v) for k, v in ls.items()}
        if baseline in losses and name != baseline:
            out[name]["vs_" + baseline] = {k: stat(v - losses[baseline][k]) for k, v in ls.items()}
    out["_blocks"] = {"scored": int(ok.sum()), "zero_rv": int((~ok).sum())}
    return out


class GarchFilter:
    """A fitted GARCH(1,1) run online on N paths: ``update(r)`` after each change, ``variance`` the forecast.

    Starts every path at ``v0`` (default the long-run variance) on ``reset``.
    """

    def __init__(self, fit: GarchFit, v0: float | None = None) -> None:
        self.fit = fit
        self.v0 = fit.long_run_variance if v0 is None else float(v0)
        self.variance = np.full(1, self.v0)

    def reset(self, num_paths: int) -> None:
        """Every path back at ``v0``."""
        self.variance = np.full(int(num_paths), self.v0)

    def update(self, r: np.ndarray) -> None:
        """One observed change per path."""
        f = self.fit
        self.variance = f.omega + f.alpha * r * r + f.beta * self.variance


class HarFilter:
    """HAR-RV online with blocks of one change: the history starts filled with ``v0`` on ``reset``."""

    def __init__(self, fit: HarFit, v0: float) -> None:
        self.fit, self.v0 = fit, float(v0)
        self.reset(1)

    def reset(self, num_paths: int) -> None:
        """History of every path filled with ``v0``."""
        self._hist = np.full((int(num_paths), max(self.fit.lags)), self.v0)
        self.variance = self.fit.forecast(self._hist)

    def update(self, r: np.ndarray) -> None:
        """One observed change per path."""
        self._hist = np.concatenate([self._hist[:, 1:], (r * r)[:, None]], axis=1)
        self.variance = self.fit.forecast(self._hist)
