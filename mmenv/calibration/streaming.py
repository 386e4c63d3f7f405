"""Calibration on synthetic ticks from a long bar file, in memory proportional to one chunk of bars.

Drawing every trade of millions of bars at once needs about 100 bytes per trade (a 200 MB CSV: ~50 million
trades, several GB). :func:`stream_ticks` instead draws the ticks chunk by chunk (:data:`CHUNK_BARS` bars,
each chunk with its own generator from ``SeedSequence(seed).spawn``) and keeps only what the fit needs:

* the sufficient statistics of the exponential likelihood of :mod:`mmenv.calibration.mle` with threshold 0 and
  continuous depths: the number of orders ``n``, the sum of their depths ``S`` and the observation time ``T``
  (both sides pooled). The MLE is then exact and closed-form (the maximum of
  ``n log A + n log k - k S - 2 A T``): ``k = n / S``, ``A = n / (2 T)``, with the observed information
  ``diag(n, n)`` in (log A, log k), so ``A_se = A / sqrt(n)`` and ``k_se = k / sqrt(n)``;
* the realised variance of the mid sampled every ``sampling_s`` seconds within each chunk and each
  continuous piece of it (:meth:`mmenv.calibration.trades.TickSource.mid_segments`: session gaps left out);
* every ``m``-th chunk whole (``m`` chosen so that about :data:`KEEP_TRADES` trades are kept), concatenated
  on one trading clock: the sample the goodness-of-fit, the least-squares comparison, the model selection
  and the figure read (a systematic sample of whole chunks, so its times and exposure are consistent).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmenv.calibration.factory import CalibrationResult
from mmenv.calibration.gof import chi_square
from mmenv.calibration.leastsq import fit_intensity_ls
from mmenv.calibration.mle import IntensityFit
from mmenv.calibration.trades import TickSource
from mmenv.calibration.volatility import estimate_sigma
from mmenv.data.ticks import Ticks, synthesize_ticks

__all__ = [
    "CHUNK_BARS",
    "KEEP_TRADES",
    "StreamedTicks",
    "calibrate_streamed",
    "iter_tick_chunks",
    "stream_ticks",
]

#: Bars drawn into ticks at a time.
CHUNK_BARS = 20_000

#: About this many trades are kept (whole chunks) for the goodness-of-fit, the model comparison and the figure.
KEEP_TRADES = 1_000_000


@dataclass(frozen=True)
class StreamedTicks:
    """What :func:`stream_ticks` kept of the synthetic ticks of a bar file (see the module docstring).

    Attributes:
        n: orders (trades) drawn. depth_sum: sum of their depths (price units). duration_s: trading-clock
            seconds covered. sigma_ss, sigma_n: sum of squared within-piece increments of the sampled mid
            and their number. sampling_s: the grid step (s). last_mid: the mid of the last trade.
        sample: a :class:`mmenv.calibration.trades.TickSource` over the kept chunks (``depth_sample`` and
            ``mid_path`` delegate to it). n_chunks, kept_chunks: chunks drawn and kept. A, k: the tick
            model's true A (trades / s / side) and k.
    """

    n: int
    depth_sum: float
    duration_s: float
    sigma_ss: float
    sigma_n: int
    sampling_s: float
    last_mid: float
    sample: Any
    n_chunks: int
    kept_chunks: int
    A: float
    k: float
    source: str = ""

    def depth_sample(self, **kw: Any):
        """The kept chunks' depth sample (for the goodness-of-fit, the model selection and the figure)."""
        return self.sample.depth_sample(**kw)

    def mid_path(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept chunks' mid path."""
        return self.sample.mid_path()


def _concat_ticks(parts: list[Any]) -> Any:
    """Ticks of several chunks on one trading clock (bars and clock re-based, times kept)."""
    first = parts[0]
    bar_off, clock_off, starts = 0, 0.0, [np.zeros(1, np.int64)]
    cols: dict[str, list[np.ndarray]] = {
        f: [] for f in ("time_ns", "clock", "bar", "price", "side", "size", "mid", "half_spread", "depth")
    }
    for tk in parts:
        n_bars = len(tk.bar_start) - 1
        for f in cols:
            v = getattr(tk, f)
            cols[f].append(v + clock_off if f == "clock" else (v + bar_off if f == "bar" else v))
        starts.append(tk.bar_start[1:] + starts[-1][-1])
        bar_off += n_bars
        clock_off += n_bars * tk.bar_seconds
    return Ticks(
        **{f: np.concatenate(v) for f, v in cols.items()},
        A=first.A,
        k=first.k,
        bar_seconds=first.bar_seconds,
        tz=first.tz,
        bar_start=np.concatenate(starts),
    )


def iter_tick_chunks(
    bars: Any,
    *,
    seed: int = 0,
    ticks_per_bar: tuple[int, int] = (10, 20),
    k: float = 50.0,
    chunk_bars: int = CHUNK_BARS,
) -> Iterator[tuple[Any, float]]:
    """Yield ``(ticks, clock_offset_s)`` for each chunk of ``chunk_bars`` bars of ``bars``, in order.

    Chunk ``c`` is drawn by :func:`mmenv.data.ticks.synthesize_ticks` with its own generator
    ``default_rng(SeedSequence(seed).spawn(n_chunks)[c])``, so every pass yields the same ticks and only one
    chunk is held at a time. Its clock starts at 0; ``clock_offset_s`` (seconds: bars before the chunk times the
    bar length) puts it on the trading clock of the whole file.

    Raises:
        ValueError: bad ``chunk_bars`` (and whatever :func:`mmenv.data.ticks.synthesize_ticks` refuses).
    """
    if not (isinstance(chunk_bars, int) and chunk_bars >= 2):
        raise ValueError(f"chunk_bars must be an integer >= 2, got {chunk_bars!r}")
    n_bars = len(bars)
    ns = bars.index.as_unit("ns").asi8
    spacing, freq = np.unique(np.diff(ns), return_counts=True) if n_bars > 1 else (np.array([60e9]), [1])
    bar_seconds = float(spacing[np.argmax(freq)]) / 1e9
    n_chunks = math.ceil(n_bars / chunk_bars)
    seeds = np.random.SeedSequence(seed).spawn(n_chunks)
    for c in range(n_chunks):
        chunk = bars.iloc[c * chunk_bars : (c + 1) * chunk_bars]
        tk = synthesize_ticks(
            chunk, ticks_per_bar, np.random.default_rng(seeds[c]), k=k, bar_seconds=bar_seconds
        )
        yield tk, c * chunk_bars * bar_seconds


def stream_ticks(
    bars: Any,
    *,
    seed: int = 0,
    ticks_per_bar: tuple[int, int] = (10, 20),
    k: float = 50.0,
    sampling_s: float = 1.0,
    chunk_bars: int = CHUNK_BARS,
    keep_trades: int = KEEP_TRADES,
) -> StreamedTicks:
    """Draw the synthetic ticks of ``bars`` chunk by chunk, keeping the statistics of the module docstring.

    Raises:
        ValueError: bad ``chunk_bars`` / ``keep_trades`` (and whatever :func:`mmenv.data.ticks.synthesize_ticks`
            refuses).
    """
    if not (isinstance(chunk_bars, int) and chunk_bars >= 2):
        raise ValueError(f"chunk_bars must be an integer >= 2, got {chunk_bars!r}")
    if not (isinstance(keep_trades, int) and keep_trades >= 1):
        raise ValueError(f"keep_trades must be an integer >= 1, got {keep_trades!r}")
    n_bars = len(bars)
    n_chunks = math.ceil(n_bars / chunk_bars)
    per_chunk = chunk_bars * 0.5 * (ticks_per_bar[0] + ticks_per_bar[1])
    every = max(1, math.ceil(n_chunks * per_chunk / keep_trades))
    n, s_sum, dur, ss, n_inc, kept = 0, 0.0, 0.0, 0.0, 0, []
    last_mid, A = float("nan"), float("nan")
    chunks = iter_tick_chunks(bars, seed=seed, ticks_per_bar=ticks_per_bar, k=k, chunk_bars=chunk_bars)
    for c, (tk, _) in enumerate(chunks):
        n += len(tk)
        s_sum += float(tk.depth.sum())
        dur += float(tk.duration)
        src = TickSource(tk)
        t, mid = src.mid_path()
        if t[-1] - t[0] >= 2 * sampling_s:
            est = estimate_sigma(t, mid, sampling_s=sampling_s, segments=src.mid_segments())
            ss += est.sigma**2 * est.n_increments * sampling_s
            n_inc += est.n_increments
        last_mid, A = float(mid[-1]), float(tk.A)
        if c % every == 0:
            kept.append(tk)
    sample = TickSource(_concat_ticks(kept), source=f"synthetic ticks from {n_bars:,} bars")
    return StreamedTicks(
        n=n,
        depth_sum=s_sum,
        duration_s=dur,
        sigma_ss=ss,
        sigma_n=n_inc,
        sampling_s=sampling_s,
        last_mid=last_mid,
        sample=sample,
        n_chunks=n_chunks,
        kept_chunks=len(kept),
        A=A,
        k=float(k),
        source=f"synthetic ticks from {n_bars:,} bars (drawn in {n_chunks} chunks)",
    )


def calibrate_streamed(st: StreamedTicks, *, least_squares: bool = True) -> CalibrationResult:
    """The calibration of :func:`mmenv.calibration.calibrate` from :class:`StreamedTicks`: the exact MLE of
    (A, k) and sigma over every trade, the goodness-of-fit and least squares on the kept chunks."""
    n, S, T = st.n, st.depth_sum, st.duration_s
    if n < 2 or S <= 0 or T <= 0:
        raise ValueError(f"too few trades to fit: n={n}, depth sum={S!r}, duration={T!r}")
    A, k = n / (2.0 * T), n / S
    cov_log = np.diag([1.0 / n, 1.0 / n])
    sample = st.depth_sample()
    gof = chi_square(sample, A, k)
    fit = IntensityFit(
        A=A,
        k=k,
        A_se=A / math.sqrt(n),
        k_se=k / math.sqrt(n),
        cov=np.diag([A * A / n, k * k / n]),
        cov_log=cov_log,
        loglik=n * math.log(A) + n * math.log(k) - k * S - 2.0 * A * T,
        n_trades=n,
        duration_s=T,
        gof_stat=gof[0],
        gof_df=gof[1],
        gof_pvalue=gof[2],
        method="closed form (streamed sufficient statistics)",
        sides=2,
    )
    if st.sigma_n == 0:
        raise ValueError("no increment of the sampled mid lies within one session: sigma is not identified")
    sigma = math.sqrt(st.sigma_ss / (st.sigma_n * st.sampling_s))
    ls = fit_intensity_ls(sample) if least_squares else None
    return CalibrationResult(
        intensity=fit,
        sigma=sigma,
        sigma_se=sigma / math.sqrt(2 * st.sigma_n),
        s0=st.last_mid,
        source=st.source,
        least_squares=ls,
        notes=(
            f"A, k and sigma from all {n:,} trades of {st.n_chunks} chunks; goodness-of-fit, least squares and "
            f"figure on {st.kept_chunks} whole chunks ({sample.n:,} trades)",
        ),
    )
