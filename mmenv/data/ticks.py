"""Tick synthesis from bars, and the returns / volatility estimators.

:func:`synthesize_ticks` turns 1-minute bars into a stream of trades. It is a **model, not data**:
Yahoo's bars say nothing about the trades inside them, so the trades are drawn from the
Avellaneda-Stoikov (2008) order-flow model around a mid path that honours the bar.

The model, per bar of length ``Δ`` seconds with open O, high H, low L, close C and volume V:

1. *Count and times.* ``n`` trades, ``n`` uniform on the integers ``ticks_per_bar = (lo, hi)``
   (``lo >= 4``), at the order statistics of ``n`` uniform times in ``[start, start + Δ)``
   (as for a Poisson process given its count).
2. *Mid path.* The mid at the trade times is a Brownian bridge pinned at four anchors: the first
   trade at O, the last at C, and two distinct interior trades (random positions, random order)
   at H and L; its variance is set so that the expected quadratic variation of the mid over the
   bar matches the Parkinson (1980) range estimate ``(H - L)^2 / (4 ln 2)`` (the straight lines
   between the anchors count toward it; the bridge noise tops it up); it is clipped to [L, H].
   With few trades per bar the anchors alone often exceed that target, so the realized variance
   of the mids at trade frequency overstates the bar's variance (by ~1.8x on the synthetic
   market, see :mod:`mmenv.studies.bar_limits`); sample the mid at >= 1 bar to estimate sigma. So the mid opens at O, closes at C,
   touches H and L and never leaves [L, H]: the bar is read as a summary of the mid path.
3. *Aggressor side.* ``side = +1`` (buyer-initiated, lifts the ask) or ``-1`` (seller-initiated,
   hits the bid), a fair coin, independent of everything else.
4. *Depth.* The depth ``d`` of the trade from the mid is Exponential(k) (mean ``1/k`` price
   units), independent of everything else, and the trade price is ``mid + side · d``. ``d`` is
   the AS "reach": how far from the mid the market order went.
5. *Size.* V split among the bar's trades with Dirichlet(1, ..., 1) weights (sizes sum to V).
6. *Quoted half-spread.* A constant ``half_spread`` reported with every trade (one cent wide by
   default: 0.005). It describes the visible book and does not enter the fill model (the AS
   model has no visible spread): prices inside the quoted spread are reaches short of the touch.

In what sense ``lambda(d) = A exp(-k d)`` holds. Let ``A = (lo + hi) / (4 Δ)``, the mean number of
trades per side per second. Because sides are fair coins and depths are i.i.d. Exponential(k)
independent of times and sides, the expected number of buyer-initiated (resp. seller-initiated)
trades with depth >= d in any time interval of length T made of whole bars is exactly
``A exp(-k d) T``: the mean intensity of orders reaching depth d on each side is the AS
``lambda(d) = A exp(-k d)`` (Avellaneda & Stoikov 2008, eq. 2.9-2.11 with the marks of
section 2.4). Consequently the maximum-likelihood estimates of a marked Poisson process,
``k_hat = N / sum(d)`` and ``A_hat = N_side / T``, recover k and A: the depth part of the
likelihood is exactly exponential (``k_hat`` has standard error ``k / sqrt(N)``); the count part
is a Poisson likelihood for counts that are in truth less dispersed than Poisson (variance of
the per-bar count ``((hi - lo + 1)^2 - 1) / 12`` instead of ``(lo + hi) / 2``), so ``A_hat`` is
unbiased and its Poisson standard error is conservative. Units: time in seconds (A in trades
per second per side), depth in price units (k per price unit).

Returns are in :class:`Ticks`, a struct of numpy arrays (the hot loops of the tick market and
the backtester index them directly); :meth:`Ticks.to_frame` gives a pandas view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mmenv.data.bars.validate import COLUMNS

__all__ = [
    "MINUTES_PER_YEAR",
    "Ticks",
    "annualize",
    "ewma_vol",
    "log_returns",
    "rolling_std",
    "synthesize_ticks",
]

#: Regular-session 1-minute bars in a trading year: 252 days x 390 minutes.
MINUTES_PER_YEAR = 252 * 390


@dataclass(frozen=True, eq=False)
class Ticks:
    """A stream of synthetic trades, one row per trade, as a struct of (M,) numpy arrays.

    Attributes:
        time_ns: int64, trade time in nanoseconds since the Unix epoch (UTC).
        clock: float64, trading-clock seconds: ``bar_position * bar_seconds + offset in bar``;
            increasing, without the overnight and weekend gaps (a session's first trade follows
            the previous session's last by less than ``bar_seconds``). Markets run on this clock.
        bar: int64, position of the trade's bar in the input frame.
        price: float64, trade price = ``mid + side * depth``.
        side: int8, +1 buyer-initiated (hits the ask side), -1 seller-initiated.
        size: float64, shares; the sizes of a bar's trades sum to the bar's volume.
        mid: float64, mid price at the trade.
        half_spread: float64, quoted half-spread at the trade (price units).
        depth: float64, ``side * (price - mid) >= 0``, the reach of the order from the mid.
        A: mean arrival rate of market orders per side, per second (``lambda(0)``).
        k: decay of ``lambda(d) = A exp(-k d)``, per price unit.
        bar_seconds: the bar length in seconds.
        tz: time zone of the bars (for :meth:`to_frame`).
        bar_start: (n_bars + 1,) int64, ``bar_start[i]`` is the first trade of bar i, so the
            trades of bar i are ``slice(bar_start[i], bar_start[i + 1])``.
    """

    time_ns: np.ndarray
    clock: np.ndarray
    bar: np.ndarray
    price: np.ndarray
    side: np.ndarray
    size: np.ndarray
    mid: np.ndarray
    half_spread: np.ndarray
    depth: np.ndarray
    A: float
    k: float
    bar_seconds: float
    tz: str = "America/New_York"
    bar_start: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))

    def __post_init__(self) -> None:
        n = len(self.time_ns)
        for name in ("clock", "bar", "price", "side", "size", "mid", "half_spread", "depth"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Ticks.{name} has length {len(getattr(self, name))}, not {n}")
        if not (self.A > 0 and self.k > 0 and self.bar_seconds > 0):
            raise ValueError(
                f"Ticks: A, k and bar_seconds must be > 0, got {self.A}, {self.k}, {self.bar_seconds}"
            )

    def __len__(self) -> int:
        return len(self.time_ns)

    @property
    def duration(self) -> float:
        """Trading-clock seconds covered: number of bars times ``bar_seconds``."""
        return (len(self.bar_start) - 1) * self.bar_seconds

    def to_frame(self) -> pd.DataFrame:
        """The trades as a DataFrame indexed by their tz-aware time."""
        index = pd.DatetimeIndex(pd.to_datetime(self.time_ns, utc=True)).tz_convert(self.tz)
        index.name = "time"
        return pd.DataFrame(
            {
                "clock": self.clock,
                "bar": self.bar,
                "price": self.price,
                "side": self.side,
                "size": self.size,
                "mid": self.mid,
                "half_spread": self.half_spread,
                "depth": self.depth,
            },
            index=index,
        )


def _bar_arrays(bars: pd.DataFrame) -> tuple[np.ndarray, ...]:
    if not isinstance(bars, pd.DataFrame):
        raise TypeError(f"bars must be a pandas DataFrame, got {type(bars).__name__}")
    missing = [c for c in COLUMNS if c not in bars.columns]
    if missing:
        raise ValueError(f"bars: missing column(s) {missing}; got {list(bars.columns)}")
    if len(bars) == 0:
        raise ValueError("bars is empty")
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise ValueError(f"bars.index must be a DatetimeIndex, got {type(bars.index).__name__}")
    o, h, lo, c, v = (bars[col].to_numpy(np.float64) for col in COLUMNS)
    if not (np.isfinite(o).all() and np.isfinite(h).all() and np.isfinite(lo).all()):
        raise ValueError("bars hold NaN/inf prices; run mmenv.data.validate_bars first")
    if not (np.isfinite(c).all() and np.isfinite(v).all()):
        raise ValueError("bars hold NaN/inf close or volume; run mmenv.data.validate_bars first")
    bad = (h < lo) | (np.maximum(o, c) > h) | (np.minimum(o, c) < lo) | (lo <= 0) | (v < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"bar {i} ({bars.index[i]}) is inconsistent: open={o[i]}, high={h[i]}, low={lo[i]}, "
            f"close={c[i]}, volume={v[i]}; run mmenv.data.validate_bars first"
        )
    if len(bars) > 1 and (np.diff(bars.index.as_unit("ns").asi8) <= 0).any():
        raise ValueError("bars.index must be strictly increasing; run mmenv.data.validate_bars")
    return o, h, lo, c, v


def synthesize_ticks(
    bars: pd.DataFrame,
    ticks_per_bar: tuple[int, int] = (10, 20),
    seed: int | np.random.Generator = 0,
    *,
    k: float = 50.0,
    half_spread: float = 0.005,
    bar_seconds: float | None = None,
) -> Ticks:
    """Draw a trade stream inside each bar (the model of the module docstring).

    Vectorised over all trades (no Python loop over bars or trades).

    Args:
        bars: validated bars (columns open, high, low, close, volume; strictly increasing
            tz-aware index), e.g. from :func:`mmenv.data.synthetic_bars` or ``load_bars``.
        ticks_per_bar: ``(lo, hi)``, inclusive range of the number of trades per bar,
            ``4 <= lo <= hi`` (four trades carry the open, high, low and close).
        seed: seed of, or an existing, ``np.random.Generator``.
        k: decay of the fill intensity ``lambda(d) = A exp(-k d)``, per price unit (> 0). The
            default 50 per dollar is a mean reach of 2 cents (~1.5 bp at $130).
        half_spread: quoted half-spread reported with each trade, price units (>= 0).
        bar_seconds: bar length in seconds; by default the most common spacing of the index
            (60 for 1-minute bars).

    Returns:
        :class:`Ticks` with ``A = (lo + hi) / (4 * bar_seconds)`` trades per second per side.

    Raises:
        ValueError: bad ``ticks_per_bar``, ``k``, ``half_spread``, ``bar_seconds`` or bars.
    """
    lo_n, hi_n = _check_counts(ticks_per_bar)
    if not (math.isfinite(k) and k > 0):
        raise ValueError(f"k must be > 0, got {k!r}")
    if not (math.isfinite(half_spread) and half_spread >= 0):
        raise ValueError(f"half_spread must be >= 0, got {half_spread!r}")
    o, h, lo, c, v = _bar_arrays(bars)
    ns = bars.index.as_unit("ns").asi8
    if bar_seconds is None:
        if len(bars) > 1:
            spacing, freq = np.unique(np.diff(ns), return_counts=True)
            bar_seconds = float(spacing[np.argmax(freq)]) / 1e9
        else:
            bar_seconds = 60.0
    if not (math.isfinite(bar_seconds) and bar_seconds > 0):
        raise ValueError(f"bar_seconds must be > 0, got {bar_seconds!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    n_bars = len(bars)
    counts = rng.integers(lo_n, hi_n + 1, size=n_bars)
    start = np.zeros(n_bars + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    m = int(start[-1])
    bar = np.repeat(np.arange(n_bars, dtype=np.int64), counts)
    pos = np.arange(m, dtype=np.int64) - start[bar]
    first = start[:-1]
    last = start[1:] - 1

    # 1. Times: uniform order statistics within each bar (bar index dominates the sort key).
    key = np.sort(bar + rng.random(m))
    frac = key - bar  # in [0, 1), sorted within each bar
    offset = frac * bar_seconds

    # 2. Mid path: Brownian bridge through the four anchors, clipped to [low, high].
    a = 1 + (rng.random(n_bars) * (counts - 2)).astype(np.int64)
    b = 1 + (rng.random(n_bars) * (counts - 3)).astype(np.int64)
    b = np.where(b >= a, b + 1, b)
    i1, i2 = np.minimum(a, b), np.maximum(a, b)
    high_first = rng.random(n_bars) < 0.5
    v1 = np.where(high_first, h, lo)
    v2 = np.where(high_first, lo, h)
    anchor_idx = np.stack([np.zeros(n_bars, np.int64), i1, i2, counts - 1], axis=1)
    anchor_val = np.stack([o, v1, v2, c], axis=1)
    seg = (pos > i1[bar]).astype(np.int64) + (pos > i2[bar])
    left = first[bar] + anchor_idx[bar, seg]
    right = first[bar] + anchor_idx[bar, seg + 1]
    vl = anchor_val[bar, seg]
    vr = anchor_val[bar, seg + 1]
    dt = np.diff(offset, prepend=0.0)
    dt[first] = 0.0
    w = np.cumsum(np.sqrt(np.maximum(dt, 0.0)) * rng.standard_normal(m))
    tl, tr = offset[left], offset[right]
    span = tr - tl
    lam = np.divide(offset - tl, span, out=np.zeros(m), where=span > 0)
    lin = vl + (vr - vl) * lam
    # Bridge variance: the bar's Parkinson variance (H - L)^2 / (4 ln 2), less the quadratic
    # variation the piecewise-linear path through the anchors already has, spread over the bar.
    dlin = np.diff(lin, prepend=0.0)
    dlin[first] = 0.0
    qv_lin = np.add.reduceat(dlin * dlin, first)
    target = (h - lo) ** 2 / (4.0 * math.log(2.0))
    span = offset[last] - offset[first]
    sigma_b = np.sqrt(np.divide(np.maximum(target - qv_lin, 0.0), span, out=np.zeros(n_bars), where=span > 0))
    noise = w - w[left] - lam * (w[right] - w[left])
    mid = lin + sigma_b[bar] * noise
    mid = np.clip(mid, lo[bar], h[bar])
    mid[first] = o
    mid[last] = c
    mid[first + i1] = v1
    mid[first + i2] = v2

    # 3-4. Sides and depths: independent marks.
    side = np.where(rng.random(m) < 0.5, 1, -1).astype(np.int8)
    depth = rng.exponential(1.0 / k, m)
    price = mid + side * depth

    # 5. Sizes: Dirichlet(1, ..., 1) split of the bar volume.
    wts = rng.exponential(1.0, m)
    size = v[bar] * wts / np.add.reduceat(wts, first)[bar]

    time_ns = ns[bar] + np.round(offset * 1e9).astype(np.int64)
    clock = bar * bar_seconds + offset
    tz = str(bars.index.tz) if bars.index.tz is not None else "UTC"
    return Ticks(
        time_ns=time_ns,
        clock=clock,
        bar=bar,
        price=price,
        side=side,
        size=size,
        mid=mid,
        half_spread=np.full(m, float(half_spread)),
        depth=depth,
        A=(lo_n + hi_n) / (4.0 * bar_seconds),
        k=float(k),
        bar_seconds=float(bar_seconds),
        tz=tz,
        bar_start=start,
    )


#: Most trades per bar :func:`synthesize_ticks` draws (a bound checked before allocating).
MAX_TICKS_PER_BAR = 10_000


def _check_counts(ticks_per_bar: object) -> tuple[int, int]:
    try:
        lo_n, hi_n = ticks_per_bar  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"ticks_per_bar must be a pair (lo, hi), got {ticks_per_bar!r}") from None
    for x in (lo_n, hi_n):
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
            raise ValueError(f"ticks_per_bar must hold integers, got {ticks_per_bar!r}")
    if not 4 <= lo_n <= hi_n:
        raise ValueError(
            f"ticks_per_bar must satisfy 4 <= lo <= hi (open, high, low and close need four "
            f"trades), got {ticks_per_bar!r}"
        )
    if hi_n > MAX_TICKS_PER_BAR:  # refused before anything is allocated
        raise ValueError(
            f"ticks_per_bar must satisfy hi <= {MAX_TICKS_PER_BAR} trades per bar (about 100 bytes each), "
            f"got {ticks_per_bar!r}"
        )
    return int(lo_n), int(hi_n)


# ----------------------------------------------------------------------------------------------
# Returns and volatility
# ----------------------------------------------------------------------------------------------


def _as_float_array(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _like(x: object, values: np.ndarray, name: str) -> np.ndarray | pd.Series:
    if isinstance(x, pd.Series):
        return pd.Series(values, index=x.index, name=name)
    return values


def log_returns(prices: np.ndarray | pd.Series) -> np.ndarray | pd.Series:
    """Log returns ``r_t = ln(P_t / P_{t-1})``, one per period, not annualised.

    Args:
        prices: (n,) positive prices (array or Series).

    Returns:
        (n,) returns of the same type; ``r_0`` is NaN (no previous price), so the result aligns
        with the input.

    Raises:
        ValueError: a non-positive price or a multi-dimensional input.
    """
    p = _as_float_array(prices, "prices")
    if (p[np.isfinite(p)] <= 0).any():
        raise ValueError("prices must be > 0 for log returns")
    out = np.full(p.shape, np.nan)
    if len(p) > 1:
        out[1:] = np.log(p[1:] / p[:-1])
    return _like(prices, out, "log_return")


def rolling_std(prices: np.ndarray | pd.Series, window: int = 20, *, ddof: int = 1) -> np.ndarray | pd.Series:
    """Rolling standard deviation of price *changes* ``P_t - P_{t-1}`` over ``window`` periods.

    ``s_t = std(P_{t-window+1} - P_{t-window}, ..., P_t - P_{t-1})`` in price units per period
    (per bar for bars; multiply by ``sqrt(periods per unit time)`` for another horizon, e.g.
    ``sqrt(MINUTES_PER_YEAR)`` per year for 1-minute bars, under the random-walk assumption).
    Uses only data up to t (causal); NaN for the first ``window`` entries.

    Args:
        prices: (n,) prices.
        window: number of price changes (>= 2).
        ddof: delta degrees of freedom (1: sample standard deviation).

    Returns:
        (n,) array or Series like the input.
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise ValueError(f"window must be an integer >= 2, got {window!r}")
    p = _as_float_array(prices, "prices")
    dp = pd.Series(np.diff(p, prepend=np.nan))
    out = dp.rolling(window, min_periods=window).std(ddof=ddof).to_numpy()
    return _like(prices, out, f"rolling_std_{window}")


def ewma_vol(
    returns: np.ndarray | pd.Series,
    lam: float = 0.94,
    *,
    init_window: int = 20,
) -> np.ndarray | pd.Series:
    """Exponentially weighted moving-average volatility (RiskMetrics 1996).

    ``sigma2_t = lam * sigma2_{t-1} + (1 - lam) * r_t^2`` with ``sigma2_{-1}`` the mean of the
    first ``init_window`` finite squared returns; ``sigma_t = sqrt(sigma2_t)`` is in the units
    of ``r`` per period (not annualised: see :func:`annualize`) and uses returns up to and
    including t (shift by one for a forecast of period t + 1). NaN returns (such as the first
    output of :func:`log_returns`) are treated as no information: they leave sigma2 unchanged.
    Zero mean is assumed, as in RiskMetrics. Implemented with a linear filter (no Python loop).

    Args:
        returns: (n,) per-period returns (log returns or price changes).
        lam: decay in (0, 1); 0.94 is RiskMetrics' daily value (half-life ln 0.5 / ln lam
            ~ 11 periods).
        init_window: number of returns averaged for the initial variance (>= 1).

    Returns:
        (n,) volatility, array or Series like the input.
    """
    if not (0.0 < lam < 1.0):
        raise ValueError(f"lam must be in (0, 1), got {lam!r}")
    if isinstance(init_window, bool) or not isinstance(init_window, int) or init_window < 1:
        raise ValueError(f"init_window must be an integer >= 1, got {init_window!r}")
    from scipy.signal import lfilter

    r = _as_float_array(returns, "returns")
    r2 = r * r
    finite = np.isfinite(r2)
    if not finite.any():
        return _like(returns, np.full(r.shape, np.nan), "ewma_vol")
    s0 = float(np.mean(r2[finite][:init_window]))
    if finite.all():
        out = lfilter([1.0 - lam], [1.0, -lam], r2, zi=[lam * s0])[0]
    else:  # NaN returns keep the previous variance: filter each finite run from where it left
        out = _ewma_with_gaps(r2, lam, s0)
    return _like(returns, np.sqrt(out), "ewma_vol")


def _ewma_with_gaps(x: np.ndarray, lam: float, s0: float) -> np.ndarray:
    """EWMA where NaN entries carry the previous value: filter each finite run separately."""
    out = np.empty_like(x)
    finite = np.isfinite(x)
    from scipy.signal import lfilter

    idx = np.flatnonzero(np.diff(np.r_[0, finite.astype(np.int8), 0]))
    starts, ends = idx[::2], idx[1::2]
    prev, pos = s0, 0
    for s, e in zip(starts, ends, strict=True):  # loop over runs of NaNs (few), not entries
        out[pos:s] = prev
        seg = lfilter([1.0 - lam], [1.0, -lam], x[s:e], zi=[lam * prev])[0]
        out[s:e] = seg
        prev = float(seg[-1])
        pos = e
    out[pos:] = prev
    return out


def annualize(
    vol: float | np.ndarray | pd.Series, periods_per_year: float = MINUTES_PER_YEAR
) -> float | np.ndarray | pd.Series:
    """Scale a per-period volatility to a yearly one: ``vol * sqrt(periods_per_year)``.

    Assumes independent returns (square-root-of-time rule). For 1-minute regular-session bars
    ``periods_per_year = 252 * 390 = 98,280`` (the default); for daily bars, 252.
    """
    if not (periods_per_year > 0):
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year!r}")
    return vol * math.sqrt(periods_per_year)
